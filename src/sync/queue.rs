//! The job queue in `sync_runs`. A run is QUEUED, then claimed by one worker under a lease
//! (RUNNING), which the worker renews while it works; it ends SUCCEEDED, FAILED or CANCELLED.
//!
//! Safety comes from the database, so any number of processes may share it:
//! - the partial unique index `ux_sync_runs_one_active` allows one QUEUED or RUNNING run per
//!   provider, so a provider never syncs twice at once;
//! - claiming is one `UPDATE … WHERE id = (SELECT … LIMIT 1 FOR UPDATE SKIP LOCKED)` on
//!   PostgreSQL; SQLite runs the same statement without the lock clause, atomically, since it
//!   has one writer at a time. It must be `=` with a scalar subquery, which PostgreSQL runs once:
//!   with `IN`, the planner may rescan the subquery for every row, and each rescan skips the rows
//!   already taken and locks the next, claiming the whole queue at once;
//! - every later write names the lease owner, so a worker that lost its lease cannot overwrite
//!   the run that another process failed or took over.
//!
//! A run whose lease expired (its process died) is failed with INTERRUPTED rather than retried:
//! the provider is free to sync again at once, and the history says what happened. A reclaim
//! execution (a run with `reclaim_plan_id`) is queued again instead, a few times: its items
//! record what is done, so the next worker goes on where the dead one stopped.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, SqlErr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::events::RunEvents;
use crate::codes::Code;
use crate::entities::sync_runs::{self, Column, Entity as SyncRuns};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "QUEUED",
            RunStatus::Running => "RUNNING",
            RunStatus::Succeeded => "SUCCEEDED",
            RunStatus::Failed => "FAILED",
            RunStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(value: &str) -> Result<Self> {
        Ok(match value {
            "QUEUED" => RunStatus::Queued,
            "RUNNING" => RunStatus::Running,
            "SUCCEEDED" => RunStatus::Succeeded,
            "FAILED" => RunStatus::Failed,
            "CANCELLED" => RunStatus::Cancelled,
            other => return Err(Error::Corrupt(format!("unknown sync status {other:?}"))),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Delta when a delta link is stored and the last full sync is recent, else full.
    Auto,
    Full,
    Delta,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Auto => "AUTO",
            SyncMode::Full => "FULL",
            SyncMode::Delta => "DELTA",
        }
    }

    pub fn parse(value: &str) -> Result<Self> {
        Ok(match value {
            "AUTO" => SyncMode::Auto,
            "FULL" => SyncMode::Full,
            "DELTA" => SyncMode::Delta,
            other => return Err(Error::Corrupt(format!("unknown sync mode {other:?}"))),
        })
    }
}

/// A problem an admin should see, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub code: String,
    pub message: String,
    pub hint: String,
}

/// The live counters of a run, written as it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub effective_mode: Option<SyncMode>,
    pub pages_fetched: i64,
    pub users_seen: i64,
    pub users_created: i64,
    pub users_updated: i64,
    pub users_removed: i64,
    pub skus_synced: i64,
    pub warnings: Vec<Notice>,
}

pub enum Outcome {
    Succeeded,
    Failed(Notice),
    Cancelled,
}

/// What a heartbeat learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heartbeat {
    Continue,
    /// `cancelSync` was called: stop at the next safe point and finish as CANCELLED.
    CancelRequested,
    /// The lease is gone (expired and failed by another process): stop writing at once.
    Lost,
}

fn active_conflict(provider_id: i64) -> Error {
    Error::Conflict(format!(
        "provider {provider_id} already has a sync or a reclaim queued or running; wait for it \
         or cancel it"
    ))
}

/// Queues a run and returns it at once; CONFLICT if the provider already has one active,
/// NOT_FOUND if there is no such provider (`license-manager sync --provider` with a wrong id).
pub async fn enqueue(
    db: &DatabaseConnection,
    provider_id: i64,
    mode: SyncMode,
    trigger: &str,
) -> Result<sync_runs::Model> {
    insert_queued(db, provider_id, mode.as_str(), trigger, None).await
}

