//! The change log as the API reads it: what changed of a user or of a user's license, when it
//! was observed and by which sync (or reclaim plan), newest first; and its pruning past the
//! retention period.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationDef,
};
use serde_json::Value;

use crate::entities::{directory_users, license_events, license_skus};
use crate::error::{Error, Result};
pub use crate::sync::writer::{EVENT_KINDS, EventKind};

/// How long events are kept by default: two years of "who had what".
pub const RETENTION_DAYS_DEFAULT: i64 = 730;
/// Events deleted per statement when pruning: short transactions, however much is due.
const PRUNE_BATCH: u64 = 5_000;

/// Which events a query returns; every field given must match.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub provider_id: Option<i64>,
    pub user_id: Option<i64>,
    pub license_sku_id: Option<i64>,
    /// Empty: every kind.
    pub kinds: Vec<EventKind>,
    /// Observed at or after.
    pub from: Option<DateTime<Utc>>,
    /// Observed before.
    pub to: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// Refuses a filter that can keep nothing for a reason the caller should hear of.
    pub fn check(&self) -> Result<()> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(Error::invalid("to", "must be after `from`"));
        }
        Ok(())
    }

    fn condition(&self) -> Result<Condition> {
        self.check()?;
        use license_events::Column;
        let mut condition = Condition::all();
        if let Some(id) = self.provider_id {
            condition = condition.add(Column::ProviderId.eq(id));
        }
        if let Some(id) = self.user_id {
            condition = condition.add(Column::UserId.eq(id));
        }
        if let Some(id) = self.license_sku_id {
            condition = condition.add(Column::LicenseSkuId.eq(id));
        }
        if !self.kinds.is_empty() {
            condition = condition.add(Column::Kind.is_in(self.kinds.iter().map(|k| k.as_str())));
        }
        if let Some(from) = self.from {
            condition = condition.add(Column::ObservedAt.gte(from));
        }
        if let Some(to) = self.to {
            condition = condition.add(Column::ObservedAt.lt(to));
        }
        Ok(condition)
    }
}

/// One event, with the names of the user and SKU it is about as they are now.
#[derive(Clone, Debug, FromQueryResult)]
struct Row {
    id: i64,
    provider_id: i64,
    user_id: i64,
    license_sku_id: Option<i64>,
    kind: String,
    observed_at: DateTime<Utc>,
    sync_run_id: Option<i64>,
    reclaim_plan_id: Option<i64>,
    before: Option<Value>,
    after: Option<Value>,
    user_principal_name: Option<String>,
    sku_display_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct LicenseEvent {
    pub id: i64,
    pub provider_id: i64,
    pub user_id: i64,
    pub user_principal_name: Option<String>,
    pub license_sku_id: Option<i64>,
    pub sku_display_name: Option<String>,
    pub kind: EventKind,
    pub observed_at: DateTime<Utc>,
    pub sync_run_id: Option<i64>,
    pub reclaim_plan_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl TryFrom<Row> for LicenseEvent {
    type Error = Error;

    fn try_from(row: Row) -> Result<Self> {
        Ok(Self {
            id: row.id,
            provider_id: row.provider_id,
            user_id: row.user_id,
            user_principal_name: row.user_principal_name,
            license_sku_id: row.license_sku_id,
            sku_display_name: row.sku_display_name,
            kind: EventKind::parse(&row.kind)?,
            observed_at: row.observed_at,
            sync_run_id: row.sync_run_id,
            reclaim_plan_id: row.reclaim_plan_id,
            before: row.before,
            after: row.after,
        })
    }
}

fn to_user() -> RelationDef {
    license_events::Entity::belongs_to(directory_users::Entity)
        .from(license_events::Column::UserId)
        .to(directory_users::Column::Id)
        .into()
}

fn to_sku() -> RelationDef {
    license_events::Entity::belongs_to(license_skus::Entity)
        .from(license_events::Column::LicenseSkuId)
        .to(license_skus::Column::Id)
        .into()
}

/// Events `filter` keeps, newest first, `limit` before `before_id`.
pub async fn list(
    db: &DatabaseConnection,
    filter: &EventFilter,
    limit: u64,
    before_id: Option<i64>,
) -> Result<Vec<LicenseEvent>> {
    let mut query = license_events::Entity::find()
        .join(JoinType::LeftJoin, to_user())
        .join(JoinType::LeftJoin, to_sku())
        .column_as(
            directory_users::Column::UserPrincipalName,
            "user_principal_name",
        )
        .column_as(license_skus::Column::DisplayName, "sku_display_name")
        .filter(filter.condition()?)
        .order_by_desc(license_events::Column::Id);
    if let Some(before_id) = before_id {
        query = query.filter(license_events::Column::Id.lt(before_id));
    }
    query
        .limit(limit)
        .into_model::<Row>()
        .all(db)
        .await?
        .into_iter()
        .map(LicenseEvent::try_from)
        .collect()
}

/// Deletes the events observed more than `retention_days` ago, a batch at a time; returns how
/// many went.
pub async fn prune(
    db: &DatabaseConnection,
    retention_days: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let cutoff = now - Duration::days(retention_days);
    let mut pruned = 0;
    loop {
        // The oldest first, through the observation index: a batch never scans the table.
        let batch = Query::select()
            .column(license_events::Column::Id)
            .from(license_events::Entity)
            .and_where(Expr::col(license_events::Column::ObservedAt).lt(cutoff))
            .order_by(license_events::Column::ObservedAt, sea_orm::Order::Asc)
            .limit(PRUNE_BATCH)
            .to_owned();
        let deleted = license_events::Entity::delete_many()
            .filter(license_events::Column::Id.in_subquery(batch))
            .exec(db)
            .await?
            .rows_affected;
        pruned += deleted;
        if deleted < PRUNE_BATCH {
            return Ok(pruned);
        }
    }
}
