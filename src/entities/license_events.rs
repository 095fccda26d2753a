use sea_orm::entity::prelude::*;

/// One change observed of a user, or of one of a user's licenses.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    pub user_id: i64,
    /// The license's SKU row; None for a change of the user itself.
    pub license_sku_id: Option<i64>,
    /// `EventKind::as_str`.
    pub kind: String,
    pub observed_at: DateTimeUtc,
    /// The sync that saw it; None for a change reclaim made.
    pub sync_run_id: Option<i64>,
    /// The reclaim plan that made it (a removal, or its undo).
    pub reclaim_plan_id: Option<i64>,
    pub before: Option<Json>,
    pub after: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
