use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_assignments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    pub user_id: i64,
    pub license_sku_id: i64,
    /// JSON array of service plan ids switched off for this user.
    pub disabled_plans: Json,
    /// Whether the license is assigned to the user itself (and so removable from it).
    pub assigned_directly: bool,
    /// JSON array of group object ids the license (also) comes from.
    pub inherited_from_group_ids: Json,
    /// The state of the most severe path (Active, ActiveWithError, Disabled, Error, or a value
    /// kept as the provider sent it).
    pub state: Option<String>,
    /// The error of that path; NULL when it has none.
    pub error: Option<String>,
    /// JSON array of every path by which the license reaches the user (`LicenseSource`); NULL
    /// when the other columns say it all (`LicensePaths::stored` and `from_stored`).
    pub sources: Option<Json>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::directory_users::Entity",
        from = "Column::UserId",
        to = "super::directory_users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(
        belongs_to = "super::license_skus::Entity",
        from = "Column::LicenseSkuId",
        to = "super::license_skus::Column::Id",
        on_delete = "Cascade"
    )]
    LicenseSku,
}

impl Related<super::directory_users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::license_skus::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LicenseSku.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
