//! License SKUs, who holds them, the subscriptions behind them, and their unit prices.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DerivePartialModel, EntityTrait, FromQueryResult,
    PartialModelTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::{Value, json};

use super::audit::{self, Actor, Target};
use super::money::{Period, Price};
use crate::db::one_of;
use crate::entities::{license_assignments, license_skus, subscriptions};
use crate::error::{Error, Result};
pub use crate::providers::records::{
    AssignmentError, AssignmentState, LicensePaths, LicenseSource,
};

/// A SKU of one provider with the provider's seat counts, already summed over its subscriptions.
#[derive(Clone, Debug)]
pub struct LicenseSku {
    pub id: i64,
    pub provider_id: i64,
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
    /// False when only users' assignments still mention it: no seats are paid for.
    pub subscribed: bool,
    pub price: Option<Price>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

impl LicenseSku {
    /// Paid, usable seats nobody holds. Negative when more are assigned than paid for.
    pub fn available_units(&self) -> i64 {
        self.enabled_units - self.consumed_units
    }

    /// What `units` seats cost per month, in the price's currency, unrounded so that sums
    /// round once; `None` when no price is set.
    pub fn monthly_cost(&self, units: i64) -> Option<(String, Decimal)> {
        self.price.as_ref().map(|price| {
            (
                price.currency.clone(),
                price.monthly() * Decimal::from(units),
            )
        })
    }
}

/// The columns of a SKU that [`LicenseSku`] shows. Not its service plans: a JSON list of up to
/// a hundred plans per SKU that no read needs, and that would otherwise be fetched and parsed for
/// every SKU on every page of users that shows SKU names.
#[derive(DerivePartialModel)]
#[sea_orm(entity = "license_skus::Entity")]
struct SkuRow {
    id: i64,
    provider_id: i64,
    sku_id: String,
    sku_part_number: String,
    display_name: String,
    capability_status: String,
    applies_to: Option<String>,
    enabled_units: i64,
    suspended_units: i64,
    warning_units: i64,
    locked_out_units: i64,
    consumed_units: i64,
    subscribed: bool,
    price_amount: Option<String>,
    price_currency: Option<String>,
    price_period: Option<String>,
    last_synced_at: Option<DateTime<Utc>>,
}

impl TryFrom<SkuRow> for LicenseSku {
    type Error = Error;

    fn try_from(row: SkuRow) -> Result<Self> {
        let price = Price::from_columns(
            row.price_amount.as_deref(),
            row.price_currency.as_deref(),
            row.price_period.as_deref(),
        )?;
        Ok(Self {
            id: row.id,
            provider_id: row.provider_id,
            sku_id: row.sku_id,
            sku_part_number: row.sku_part_number,
            display_name: row.display_name,
            capability_status: row.capability_status,
            applies_to: row.applies_to,
            enabled_units: row.enabled_units,
            suspended_units: row.suspended_units,
            warning_units: row.warning_units,
            locked_out_units: row.locked_out_units,
            consumed_units: row.consumed_units,
            subscribed: row.subscribed,
            price,
            last_synced_at: row.last_synced_at,
        })
    }
}

/// One license of one user, and how it came to the user.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub user_id: i64,
    pub license_sku_id: i64,
    /// Service plan ids switched off for this user.
    pub disabled_plans: Vec<String>,
    /// Every path by which it reaches the user, and what they add up to: whether it is the
    /// user's own, the groups it comes from, and the state and error of the most severe path.
    pub paths: LicensePaths,
}

fn strings(value: Value, what: &str, id: i64) -> Result<Vec<String>> {
    serde_json::from_value(value)
        .map_err(|error| Error::Corrupt(format!("license assignment {id} {what}: {error}")))
}

/// A license's stored paths: its `sources`, or, where the row needed none, the paths its
/// columns imply (see `LicensePaths::implied`).
struct StoredPaths {
    id: i64,
    assigned_directly: bool,
    inherited_from_group_ids: Value,
    state: Option<String>,
    error: Option<String>,
    sources: Option<Value>,
}

impl StoredPaths {
    fn read(self, disabled_plans: &[String]) -> Result<LicensePaths> {
        let groups = strings(
            self.inherited_from_group_ids,
            "inherited group ids",
            self.id,
        )?;
        LicensePaths::from_stored(
            self.sources,
            self.assigned_directly,
            &groups,
            self.state.as_deref(),
            self.error.as_deref(),
            disabled_plans,
        )
        .map_err(|error| Error::Corrupt(format!("license assignment {} sources: {error}", self.id)))
    }
}

