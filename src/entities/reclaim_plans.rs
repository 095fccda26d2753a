use sea_orm::entity::prelude::*;

/// A reclaim plan: made once, then approved or cancelled, never edited; an approved plan runs.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reclaim_plans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    /// `PlanStatus::as_str`.
    pub status: String,
    /// The filters it was made from, as given.
    pub filters: Json,
    /// Counts and savings per currency, fixed when it was made.
    pub summary: Json,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    /// Who approved or cancelled it, and when.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    /// When its execution reached the last item.
    pub executed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
