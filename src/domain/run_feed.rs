//! The runs this process's subscriptions follow: each run is read once per change it announces
//! (see `sync::events`) and the read is shared by all its followers, so subscriptions cost the
//! database nothing while they wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::Stream;
use futures::stream;
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::sync_runs::{self, RunStatus, SyncRun};
use crate::error::Result;
use crate::sync::events::Signal;

/// A run whose read failed is read again this many times at most: the failed read may have
/// been of the run's last change, which no later signal would follow, so giving up at once
/// would leave its followers waiting forever; retrying forever would spin through an outage.
const REREADS: u32 = 6;
/// The pause before the first re-read; each next one waits twice as long (about 13 s in all).
const FIRST_REREAD_AFTER: Duration = Duration::from_millis(200);

/// The pause before re-read number `attempt` (from 0), or `None` once the re-reads are spent.
fn reread_after(attempt: u32) -> Option<Duration> {
    (attempt < REREADS).then(|| FIRST_REREAD_AFTER * 2u32.pow(attempt))
}

/// A run to read again, and how many re-reads it has had.
type Reread = (i64, u32);

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
        // Re-reads come back through this loop, so that reads of a run stay in order and a late
        // re-read never overwrites a newer state.
        let (reread, mut rereads) = mpsc::unbounded_channel::<Reread>();
        loop {
            let signal = tokio::select! {
                signal = signals.recv() => signal,
                Some((run_id, attempt)) = rereads.recv() => {
                    self.refresh(run_id, attempt, &reread).await;
                    continue;
                }
                () = stop.cancelled() => return,
            };
            match signal {
                Ok(Signal::Changed(run_id)) => self.refresh(run_id, 0, &reread).await,
                Ok(Signal::Missed) | Err(RecvError::Lagged(_)) => {
                    let followed: Vec<i64> = self.lock().keys().copied().collect();
                    for run_id in followed {
                        self.refresh(run_id, 0, &reread).await;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Reads `run_id` for its followers; when the read fails, asks for re-read `attempt` later.
    async fn refresh(&self, run_id: i64, attempt: u32, reread: &mpsc::UnboundedSender<Reread>) {
        let Some(sender) = self.followed_by_someone(run_id) else {
            return;
        };
        let seen = match sync_runs::get(&self.db, run_id).await {
            Ok(Some(run)) => Seen::Run(Arc::new(run)),
            Ok(None) => Seen::Gone,
            Err(error) => {
                let Some(pause) = reread_after(attempt) else {
                    tracing::error!(run = run_id, error = ?error, "cannot read a followed sync run; giving up until its next change");
                    return;
                };
                tracing::warn!(run = run_id, error = ?error, "cannot read a followed sync run; reading it again shortly");
                let reread = reread.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(pause).await;
                    // An error means the feed has stopped: nobody is left to tell.
                    let _ = reread.send((run_id, attempt + 1));
                });
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

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use sea_orm::ConnectionTrait;
    use secrecy::SecretString;

    use super::*;
    use crate::crypto::SecretKeyring;
    use crate::domain::audit::Actor;
    use crate::domain::providers::{self, NewProvider};
    use crate::providers::KindConfig;
    use crate::sync::events::RunEvents;
    use crate::sync::queue::SyncMode;

    /// A migrated SQLite database in `dir` with one provider and its queued run; the run's id.
    async fn queued_run(dir: &std::path::Path) -> (DatabaseConnection, i64) {
        let db = crate::db::connect(&crate::db::default_sqlite_url(dir))
            .await
            .expect("connected");
        crate::db::migrate(&db).await.expect("migrated");
        let keyring = SecretKeyring::load(None, dir).expect("keyring");
        let actor = Actor {
            subject: "feed-test".into(),
            role: "admin".into(),
        };
        let config = KindConfig {
            kind: "feed-test",
            account_key: "one".into(),
            config: serde_json::json!({}),
        };
        let provider = providers::create(
            &db,
            &keyring,
            &actor,
            NewProvider {
                name: "one".into(),
                config: Ok(config),
                client_secret: SecretString::from("secret"),
                client_secret_expires_at: None,
                sync_interval_minutes: None,
            },
        )
        .await
        .expect("provider");
        let run = sync_runs::start(
            &db,
            &RunEvents::default(),
            &actor,
            provider.id,
            SyncMode::Full,
        )
        .await
        .expect("queued");
        (db, run.id)
    }

    async fn execute(db: &DatabaseConnection, sql: &str) {
        db.execute_unprepared(sql).await.expect(sql);
    }

    /// The read of a run's last change fails; the feed reads it again, and its followers learn
    /// the run is gone instead of waiting for a change that will never come.
    #[tokio::test]
    async fn a_failed_read_is_read_again_so_followers_see_the_end() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, run_id) = queued_run(dir.path()).await;
        let feed = RunFeed::new(db.clone());
        let mut updates = Box::pin(feed.follow(run_id).await.expect("read").expect("a run"));
        let first = updates.next().await.expect("the run now");
        assert_eq!(first.status, RunStatus::Queued);

        let (reread, mut rereads) = mpsc::unbounded_channel();
        execute(&db, "ALTER TABLE sync_runs RENAME TO sync_runs_away").await;
        feed.refresh(run_id, 0, &reread).await;
        execute(&db, "ALTER TABLE sync_runs_away RENAME TO sync_runs").await;
        execute(&db, &format!("DELETE FROM sync_runs WHERE id = {run_id}")).await;

        let (again, attempt) = rereads.recv().await.expect("a re-read is asked for");
        assert_eq!((again, attempt), (run_id, 1));
        feed.refresh(again, attempt, &reread).await;
        assert!(updates.next().await.is_none(), "the followers' stream ends");
    }

    #[test]
    fn a_failed_read_is_retried_a_bounded_number_of_times_each_later() {
        let pauses: Vec<Duration> = (0..).map_while(reread_after).collect();
        assert_eq!(pauses.len(), REREADS as usize);
        assert!(
            pauses.windows(2).all(|pair| pair[0] < pair[1]),
            "{pauses:?}"
        );
        assert!(
            pauses.iter().sum::<Duration>() < Duration::from_secs(60),
            "followers are not kept waiting for long: {pauses:?}"
        );
    }
}
