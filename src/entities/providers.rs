use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Which kind of provider reads `config`, e.g. `microsoft365`.
    pub kind: String,
    pub name: String,
    /// The kind's configuration, as JSON.
    #[sea_orm(column_type = "Text")]
    pub config: String,
    /// The account the provider reads, as its kind names it: unique per kind, and bound to the
    /// sealed secret.
    pub account_key: String,
    /// AEAD ciphertext of the client secret; the plaintext is never stored.
    pub client_secret_sealed: Vec<u8>,
    pub client_secret_key_id: String,
    pub client_secret_hint: String,
    pub client_secret_expires_at: Option<DateTimeUtc>,
    pub sync_interval_minutes: Option<i32>,
    pub enabled: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub delta_link: Option<String>,
    pub delta_link_obtained_at: Option<DateTimeUtc>,
    pub last_full_sync_at: Option<DateTimeUtc>,
    pub sign_in_refreshed_at: Option<DateTimeUtc>,
    pub sign_in_data_status: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::directory_users::Entity")]
    DirectoryUsers,
    #[sea_orm(has_many = "super::license_skus::Entity")]
    LicenseSkus,
    #[sea_orm(has_many = "super::sync_runs::Entity")]
    SyncRuns,
}

impl Related<super::directory_users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DirectoryUsers.def()
    }
}

impl Related<super::license_skus::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LicenseSkus.def()
    }
}

impl Related<super::sync_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SyncRuns.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
