//! The change log's figures (issue 26): a resync of the unchanged tenant writes no event,
//! `licenseEvents` read under load over a log seeded to a given size, and Q1 read while a full
//! sync writes.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use crate::api::{Api, SyncRun};
use crate::cli::{Engine, Params};
use crate::database::BenchDatabase;
use crate::load::{self, Pace};
use crate::queries::{self, ReadQuery};
use crate::scenarios::{ReadLevel, Stack};

const EVENT_FIELDS: &str = "nodes { id kind observedAt userPrincipalName skuDisplayName }";

/// What the change log holds now, read from the database itself: the API pages it, and a
/// figure of "rows written" must not depend on the code it checks.
pub async fn count_events(database: &BenchDatabase) -> anyhow::Result<i64> {
    database
        .scalar("SELECT COUNT(*) FROM license_events")
        .await
        .context("cannot count license_events")
}

/// A second full sync of the tenant nothing changed in since the last sync.
#[derive(Debug, Serialize)]
pub struct Resync {
    pub run: SyncRun,
    pub events_written: i64,
}

pub async fn resync(
    stack: &Stack,
    provider: &str,
    database: &BenchDatabase,
) -> anyhow::Result<Resync> {
    let before = count_events(database).await?;
    let run = stack.api.sync(provider, "FULL").await?;
    Ok(Resync {
        run,
        events_written: count_events(database).await? - before,
    })
}

/// The log's size the reads of `licenseEvents` ran over.
#[derive(Debug, Serialize)]
pub struct SeededLog {
    pub seeded: i64,
    pub total: i64,
    pub seed_secs: f64,
}

/// Inserts `rows` license events in one statement, spread over the synced users and SKUs and one
/// second apart going back from now, then has the engine gather statistics on them as it would
/// after such a load. Users and SKUs are addressed as `min(id) + n % count`: a fresh database's
/// ids have no gaps, and a gap would only show as fewer rows than asked, which is checked.
pub async fn seed_events(
    database: &BenchDatabase,
    engine: Engine,
    rows: usize,
) -> anyhow::Result<SeededLog> {
    let started = Instant::now();
    let before = count_events(database).await?;
    let users = database
        .scalar("SELECT COUNT(*) FROM directory_users")
        .await?;
    let first_user = database
        .scalar("SELECT MIN(id) FROM directory_users")
        .await?;
    let skus = database.scalar("SELECT COUNT(*) FROM license_skus").await?;
    let first_sku = database.scalar("SELECT MIN(id) FROM license_skus").await?;
    anyhow::ensure!(users > 0 && skus > 0, "nothing synced to seed events for");
    let last = rows.saturating_sub(1);
    // The series and the timestamps are the only parts the engines spell differently; SQLite
    // stores a timestamp as the text sqlx writes (RFC 3339), so the seeded rows sort with the
    // server's own.
    let (series, from, observed_at) = match engine {
        Engine::Postgres => (
            String::new(),
            format!("generate_series(0, {last}) AS g(n)"),
            "now() - g.n * interval '1 second'",
        ),
        Engine::Sqlite => (
            format!(
                "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {last}) "
            ),
            "g".to_owned(),
            "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-' || g.n || ' seconds')",
        ),
    };
    let insert = format!(
        "{series}INSERT INTO license_events (provider_id, user_id, license_sku_id, kind, observed_at) \
         SELECT u.provider_id, u.id, s.id, \
                CASE g.n % 2 WHEN 0 THEN 'LICENSE_ADDED' ELSE 'LICENSE_REMOVED' END, {observed_at} \
         FROM {from} \
         JOIN directory_users u ON u.id = {first_user} + g.n % {users} \
         JOIN license_skus s ON s.id = {first_sku} + g.n % {skus}"
    );
    database
        .execute(&[&insert, "ANALYZE"])
        .await
        .context("cannot seed license_events")?;
    let total = count_events(database).await?;
    Ok(SeededLog {
        seeded: total - before,
        total,
        seed_secs: started.elapsed().as_secs_f64(),
    })
}

