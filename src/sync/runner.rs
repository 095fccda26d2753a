//! Runs one claimed sync: reads the provider, writes through `writer`, keeps the lease alive,
//! reports progress, and ends the run with its outcome.
//!
//! Full sync: take a delta link first (so changes made during the listing are replayed by the
//! next incremental round), then SKUs and subscriptions (the first user pages are fetched
//! meanwhile), then every user page by page (the provider fetches page k+1 while page k is
//! written; on PostgreSQL two pages are written at once), then mark who was not listed as
//! removed.
//! A failure half-way removes nothing and keeps every page already written.
//!
//! Incremental sync: SKUs and subscriptions again (seat counts move often), then the changes
//! since the stored delta link, then sign-in dates if they are due (deltas do not carry them).
//! An expired delta link falls back to a full sync, recorded as a warning.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set};
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::events::RunEvents;
use super::lease::{Lease, LeaseKeeper, Stop, StopSignal};
use super::queue::{self, Notice, Outcome, Progress, SyncMode};
use super::read_ahead::ReadAhead;
use super::writer::{self, Observer, PageChanges, SkuIndex};
use crate::codes::Code;
use crate::entities::{providers, sync_runs};
use crate::providers::records::UserRecord;
use crate::providers::{
    Catalogue, Connection, LicenseProvider, ProviderError, ProviderErrorKind, RetryPolicy,
    SIGN_IN_AVAILABLE,
};

/// Users written in one transaction at most, when pages pile up behind the writer: enough to
/// share most index pages between them, small enough to keep the write lock a moment only.
const USERS_PER_WRITE: usize = 4_000;

/// Tuning of the sync engine; the defaults suit a production tenant.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// AUTO runs a full sync when the last one is older: deltas do not track how licenses are
    /// assigned (`licenseAssignmentStates`), so a periodic full listing keeps that true.
    pub full_sync_max_age: chrono::Duration,
    /// Sign-in dates are refreshed by a light listing no more often than this.
    pub sign_in_refresh_interval: chrono::Duration,
    /// How long a claimed run stays ours without a heartbeat.
    pub lease: chrono::Duration,
    pub heartbeat_every: Duration,
    /// How each read of the provider is retried before the sync fails.
    pub retry: RetryPolicy,
    /// When changes are observed: the day of each SKU snapshot, the time of each event.
    pub clock: Clock,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            full_sync_max_age: chrono::Duration::hours(24),
            sign_in_refresh_interval: chrono::Duration::hours(12),
            lease: chrono::Duration::seconds(60),
            heartbeat_every: Duration::from_secs(15),
            retry: RetryPolicy::default(),
            clock: Clock::system(),
        }
    }
}

enum Halt {
    Provider(ProviderError),
    Database(crate::Error),
    Stopped(Stop),
}

impl From<ProviderError> for Halt {
    fn from(error: ProviderError) -> Self {
        Halt::Provider(error)
    }
}

impl From<crate::Error> for Halt {
    fn from(error: crate::Error) -> Self {
        Halt::Database(error)
    }
}

impl From<sea_orm::DbErr> for Halt {
    fn from(error: sea_orm::DbErr) -> Self {
        Halt::Database(error.into())
    }
}

impl From<Stop> for Halt {
    fn from(stop: Stop) -> Self {
        Halt::Stopped(stop)
    }
}

struct Run<'a> {
    db: &'a DatabaseConnection,
    /// Where pages are written: see `crate::db::connect_sync_writer`.
    writes: &'a DatabaseConnection,
    /// Where progress is announced to subscribers.
    events: &'a RunEvents,
    run_id: i64,
    worker: &'a str,
    provider: Arc<dyn LicenseProvider>,
    /// Names the SKUs users hold that the provider no longer lists.
    catalogue: Arc<dyn Catalogue>,
    settings: &'a SyncSettings,
    stop: StopSignal,
    progress: Progress,
    /// What the change log records as this run's (a full sync sets whether it is the baseline).
    observer: Observer,
}

/// What every run of a process shares: its connections, settings, and where runs' changes are
/// announced.
#[derive(Clone)]
pub struct Runtime {
    pub db: DatabaseConnection,
    /// Where pages are written: see `crate::db::connect_sync_writer`.
    pub writes: DatabaseConnection,
    pub settings: SyncSettings,
    pub events: RunEvents,
}

