//! A sync run's changes, published once where they are written and fanned out to the
//! subscriptions that follow the run.
//!
//! A writer says only "run N changed". On PostgreSQL it says so with NOTIFY, so that every
//! process sharing the database hears it: an API replica follows runs that a worker elsewhere
//! executes. On SQLite, whose database one server serves, an in-process broadcast carries it.
//! A serving process then reads a changed run once, whatever the number of its subscribers
//! (see [`RunFeed`]): subscriptions cost the database nothing while they wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::Stream;
use futures::stream;
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::domain::sync_runs::{self, RunStatus, SyncRun};
use crate::error::Result;

/// The PostgreSQL channel of run changes; its payload is the run's id.
pub const CHANNEL: &str = "license_manager_sync_runs";
/// Signals a slow feed may fall behind by before it reads every run it follows again.
const BACKLOG: usize = 1024;
/// The pause before listening again after the listening connection failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Changed(i64),
    /// Changes may have gone unheard (the listening connection was lost): read every followed
    /// run again.
    Missed,
}

/// Where this process announces, and hears, that runs changed.
#[derive(Clone, Debug)]
pub struct RunEvents {
    local: broadcast::Sender<Signal>,
}

impl Default for RunEvents {
    fn default() -> Self {
        Self {
            local: broadcast::channel(BACKLOG).0,
        }
    }
}

impl RunEvents {
    /// Says that `run_id` changed, after the change is written. A failure is logged, not
    /// returned: the write stands, and subscribers see it with the run's next change.
    pub async fn publish(&self, db: &DatabaseConnection, run_id: i64) {
        if db.get_database_backend() != DbBackend::Postgres {
            // An error means nobody follows any run here.
            let _ = self.local.send(Signal::Changed(run_id));
            return;
        }
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), run_id.to_string().into()],
        );
        if let Err(error) = db.execute_raw(notify).await {
            tracing::warn!(run = run_id, error = ?error, "cannot announce a sync run's change");
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.local.subscribe()
    }

    /// On PostgreSQL, starts listening to the changes every process announces (this one's
    /// included), so that none is missed once this returns; [`Relay::run`] hands them to this
    /// process's subscribers. The relay holds one connection of the pool.
    pub async fn listen(&self, db: &DatabaseConnection) -> Relay {
        let pool = (db.get_database_backend() == DbBackend::Postgres)
            .then(|| db.get_postgres_connection_pool().clone());
        let listener = match &pool {
            Some(pool) => listen(pool).await,
            None => None,
        };
        Relay {
            pool,
            listener,
            local: self.local.clone(),
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let listening = async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok::<_, sea_orm::sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for sync run changes; retrying");
            None
        }
    }
}

/// Relays PostgreSQL's notifications of run changes to this process's subscribers.
pub struct Relay {
    /// `None` on SQLite, where there is nothing to relay.
    pool: Option<PgPool>,
    listener: Option<PgListener>,
    local: broadcast::Sender<Signal>,
}

impl Relay {
    pub async fn run(mut self, stop: CancellationToken) {
        let Some(pool) = self.pool.take() else {
            return;
        };
        loop {
            if let Some(mut listener) = self.listener.take()
                && self.hear(&mut listener, &stop).await
            {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(RELISTEN_AFTER) => {}
                () = stop.cancelled() => return,
            }
            self.listener = listen(&pool).await;
            if self.listener.is_some() {
                // Whatever changed while nobody listened went unheard.
                let _ = self.local.send(Signal::Missed);
            }
        }
    }

    /// Relays notifications until `stop` (true) or an error that needs a new listener (false).
    async fn hear(&self, listener: &mut PgListener, stop: &CancellationToken) -> bool {
        loop {
            let received = tokio::select! {
                received = listener.try_recv() => received,
                () = stop.cancelled() => return true,
            };
            let signal = match received {
                Ok(Some(notification)) => match notification.payload().parse() {
                    Ok(run_id) => Signal::Changed(run_id),
                    Err(_) => continue,
                },
                // The connection was lost; sqlx listened again on a new one.
                Ok(None) => Signal::Missed,
                Err(error) => {
                    tracing::warn!(%error, "lost the connection that hears sync run changes");
                    return false;
                }
            };
            let _ = self.local.send(signal);
        }
    }
}

/// What a follower of a run last learned.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    /// Nobody has read the run since it was first followed.
    Unread,
    /// Shared: every follower gets the same read.
    Run(Arc<SyncRun>),
    /// The run was deleted, with its provider.
    Gone,
}

