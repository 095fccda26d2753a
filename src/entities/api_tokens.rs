use sea_orm::entity::prelude::*;

/// A token for scripts. The secret itself is never stored: `token_hash` is the hex SHA-256 of
/// it, what a request's token is looked up by.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `viewer` or `admin`.
    pub role: String,
    pub token_hash: String,
    /// The subject of the token that created it (`cli` for the command line).
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// Written at most once a minute per token.
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
