use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "directory_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    /// The provider's id of the user.
    pub external_id: String,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub display_name: Option<String>,
    /// Lower-cased name, UPN and mail, so that search behaves the same on both engines.
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    pub account_enabled: bool,
    pub user_type: Option<String>,
    pub created_date_time: Option<DateTimeUtc>,
    pub last_sign_in_at: Option<DateTimeUtc>,
    pub last_non_interactive_sign_in_at: Option<DateTimeUtc>,
    pub last_successful_sign_in_at: Option<DateTimeUtc>,
    pub first_seen_at: DateTimeUtc,
    /// When a sync last wrote this user (created, changed or restored). Unchanged users are not
    /// rewritten; every user not removed was present in the provider's last full listing
    /// (`providers.last_full_sync_at`).
    pub last_seen_at: DateTimeUtc,
    pub removed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// The sync run that last listed or changed this user: a full sync finds the users its
    /// complete listing missed by this stamp, at its end, without holding who it saw in memory.
    pub listed_in_run: Option<i64>,
    /// What `listed_in_run` counted the user as (`sync::writer::Counted`), so that a user listed
    /// twice in one run is counted once.
    pub listed_as: i16,
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
    #[sea_orm(has_many = "super::license_assignments::Entity")]
    LicenseAssignments,
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl Related<super::license_assignments::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LicenseAssignments.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