/// Runs `run` (already claimed by `worker`) to its end and records the outcome. `shutdown`
/// stops it early, failed as INTERRUPTED. It takes its arguments by value so that the future
/// borrows nothing and can be spawned.
pub async fn execute(
    runtime: Runtime,
    run: sync_runs::Model,
    worker: String,
    provider: Connection,
    shutdown: CancellationToken,
) -> Result<(), crate::Error> {
    let Runtime {
        db,
        writes,
        settings,
        events,
    } = &runtime;
    let worker = worker.as_str();
    let stop = StopSignal::new();
    let heartbeat = LeaseKeeper::start(
        db.clone(),
        run.id,
        worker.to_owned(),
        Lease {
            length: settings.lease,
            renew_every: settings.heartbeat_every,
        },
        stop.clone(),
        shutdown,
    );
    let mut job = Run {
        db,
        writes,
        events,
        run_id: run.id,
        worker,
        provider: provider.client,
        catalogue: provider.catalogue,
        settings,
        stop: stop.clone(),
        progress: Progress::default(),
        observer: Observer {
            run_id: Some(run.id),
            ..Observer::default()
        },
    };
    let result = job.body(&run).await;
    drop(heartbeat);
    let outcome = match result {
        Ok(()) => Outcome::Succeeded,
        Err(Halt::Stopped(Stop::Cancelled)) => Outcome::Cancelled,
        Err(Halt::Stopped(Stop::LeaseLost)) => {
            tracing::warn!(
                run = run.id,
                "lease lost; another process has taken over the run"
            );
            return Ok(());
        }
        Err(Halt::Stopped(Stop::Shutdown)) => Outcome::Failed(Notice {
            code: Code::Interrupted.into(),
            message: "the server shut down during the sync".into(),
            hint: "nothing to fix: data written so far is kept and the next sync runs normally"
                .into(),
        }),
        Err(Halt::Provider(error)) => {
            tracing::warn!(run = run.id, code = %error.code, %error, "sync failed");
            Outcome::Failed(Notice {
                code: error.code.into(),
                message: error.message,
                hint: error.hint,
            })
        }
        Err(Halt::Database(error)) => {
            tracing::error!(run = run.id, error = ?error, "sync failed on the database");
            Outcome::Failed(Notice {
                code: Code::Internal.into(),
                message: "the sync could not write to the database".into(),
                hint: "the server log has the details; data written before the error is kept"
                    .into(),
            })
        }
    };
    queue::save_progress(db, events, run.id, worker, &job.progress).await?;
    queue::finish(db, events, run.id, worker, outcome).await?;
    Ok(())
}

/// The page count at or after which a listing refreshes the planner's statistics a last time.
const ANALYZE_UNTIL_PAGE: i64 = 32;

/// An error met after the one a run reports (while finishing its page writes): logged, so that
/// it is not lost.
fn log_unreported(run: i64, error: &Halt) {
    match error {
        Halt::Provider(error) => {
            tracing::warn!(run, code = %error.code, %error, "a further error while ending the sync");
        }
        Halt::Database(error) => {
            tracing::warn!(run, error = ?error, "a further database error while ending the sync");
        }
        Halt::Stopped(_) => {}
    }
}

/// The warning of a sync that went on without sign-in dates, with the provider's hint.
fn sign_in_warning(error: &ProviderError) -> Notice {
    Notice {
        code: Code::SignInActivityUnavailable.into(),
        message: format!("synced without sign-in dates: {}", error.message),
        hint: error.hint.clone(),
    }
}

/// A page write's outcome, with what the run needs to account for it.
struct WrittenPage {
    result: Result<PageChanges, crate::Error>,
    /// Provider pages in the write.
    pages: i64,
    /// The provider's ids of the users written.
    users: HashSet<String>,
}

/// Page writes in flight, at most `PAGE_WRITES_AT_ONCE`; the next pages are fetched meanwhile.
struct PageWrites<'a> {
    db: &'a DatabaseConnection,
    /// Who the change log names as having seen the pages' changes.
    observer: Observer,
    in_flight: FuturesUnordered<BoxFuture<'a, WrittenPage>>,
    /// The provider's ids of the users being written.
    users: HashSet<String>,
    limit: usize,
}

