//! Sync runs as the API sees them: history, progress and outcome; starting and cancelling.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

use super::audit::{self, Actor, Target};
use super::providers;
use crate::db::one_of;
use crate::entities::sync_runs::{self, Column, Entity as SyncRuns};
use crate::error::{Error, Result};
use crate::sync::events::RunEvents;
use crate::sync::queue;
/// The vocabulary of runs, as the API speaks it.
pub use crate::sync::queue::{Notice, RunStatus, SyncMode};

#[derive(Clone, Debug, PartialEq)]
pub struct SyncRun {
    pub id: i64,
    pub provider_id: i64,
    pub mode: SyncMode,
    pub effective_mode: Option<SyncMode>,
    pub trigger: String,
    pub status: RunStatus,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pages_fetched: i64,
    pub users_seen: i64,
    pub users_created: i64,
    pub users_updated: i64,
    pub users_removed: i64,
    pub skus_synced: i64,
    pub warnings: Vec<Notice>,
    pub error: Option<Notice>,
}

impl TryFrom<sync_runs::Model> for SyncRun {
    type Error = Error;

    fn try_from(row: sync_runs::Model) -> Result<Self> {
        let warnings = serde_json::from_value(row.warnings)
            .map_err(|error| Error::Corrupt(format!("sync run {} warnings: {error}", row.id)))?;
        let error = row.error_code.map(|code| Notice {
            code,
            message: row.error_message.unwrap_or_default(),
            hint: row.error_hint.unwrap_or_default(),
        });
        Ok(Self {
            id: row.id,
            provider_id: row.provider_id,
            mode: SyncMode::parse(&row.mode)?,
            effective_mode: row
                .effective_mode
                .as_deref()
                .map(SyncMode::parse)
                .transpose()?,
            trigger: row.trigger,
            status: RunStatus::parse(&row.status)?,
            queued_at: row.queued_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            pages_fetched: row.pages_fetched,
            users_seen: row.users_seen,
            users_created: row.users_created,
            users_updated: row.users_updated,
            users_removed: row.users_removed,
            skus_synced: row.skus_synced,
            warnings,
            error,
        })
    }
}

fn map_all(rows: Vec<sync_runs::Model>) -> Result<Vec<SyncRun>> {
    rows.into_iter().map(SyncRun::try_from).collect()
}

/// Runs of the queue that are syncs: the queue also carries reclaim executions, which their
/// plans report.
fn syncs() -> sea_orm::Select<SyncRuns> {
    SyncRuns::find().filter(Column::ReclaimPlanId.is_null())
}

pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<SyncRun>> {
    syncs()
        .filter(Column::Id.eq(id))
        .one(db)
        .await?
        .map(SyncRun::try_from)
        .transpose()
}

/// Newest first, optionally for one provider; `before_id` continues a page.
pub async fn list(
    db: &DatabaseConnection,
    provider_id: Option<i64>,
    limit: u64,
    before_id: Option<i64>,
) -> Result<Vec<SyncRun>> {
    let mut query = syncs().order_by_desc(Column::Id);
    if let Some(provider_id) = provider_id {
        query = query.filter(Column::ProviderId.eq(provider_id));
    }
    if let Some(before_id) = before_id {
        query = query.filter(Column::Id.lt(before_id));
    }
    map_all(query.limit(limit).all(db).await?)
}

/// The newest run of each provider, in one statement.
pub async fn latest_per_provider(
    db: &DatabaseConnection,
    provider_ids: &[i64],
) -> Result<HashMap<i64, SyncRun>> {
    let newest_ids = Query::select()
        .expr(Func::max(Expr::col(Column::Id)))
        .from(SyncRuns)
        .and_where(Expr::col(Column::ReclaimPlanId).is_null())
        .and_where(one_of(
            db.get_database_backend(),
            Column::ProviderId,
            provider_ids.to_vec(),
        ))
        .group_by_col(Column::ProviderId)
        .to_owned();
    let rows = SyncRuns::find()
        .filter(Column::Id.in_subquery(newest_ids))
        .all(db)
        .await?;
    Ok(map_all(rows)?
        .into_iter()
        .map(|run| (run.provider_id, run))
        .collect())
}

pub async fn start(
    db: &DatabaseConnection,
    events: &RunEvents,
    actor: &Actor,
    provider_id: i64,
    mode: SyncMode,
) -> Result<SyncRun> {
    let result = start_checked(db, events, actor, provider_id, mode).await;
    audit::on_failure(
        db,
        actor,
        "sync.start",
        Target::provider(Some(provider_id)),
        result,
    )
    .await
}

async fn start_checked(
    db: &DatabaseConnection,
    events: &RunEvents,
    actor: &Actor,
    provider_id: i64,
    mode: SyncMode,
) -> Result<SyncRun> {
    if providers::get(db, provider_id).await?.is_none() {
        return Err(Error::NotFound(format!(
            "no provider with id {provider_id}"
        )));
    }
    // A run whose process died must not block the provider, even where no worker runs to
    // fail it (API-only replicas, cron with `license-manager sync`).
    queue::fail_expired(db, events).await?;
    let run = queue::enqueue(db, provider_id, mode, "manual").await?;
    audit::record(
        db,
        actor,
        "sync.start",
        &Target::provider(Some(provider_id)),
        audit::SUCCEEDED,
        Some(json!({ "syncRunId": run.id, "mode": mode.as_str() })),
    )
    .await?;
    SyncRun::try_from(run)
}

pub async fn cancel(
    db: &DatabaseConnection,
    events: &RunEvents,
    actor: &Actor,
    run_id: i64,
) -> Result<SyncRun> {
    let target = Target {
        kind: "sync_run",
        id: Some(run_id.to_string()),
        provider_id: None,
    };
    let result = async {
        if get(db, run_id).await?.is_none() {
            return Err(Error::NotFound(format!("no sync run with id {run_id}")));
        }
        let run = queue::request_cancel(db, events, run_id).await?;
        audit::record(db, actor, "sync.cancel", &target, audit::SUCCEEDED, None).await?;
        SyncRun::try_from(run)
    }
    .await;
    audit::on_failure(db, actor, "sync.cancel", target.clone(), result).await
}

/// How many runs are in each status, for monitoring.
pub async fn count_by_status(db: &DatabaseConnection) -> Result<Vec<(String, i64)>> {
    Ok(SyncRuns::find()
        .select_only()
        .column(Column::Status)
        .column_as(Column::Id.count(), "runs")
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?)
}
