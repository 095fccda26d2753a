use sea_orm::entity::prelude::*;

/// Seats of one SKU on one day, for trends.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_snapshots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider_id: i64,
    pub license_sku_id: i64,
    pub day: Date,
    pub enabled_units: i64,
    pub consumed_units: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::license_skus::Entity",
        from = "Column::LicenseSkuId",
        to = "super::license_skus::Column::Id",
        on_delete = "Cascade"
    )]
    LicenseSku,
}

impl Related<super::license_skus::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LicenseSku.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
