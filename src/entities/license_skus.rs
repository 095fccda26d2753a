use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_skus")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    /// The provider's id of the SKU, lower-case.
    pub sku_id: String,
    pub sku_part_number: String,
    pub display_name: String,
    pub capability_status: String,
    pub applies_to: Option<String>,
    pub enabled_units: i64,
    pub suspended_units: i64,
    pub warning_units: i64,
    pub locked_out_units: i64,
    pub consumed_units: i64,
    pub service_plans: Option<Json>,
    /// False for a SKU known only from users' assignments, no longer among `subscribedSkus`.
    pub subscribed: bool,
    /// Decimal text, so no engine rounds a price through a float.
    pub price_amount: Option<String>,
    pub price_currency: Option<String>,
    pub price_period: Option<String>,
    pub last_synced_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
