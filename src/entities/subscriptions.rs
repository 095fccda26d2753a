use sea_orm::entity::prelude::*;

/// A commerce subscription from `/directory/subscriptions`; several may back one SKU.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    pub external_id: String,
    pub commerce_subscription_id: Option<String>,
    pub sku_id: String,
    pub sku_part_number: String,
    pub status: String,
    pub total_licenses: i64,
    pub is_trial: bool,
    pub created_date_time: Option<DateTimeUtc>,
    pub next_lifecycle_date_time: Option<DateTimeUtc>,
    pub last_synced_at: DateTimeUtc,
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