/// Page writes a listing runs at once, on either engine. SQLite has a single writer. PostgreSQL
/// could run two, each in a backend of its own, and did while writing a page cost the server
/// nearly twice what it does now; two backends writing at once then took both cores of a 2-core
/// host in bursts, and the API's readers waited behind them: Q1's p99 at 32 clients during a
/// 100,000-user sync was 95–188 ms with two, 28–73 ms with one; the sync alone stayed within
/// 1.15 × its fetch-only floor in four runs of five (docs/performance.md, issue 26).
const PAGE_WRITES_AT_ONCE: usize = 1;

impl<'a> PageWrites<'a> {
    fn new(db: &'a DatabaseConnection, limit: usize, observer: Observer) -> Self {
        Self {
            db,
            observer,
            in_flight: FuturesUnordered::new(),
            users: HashSet::new(),
            limit,
        }
    }

    fn has_room(&self) -> bool {
        self.in_flight.len() < self.limit
    }

    fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Whether one of `records` is being written.
    fn overlaps(&self, records: &[UserRecord]) -> bool {
        records
            .iter()
            .any(|record| self.users.contains(&record.external_id))
    }

    fn start(
        &mut self,
        provider_id: i64,
        records: Vec<UserRecord>,
        pages: i64,
        skus: Arc<SkuIndex>,
        now: DateTime<Utc>,
    ) {
        let users: HashSet<String> = records.iter().map(|r| r.external_id.clone()).collect();
        self.users.extend(users.iter().cloned());
        let (db, observer) = (self.db, self.observer);
        self.in_flight.push(Box::pin(async move {
            let result =
                writer::write_user_page(db, provider_id, records, &skus, now, observer).await;
            WrittenPage {
                result,
                pages,
                users,
            }
        }));
    }

    /// The next write to end; `None` when none is in flight.
    async fn next(&mut self) -> Option<WrittenPage> {
        let written = self.in_flight.next().await?;
        self.users.retain(|user| !written.users.contains(user));
        Some(written)
    }
}

/// One listing of every user, being written.
struct Listing<'a> {
    provider_id: i64,
    now: DateTime<Utc>,
    pages: ReadAhead<Vec<UserRecord>>,
    writes: PageWrites<'a>,
    /// The page count after which the planner's statistics are refreshed next.
    analyze_at: Option<i64>,
}

impl Listing<'_> {
    fn start(&mut self, records: Vec<UserRecord>, pages: i64, skus: Arc<SkuIndex>) {
        self.writes
            .start(self.provider_id, records, pages, skus, self.now);
    }
}

