//! Built license reports, reused while the data they were built from is unchanged and they are
//! younger than a maximum age, with one build at a time per report.
//!
//! A report changes only when a sync writes, a price or a provider changes, or time passes
//! (the inactivity cutoff moves). Syncs may run in another process (`license-manager worker`)
//! and several API replicas may share one PostgreSQL, so no in-process signal can say that the
//! data changed: each request reads a [`DataVersion`] in one small statement instead, and a
//! cached report is served only while the version it was built at is still the current one.
//! The maximum age bounds how far the inactivity cutoff lags behind, and is the backstop for
//! writes the version cannot see (rows edited by hand, clocks of two machines that disagree).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, IntoColumnRef, IntoTableRef, Query};
use sea_orm::{Condition, ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult};
use tokio::sync::OnceCell;

use super::reports::{self, Report};
use super::sync_runs::RunStatus;
use crate::entities::{audit_events, license_skus, providers, sync_runs};
use crate::error::{Error, Result};
use crate::providers::registry::ProviderRegistry;

/// How long a report is served at most, even when no data changed (`licenseReport`'s
/// description and docs/license-api.md name it).
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// Reports kept at once (per provider scope and threshold); the oldest goes first. A report of
/// a large tenant is many megabytes, and callers choose the threshold freely.
const MAX_REPORTS: usize = 16;

/// A fingerprint of everything a report reads, for one provider or for all. It changes when:
/// - a sync makes progress (each page's progress save raises `pages_fetched`, the SKU phase
///   sets `skus_synced`: both only grow during a run, so their sum over the active runs grows),
///   or ends (the run leaves the active set, so the active count drops — unless a newer run
///   was queued meanwhile, which raises the last run id);
/// - a price is set, or a provider is created, updated or deleted: each writes an audit event
///   in the same transaction, and ids only grow; `updated_at` and the provider count say the
///   same for writes that are not audited.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct DataVersion {
    last_audit_event: Option<i64>,
    providers: i64,
    providers_updated_at: Option<DateTime<Utc>>,
    skus_updated_at: Option<DateTime<Utc>>,
    last_run: Option<i64>,
    active_runs: i64,
    active_progress: Option<i64>,
}

impl DataVersion {
    /// The current version, in one statement of index lookups and small aggregates.
    pub async fn read(db: &DatabaseConnection, provider_id: Option<i64>) -> Result<Self> {
        let row = db
            .query_one(&version_query(provider_id))
            .await?
            .ok_or_else(|| {
                Error::Database(DbErr::RecordNotFound(
                    "the data version query returned no row".into(),
                ))
            })?;
        Ok(Self::from_query_result(&row, "")?)
    }
}

fn version_query(provider_id: Option<i64>) -> sea_orm::sea_query::SelectStatement {
    use sync_runs::Column as Run;
    let active = of_provider(Run::ProviderId, provider_id).add(
        Expr::col(Run::Status).is_in([RunStatus::Queued.as_str(), RunStatus::Running.as_str()]),
    );
    // Both engines return a sum of integers as an integer only when told so: PostgreSQL's SUM
    // of BIGINT is NUMERIC.
    let progress = Func::cast_as(
        Func::sum(Expr::col(Run::PagesFetched).add(Expr::col(Run::SkusSynced))),
        Alias::new("BIGINT"),
    );
    let columns = [
        (
            "last_audit_event",
            scalar(
                audit_events::Entity,
                Func::max(Expr::col(audit_events::Column::Id)),
                Condition::all(),
            ),
        ),
        (
            "providers",
            scalar(
                providers::Entity,
                Func::count(Expr::col(providers::Column::Id)),
                of_provider(providers::Column::Id, provider_id),
            ),
        ),
        (
            "providers_updated_at",
            scalar(
                providers::Entity,
                Func::max(Expr::col(providers::Column::UpdatedAt)),
                of_provider(providers::Column::Id, provider_id),
            ),
        ),
        (
            "skus_updated_at",
            scalar(
                license_skus::Entity,
                Func::max(Expr::col(license_skus::Column::UpdatedAt)),
                of_provider(license_skus::Column::ProviderId, provider_id),
            ),
        ),
        (
            "last_run",
            scalar(
                sync_runs::Entity,
                Func::max(Expr::col(Run::Id)),
                of_provider(Run::ProviderId, provider_id),
            ),
        ),
        (
            "active_runs",
            scalar(
                sync_runs::Entity,
                Func::count(Expr::col(Run::Id)),
                active.clone(),
            ),
        ),
        (
            "active_progress",
            scalar(sync_runs::Entity, progress, active),
        ),
    ];
    let mut query = Query::select();
    for (name, value) in columns {
        query.expr_as(value, Alias::new(name));
    }
    query
}