/// The `mode` of a job that executes a reclaim plan rather than syncing.
pub const RECLAIM_MODE: &str = "RECLAIM";

/// Queues the execution of a reclaim plan: a job like a sync, so that a provider never syncs
/// and has its licenses changed at once. CONFLICT if the provider has a job active.
pub async fn enqueue_reclaim(
    db: &DatabaseConnection,
    provider_id: i64,
    plan_id: i64,
) -> Result<sync_runs::Model> {
    insert_queued(db, provider_id, RECLAIM_MODE, "reclaim", Some(plan_id)).await
}

async fn insert_queued(
    db: &DatabaseConnection,
    provider_id: i64,
    mode: &str,
    trigger: &str,
    reclaim_plan_id: Option<i64>,
) -> Result<sync_runs::Model> {
    sync_runs::ActiveModel {
        provider_id: Set(provider_id),
        trigger: Set(trigger.to_owned()),
        mode: Set(mode.to_owned()),
        status: Set(RunStatus::Queued.as_str().to_owned()),
        warnings: Set(json!([])),
        attempt: Set(0),
        cancel_requested: Set(false),
        queued_at: Set(Utc::now()),
        reclaim_plan_id: Set(reclaim_plan_id),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => active_conflict(provider_id),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
            Error::NotFound(format!("no provider with id {provider_id}"))
        }
        _ => Error::Database(error),
    })
}

/// Takes the oldest queued run, if any, for `worker` until `now + lease`.
pub async fn claim(
    db: &DatabaseConnection,
    events: &RunEvents,
    worker: &str,
    lease: Duration,
) -> Result<Option<sync_runs::Model>> {
    let oldest_queued = Query::select()
        .column(Column::Id)
        .from(SyncRuns)
        .and_where(Expr::col(Column::Status).eq(RunStatus::Queued.as_str()))
        .order_by(Column::Id, sea_orm::sea_query::Order::Asc)
        .limit(1)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    claim_where(
        db,
        events,
        worker,
        lease,
        Expr::col(Column::Id).eq(Expr::SubQuery(None, Box::new(oldest_queued.into()))),
    )
    .await
}

/// Takes one given run if it is still queued (the `sync` command runs the run it queued).
pub async fn claim_run(
    db: &DatabaseConnection,
    events: &RunEvents,
    run_id: i64,
    worker: &str,
    lease: Duration,
) -> Result<Option<sync_runs::Model>> {
    claim_where(db, events, worker, lease, Expr::col(Column::Id).eq(run_id)).await
}

async fn claim_where(
    db: &DatabaseConnection,
    events: &RunEvents,
    worker: &str,
    lease: Duration,
    which: Expr,
) -> Result<Option<sync_runs::Model>> {
    let now = Utc::now();
    let claimed = SyncRuns::update_many()
        .col_expr(Column::Status, Expr::value(RunStatus::Running.as_str()))
        .col_expr(Column::LeaseOwner, Expr::value(worker))
        .col_expr(Column::LeaseExpiresAt, Expr::value(now + lease))
        .col_expr(Column::HeartbeatAt, Expr::value(now))
        .col_expr(Column::StartedAt, Expr::value(now))
        .col_expr(Column::Attempt, Expr::col(Column::Attempt).add(1))
        .filter(which)
        // Re-checked here: on SQLite there is no lock, and a cancel may have come in between.
        .filter(Column::Status.eq(RunStatus::Queued.as_str()))
        .exec_with_returning(db)
        .await?;
    let claimed = claimed.into_iter().next();
    if let Some(run) = &claimed {
        events.publish(db, run.id).await;
    }
    Ok(claimed)
}

fn owned_by(worker: &str, run_id: i64) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::Id.eq(run_id))
        .add(Column::LeaseOwner.eq(worker))
        .add(Column::Status.eq(RunStatus::Running.as_str()))
}