/// The runs this process's subscriptions follow, each read once per change and shared.
pub struct RunFeed {
    db: DatabaseConnection,
    followed: Mutex<HashMap<i64, Arc<watch::Sender<Seen>>>>,
}

impl RunFeed {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            followed: Mutex::default(),
        }
    }

    /// The run now, then each time it changes, until it ends; `None` when there is no such run.
    pub async fn follow(
        &self,
        run_id: i64,
    ) -> Result<Option<impl Stream<Item = SyncRun> + Send + use<>>> {
        // Following first, so that no change between the read below and the first wait is lost.
        let mut seen = self.watch(run_id);
        if *seen.borrow_and_update() == Seen::Unread {
            let read = match sync_runs::get(&self.db, run_id).await? {
                Some(run) => Seen::Run(Arc::new(run)),
                None => Seen::Gone,
            };
            // A read the feed made meanwhile, after a change, is newer than this one.
            self.sender(run_id).send_if_modified(|current| {
                let unread = *current == Seen::Unread;
                if unread {
                    *current = read;
                }
                unread
            });
        }
        if *seen.borrow() == Seen::Gone {
            return Ok(None);
        }
        Ok(Some(updates(seen)))
    }

    /// Reads the changed runs that are followed, until `stop`.
    pub async fn run(&self, mut signals: broadcast::Receiver<Signal>, stop: CancellationToken) {
        loop {
            let signal = tokio::select! {
                signal = signals.recv() => signal,
                () = stop.cancelled() => return,
            };
            match signal {
                Ok(Signal::Changed(run_id)) => self.refresh(run_id).await,
                Ok(Signal::Missed) | Err(RecvError::Lagged(_)) => {
                    let followed: Vec<i64> = self.lock().keys().copied().collect();
                    for run_id in followed {
                        self.refresh(run_id).await;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    async fn refresh(&self, run_id: i64) {
        let Some(sender) = self.followed_by_someone(run_id) else {
            return;
        };
        let seen = match sync_runs::get(&self.db, run_id).await {
            Ok(Some(run)) => Seen::Run(Arc::new(run)),
            Ok(None) => Seen::Gone,
            Err(error) => {
                tracing::warn!(run = run_id, error = ?error, "cannot read a followed sync run");
                return;
            }
        };
        sender.send_if_modified(|current| {
            let changed = *current != seen;
            if changed {
                *current = seen;
            }
            changed
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<watch::Sender<Seen>>>> {
        // The map stays consistent whatever panicked while holding it.
        self.followed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn watch(&self, run_id: i64) -> watch::Receiver<Seen> {
        let mut followed = self.lock();
        if !followed.contains_key(&run_id) {
            // Runs nobody follows any more are forgotten as new ones come.
            followed.retain(|_, sender| sender.receiver_count() > 0);
        }
        followed
            .entry(run_id)
            .or_insert_with(|| Arc::new(watch::channel(Seen::Unread).0))
            .subscribe()
    }

    fn sender(&self, run_id: i64) -> Arc<watch::Sender<Seen>> {
        let mut followed = self.lock();
        followed
            .entry(run_id)
            .or_insert_with(|| Arc::new(watch::channel(Seen::Unread).0))
            .clone()
    }

    fn followed_by_someone(&self, run_id: i64) -> Option<Arc<watch::Sender<Seen>>> {
        let mut followed = self.lock();
        let sender = followed.get(&run_id)?;
        if sender.receiver_count() == 0 {
            followed.remove(&run_id);
            return None;
        }
        Some(sender.clone())
    }
}

/// Each new state of a run, from the one `seen` holds, until the run ends or is deleted.
fn updates(seen: watch::Receiver<Seen>) -> impl Stream<Item = SyncRun> + Send {
    stream::unfold(
        (seen, None::<Arc<SyncRun>>),
        |(mut seen, last_sent)| async move {
            if last_sent.as_deref().is_some_and(has_ended) {
                return None;
            }
            loop {
                let current = seen.borrow_and_update().clone();
                match current {
                    Seen::Run(run) if last_sent.as_ref() != Some(&run) => {
                        return Some((SyncRun::clone(&run), (seen, Some(run))));
                    }
                    Seen::Gone => return None,
                    Seen::Run(_) | Seen::Unread => {}
                }
                // An error means the process is stopping.
                seen.changed().await.ok()?;
            }
        },
    )
}

fn has_ended(run: &SyncRun) -> bool {
    !matches!(run.status, RunStatus::Queued | RunStatus::Running)
}
