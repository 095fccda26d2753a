use sea_orm::entity::prelude::*;

/// A license an admin decided to keep, with why and until when (inclusive).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accepted_findings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    /// `directory_users.id`.
    pub user_id: i64,
    pub license_sku_id: i64,
    /// The finding's kind when it was accepted (`FindingKind::as_str`).
    pub kind: String,
    pub reason: String,
    /// The subject of the admin who accepted it.
    pub accepted_by: String,
    pub accepted_at: DateTimeUtc,
    pub expires_on: Date,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