/// Whether `worker` still holds the lease of `run_id` for at least `margin` more: the fence a
/// job's writes outside the run row carry (`WHERE EXISTS …`), so that a worker that stalled
/// past its lease writes nothing once another has taken the job over.
pub fn lease_held(run_id: i64, worker: &str, margin: Duration) -> sea_orm::sea_query::Expr {
    let run = Query::select()
        .expr(Expr::val(1))
        .from(SyncRuns)
        .cond_where(owned_by(worker, run_id))
        .and_where(Expr::col(Column::LeaseExpiresAt).gt(Utc::now() + margin))
        .to_owned();
    Expr::exists(run)
}

/// Renews the lease and reports whether to go on.
pub async fn heartbeat(
    db: &DatabaseConnection,
    run_id: i64,
    worker: &str,
    lease: Duration,
) -> Result<Heartbeat> {
    let now = Utc::now();
    let renewed = SyncRuns::update_many()
        .col_expr(Column::LeaseExpiresAt, Expr::value(now + lease))
        .col_expr(Column::HeartbeatAt, Expr::value(now))
        .filter(owned_by(worker, run_id))
        .exec_with_returning(db)
        .await?;
    Ok(match renewed.first() {
        None => Heartbeat::Lost,
        Some(run) if run.cancel_requested => Heartbeat::CancelRequested,
        Some(_) => Heartbeat::Continue,
    })
}

/// Writes the run's live counters; false when the lease is lost.
pub async fn save_progress(
    db: &DatabaseConnection,
    events: &RunEvents,
    run_id: i64,
    worker: &str,
    progress: &Progress,
) -> Result<bool> {
    let result = SyncRuns::update_many()
        .col_expr(
            Column::EffectiveMode,
            Expr::value(progress.effective_mode.map(|mode| mode.as_str().to_owned())),
        )
        .col_expr(Column::PagesFetched, Expr::value(progress.pages_fetched))
        .col_expr(Column::UsersSeen, Expr::value(progress.users_seen))
        .col_expr(Column::UsersCreated, Expr::value(progress.users_created))
        .col_expr(Column::UsersUpdated, Expr::value(progress.users_updated))
        .col_expr(Column::UsersRemoved, Expr::value(progress.users_removed))
        .col_expr(Column::SkusSynced, Expr::value(progress.skus_synced))
        .col_expr(Column::Warnings, Expr::value(json!(progress.warnings)))
        .filter(owned_by(worker, run_id))
        .exec(db)
        .await?;
    published(db, events, run_id, result.rows_affected == 1).await
}

/// Announces the change when there was one; passes on whether there was.
async fn published(
    db: &DatabaseConnection,
    events: &RunEvents,
    run_id: i64,
    changed: bool,
) -> Result<bool> {
    if changed {
        events.publish(db, run_id).await;
    }
    Ok(changed)
}

/// Ends a run held by `worker`; false when the lease was already lost.
pub async fn finish(
    db: &DatabaseConnection,
    events: &RunEvents,
    run_id: i64,
    worker: &str,
    outcome: Outcome,
) -> Result<bool> {
    let (status, notice) = match outcome {
        Outcome::Succeeded => (RunStatus::Succeeded, None),
        Outcome::Failed(notice) => (RunStatus::Failed, Some(notice)),
        Outcome::Cancelled => (
            RunStatus::Cancelled,
            Some(Notice {
                code: Code::Cancelled.into(),
                message: "the sync was cancelled".into(),
                hint: "start a new sync when you are ready; data written so far is kept".into(),
            }),
        ),
    };
    let result = terminal_update(status, notice.as_ref(), Utc::now())
        .filter(owned_by(worker, run_id))
        .exec(db)
        .await?;
    published(db, events, run_id, result.rows_affected == 1).await
}

/// Gives a job held by `worker` back to the queue, for another worker to take it up (a reclaim
/// execution stopped by a shutdown); false when the lease was already lost.
pub async fn release(
    db: &DatabaseConnection,
    events: &RunEvents,
    run_id: i64,
    worker: &str,
) -> Result<bool> {
    let result = SyncRuns::update_many()
        .col_expr(Column::Status, Expr::value(RunStatus::Queued.as_str()))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(owned_by(worker, run_id))
        .exec(db)
        .await?;
    published(db, events, run_id, result.rows_affected == 1).await
}

