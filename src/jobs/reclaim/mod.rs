//! Executing an approved reclaim plan: a job of the sync queue (one job a provider at a time,
//! under the same leases), which takes the plan's items one by one — a few at once — and for
//! each re-reads the user at the provider, leaves it when the finding no longer holds, else
//! removes the license, and writes what happened into the item, the product's own tables and
//! the change log at once.
//!
//! Safety rests on the items and the lease:
//! - an item records its outcome once (`outcome IS NULL` guards every write), so a job taken
//!   over after its worker died goes on with the items left, and none is done twice;
//! - a worker takes an item right before it writes to the provider, with a statement that holds
//!   only while its lease has a margin left; a worker that stalled past its lease finds the
//!   fence closed and sends nothing; every write of an outcome carries the same fence;
//! - an item taken before and found without its license is ALREADY_REMOVED, not stale: the
//!   removal went out, its answer was lost.

pub mod judge;

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use self::judge::{Facts, ItemOutcome, Verdict};
use crate::codes::Code;
use crate::domain::acceptances;
use crate::domain::reclaim_execution;
use crate::domain::reclaim_plans::{self, PlanItem, PlanStatus};
use crate::entities::{directory_users, license_assignments, license_skus, reclaim_items};
use crate::error::Error;
use crate::providers::{
    LicenseChanged, LicenseState, LicenseWriteError, LicenseWriter, WriteFailure,
};
use crate::sync::events::RunEvents;
use crate::sync::lease::{Lease, LeaseKeeper, Stop, StopSignal};
use crate::sync::queue::{self, Notice, Outcome};
use crate::sync::writer::events::{self, Event, EventKind, Observer};

/// Items read from the database at a time.
const CHUNK: u64 = 500;
/// How often followers hear of a job's progress at most: a person watching needs a few updates a
/// second, and each costs every process a notification and each follower a read.
const ANNOUNCE_EVERY: Duration = Duration::from_millis(250);

/// How an execution behaves; the defaults suit a production tenant.
#[derive(Clone, Copy, Debug)]
pub struct ExecutionSettings {
    /// Items in flight at once. Each is a read and a write at the provider, one after the
    /// other, so this divides the plan's time by as much while the provider's write limit is
    /// not reached.
    pub parallel_items: NonZeroUsize,
    /// Times a call still throttled after the client's own retries is tried again, each after
    /// the wait the provider asked for, before the job fails as THROTTLED.
    pub throttled_rounds: u32,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        Self {
            parallel_items: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
            throttled_rounds: 8,
        }
    }
}

