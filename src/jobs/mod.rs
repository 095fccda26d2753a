//! The application's jobs, beside the HTTP server: workers claim queued runs and execute them —
//! syncs, and reclaim plans (`reclaim`) — several providers at once but bounded; the scheduler
//! queues runs for providers with a sync interval. They sit above sync (which runs one job) and the domain (which owns providers and
//! runs), so neither of those needs the other's caller.

pub mod reclaim;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::codes::Code;
use crate::crypto::SecretKeyring;
use crate::domain::{license_events, providers as provider_service, sync_runs};
use crate::entities::{providers, sync_runs as run_rows};
use crate::error::Error;
use crate::providers::registry::ProviderRegistry;
use crate::sync::events::RunEvents;
use crate::sync::lease::Lease;
use crate::sync::queue::{self, Notice, Outcome, RunStatus, SyncMode};
use crate::sync::runner::{self, SyncSettings};

/// Everything a worker needs to turn a queued run into rows.
#[derive(Clone)]
pub struct SyncEngine {
    pub db: DatabaseConnection,
    /// Where syncs write their pages: see `crate::db::connect_sync_writer`.
    pub writes: DatabaseConnection,
    pub keyring: Arc<SecretKeyring>,
    pub registry: Arc<ProviderRegistry>,
    pub settings: SyncSettings,
    /// Woken when a run is queued in this process, so it starts without waiting for a poll.
    pub wake: Arc<Notify>,
    /// Where runs' changes are announced to the subscriptions that follow them.
    pub events: RunEvents,
    pub reclaim: reclaim::ExecutionSettings,
    /// Days the change log keeps its events.
    pub event_retention_days: i64,
}

/// How often idle workers look for queued runs another process may have added.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How often the scheduler deletes the change log's events past their retention.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// How often the scheduler looks for providers whose interval has passed.
const SCHEDULE_INTERVAL: Duration = Duration::from_secs(30);

/// A name unique to this process, recorded as the lease owner.
pub fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

impl SyncEngine {
    /// What the runner needs of this engine for one run.
    fn runtime(&self) -> runner::Runtime {
        runner::Runtime {
            db: self.db.clone(),
            writes: self.writes.clone(),
            settings: self.settings.clone(),
            events: self.events.clone(),
        }
    }

    /// What a reclaim execution needs of this engine; `checkpoint` holds it where a test says.
    pub fn reclaim_runtime(
        &self,
        checkpoint: Option<Arc<dyn reclaim::Checkpoint>>,
    ) -> reclaim::Runtime {
        reclaim::Runtime {
            db: self.db.clone(),
            events: self.events.clone(),
            lease: Lease {
                length: self.settings.lease,
                renew_every: self.settings.heartbeat_every,
            },
            settings: self.reclaim,
            checkpoint,
        }
    }

    /// Runs one claimed run to its end; a provider that cannot even be reached from its stored
    /// configuration fails the run with the reason.
    pub async fn execute(&self, run: run_rows::Model, worker: &str, shutdown: CancellationToken) {
        self.execute_with(run, worker, shutdown, None).await;
    }

    /// [`Self::execute`], holding a reclaim execution at `checkpoint`.
    pub async fn execute_with(
        &self,
        run: run_rows::Model,
        worker: &str,
        shutdown: CancellationToken,
        checkpoint: Option<Arc<dyn reclaim::Checkpoint>>,
    ) {
        let run_id = run.id;
        let connection =
            provider_service::connect(&self.db, &self.keyring, &self.registry, run.provider_id);
        let result = match connection.await {
            Ok(provider) if run.reclaim_plan_id.is_some() => {
                let runtime = self.reclaim_runtime(checkpoint);
                reclaim::execute(runtime, run, worker.to_owned(), provider.client, shutdown).await
            }
            Ok(provider) => {
                runner::execute(self.runtime(), run, worker.to_owned(), provider, shutdown).await
            }
            Err(error) => {
                tracing::error!(run = run_id, error = ?error, "cannot connect the provider");
                let notice = Notice {
                    code: Code::Internal.into(),
                    message: format!("the provider's configuration cannot be used: {error}"),
                    hint: "if LM_SECRET_KEY changed, or differs between hosts, give this worker \
                           the key that sealed the secret (after the current one), or enter the \
                           client secret again; check the endpoints the server's environment \
                           overrides, if any"
                        .into(),
                };
                queue::finish(
                    &self.db,
                    &self.events,
                    run_id,
                    worker,
                    Outcome::Failed(notice),
                )
                .await
                .map(|_| ())
            }
        };
        if let Err(error) = result {
            tracing::error!(run = run_id, error = ?error, "could not record the sync's outcome");
        }
    }