fn terminal_update(
    status: RunStatus,
    notice: Option<&Notice>,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<SyncRuns> {
    SyncRuns::update_many()
        .col_expr(Column::Status, Expr::value(status.as_str()))
        .col_expr(
            Column::ErrorCode,
            Expr::value(notice.map(|n| n.code.clone())),
        )
        .col_expr(
            Column::ErrorMessage,
            Expr::value(notice.map(|n| n.message.clone())),
        )
        .col_expr(
            Column::ErrorHint,
            Expr::value(notice.map(|n| n.hint.clone())),
        )
        .col_expr(Column::FinishedAt, Expr::value(now))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
}

/// Claims of a reclaim execution at most: past them, a job whose workers keep dying fails
/// rather than being taken up for ever.
pub const RECLAIM_ATTEMPTS: i32 = 5;

/// Fails every RUNNING run whose lease has expired: its process died or hung. Returns their ids.
/// A reclaim execution is queued again instead, while it has attempts left: its items record
/// what was done, so the next worker goes on where the dead one stopped.
pub async fn fail_expired(db: &DatabaseConnection, events: &RunEvents) -> Result<Vec<i64>> {
    let now = Utc::now();
    let requeued = SyncRuns::update_many()
        .col_expr(Column::Status, Expr::value(RunStatus::Queued.as_str()))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Status.eq(RunStatus::Running.as_str()))
        .filter(Column::LeaseExpiresAt.lt(now))
        .filter(Column::ReclaimPlanId.is_not_null())
        .filter(Column::Attempt.lt(RECLAIM_ATTEMPTS))
        .filter(Column::CancelRequested.eq(false))
        .exec_with_returning(db)
        .await?;
    for run in &requeued {
        tracing::warn!(
            run = run.id,
            "reclaim execution queued again: its worker stopped"
        );
        events.publish(db, run.id).await;
    }
    let interrupted = Notice {
        code: Code::Interrupted.into(),
        message: "the process running this sync stopped before it finished".into(),
        hint: "nothing to fix: data written so far is kept and the next sync runs normally".into(),
    };
    let failed = terminal_update(RunStatus::Failed, Some(&interrupted), now)
        .filter(Column::Status.eq(RunStatus::Running.as_str()))
        .filter(Column::LeaseExpiresAt.lt(now))
        .exec_with_returning(db)
        .await?;
    let failed: Vec<i64> = failed.into_iter().map(|run| run.id).collect();
    for run_id in &failed {
        events.publish(db, *run_id).await;
    }
    Ok(failed)
}

/// A queued run is cancelled at once; a running one is asked to stop at its next safe point.
pub async fn request_cancel(
    db: &DatabaseConnection,
    events: &RunEvents,
    run_id: i64,
) -> Result<sync_runs::Model> {
    let now = Utc::now();
    let cancelled_while_queued = terminal_update(
        RunStatus::Cancelled,
        Some(&Notice {
            code: Code::Cancelled.into(),
            message: "the sync was cancelled before it started".into(),
            hint: "start a new sync when you are ready".into(),
        }),
        now,
    )
    .filter(Column::Id.eq(run_id))
    .filter(Column::Status.eq(RunStatus::Queued.as_str()))
    .exec_with_returning(db)
    .await?;
    if let Some(run) = cancelled_while_queued.into_iter().next() {
        events.publish(db, run.id).await;
        return Ok(run);
    }
    let asked = SyncRuns::update_many()
        .col_expr(Column::CancelRequested, Expr::value(true))
        .filter(Column::Id.eq(run_id))
        .filter(Column::Status.eq(RunStatus::Running.as_str()))
        .exec_with_returning(db)
        .await?;
    if let Some(run) = asked.into_iter().next() {
        return Ok(run);
    }
    match SyncRuns::find_by_id(run_id).one(db).await? {
        None => Err(Error::NotFound(format!("no sync run with id {run_id}"))),
        Some(run) => Err(Error::Conflict(format!(
            "sync run {run_id} has already ended ({})",
            run.status
        ))),
    }
}