/// The columns of a license assignment that [`Assignment`] shows: not its provider or timestamp,
/// which every license of every page of users would otherwise read and decode.
#[derive(DerivePartialModel)]
#[sea_orm(entity = "license_assignments::Entity")]
struct AssignmentRow {
    id: i64,
    user_id: i64,
    license_sku_id: i64,
    disabled_plans: Value,
    assigned_directly: bool,
    inherited_from_group_ids: Value,
    state: Option<String>,
    error: Option<String>,
    sources: Option<Value>,
}

impl TryFrom<AssignmentRow> for Assignment {
    type Error = Error;

    fn try_from(row: AssignmentRow) -> Result<Self> {
        let disabled_plans = strings(row.disabled_plans, "disabled plans", row.id)?;
        let paths = StoredPaths {
            id: row.id,
            assigned_directly: row.assigned_directly,
            inherited_from_group_ids: row.inherited_from_group_ids,
            state: row.state,
            error: row.error,
            sources: row.sources,
        }
        .read(&disabled_plans)?;
        Ok(Self {
            user_id: row.user_id,
            license_sku_id: row.license_sku_id,
            disabled_plans,
            paths,
        })
    }
}

/// A commerce subscription backing a SKU.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: i64,
    pub provider_id: i64,
    pub external_id: String,
    pub commerce_subscription_id: Option<String>,
    pub sku_id: String,
    pub status: String,
    pub total_licenses: i64,
    pub is_trial: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub next_lifecycle_at: Option<DateTime<Utc>>,
}

impl From<subscriptions::Model> for Subscription {
    fn from(row: subscriptions::Model) -> Self {
        Self {
            id: row.id,
            provider_id: row.provider_id,
            external_id: row.external_id,
            commerce_subscription_id: row.commerce_subscription_id,
            sku_id: row.sku_id,
            status: row.status,
            total_licenses: row.total_licenses,
            is_trial: row.is_trial,
            created_at: row.created_date_time,
            next_lifecycle_at: row.next_lifecycle_date_time,
        }
    }
}

/// Groups values by a key, keeping their order within each group.
fn group<K: Eq + Hash, V>(
    values: impl IntoIterator<Item = V>,
    key: impl Fn(&V) -> K,
) -> HashMap<K, Vec<V>> {
    let mut groups: HashMap<K, Vec<V>> = HashMap::new();
    for value in values {
        groups.entry(key(&value)).or_default().push(value);
    }
    groups
}

fn map_skus(rows: Vec<SkuRow>) -> Result<Vec<LicenseSku>> {
    rows.into_iter().map(LicenseSku::try_from).collect()
}

/// Every SKU of one provider or of all, by provider then friendly name.
pub async fn list_skus(
    db: &DatabaseConnection,
    provider_id: Option<i64>,
) -> Result<Vec<LicenseSku>> {
    let mut query = license_skus::Entity::find()
        .order_by_asc(license_skus::Column::ProviderId)
        .order_by_asc(license_skus::Column::DisplayName)
        .order_by_asc(license_skus::Column::Id);
    if let Some(provider_id) = provider_id {
        query = query.filter(license_skus::Column::ProviderId.eq(provider_id));
    }
    map_skus(query.into_partial_model::<SkuRow>().all(db).await?)
}

/// The SKUs of several providers, in one statement.
pub async fn skus_of_providers(
    db: &DatabaseConnection,
    provider_ids: &[i64],
) -> Result<HashMap<i64, Vec<LicenseSku>>> {
    let rows = license_skus::Entity::find()
        .filter(one_of(
            db.get_database_backend(),
            license_skus::Column::ProviderId,
            provider_ids.to_vec(),
        ))
        .order_by_asc(license_skus::Column::DisplayName)
        .order_by_asc(license_skus::Column::Id)
        .into_partial_model::<SkuRow>()
        .all(db)
        .await?;
    Ok(group(map_skus(rows)?, |sku| sku.provider_id))
}

pub async fn skus_by_ids(db: &DatabaseConnection, ids: &[i64]) -> Result<HashMap<i64, LicenseSku>> {
    let rows: Vec<SkuRow> = sku_rows(db, ids).await?;
    Ok(map_skus(rows)?
        .into_iter()
        .map(|sku| (sku.id, sku))
        .collect())
}

/// What names a SKU, without its seats, price and dates: what a list of users with the names
/// of their SKUs shows. Reading every column of each SKU was a tenth of the instructions of
/// such a page on PostgreSQL.
#[derive(Clone, Debug, DerivePartialModel)]
#[sea_orm(entity = "license_skus::Entity")]
pub struct SkuName {
    pub id: i64,
    pub provider_id: i64,
    pub sku_id: String,
    pub sku_part_number: String,
    pub display_name: String,
}

