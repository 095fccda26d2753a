//! A daily snapshot of each SKU's seats, for trends.

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::batching::*;
use crate::entities::{license_skus as skus, license_snapshots as snapshots};
use crate::error::Result;

/// Today's seats of every SKU of the provider, for trends; a second sync on the same day
/// overwrites the first.
pub async fn snapshot_skus(
    db: &DatabaseConnection,
    provider_id: i64,
    day: NaiveDate,
) -> Result<()> {
    let current = skus::Entity::find()
        .filter(skus::Column::ProviderId.eq(provider_id))
        .all(db)
        .await?;
    let now = Utc::now();
    let rows: Vec<snapshots::ActiveModel> = current
        .iter()
        .map(|sku| snapshots::ActiveModel {
            provider_id: Set(provider_id),
            license_sku_id: Set(sku.id),
            day: Set(day),
            enabled_units: Set(sku.enabled_units),
            consumed_units: Set(sku.consumed_units),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in batches(db.get_database_backend(), &rows) {
        snapshots::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([snapshots::Column::LicenseSkuId, snapshots::Column::Day])
                    .update_columns([
                        snapshots::Column::EnabledUnits,
                        snapshots::Column::ConsumedUnits,
                        snapshots::Column::CreatedAt,
                    ])
                    .to_owned(),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}