/// `(SELECT aggregate FROM table WHERE condition)`: one value of the version.
fn scalar(table: impl IntoTableRef, aggregate: impl Into<Expr>, condition: Condition) -> Expr {
    let query = Query::select()
        .expr(aggregate)
        .from(table)
        .cond_where(condition)
        .to_owned();
    Expr::SubQuery(None, Box::new(query.into()))
}

/// Rows of one provider, or every row when the report covers all providers.
fn of_provider(column: impl IntoColumnRef, provider_id: Option<i64>) -> Condition {
    let all = Condition::all();
    match provider_id {
        Some(id) => all.add(Expr::col(column).eq(id)),
        None => all,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    provider_id: Option<i64>,
    inactive_days: i64,
}

/// One build of one report, joined by every request that reads the same data version while
/// the build runs or its report is young enough.
struct Build {
    version: DataVersion,
    started: Instant,
    report: OnceCell<Arc<Report>>,
}

impl Build {
    /// A build still running is always worth waiting for: nothing newer could be had sooner.
    fn fresh(&self, max_age: Duration) -> bool {
        !self.report.initialized() || self.started.elapsed() < max_age
    }
}

/// The reports of one process. Held in the GraphQL schema's data; cheap to consult.
pub struct ReportCache {
    max_age: Duration,
    builds: Mutex<HashMap<Key, Arc<Build>>>,
}

impl ReportCache {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            builds: Mutex::new(HashMap::new()),
        }
    }

    /// The report for one provider (or all) and threshold: a cached one if the data has not
    /// changed since it was built and it is younger than the maximum age, otherwise a new one.
    /// Concurrent requests for the same report share one build; its `generated_at` says when
    /// it was built.
    pub async fn report(
        &self,
        db: &DatabaseConnection,
        registry: &ProviderRegistry,
        provider_id: Option<i64>,
        inactive_days: i64,
    ) -> Result<Arc<Report>> {
        // Refused before anything is cached, so a bad argument never takes a place.
        reports::check_inactive_days(inactive_days)?;
        // Read before the build reads anything: a write that lands during the build changes
        // the version, so the next request builds again rather than keep a report that
        // missed it.
        let version = DataVersion::read(db, provider_id).await?;
        let key = Key {
            provider_id,
            inactive_days,
        };
        let build = self.build_for(key, version);
        // A build that fails leaves the cell empty: the next waiter tries again itself.
        let report = build
            .report
            .get_or_try_init(|| async {
                reports::build(db, registry, provider_id, inactive_days, Utc::now())
                    .await
                    .map(Arc::new)
            })
            .await?;
        Ok(report.clone())
    }

    /// The build to join, or a new one in its place.
    fn build_for(&self, key: Key, version: DataVersion) -> Arc<Build> {
        // Every change below leaves the map whole, so one that a panic interrupted elsewhere
        // is still fit to use.
        let mut builds = self.builds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(build) = builds.get(&key)
            && build.version == version
            && build.fresh(self.max_age)
        {
            return build.clone();
        }
        builds.retain(|_, build| build.fresh(self.max_age));
        while builds.len() >= MAX_REPORTS {
            let Some(oldest) = builds
                .iter()
                .min_by_key(|(_, build)| build.started)
                .map(|(key, _)| *key)
            else {
                break;
            };
            builds.remove(&oldest);
        }
        let build = Arc::new(Build {
            version,
            started: Instant::now(),
            report: OnceCell::new(),
        });
        builds.insert(key, build.clone());
        build
    }
}

impl Default for ReportCache {
    fn default() -> Self {
        Self::new(MAX_AGE)
    }
}
