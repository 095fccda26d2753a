use sea_orm::entity::prelude::*;

/// Who changed what, and how it ended. Never holds a secret; outlives the provider it names.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subject: String,
    pub role: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub provider_id: Option<i64>,
    pub outcome: String,
    pub detail: Option<Json>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