/// The names of several SKUs, in one statement; SKUs that do not exist are absent.
pub async fn sku_names_by_ids(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, SkuName>> {
    let rows: Vec<SkuName> = sku_rows(db, ids).await?;
    Ok(rows.into_iter().map(|sku| (sku.id, sku)).collect())
}

/// The rows of several SKUs, as `M` reads them.
async fn sku_rows<M>(db: &DatabaseConnection, ids: &[i64]) -> Result<Vec<M>>
where
    M: PartialModelTrait + Send + Sync,
{
    Ok(license_skus::Entity::find()
        .filter(one_of(
            db.get_database_backend(),
            license_skus::Column::Id,
            ids.to_vec(),
        ))
        .into_partial_model::<M>()
        .all(db)
        .await?)
}

/// The licenses of several users, in one statement; users without any are absent.
pub async fn assignments_of_users(
    db: &DatabaseConnection,
    user_ids: &[i64],
) -> Result<HashMap<i64, Vec<Assignment>>> {
    let rows: Vec<AssignmentRow> = license_rows(db, user_ids).await?;
    let assignments = rows
        .into_iter()
        .map(Assignment::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok(group(assignments, |assignment| assignment.user_id))
}

/// Which SKU a user holds, without how it came to the user: what a list of users with their
/// SKUs needs.
#[derive(Clone, Copy, Debug, DerivePartialModel)]
#[sea_orm(entity = "license_assignments::Entity")]
pub struct HeldLicense {
    pub user_id: i64,
    pub license_sku_id: i64,
}

/// The licenses of several users as [`HeldLicense`]s, in one statement; users without any are
/// absent. Cheaper than [`assignments_of_users`] by the two JSON arrays of each license, whose
/// decoding cost a page of 100 users with their SKU names (Q1 at 32 clients, alternating runs)
/// a seventh of its throughput on PostgreSQL (1,367–1,450 req/s against 1,457–1,792 without)
/// and a fifth on SQLite (1,840–2,021 against 2,401–2,528).
pub async fn licenses_held_by(
    db: &DatabaseConnection,
    user_ids: &[i64],
) -> Result<HashMap<i64, Vec<HeldLicense>>> {
    let rows: Vec<HeldLicense> = license_rows(db, user_ids).await?;
    Ok(group(rows, |held| held.user_id))
}

/// The license rows of several users in the order they were assigned, as `M` reads them.
async fn license_rows<M>(db: &DatabaseConnection, user_ids: &[i64]) -> Result<Vec<M>>
where
    M: PartialModelTrait + Send + Sync,
{
    Ok(license_assignments::Entity::find()
        .filter(one_of(
            db.get_database_backend(),
            license_assignments::Column::UserId,
            user_ids.to_vec(),
        ))
        .order_by_asc(license_assignments::Column::Id)
        .into_partial_model::<M>()
        .all(db)
        .await?)
}

/// What the report needs of a license: whose it is, which SKU, and how it came to the user.
/// Lighter than `Assignment`: no disabled plans to read, and paths only where a license has
/// several that differ (the rest are summed up by the columns).
#[derive(Clone, Debug)]
pub struct Holding {
    pub user_id: i64,
    pub license_sku_id: i64,
    pub paths: LicensePaths,
}

#[derive(FromQueryResult)]
struct HoldingRow {
    id: i64,
    user_id: i64,
    license_sku_id: i64,
    assigned_directly: bool,
    inherited_from_group_ids: Value,
    state: Option<String>,
    error: Option<String>,
    sources: Option<Value>,
}

impl TryFrom<HoldingRow> for Holding {
    type Error = Error;

    fn try_from(row: HoldingRow) -> Result<Self> {
        let paths = StoredPaths {
            id: row.id,
            assigned_directly: row.assigned_directly,
            inherited_from_group_ids: row.inherited_from_group_ids,
            state: row.state,
            error: row.error,
            sources: row.sources,
        }
        // The report shows no disabled plans: implied paths need none.
        .read(&[])?;
        Ok(Self {
            user_id: row.user_id,
            license_sku_id: row.license_sku_id,
            paths,
        })
    }
}

/// The licenses of the users whose ids lie in `after_id < id <= last_id` (of one provider or
/// of all), by user. A range rather than a list of ids: one index range scan, no parameter per
/// user, so a chunk of thousands of users costs the same small statement on both engines.
pub async fn holdings_between(
    db: &DatabaseConnection,
    provider_id: Option<i64>,
    after_id: i64,
    last_id: i64,
) -> Result<HashMap<i64, Vec<Holding>>> {
    use license_assignments::Column;
    let mut query = license_assignments::Entity::find()
        .select_only()
        .columns([
            Column::Id,
            Column::UserId,
            Column::LicenseSkuId,
            Column::AssignedDirectly,
            Column::InheritedFromGroupIds,
            Column::State,
            Column::Error,
            Column::Sources,
        ])
        .filter(Column::UserId.gt(after_id))
        .filter(Column::UserId.lte(last_id));
    if let Some(provider_id) = provider_id {
        query = query.filter(Column::ProviderId.eq(provider_id));
    }
    let holdings = query
        .order_by_asc(Column::Id)
        .into_model::<HoldingRow>()
        .all(db)
        .await?
        .into_iter()
        .map(Holding::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok(group(holdings, |holding| holding.user_id))
}

/// Identifies the SKU subscriptions belong to: the provider links them by `skuId`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SkuKey {
    pub provider_id: i64,
    /// Lower case.
    pub sku_id: String,
}

impl SkuKey {
    pub fn of(sku: &LicenseSku) -> Self {
        Self::new(sku.provider_id, &sku.sku_id)
    }

    pub fn new(provider_id: i64, sku_id: &str) -> Self {
        Self {
            provider_id,
            sku_id: sku_id.to_ascii_lowercase(),
        }
    }
}

/// The subscriptions behind several SKUs, in one statement.
pub async fn subscriptions_of(
    db: &DatabaseConnection,
    keys: &[SkuKey],
) -> Result<HashMap<SkuKey, Vec<Subscription>>> {
    let provider_ids: Vec<i64> = keys.iter().map(|key| key.provider_id).collect();
    let rows = subscriptions::Entity::find()
        .filter(one_of(
            db.get_database_backend(),
            subscriptions::Column::ProviderId,
            provider_ids,
        ))
        .order_by_asc(subscriptions::Column::Id)
        .all(db)
        .await?;
    let mut by_sku = group(rows.into_iter().map(Subscription::from), |subscription| {
        SkuKey {
            provider_id: subscription.provider_id,
            sku_id: subscription.sku_id.to_ascii_lowercase(),
        }
    });
    by_sku.retain(|key, _| keys.contains(key));
    Ok(by_sku)
}

/// A price as an admin enters it, before validation.
pub struct NewPrice {
    pub amount: String,
    pub currency: String,
    pub period: Period,
}

/// Sets (or with `None` clears) the unit price of a SKU, with an audit event in the same
/// transaction.
pub async fn set_price(
    db: &DatabaseConnection,
    actor: &Actor,
    sku_row_id: i64,
    price: Option<NewPrice>,
) -> Result<LicenseSku> {
    let target = Target {
        kind: "license_sku",
        id: Some(sku_row_id.to_string()),
        provider_id: None,
    };
    let result = set_price_checked(db, actor, &target, sku_row_id, price).await;
    audit::on_failure(db, actor, "sku.price.set", target, result).await
}

async fn set_price_checked(
    db: &DatabaseConnection,
    actor: &Actor,
    target: &Target,
    sku_row_id: i64,
    price: Option<NewPrice>,
) -> Result<LicenseSku> {
    let price = price
        .map(|price| Price::parse(&price.amount, &price.currency, price.period))
        .transpose()?;
    // Writing first: a stored price that no longer parses can still be overwritten, and an id
    // that is gone (its provider deleted meanwhile) is told by the count of rows written.
    let transaction = db.begin().await?;
    let written = license_skus::Entity::update_many()
        .col_expr(
            license_skus::Column::PriceAmount,
            Expr::value(price.as_ref().map(|price| price.amount.to_string())),
        )
        .col_expr(
            license_skus::Column::PriceCurrency,
            Expr::value(price.as_ref().map(|price| price.currency.clone())),
        )
        .col_expr(
            license_skus::Column::PricePeriod,
            Expr::value(price.as_ref().map(|price| price.period.as_str().to_owned())),
        )
        .col_expr(license_skus::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(license_skus::Column::Id.eq(sku_row_id))
        .exec(&transaction)
        .await?;
    let not_found = || Error::NotFound(format!("no license SKU with id {sku_row_id}"));
    if written.rows_affected == 0 {
        return Err(not_found());
    }
    let updated = license_skus::Entity::find_by_id(sku_row_id)
        .into_partial_model::<SkuRow>()
        .one(&transaction)
        .await?
        .ok_or_else(not_found)?;
    let provider_id = updated.provider_id;
    let updated = LicenseSku::try_from(updated)?;
    let detail = match &updated.price {
        Some(price) => json!({
            "skuPartNumber": updated.sku_part_number,
            "amount": price.amount.to_string(),
            "currency": price.currency,
            "period": price.period.as_str(),
        }),
        None => json!({ "skuPartNumber": updated.sku_part_number, "cleared": true }),
    };
    let target = Target {
        provider_id: Some(provider_id),
        ..target.clone()
    };
    audit::record(
        &transaction,
        actor,
        "sku.price.set",
        &target,
        audit::SUCCEEDED,
        Some(detail),
    )
    .await?;
    transaction.commit().await?;
    Ok(updated)
}
