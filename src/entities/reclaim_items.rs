use sea_orm::entity::prelude::*;

/// One license of one user in a reclaim plan, and what the plan does about it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reclaim_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub plan_id: i64,
    pub user_id: i64,
    pub license_sku_id: i64,
    /// The provider's ids: what a write to the provider names.
    pub user_external_id: String,
    pub user_principal_name: String,
    pub sku_external_id: String,
    pub sku_display_name: String,
    pub finding_kind: String,
    pub evidence: String,
    /// `REMOVE_DIRECT` or `MANUAL`.
    pub action: String,
    /// Why a person must act, for `MANUAL`.
    pub manual_reason: Option<String>,
    /// The groups the license also comes from: `[{"id": …}]`.
    pub groups: Json,
    /// The service plans disabled in the license, restored with it on undo.
    pub disabled_plans: Json,
    pub monthly_cost_amount: Option<String>,
    pub monthly_cost_currency: Option<String>,
    /// For an overlap: the SKU that already includes this one, which must still be held.
    pub contained_in_sku_external_id: Option<String>,
    /// What execution did (`Code`), once; None while the item waits.
    pub outcome: Option<String>,
    pub outcome_message: Option<String>,
    pub outcome_hint: Option<String>,
    /// When a worker first took the item: a later worker then knows a change may have been
    /// sent whose answer was lost.
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// What undo did (`Code`); None until undone.
    pub undo_outcome: Option<String>,
    pub undo_message: Option<String>,
    pub undo_hint: Option<String>,
    /// Taken by an undo in progress, so that two undos of one item cannot both add it.
    pub undo_started_at: Option<DateTimeUtc>,
    pub undone_at: Option<DateTimeUtc>,
    pub undone_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