    /// Claims and runs queued syncs, at most `concurrency` at a time, until `shutdown`; runs in
    /// flight then stop at their next page and end as INTERRUPTED.
    pub async fn run_workers(self, concurrency: usize, shutdown: CancellationToken) {
        let worker = worker_name();
        let permits = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut running = JoinSet::new();
        tracing::info!(worker, concurrency, "sync workers started");
        loop {
            if let Err(error) = self.reap().await {
                tracing::warn!(error = ?error, "cannot fail expired sync runs");
            }
            while let Ok(permit) = permits.clone().try_acquire_owned() {
                match queue::claim(&self.db, &self.events, &worker, self.settings.lease).await {
                    Ok(Some(run)) => {
                        tracing::info!(run = run.id, provider = run.provider_id, "sync started");
                        let engine = self.clone();
                        let (worker, shutdown) = (worker.clone(), shutdown.clone());
                        running.spawn(async move {
                            engine.execute(run, &worker, shutdown).await;
                            drop(permit);
                        });
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(error = ?error, "cannot claim a sync run");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                Some(_) = running.join_next() => {}
                () = shutdown.cancelled() => break,
            }
        }
        while running.join_next().await.is_some() {}
        tracing::info!(worker, "sync workers stopped");
    }

    async fn reap(&self) -> Result<(), Error> {
        for run in queue::fail_expired(&self.db, &self.events).await? {
            tracing::warn!(
                run,
                "sync run interrupted: its worker stopped renewing the lease"
            );
        }
        Ok(())
    }

    /// Queues a run for every enabled provider whose interval has passed since its last run.
    pub async fn schedule_due(&self) -> Result<usize, Error> {
        let scheduled: Vec<providers::Model> = providers::Entity::find()
            .filter(providers::Column::Enabled.eq(true))
            .filter(providers::Column::SyncIntervalMinutes.is_not_null())
            .all(&self.db)
            .await?;
        let ids: Vec<i64> = scheduled.iter().map(|provider| provider.id).collect();
        let latest = sync_runs::latest_per_provider(&self.db, &ids).await?;
        let now = Utc::now();
        let mut queued = 0;
        for provider in scheduled {
            let interval = chrono::Duration::minutes(
                provider.sync_interval_minutes.unwrap_or_default().into(),
            );
            let due = latest
                .get(&provider.id)
                .is_none_or(|run| run.queued_at + interval <= now);
            if !due {
                continue;
            }
            match queue::enqueue(&self.db, provider.id, SyncMode::Auto, "schedule").await {
                Ok(_) => queued += 1,
                // Another process queued it first, or a sync is already running: fine.
                Err(Error::Conflict(_)) => {}
                // Deleted since it was read: the other providers are still due.
                Err(Error::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        if queued > 0 {
            self.wake.notify_waiters();
        }
        Ok(queued)
    }

    /// Queues a run of one provider and runs it here, in the foreground; when another
    /// process's worker takes it first, waits for that one. Returns the finished run.
    pub async fn run_once(
        &self,
        provider_id: i64,
        mode: SyncMode,
        shutdown: CancellationToken,
    ) -> Result<sync_runs::SyncRun, Error> {
        self.reap().await?;
        let queued = queue::enqueue(&self.db, provider_id, mode, "cli").await?;
        let worker = worker_name();
        if let Some(run) = queue::claim_run(
            &self.db,
            &self.events,
            queued.id,
            &worker,
            self.settings.lease,
        )
        .await?
        {
            self.execute(run, &worker, shutdown.clone()).await;
        }
        // Another process took the run first: wait for it, failing it if that process dies.
        loop {
            self.reap().await?;
            let run = sync_runs::get(&self.db, queued.id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("sync run {} disappeared", queued.id)))?;
            if !matches!(run.status, RunStatus::Queued | RunStatus::Running)
                || shutdown.is_cancelled()
            {
                return Ok(run);
            }
            tokio::select! {
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Deletes the change log's events past `LM_EVENT_RETENTION_DAYS`, in small batches.
    pub async fn prune_events(&self) {
        match license_events::prune(&self.db, self.event_retention_days, Utc::now()).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "license events past their retention deleted"),
            Err(error) => tracing::warn!(error = ?error, "cannot prune license events"),
        }
    }

    pub async fn run_scheduler(self, shutdown: CancellationToken) {
        let mut prune_due = tokio::time::Instant::now();
        loop {
            match self.schedule_due().await {
                Ok(0) => {}
                Ok(queued) => tracing::info!(queued, "scheduled syncs queued"),
                Err(error) => tracing::warn!(error = ?error, "scheduler could not queue syncs"),
            }
            if tokio::time::Instant::now() >= prune_due {
                prune_due += PRUNE_INTERVAL;
                self.prune_events().await;
            }
            tokio::select! {
                () = tokio::time::sleep(SCHEDULE_INTERVAL) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}