/// Points where a test holds a worker, as a stalled or dying process would stop there.
pub trait Checkpoint: Send + Sync {
    /// Reached after an item was judged to be removed, before the fence is checked and the
    /// provider is called.
    fn before_write(&self, _item_id: i64) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Reached when the provider answered a removal, before its outcome is recorded.
    fn after_write(&self, _item_id: i64) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// What every execution of a process shares.
#[derive(Clone)]
pub struct Runtime {
    pub db: DatabaseConnection,
    pub events: RunEvents,
    pub lease: Lease,
    pub settings: ExecutionSettings,
    pub checkpoint: Option<Arc<dyn Checkpoint>>,
}

enum Halt {
    Stopped(Stop),
    /// The provider failed in a way no later item would escape (permissions, an outage).
    Provider(LicenseWriteError),
    /// The plan cannot run (cancelled meanwhile, or the provider may not write).
    Refused(Notice),
    Database(Error),
}

impl From<Stop> for Halt {
    fn from(stop: Stop) -> Self {
        Halt::Stopped(stop)
    }
}

impl From<Error> for Halt {
    fn from(error: Error) -> Self {
        Halt::Database(error)
    }
}

impl From<sea_orm::DbErr> for Halt {
    fn from(error: sea_orm::DbErr) -> Self {
        Halt::Database(error.into())
    }
}

/// Runs the reclaim job `run` (claimed by `worker`) until its items are all done, the job is
/// cancelled or stopped, or the provider fails; records the job's outcome.
pub async fn execute(
    runtime: Runtime,
    run: crate::entities::sync_runs::Model,
    worker: String,
    provider: Arc<dyn crate::providers::LicenseProvider>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let plan_id = run
        .reclaim_plan_id
        .ok_or_else(|| Error::Corrupt(format!("run {} executes no reclaim plan", run.id)))?;
    let stop = StopSignal::new();
    let keeper = LeaseKeeper::start(
        runtime.db.clone(),
        run.id,
        worker.clone(),
        runtime.lease,
        stop.clone(),
        shutdown,
    );
    let result = match provider.license_writer() {
        Some(license_writer) => {
            let job = Job {
                runtime: &runtime,
                run_id: run.id,
                worker: &worker,
                writer: license_writer,
                stop,
                facts: PlanFacts::default(),
                announced: std::sync::Mutex::new(None),
            };
            job.body(plan_id).await
        }
        None => Err(Halt::Provider(LicenseWriteError::unsupported())),
    };
    drop(keeper);
    let (db, events) = (&runtime.db, &runtime.events);
    let outcome = match result {
        Ok(()) => Outcome::Succeeded,
        Err(Halt::Stopped(Stop::Cancelled)) => Outcome::Cancelled,
        Err(Halt::Stopped(Stop::LeaseLost)) => {
            tracing::warn!(
                run = run.id,
                "lease lost; another worker took the reclaim over"
            );
            return Ok(());
        }
        Err(Halt::Stopped(Stop::Shutdown)) => {
            // Another worker goes on where this one stopped.
            queue::release(db, events, run.id, &worker).await?;
            return Ok(());
        }
        Err(Halt::Provider(error)) => {
            tracing::warn!(run = run.id, code = %error.code(), %error, "reclaim failed");
            Outcome::Failed(Notice {
                code: error.code().into(),
                message: format!("{error}; the items left wait, execute the plan again"),
                hint: error.hint,
            })
        }
        Err(Halt::Refused(notice)) => Outcome::Failed(notice),
        Err(Halt::Database(error)) => {
            tracing::error!(run = run.id, error = ?error, "reclaim failed on the database");
            Outcome::Failed(Notice {
                code: Code::Internal.into(),
                message: "the reclaim could not write to the database".into(),
                hint: "the server log has the details; the items done so far keep their outcome, \
                       execute the plan again for the rest"
                    .into(),
            })
        }
    };
    if matches!(outcome, Outcome::Succeeded) {
        // Before the job ends, so that whoever sees it ended sees the plan executed: every
        // item has its outcome, whichever worker recorded it.
        reclaim_execution::mark_executed(db, plan_id, &worker).await?;
    }
    queue::finish(db, events, run.id, &worker, outcome).await?;
    Ok(())
}

/// What the product knows of a plan's items beside the items: read once a job.
#[derive(Default)]
struct PlanFacts {
    plan_id: i64,
    provider_id: i64,
    cutoff: chrono::DateTime<Utc>,
    /// (user, SKU) rows whose finding an admin accepted.
    accepted: HashSet<(i64, i64)>,
}

struct Job<'a> {
    runtime: &'a Runtime,
    run_id: i64,
    worker: &'a str,
    writer: &'a dyn LicenseWriter,
    stop: StopSignal,
    facts: PlanFacts,
    /// When the job last told followers it moved.
    announced: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Job<'_> {
    async fn body(mut self, plan_id: i64) -> Result<(), Halt> {
        let db = &self.runtime.db;
        let plan = reclaim_plans::get(db, plan_id)
            .await?
            .ok_or_else(|| refused(Code::NotFound, format!("no reclaim plan {plan_id}")))?;
        if plan.status != PlanStatus::Approved {
            return Err(refused(
                Code::Conflict,
                format!(
                    "plan {plan_id} is {}: only an approved plan runs",
                    plan.status.as_str()
                ),
            ));
        }
        let access = self.writer.write_access().await;
        if !access.allowed {
            return Err(Halt::Refused(Notice {
                code: access.code.unwrap_or(Code::InsufficientPrivileges).into(),
                message: format!("nothing was changed: {}", access.message),
                hint: access.hint.unwrap_or_default(),
            }));
        }
        let now = Utc::now();
        self.facts = PlanFacts {
            plan_id,
            provider_id: plan.provider_id,
            cutoff: now - chrono::Duration::days(plan.filter.inactive_days),
            accepted: acceptances::in_force(db, Some(plan.provider_id), now.date_naive())
                .await?
                .into_keys()
                .collect(),
        };
        let parallel = self.runtime.settings.parallel_items.get();
        // `parallel` items talk to the provider at once; as many more record their outcome
        // meanwhile, so that the database's time is not added to the provider's.
        let calls = Semaphore::new(parallel);
        let mut after = None;
        loop {
            let items = reclaim_execution::pending_items(db, plan_id, after, CHUNK).await?;
            let Some(last) = items.last() else {
                return Ok(());
            };
            after = Some(last.id);
            let mut done = stream::iter(items)
                .map(|item| self.item(item, &calls))
                .buffer_unordered(parallel * 2);
            while let Some(result) = done.next().await {
                result?;
            }
        }
    }

    /// One item to its recorded outcome.
    async fn item(&self, item: PlanItem, calls: &Semaphore) -> Result<(), Halt> {
        self.stop.check()?;
        let (outcome, state) = {
            let _calling = calls
                .acquire()
                .await
                .map_err(|_| Halt::Stopped(Stop::Shutdown))?;
            self.decide(&item).await?
        };
        self.record(&item, outcome, state.as_ref()).await
    }