impl Run<'_> {
    async fn body(&mut self, run: &sync_runs::Model) -> Result<(), Halt> {
        let provider_row = providers::Entity::find_by_id(run.provider_id)
            .one(self.db)
            .await?
            .ok_or_else(|| {
                Halt::Database(crate::Error::NotFound("the provider was deleted".into()))
            })?;
        let requested = SyncMode::parse(&run.mode)?;
        let now = self.settings.clock.now();
        let full_is_due = provider_row
            .last_full_sync_at
            .is_none_or(|at| now - at > self.settings.full_sync_max_age);
        match (requested, &provider_row.delta_link) {
            (SyncMode::Delta, Some(link)) => self.incremental(&provider_row, link.clone()).await,
            (SyncMode::Auto, Some(link)) if !full_is_due => {
                self.incremental(&provider_row, link.clone()).await
            }
            _ => self.full(&provider_row).await,
        }
    }

    async fn save(&mut self) -> Result<(), Halt> {
        if !queue::save_progress(
            self.db,
            self.events,
            self.run_id,
            self.worker,
            &self.progress,
        )
        .await?
        {
            return Err(Halt::Stopped(Stop::LeaseLost));
        }
        Ok(())
    }

    /// Adds what a write counted; the writer counts each user once per run, however often the
    /// provider lists it (see `writer::Counted`). `users_seen` is not here: an incremental round
    /// also counts changes of users it stores nothing for.
    fn count(&mut self, changes: PageChanges, pages: i64) {
        self.progress.pages_fetched += pages;
        self.progress.users_created += changes.created;
        self.progress.users_updated += changes.updated;
        self.progress.users_removed += changes.removed;
    }

    async fn seats(&mut self, provider_id: i64, now: DateTime<Utc>) -> Result<SkuIndex, Halt> {
        let (skus, subscriptions) = self
            .stop
            .unless_stopped(async {
                tokio::join!(self.provider.skus(), self.provider.subscriptions())
            })
            .await?;
        let skus = skus?;
        let index =
            writer::write_skus(self.writes, provider_id, &skus, self.catalogue.clone(), now)
                .await?;
        writer::write_subscriptions(self.writes, provider_id, &subscriptions?, now).await?;
        self.progress.skus_synced = skus.len() as i64;
        Ok(index)
    }

    async fn full(&mut self, provider: &providers::Model) -> Result<(), Halt> {
        self.progress.effective_mode = Some(SyncMode::Full);
        // Until a full sync completed, what one finds is where the history starts.
        self.observer.baseline = provider.last_full_sync_at.is_none();
        self.save().await?;
        let now = self.settings.clock.now();
        let link = self
            .stop
            .unless_stopped(self.provider.start_changes())
            .await??;
        // The first user pages are fetched while the seats are read and written.
        let users = ReadAhead::start(self.provider.users(true));
        let mut skus = Arc::new(self.seats(provider.id, now).await?);
        self.save().await?;

        // A first sync into an empty directory builds the order indexes once at its end (see
        // `writer::defer_order_indexes`); one after a first sync that died builds them now.
        let deferred = self.observer.baseline && writer::defer_order_indexes(self.writes).await?;
        if self.observer.baseline && !deferred {
            writer::restore_order_indexes(self.writes).await?;
        }
        let listed = self
            .list_all_users(provider.id, users, &mut skus, now)
            .await;
        if deferred {
            match (&listed, writer::restore_order_indexes(self.writes).await) {
                (Ok(_), Err(error)) => return Err(error.into()),
                (Err(_), Err(error)) => log_unreported(self.run_id, &error.into()),
                (_, Ok(())) => {}
            }
        }
        let sign_in_status = listed?;
        self.stop.check()?;
        self.progress.users_removed +=
            writer::remove_unseen(self.writes, provider.id, self.run_id, now, self.observer)
                .await?;

        let mut row = provider.clone().into_active_model();
        row.delta_link = Set(Some(link));
        row.delta_link_obtained_at = Set(Some(now));
        row.last_full_sync_at = Set(Some(now));
        if sign_in_status == SIGN_IN_AVAILABLE {
            row.sign_in_refreshed_at = Set(Some(now));
        }
        row.sign_in_data_status = Set(Some(sign_in_status.to_owned()));
        row.update(self.db).await?;
        writer::snapshot_skus(self.writes, provider.id, now.date_naive()).await?;
        Ok(())
    }

    /// Lists every user, without sign-in dates if the tenant cannot give them; returns what the
    /// provider said of sign-in dates.
    async fn list_all_users(
        &mut self,
        provider_id: i64,
        users: ReadAhead<Vec<UserRecord>>,
        skus: &mut Arc<SkuIndex>,
        now: DateTime<Utc>,
    ) -> Result<&'static str, Halt> {
        match self.list_users(provider_id, users, skus, now).await {
            Ok(()) => Ok(SIGN_IN_AVAILABLE),
            Err(Halt::Provider(error)) => match error.kind {
                ProviderErrorKind::SignInUnavailable(gap) => {
                    self.progress.warnings.push(sign_in_warning(&error));
                    let users = ReadAhead::start(self.provider.users(false));
                    self.list_users(provider_id, users, skus, now).await?;
                    Ok(gap.as_str())
                }
                _ => Err(Halt::Provider(error)),
            },
            Err(other) => Err(other),
        }
    }

    async fn list_users(
        &mut self,
        provider_id: i64,
        pages: ReadAhead<Vec<UserRecord>>,
        skus: &mut Arc<SkuIndex>,
        now: DateTime<Utc>,
    ) -> Result<(), Halt> {
        let mut listing = Listing {
            provider_id,
            now,
            pages,
            writes: PageWrites::new(self.writes, PAGE_WRITES_AT_ONCE, self.observer),
            analyze_at: Some(1),
        };
        let listed = self.write_listing(&mut listing, skus).await;
        // Pages already being written when the listing ends, fails, is cancelled or the server
        // shuts down are written to the end rather than cut off; the first error is the one
        // reported. With the lease lost, the run belongs to another process: they are dropped
        // (each page is one transaction, rolled back), lest an older listing overwrite its rows.
        if matches!(listed, Err(Halt::Stopped(Stop::LeaseLost))) {
            return listed;
        }
        let finished = self.finish_writes(&mut listing).await;
        match (listed, finished) {
            (Err(first), Err(further)) => {
                log_unreported(self.run_id, &further);
                Err(first)
            }
            (listed, finished) => listed.and(finished),
        }
    }

    /// Takes pages as they arrive and starts their writes, as many at once as the engine takes.
    async fn write_listing(
        &mut self,
        listing: &mut Listing<'_>,
        skus: &mut Arc<SkuIndex>,
    ) -> Result<(), Halt> {
        loop {
            let room = listing.writes.has_room();
            tokio::select! {
                biased;
                () = self.stop.stopped() => return Err(self.stop.reason().into()),
                Some(written) = listing.writes.next(), if !listing.writes.is_empty() => {
                    self.page_written(written, listing).await?;
                }
                page = listing.pages.next(), if room => {
                    let Some(first) = page else { return Ok(()) };
                    let batch = listing.pages.gather(first?, USERS_PER_WRITE);
                    if listing.writes.overlaps(&batch.items) {
                        // A user listed twice: a provider need not promise each object once,
                        // and a user changed while the listing is paged may show up again,
                        // newer (see docs/architecture.md, sync semantics). The later listing
                        // must win, so the write holding the earlier one ends first.
                        self.finish_writes(listing).await?;
                    }
                    writer::add_held_skus(self.writes, skus, &batch.items, listing.now).await?;
                    // Finishing a write or adding SKUs may have taken long enough to be stopped.
                    self.stop.check()?;
                    listing.start(batch.items, batch.pages, skus.clone());
                    if let Some(error) = batch.failure {
                        return Err(error.into());
                    }
                }
            }
        }
    }

    /// Waits for every page write in flight and records each.
    async fn finish_writes(&mut self, listing: &mut Listing<'_>) -> Result<(), Halt> {
        let mut first_error = None;
        while let Some(written) = listing.writes.next().await {
            match self.page_written(written, listing).await {
                Ok(()) => {}
                // The run is another process's now: the writes left are dropped.
                Err(Halt::Stopped(Stop::LeaseLost)) => return Err(Halt::Stopped(Stop::LeaseLost)),
                Err(error) if first_error.is_none() => first_error = Some(error),
                Err(error) => log_unreported(self.run_id, &error),
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn page_written(
        &mut self,
        written: WrittenPage,
        listing: &mut Listing<'_>,
    ) -> Result<(), Halt> {
        let changed = written.result?;
        // Distinct users, also when a sign-in fallback lists everyone again: the writer counts
        // only those the run had not stamped yet.
        self.progress.users_seen += changed.seen;
        self.count(changed, written.pages);
        self.save().await?;
        // After pages 1, 2, 4, 8… up to 32, statistics the table has outgrown are refreshed: a
        // few ANALYZEs keep the plans right while the table grows from nothing. Past 16,000
        // users the plans no longer change, and each ANALYZE costs more (0.5 s of a
        // 100,000-user sync went to the last two).
        let pages = self.progress.pages_fetched;
        if listing.analyze_at.is_some_and(|at| pages >= at) {
            crate::db::refresh_statistics(self.writes).await?;
            listing.analyze_at =
                (pages < ANALYZE_UNTIL_PAGE).then(|| (pages * 2).min(ANALYZE_UNTIL_PAGE));
        }
        Ok(())
    }

    async fn incremental(&mut self, provider: &providers::Model, link: String) -> Result<(), Halt> {
        self.progress.effective_mode = Some(SyncMode::Delta);
        self.save().await?;
        let now = self.settings.clock.now();
        let mut skus = self.seats(provider.id, now).await?;
        let mut next_round = None;
        let mut seen: HashSet<String> = HashSet::new();
        let mut changes = self.provider.changes_since(link);
        loop {
            let page = match self.stop.next(&mut changes).await? {
                None => break,
                Some(Ok(page)) => page,
                Some(Err(error)) if error.kind == ProviderErrorKind::DeltaExpired => {
                    drop(changes);
                    self.progress.warnings.push(Notice {
                        code: Code::DeltaTokenExpired.into(),
                        message: "the incremental sync token had expired; a full sync ran instead"
                            .into(),
                        hint: "nothing to fix: this happens after about a week without a sync"
                            .into(),
                    });
                    return self.full(provider).await;
                }
                Some(Err(error)) => return Err(error.into()),
            };
            self.stop.check()?;
            seen.extend(page.changes.iter().map(|c| c.external_id().to_owned()));
            let changed = writer::apply_changes(
                self.writes,
                provider.id,
                page.changes,
                &mut skus,
                now,
                self.observer,
            )
            .await?;
            self.count(changed, 1);
            self.progress.users_seen = seen.len() as i64;
            next_round = page.next_round.or(next_round);
            self.save().await?;
        }
        // The changes are stored: move the link on before anything else can fail, so that a
        // later failure never replays them.
        let mut row = provider.clone().into_active_model();
        if let Some(link) = next_round {
            row.delta_link = Set(Some(link));
            row.delta_link_obtained_at = Set(Some(now));
        }
        let provider = row.update(self.db).await?;
        let refresh_due = provider
            .sign_in_refreshed_at
            .is_none_or(|at| now - at > self.settings.sign_in_refresh_interval);
        if refresh_due {
            self.refresh_sign_ins_or_warn(&provider, now).await?;
        }
        writer::snapshot_skus(self.writes, provider.id, now.date_naive()).await?;
        Ok(())
    }

    /// Sign-in dates are optional: when the provider refuses or fails them, the run still succeeds,
    /// keeps the dates it had, and says why in a warning.
    async fn refresh_sign_ins_or_warn(
        &mut self,
        provider: &providers::Model,
        now: DateTime<Utc>,
    ) -> Result<(), Halt> {
        let mut row = provider.clone().into_active_model();
        match self.refresh_sign_ins(provider.id, now).await {
            Ok(()) => {
                row.sign_in_refreshed_at = Set(Some(now));
                row.sign_in_data_status = Set(Some(SIGN_IN_AVAILABLE.into()));
            }
            Err(Halt::Provider(error)) => match error.kind {
                ProviderErrorKind::SignInUnavailable(gap) => {
                    self.progress.warnings.push(sign_in_warning(&error));
                    row.sign_in_data_status = Set(Some(gap.as_str().into()));
                }
                _ => self.progress.warnings.push(Notice {
                    code: error.code.into(),
                    message: format!("sign-in dates were not refreshed: {}", error.message),
                    hint: format!(
                        "the next sync tries again; the dates already stored are kept. {}",
                        error.hint
                    ),
                }),
            },
            Err(other) => return Err(other),
        }
        row.update(self.db).await?;
        Ok(())
    }

    async fn refresh_sign_ins(&mut self, provider_id: i64, now: DateTime<Utc>) -> Result<(), Halt> {
        let mut pages = self.provider.sign_ins();
        while let Some(page) = self.stop.next(&mut pages).await? {
            writer::write_sign_ins(self.writes, provider_id, page?, now).await?;
            self.progress.pages_fetched += 1;
            self.save().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(external_id: &str) -> UserRecord {
        UserRecord {
            external_id: external_id.into(),
            user_principal_name: format!("{external_id}@contoso.com"),
            mail: None,
            display_name: None,
            account_enabled: true,
            user_type: None,
            created_at: None,
            sign_in: None,
            licenses: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_user_is_known_to_be_in_flight_until_its_write_ends() {
        // Not connected: each write ends at once, with an error, which is all this needs.
        let db = DatabaseConnection::default();
        let skus = Arc::new(SkuIndex::empty(1));
        let mut writes = PageWrites::new(&db, 2, Observer::default());
        writes.start(1, vec![user("a"), user("b")], 1, skus.clone(), Utc::now());
        assert!(writes.has_room());
        assert!(writes.overlaps(&[user("c"), user("b")]));
        assert!(!writes.overlaps(&[user("c")]));
        writes.start(1, vec![user("c")], 1, skus, Utc::now());
        assert!(!writes.has_room());

        let mut ended = Vec::new();
        while let Some(written) = writes.next().await {
            assert!(written.result.is_err(), "no database here");
            ended.extend(written.users);
        }
        ended.sort();
        assert_eq!(ended, ["a", "b", "c"]);
        assert!(writes.is_empty() && writes.has_room());
        assert!(!writes.overlaps(&[user("a"), user("b"), user("c")]));
    }
}
