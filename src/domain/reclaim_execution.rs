//! Executing reclaim plans as the API sees it: starting an approved plan's execution (a job on
//! the sync queue, run by a worker: `jobs::reclaim`), stopping it with its plan, and how far it
//! has come.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::audit::{self, Actor};
use super::providers as provider_service;
use super::reclaim_plans::{self, ItemAction, Plan, PlanItem, PlanStatus};
use crate::crypto::SecretKeyring;
use crate::entities::{reclaim_items, reclaim_plans as plan_rows, sync_runs};
use crate::error::{Error, Result};
use crate::providers::registry::ProviderRegistry;
use crate::sync::events::{RunEvents, Signal};
use crate::sync::queue::{self, Notice, RunStatus};

/// Where a plan's execution stands: its latest job, and its items by outcome.
#[derive(Clone, Debug, Default)]
pub struct Execution {
    /// The latest job, when the plan was ever executed.
    pub run: Option<RunState>,
    /// Items the execution acts on (`REMOVE_DIRECT`).
    pub items: i64,
    /// Of those, the ones with an outcome.
    pub done: i64,
    /// Outcome code → items.
    pub outcomes: BTreeMap<String, i64>,
}

#[derive(Clone, Debug)]
pub struct RunState {
    pub id: i64,
    pub status: RunStatus,
    pub attempt: i32,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<Notice>,
}

impl Execution {
    pub fn active(&self) -> bool {
        self.run
            .as_ref()
            .is_some_and(|run| matches!(run.status, RunStatus::Queued | RunStatus::Running))
    }
}

/// How far the execution of plan `plan_id` has come.
pub async fn execution(db: &DatabaseConnection, plan_id: i64) -> Result<Execution> {
    let run = sync_runs::Entity::find()
        .filter(sync_runs::Column::ReclaimPlanId.eq(plan_id))
        .order_by_desc(sync_runs::Column::Id)
        .one(db)
        .await?;
    let counts: Vec<(Option<String>, i64)> = reclaim_items::Entity::find()
        .select_only()
        .column(reclaim_items::Column::Outcome)
        .column_as(reclaim_items::Column::Id.count(), "items")
        .filter(reclaim_items::Column::PlanId.eq(plan_id))
        .filter(reclaim_items::Column::Action.eq(ItemAction::RemoveDirect.as_str()))
        .group_by(reclaim_items::Column::Outcome)
        .into_tuple()
        .all(db)
        .await?;
    let mut execution = Execution {
        run: run.map(run_state).transpose()?,
        ..Execution::default()
    };
    for (outcome, items) in counts {
        execution.items += items;
        if let Some(outcome) = outcome {
            execution.done += items;
            execution.outcomes.insert(outcome, items);
        }
    }
    Ok(execution)
}

fn run_state(row: sync_runs::Model) -> Result<RunState> {
    Ok(RunState {
        id: row.id,
        status: RunStatus::parse(&row.status)?,
        attempt: row.attempt,
        queued_at: row.queued_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        error: row.error_code.map(|code| Notice {
            code,
            message: row.error_message.unwrap_or_default(),
            hint: row.error_hint.unwrap_or_default(),
        }),
    })
}

/// What a worker needs to start or resume an execution.
pub struct Start<'a> {
    pub db: &'a DatabaseConnection,
    pub keyring: &'a SecretKeyring,
    pub registry: &'a ProviderRegistry,
    pub events: &'a RunEvents,
}

/// Queues the execution of an approved plan, or its resumption after a job that stopped before
/// its end. Refused, with the reason and nothing queued, when the provider may not change
/// licenses.
pub async fn execute(start: Start<'_>, actor: &Actor, plan_id: i64) -> Result<Plan> {
    let db = start.db;
    let result = execute_checked(&start, actor, plan_id).await;
    audit::on_failure(
        db,
        actor,
        "reclaim.plan.execute",
        reclaim_plans::target(None, Some(plan_id)),
        result,
    )
    .await
}