    /// Re-reads the user, judges the item and, when it still stands, removes the license.
    async fn decide(&self, item: &PlanItem) -> Result<(ItemOutcome, Option<LicenseState>), Halt> {
        // Taken only right before a write: taken before means a removal may have gone out.
        let taken_before = item.started_at.is_some();
        let state = match self
            .call(|| self.writer.license_state(&item.user_external_id))
            .await?
        {
            Ok(Some(state)) => state,
            Ok(None) => {
                let gone = ItemOutcome::new(
                    Code::UserNotFound,
                    "the user is no longer in the directory",
                    "nothing was changed; the next sync marks the user removed",
                );
                return Ok((gone, None));
            }
            Err(error) => return Ok((failed(error), None)),
        };
        let facts = Facts {
            state: &state,
            cutoff: self.facts.cutoff,
            taken_before,
            accepted_since: self
                .facts
                .accepted
                .contains(&(item.user_id, item.license_sku_id)),
        };
        let outcome = match judge::judge(item, &facts) {
            Verdict::Leave(outcome) => outcome,
            Verdict::Remove => self.remove(item).await?,
        };
        Ok((outcome, Some(state)))
    }

    async fn remove(&self, item: &PlanItem) -> Result<ItemOutcome, Halt> {
        if let Some(checkpoint) = &self.runtime.checkpoint {
            checkpoint.before_write(item.id).await;
        }
        self.take(item.id).await?;
        let removed = self
            .call(|| {
                self.writer
                    .remove_license(&item.user_external_id, &item.sku_external_id)
            })
            .await?;
        if let Some(checkpoint) = &self.runtime.checkpoint {
            checkpoint.after_write(item.id).await;
        }
        Ok(match removed {
            Ok(LicenseChanged::Removed) => ItemOutcome::new(
                Code::Removed,
                format!("{} removed", item.sku_display_name),
                "undo re-adds it with the service plans it had switched off",
            ),
            Ok(_) => ItemOutcome::new(
                Code::AlreadyRemoved,
                "the user no longer held the license when it was removed",
                "its seat is free; nothing was changed",
            ),
            Err(error) => failed(error),
        })
    }

    /// Takes the item for this worker: only while the item waits and the lease holds with a
    /// margin, so that a provider call made next cannot outlast the lease unnoticed.
    async fn take(&self, item_id: i64) -> Result<(), Halt> {
        let margin = self.runtime.lease.length / 4;
        let taken = reclaim_items::Entity::update_many()
            .col_expr(
                reclaim_items::Column::StartedAt,
                Expr::col(reclaim_items::Column::StartedAt).if_null(Utc::now()),
            )
            .filter(reclaim_items::Column::Id.eq(item_id))
            .filter(reclaim_items::Column::Outcome.is_null())
            .filter(queue::lease_held(self.run_id, self.worker, margin))
            .exec(&self.runtime.db)
            .await?;
        if taken.rows_affected == 1 {
            Ok(())
        } else {
            Err(Halt::Stopped(Stop::LeaseLost))
        }
    }

