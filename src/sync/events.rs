//! A sync run's changes, published once where they are written and fanned out to the
//! subscriptions that follow the run.
//!
//! A writer says only "run N changed". On PostgreSQL it says so with NOTIFY, so that every
//! process sharing the database hears it: an API replica follows runs that a worker elsewhere
//! executes. On SQLite, whose database one server serves, an in-process broadcast carries it.
//! A serving process then reads a changed run once, whatever the number of its subscribers
//! (see `domain::run_feed`): subscriptions cost the database nothing while they wait.

use std::time::Duration;

use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

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