/// `licenseEvents(first: 100)`, newest first, and the same for one user (the user of the
/// newest event), as a change-log page and a user's timeline ask for them.
pub async fn event_queries(api: &Api) -> anyhow::Result<Vec<ReadQuery>> {
    let latest = format!("query {{ licenseEvents(first: 100) {{ {EVENT_FIELDS} }} }}");
    if !api.query_fields().await?.contains("licenseEvents") {
        let unavailable = || Err(queries::NOT_AVAILABLE.to_owned());
        return Ok(vec![
            read_query("E1", unavailable()),
            read_query("E2", unavailable()),
        ]);
    }
    let page = api
        .run(
            "query { licenseEvents(first: 1) { nodes { userId } } }",
            json!({}),
        )
        .await?;
    let user = page["licenseEvents"]["nodes"][0]["userId"]
        .as_str()
        .context("licenseEvents returned no event to take a user from")?
        .to_owned();
    let by_user = format!(
        "query($u: ID!) {{ licenseEvents(first: 100, filter: {{ userId: $u }}) {{ {EVENT_FIELDS} }} }}"
    );
    Ok(vec![
        read_query("E1", Ok((latest, json!({})))),
        read_query("E2", Ok((by_user, json!({ "u": user })))),
    ])
}

fn read_query(name: &'static str, query: Result<(String, serde_json::Value), String>) -> ReadQuery {
    ReadQuery {
        name,
        description: match name {
            "E1" => "licenseEvents(first:100), newest first",
            _ => "licenseEvents(first:100) of one user",
        },
        query,
    }
}

/// Q1 at the highest concurrency, measured while a full sync of the tenant runs.
#[derive(Debug, Serialize)]
pub struct ReadsDuringSync {
    pub run: SyncRun,
    /// Graph latency during this sync: raised above the run's where the sync would otherwise
    /// end before the load does (a small `--quick` tenant).
    pub latency_ms: u64,
    /// The sync's status when the load ended: RUNNING, or the figure was not taken during it.
    pub status_after_load: String,
    pub level: ReadLevel,
}

/// Each load phase during the sync is this share of a read phase, so that both fit in a full
/// sync of 100,000 users at 20 ms (about 5 s).
const PHASE_SHARE: f64 = 0.3;
/// The sync's paging bound must exceed the load by this factor, or Graph is slowed for it.
const SYNC_MARGIN: f64 = 1.25;

pub async fn reads_during_sync(
    stack: &Stack,
    provider: &str,
    full_sync_pages: u64,
    params: &Params,
) -> anyhow::Result<ReadsDuringSync> {
    let phase = params.read_phase.mul_f64(PHASE_SHARE);
    let clients = params.concurrency.iter().copied().max().unwrap_or(1);
    let needed_ms = (SYNC_MARGIN * 2.0 * phase.as_secs_f64() * 1000.0).ceil() as u64;
    let latency_ms = params
        .latency_ms
        .max(needed_ms.div_ceil(full_sync_pages.max(1)));
    if latency_ms != params.latency_ms {
        stack.control.set_latency(latency_ms).await?;
    }
    let measured = measure_during_sync(stack, provider, phase, clients, params).await;
    if latency_ms != params.latency_ms {
        stack.control.set_latency(params.latency_ms).await?;
    }
    let (run, status_after_load, level) = measured?;
    Ok(ReadsDuringSync {
        run,
        latency_ms,
        status_after_load,
        level,
    })
}

async fn measure_during_sync(
    stack: &Stack,
    provider: &str,
    phase: Duration,
    clients: usize,
    params: &Params,
) -> anyhow::Result<(SyncRun, String, ReadLevel)> {
    let api = &stack.api;
    let target = api.target(queries::Q1, json!({}))?;
    let sync = api.start_sync(provider, "FULL").await?;
    // Queued time is not a sync writing: the load starts once the run does.
    loop {
        let run = api.sync_run(&sync.id).await?;
        if run.status != "QUEUED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let capacity = load::run(&target, clients, Pace::Closed, phase).await;
    let offered = capacity.requests_per_sec() * params.rate_fraction;
    let latency = load::run(&target, clients, Pace::Open { rate: offered }, phase).await;
    let status_after_load = api.sync_run(&sync.id).await?.status;
    let run = api.finish_sync(&sync).await?;
    let level = ReadLevel::from_phases(clients, capacity, latency, offered, None);
    Ok((run, status_after_load, level))
}
