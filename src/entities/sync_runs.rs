use sea_orm::entity::prelude::*;

/// One sync of one provider: a durable job with a lease, and its progress and outcome.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    pub trigger: String,
    pub mode: String,
    /// The mode actually run: AUTO resolves to FULL or DELTA, and an expired delta token to FULL.
    pub effective_mode: Option<String>,
    pub status: String,
    pub pages_fetched: i64,
    pub users_seen: i64,
    pub users_created: i64,
    pub users_updated: i64,
    pub users_removed: i64,
    pub skus_synced: i64,
    /// JSON array of `{code, message, hint}`.
    pub warnings: Json,
    pub error_code: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_hint: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub heartbeat_at: Option<DateTimeUtc>,
    pub attempt: i32,
    pub cancel_requested: bool,
    pub queued_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// Set when the job executes this reclaim plan rather than syncing.
    pub reclaim_plan_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::providers::Entity",
        from = "Column::ProviderId",
        to = "super::providers::Column::Id",
        on_delete = "Cascade"
    )]
    Provider,
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