async fn execute_checked(start: &Start<'_>, actor: &Actor, plan_id: i64) -> Result<Plan> {
    let db = start.db;
    let plan = reclaim_plans::get(db, plan_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no reclaim plan {plan_id}")))?;
    if plan.status != PlanStatus::Approved {
        return Err(Error::Conflict(format!(
            "plan {plan_id} is {}: only an approved plan can be executed",
            plan.status.as_str()
        )));
    }
    let provider =
        provider_service::connect(db, start.keyring, start.registry, plan.provider_id).await?;
    let access = crate::providers::write_access(provider.client.as_ref()).await;
    if !access.allowed {
        let hint = access
            .hint
            .map(|hint| format!(" {hint}"))
            .unwrap_or_default();
        return Err(Error::Forbidden(format!(
            "reclaim is off for this provider, nothing was changed: {}.{hint}",
            access.message
        )));
    }
    // A job whose worker died must not block its own resumption.
    queue::fail_expired(db, start.events).await?;
    let run = queue::enqueue_reclaim(db, plan.provider_id, plan_id).await?;
    audit::record(
        db,
        actor,
        "reclaim.plan.execute",
        &reclaim_plans::target(Some(plan.provider_id), Some(plan_id)),
        audit::SUCCEEDED,
        Some(json!({ "runId": run.id })),
    )
    .await?;
    start.events.publish(db, run.id).await;
    Ok(plan)
}

/// Asks the plan's job, if one is queued or running, to stop at its next item.
pub async fn stop(db: &DatabaseConnection, events: &RunEvents, plan_id: i64) -> Result<()> {
    let active = sync_runs::Entity::find()
        .filter(sync_runs::Column::ReclaimPlanId.eq(plan_id))
        .filter(
            sync_runs::Column::Status
                .is_in([RunStatus::Queued.as_str(), RunStatus::Running.as_str()]),
        )
        .all(db)
        .await?;
    for run in active {
        match queue::request_cancel(db, events, run.id).await {
            // It ended meanwhile: nothing left to stop.
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// The items an execution still has to do, in plan order, `limit` after `after_id`.
pub async fn pending_items(
    db: &DatabaseConnection,
    plan_id: i64,
    after_id: Option<i64>,
    limit: u64,
) -> Result<Vec<PlanItem>> {
    let mut query = reclaim_items::Entity::find()
        .filter(reclaim_items::Column::PlanId.eq(plan_id))
        .filter(reclaim_items::Column::Action.eq(ItemAction::RemoveDirect.as_str()))
        .filter(reclaim_items::Column::Outcome.is_null())
        .order_by_asc(reclaim_items::Column::Id);
    if let Some(after_id) = after_id {
        query = query.filter(reclaim_items::Column::Id.gt(after_id));
    }
    Ok(query.limit(limit).all(db).await?)
}

/// Records that the plan's execution reached its last item, and what it did, for the audit log.
pub async fn mark_executed(db: &DatabaseConnection, plan_id: i64, worker: &str) -> Result<()> {
    let now = Utc::now();
    let changed = plan_rows::Entity::update_many()
        .col_expr(
            plan_rows::Column::Status,
            PlanStatus::Executed.as_str().into(),
        )
        .col_expr(plan_rows::Column::ExecutedAt, now.into())
        .filter(plan_rows::Column::Id.eq(plan_id))
        .filter(plan_rows::Column::Status.eq(PlanStatus::Approved.as_str()))
        .exec_with_returning(db)
        .await?;
    let Some(plan) = changed.into_iter().next() else {
        // Cancelled meanwhile: the plan says so, and its items say what was done.
        return Ok(());
    };
    let execution = execution(db, plan_id).await?;
    let system = Actor {
        subject: format!("worker:{worker}"),
        role: "SYSTEM".into(),
    };
    audit::record(
        db,
        &system,
        "reclaim.plan.executed",
        &reclaim_plans::target(Some(plan.provider_id), Some(plan_id)),
        audit::SUCCEEDED,
        Some(json!({ "outcomes": execution.outcomes })),
    )
    .await
}

/// How often a follower of a plan reads it at most: an execution announces every item, and a
/// person watching needs a few updates a second, not a thousand.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// What a follower of a plan sees: the plan and its execution.
pub type PlanState = (Plan, Execution);

/// The plan and its execution now; None when there is no such plan.
pub async fn state(db: &DatabaseConnection, plan_id: i64) -> Result<Option<PlanState>> {
    let Some(plan) = reclaim_plans::get(db, plan_id).await? else {
        return Ok(None);
    };
    Ok(Some((plan, execution(db, plan_id).await?)))
}

/// `first`, then the plan again each time its execution moves, until the execution ends (or at
/// once, for a plan that will never run again). Reads nothing while nothing changes: it wakes on
/// the runs' change signals, and reads only for changes of the plan's own jobs.
pub fn follow(
    db: DatabaseConnection,
    signals: broadcast::Receiver<Signal>,
    first: PlanState,
) -> impl futures::Stream<Item = PlanState> + Send {
    let following = Following {
        db,
        signals,
        plan_id: first.0.id,
        runs: first.1.run.iter().map(|run| run.id).collect(),
        seen_active: false,
        first: Some(first),
        ended: false,
    };
    futures::stream::unfold(following, |mut following| async move {
        if following.ended {
            return None;
        }
        let state = match following.first.take() {
            Some(state) => state,
            None => following.changed().await?,
        };
        let active = state.1.active();
        following.seen_active |= active;
        following.ended = matches!(state.0.status, PlanStatus::Executed | PlanStatus::Cancelled)
            || (following.seen_active && !active);
        Some((state, following))
    })
}

struct Following {
    db: DatabaseConnection,
    signals: broadcast::Receiver<Signal>,
    plan_id: i64,
    /// The plan's jobs, known not to be another plan's or a sync.
    runs: HashSet<i64>,
    seen_active: bool,
    first: Option<PlanState>,
    ended: bool,
}

impl Following {
    /// The plan after its next change; None when the signals end or the plan is gone.
    async fn changed(&mut self) -> Option<PlanState> {
        loop {
            match self.signals.recv().await {
                Ok(Signal::Changed(run_id)) if !self.concerns(run_id).await => continue,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
            // What came meanwhile is in the read below.
            while matches!(
                self.signals.try_recv(),
                Ok(_) | Err(TryRecvError::Lagged(_))
            ) {}
            match state(&self.db, self.plan_id).await {
                Ok(Some(state)) => {
                    self.runs.extend(state.1.run.iter().map(|run| run.id));
                    return Some(state);
                }
                Ok(None) => return None,
                Err(error) => {
                    tracing::warn!(plan = self.plan_id, error = ?error, "cannot read a followed reclaim plan");
                }
            }
        }
    }

    /// Whether run `run_id` is one of the plan's jobs; in doubt (a failed read), yes.
    async fn concerns(&mut self, run_id: i64) -> bool {
        if self.runs.contains(&run_id) {
            return true;
        }
        let plan: std::result::Result<Option<Option<i64>>, _> =
            sync_runs::Entity::find_by_id(run_id)
                .select_only()
                .column(sync_runs::Column::ReclaimPlanId)
                .into_tuple()
                .one(&self.db)
                .await;
        match plan {
            Ok(Some(Some(plan_id))) if plan_id == self.plan_id => {
                self.runs.insert(run_id);
                true
            }
            Ok(_) => false,
            Err(_) => true,
        }
    }
}