    /// A provider call, tried again while it is throttled past the client's own retries, each
    /// time after the wait the provider asked for. Failures no other item would escape halt the
    /// job; the item's own come back to be recorded.
    async fn call<'c, T>(
        &'c self,
        call: impl Fn() -> BoxFuture<'c, Result<T, LicenseWriteError>>,
    ) -> Result<Result<T, LicenseWriteError>, Halt> {
        let mut rounds = 0;
        loop {
            let result = self.stop.unless_stopped(call()).await?;
            let error = match result {
                Err(error) => error,
                ok => return Ok(ok),
            };
            match error.failure {
                WriteFailure::Throttled { retry_after } if rounds < self.throttled_rounds() => {
                    rounds += 1;
                    let wait = retry_after.unwrap_or(Duration::from_secs(30));
                    tracing::info!(run = self.run_id, ?wait, "throttled; waiting to go on");
                    self.stop.unless_stopped(tokio::time::sleep(wait)).await?;
                }
                failure if concerns_item(failure) => return Ok(Err(error)),
                _ => return Err(Halt::Provider(error)),
            }
        }
    }

    fn throttled_rounds(&self) -> u32 {
        self.runtime.settings.throttled_rounds
    }

    /// Writes the item's outcome and, for a freed seat, the product's own rows, in one
    /// transaction that holds only while the lease does.
    async fn record(
        &self,
        item: &PlanItem,
        outcome: ItemOutcome,
        state: Option<&LicenseState>,
    ) -> Result<(), Halt> {
        let db = &self.runtime.db;
        let transaction = db.begin().await?;
        let now = Utc::now();
        let written = reclaim_items::Entity::update_many()
            .col_expr(reclaim_items::Column::Outcome, outcome.code.as_str().into())
            .col_expr(
                reclaim_items::Column::OutcomeMessage,
                outcome.message.into(),
            )
            .col_expr(reclaim_items::Column::OutcomeHint, outcome.hint.into())
            .col_expr(reclaim_items::Column::FinishedAt, now.into())
            .filter(reclaim_items::Column::Id.eq(item.id))
            .filter(reclaim_items::Column::Outcome.is_null())
            .filter(queue::lease_held(
                self.run_id,
                self.worker,
                chrono::Duration::zero(),
            ))
            .exec(&transaction)
            .await?;
        if written.rows_affected != 1 {
            return Err(Halt::Stopped(Stop::LeaseLost));
        }
        let freed = matches!(outcome.code, Code::Removed | Code::AlreadyRemoved)
            && unassign(&transaction, item).await?;
        if freed {
            let observer = Observer {
                reclaim_plan_id: Some(self.facts.plan_id),
                ..Observer::default()
            };
            let removed = Event::of_license(
                item.user_id,
                item.license_sku_id,
                EventKind::LicenseRemoved,
                Some(json!({ "disabledPlans": item.disabled_plans, "direct": true })),
                None,
            );
            events::record(
                &transaction,
                self.facts.provider_id,
                observer,
                now,
                vec![removed],
            )
            .await?;
        }
        if let Some(state) = state {
            refresh_user(&transaction, item.user_id, state).await?;
        }
        if freed {
            // Last: items of one SKU all count its one row down, and hold its lock until
            // they commit.
            count_seat_free(&transaction, item.license_sku_id).await?;
        }
        transaction.commit().await?;
        self.announce().await;
        Ok(())
    }

    /// Tells the plan's followers it moved: at most every `ANNOUNCE_EVERY`, since they read the
    /// plan anew each time; the job's end is always announced (by finishing it).
    async fn announce(&self) {
        let now = tokio::time::Instant::now();
        let due = {
            let mut last = self
                .announced
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = last.is_none_or(|at| now.duration_since(at) >= ANNOUNCE_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            self.runtime
                .events
                .publish(&self.runtime.db, self.run_id)
                .await;
        }
    }
}

fn refused(code: Code, message: String) -> Halt {
    Halt::Refused(Notice {
        code: code.into(),
        message,
        hint: "nothing was changed".into(),
    })
}

/// Failures that are the item's own: the job goes on with the next.
fn concerns_item(failure: WriteFailure) -> bool {
    matches!(
        failure,
        WriteFailure::InheritedFromGroup
            | WriteFailure::UserNotFound
            | WriteFailure::CountViolation
            | WriteFailure::UsageLocationMissing
            | WriteFailure::Other(Code::LicenseWriteRefused)
    )
}

fn failed(error: LicenseWriteError) -> ItemOutcome {
    ItemOutcome::new(error.code(), error.message, error.hint)
}

/// The license is gone from the user: the product says so before the next sync does. False
/// when the product did not have it any more.
async fn unassign(transaction: &DatabaseTransaction, item: &PlanItem) -> Result<bool, Halt> {
    let deleted = license_assignments::Entity::delete_many()
        .filter(license_assignments::Column::UserId.eq(item.user_id))
        .filter(license_assignments::Column::LicenseSkuId.eq(item.license_sku_id))
        .exec(transaction)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// One seat of the SKU is free again.
async fn count_seat_free(transaction: &DatabaseTransaction, sku_id: i64) -> Result<(), Halt> {
    license_skus::Entity::update_many()
        .col_expr(
            license_skus::Column::ConsumedUnits,
            Expr::col(license_skus::Column::ConsumedUnits).sub(1),
        )
        .col_expr(license_skus::Column::UpdatedAt, Utc::now().into())
        .filter(license_skus::Column::Id.eq(sku_id))
        .filter(license_skus::Column::ConsumedUnits.gt(0))
        .exec(transaction)
        .await?;
    Ok(())
}

/// What the re-read told of the user that the product may not know yet; a date the provider did
/// not send is left as it was.
async fn refresh_user(
    transaction: &DatabaseTransaction,
    user_id: i64,
    state: &LicenseState,
) -> Result<(), Halt> {
    use directory_users::Column;
    let dates = [
        (Column::LastSignInAt, state.sign_in.last_interactive),
        (
            Column::LastNonInteractiveSignInAt,
            state.sign_in.last_non_interactive,
        ),
        (
            Column::LastSuccessfulSignInAt,
            state.sign_in.last_successful,
        ),
    ];
    let mut update = directory_users::Entity::update_many()
        .col_expr(Column::AccountEnabled, state.account_enabled.into())
        .col_expr(Column::UpdatedAt, Utc::now().into())
        .filter(Column::Id.eq(user_id));
    for (column, date) in dates {
        if let Some(date) = date {
            update = update.col_expr(column, date.into());
        }
    }
    update.exec(transaction).await?;
    Ok(())
}
