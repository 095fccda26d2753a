//! Keeping a claimed job's lease while it works, and telling the job when it must stop: it was
//! cancelled, the server shuts down, or the lease was lost to another process. Syncs and
//! reclaim executions, both jobs of the queue, share it.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use super::queue::{self, Heartbeat};

/// Why a job stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Cancelled,
    LeaseLost,
    Shutdown,
}

/// Signals the body of a job that it must stop, and why.
#[derive(Clone)]
pub struct StopSignal {
    token: CancellationToken,
    reason: Arc<std::sync::Mutex<Option<Stop>>>,
}

impl Default for StopSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl StopSignal {
    pub fn new() -> Self {
        Self {
            token: CancellationToken::new(),
            reason: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    pub fn raise(&self, stop: Stop) {
        if let Ok(mut reason) = self.reason.lock() {
            reason.get_or_insert(stop);
        }
        self.token.cancel();
    }

    /// Why the job must stop; only meaningful once the token is cancelled.
    pub fn reason(&self) -> Stop {
        let reason = self.reason.lock().ok().and_then(|reason| *reason);
        reason.unwrap_or(Stop::Shutdown)
    }

    pub fn check(&self) -> Result<(), Stop> {
        if self.token.is_cancelled() {
            return Err(self.reason());
        }
        Ok(())
    }

    pub async fn stopped(&self) {
        self.token.cancelled().await;
    }

    /// The result of `work`, unless the job is told to stop first: a call that retries for
    /// minutes must not outlive the lease.
    pub async fn unless_stopped<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, Stop> {
        tokio::select! {
            value = work => Ok(value),
            () = self.token.cancelled() => Err(self.reason()),
        }
    }

    /// The next item of `stream`, unless the job is told to stop first.
    pub async fn next<S: Stream + Unpin>(&self, stream: &mut S) -> Result<Option<S::Item>, Stop> {
        self.unless_stopped(stream.next()).await
    }
}

/// How long a claim lasts without renewal, and how often it is renewed.
#[derive(Clone, Copy, Debug)]
pub struct Lease {
    pub length: chrono::Duration,
    pub renew_every: Duration,
}

/// Renews a job's lease until dropped; the job then ends in any way, a panic or a dropped
/// future included: a heartbeat that outlived its job would hold the lease, and block the
/// provider, for ever.
pub struct LeaseKeeper(tokio::task::JoinHandle<()>);

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl LeaseKeeper {
    /// Starts renewing; raises `stop` on cancel, lease loss or `shutdown`.
    pub fn start(
        db: DatabaseConnection,
        run_id: i64,
        worker: String,
        lease: Lease,
        stop: StopSignal,
        shutdown: CancellationToken,
    ) -> Self {
        Self(tokio::spawn(keep_lease(
            db, run_id, worker, lease, stop, shutdown,
        )))
    }
}

/// A database hiccup is retried at the next beat, as long as the lease lasts.
async fn keep_lease(
    db: DatabaseConnection,
    run_id: i64,
    worker: String,
    lease: Lease,
    stop: StopSignal,
    shutdown: CancellationToken,
) {
    let mut beats = tokio::time::interval(lease.renew_every);
    loop {
        tokio::select! {
            _ = beats.tick() => {}
            () = shutdown.cancelled() => {
                stop.raise(Stop::Shutdown);
                return;
            }
        }
        match queue::heartbeat(&db, run_id, &worker, lease.length).await {
            Ok(Heartbeat::Continue) => {}
            Ok(Heartbeat::CancelRequested) => stop.raise(Stop::Cancelled),
            Ok(Heartbeat::Lost) => {
                stop.raise(Stop::LeaseLost);
                return;
            }
            Err(error) => tracing::warn!(run = run_id, error = ?error, "heartbeat failed"),
        }
    }
}
