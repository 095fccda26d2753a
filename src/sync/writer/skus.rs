//! SKUs and subscriptions, and the index that maps a provider's SKU ids to rows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};

use super::batching::*;
use crate::entities::{license_skus as skus, subscriptions};
use crate::error::Result;
use crate::providers::Catalogue;
use crate::providers::records::{SkuRecord, SubscriptionRecord, UserRecord};

/// The provider's SKUs by their id, so assignments can point at their rows.
#[derive(Clone)]
pub struct SkuIndex {
    pub(super) provider_id: i64,
    pub(super) ids: HashMap<String, i64>,
    /// Names the SKUs users hold that the provider does not list.
    pub(super) catalogue: Arc<dyn Catalogue>,
}

impl SkuIndex {
    pub async fn load(
        db: &impl ConnectionTrait,
        provider_id: i64,
        catalogue: Arc<dyn Catalogue>,
    ) -> Result<Self> {
        let rows: Vec<(i64, String)> = skus::Entity::find()
            .select_only()
            .column(skus::Column::Id)
            .column(skus::Column::SkuId)
            .filter(skus::Column::ProviderId.eq(provider_id))
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self {
            provider_id,
            ids: rows.into_iter().map(|(id, sku)| (sku, id)).collect(),
            catalogue,
        })
    }

    /// An index of no SKUs yet.
    #[cfg(test)]
    pub(crate) fn empty(provider_id: i64) -> Self {
        Self {
            provider_id,
            ids: HashMap::new(),
            catalogue: Arc::new(crate::providers::NoCatalogue),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Creates rows for SKUs users hold but the tenant no longer subscribes to: they keep their
    /// name from the kind's catalogue (or their id when it does not know them), with no seats.
    pub(super) async fn ensure(
        &mut self,
        db: &impl ConnectionTrait,
        sku_ids: HashSet<String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let missing: Vec<&str> = sku_ids
            .iter()
            .map(String::as_str)
            .filter(|id| !self.ids.contains_key(*id))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let rows: Vec<skus::ActiveModel> = missing
            .iter()
            .map(|sku_id| {
                let product = self.catalogue.product(sku_id);
                let (part_number, name) = product.map_or_else(
                    || ((*sku_id).to_owned(), (*sku_id).to_owned()),
                    |product| (product.part_number, product.name),
                );
                skus::ActiveModel {
                    provider_id: Set(self.provider_id),
                    sku_id: Set((*sku_id).to_owned()),
                    sku_part_number: Set(part_number),
                    display_name: Set(name),
                    capability_status: Set("Unsubscribed".to_owned()),
                    subscribed: Set(false),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
            })
            .collect();
        for chunk in batches(db.get_database_backend(), &rows) {
            for row in skus::Entity::insert_many(chunk.to_vec())
                .exec_with_returning(db)
                .await?
            {
                self.ids.insert(row.sku_id, row.id);
            }
        }
        Ok(())
    }

    pub(super) fn id(&self, sku_id: &str) -> Option<i64> {
        self.ids.get(sku_id).copied()
    }
}

/// Upserts the tenant's SKUs; SKUs it no longer lists stay (users may still hold them) but
/// lose their seats.
pub async fn write_skus(
    db: &DatabaseConnection,
    provider_id: i64,
    records: &[SkuRecord],
    catalogue: Arc<dyn Catalogue>,
    now: DateTime<Utc>,
) -> Result<SkuIndex> {
    let transaction = crate::db::begin_write(db).await?;
    let rows: Vec<skus::ActiveModel> = records
        .iter()
        .map(|record| skus::ActiveModel {
            provider_id: Set(provider_id),
            sku_id: Set(record.sku_id.clone()),
            sku_part_number: Set(record.sku_part_number.clone()),
            display_name: Set(record.display_name.clone()),
            capability_status: Set(record.capability_status.clone()),
            applies_to: Set(record.applies_to.clone()),
            enabled_units: Set(record.enabled_units),
            suspended_units: Set(record.suspended_units),
            warning_units: Set(record.warning_units),
            locked_out_units: Set(record.locked_out_units),
            consumed_units: Set(record.consumed_units),
            service_plans: Set(Some(record.service_plans.clone())),
            subscribed: Set(true),
            last_synced_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        skus::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([skus::Column::ProviderId, skus::Column::SkuId])
                    .update_columns([
                        skus::Column::SkuPartNumber,
                        skus::Column::DisplayName,
                        skus::Column::CapabilityStatus,
                        skus::Column::AppliesTo,
                        skus::Column::EnabledUnits,
                        skus::Column::SuspendedUnits,
                        skus::Column::WarningUnits,
                        skus::Column::LockedOutUnits,
                        skus::Column::ConsumedUnits,
                        skus::Column::ServicePlans,
                        skus::Column::Subscribed,
                        skus::Column::LastSyncedAt,
                        skus::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&transaction)
            .await?;
    }
    let listed: Vec<&str> = records
        .iter()
        .map(|record| record.sku_id.as_str())
        .collect();
    skus::Entity::update_many()
        .col_expr(skus::Column::Subscribed, false.into())
        .col_expr(skus::Column::EnabledUnits, 0.into())
        .col_expr(skus::Column::SuspendedUnits, 0.into())
        .col_expr(skus::Column::WarningUnits, 0.into())
        .col_expr(skus::Column::LockedOutUnits, 0.into())
        .col_expr(skus::Column::ConsumedUnits, 0.into())
        .col_expr(skus::Column::UpdatedAt, now.into())
        .filter(skus::Column::ProviderId.eq(provider_id))
        .filter(skus::Column::Subscribed.eq(true))
        .filter(skus::Column::SkuId.is_not_in(listed))
        .exec(&transaction)
        .await?;
    let index = SkuIndex::load(&transaction, provider_id, catalogue).await?;
    transaction.commit().await?;
    Ok(index)
}

/// Replaces the tenant's commerce subscriptions with a complete listing.
pub async fn write_subscriptions(
    db: &DatabaseConnection,
    provider_id: i64,
    records: &[SubscriptionRecord],
    now: DateTime<Utc>,
) -> Result<()> {
    let transaction = crate::db::begin_write(db).await?;
    let listed: Vec<&str> = records.iter().map(|r| r.external_id.as_str()).collect();
    subscriptions::Entity::delete_many()
        .filter(subscriptions::Column::ProviderId.eq(provider_id))
        .filter(subscriptions::Column::ExternalId.is_not_in(listed))
        .exec(&transaction)
        .await?;
    let rows: Vec<subscriptions::ActiveModel> = records
        .iter()
        .map(|record| subscriptions::ActiveModel {
            provider_id: Set(provider_id),
            external_id: Set(record.external_id.clone()),
            commerce_subscription_id: Set(record.commerce_subscription_id.clone()),
            sku_id: Set(record.sku_id.clone()),
            sku_part_number: Set(record.sku_part_number.clone()),
            status: Set(record.status.clone()),
            total_licenses: Set(record.total_licenses),
            is_trial: Set(record.is_trial),
            created_date_time: Set(record.created_at),
            next_lifecycle_date_time: Set(record.next_lifecycle_at),
            last_synced_at: Set(now),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        subscriptions::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    subscriptions::Column::ProviderId,
                    subscriptions::Column::ExternalId,
                ])
                .update_columns([
                    subscriptions::Column::CommerceSubscriptionId,
                    subscriptions::Column::SkuId,
                    subscriptions::Column::SkuPartNumber,
                    subscriptions::Column::Status,
                    subscriptions::Column::TotalLicenses,
                    subscriptions::Column::IsTrial,
                    subscriptions::Column::CreatedDateTime,
                    subscriptions::Column::NextLifecycleDateTime,
                    subscriptions::Column::LastSyncedAt,
                ])
                .to_owned(),
            )
            .exec(&transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// Creates the rows of SKUs that `records` hold and `skus` does not know yet (see
/// `SkuIndex::ensure`), in a transaction of their own, so that pages can then be written
/// concurrently against the same index. Usually every SKU is known and nothing is written.
pub async fn add_held_skus(
    db: &DatabaseConnection,
    skus: &mut Arc<SkuIndex>,
    records: &[UserRecord],
    now: DateTime<Utc>,
) -> Result<()> {
    let held: HashSet<String> = records
        .iter()
        .flat_map(|record| record.licenses.iter())
        .filter(|license| skus.id(&license.sku_id).is_none())
        .map(|license| license.sku_id.clone())
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    let transaction = crate::db::begin_write(db).await?;
    // Writes in flight keep the index they started with; this one gets a copy to extend.
    Arc::make_mut(skus).ensure(&transaction, held, now).await?;
    transaction.commit().await?;
    Ok(())
}
