//! The scenarios, run on one engine: a full sync against the fetch-only floor, an incremental
//! sync after 1% of users changed, then Q1–Q4 at each concurrency on the synced database, and
//! the cost of checking each kind of token.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use license_manager::auth::{MaxTokenLifetime, Role};
use secrecy::SecretString;
use serde::Serialize;

use crate::api::{Api, SyncRun};
use crate::cli::{Engine, Params, Scenario};
use crate::costs::{self, CostResult};
use crate::database::{BenchDatabase, DataDir};
use crate::floor;
use crate::history::{self, ReadsDuringSync, Resync, SeededLog};
use crate::load::{self, Pace, Target};
use crate::peer;
use crate::processes::{self, Binaries, Memory, Process, ServerConfig, SimInfo};
use crate::queries;
use crate::reclaim::{self, ReclaimResult};
use crate::sim::SimControl;
use crate::tokens::{self, TokenValidation};

#[derive(Debug, Default, Serialize)]
pub struct EngineResult {
    pub engine: Option<Engine>,
    /// Why the engine was not measured (e.g. PostgreSQL unreachable).
    pub skipped: Option<String>,
    pub full: Option<FullSync>,
    pub incremental: Option<Incremental>,
    pub reads: Vec<ReadResult>,
    pub tokens: Option<TokenValidation>,
    /// Q1 on PostGraphile, against the same database (PostgreSQL only).
    pub peer: Option<PeerResult>,
    /// Reclaim plans executed, one per parallelism.
    pub reclaim: Option<ReclaimResult>,
    /// A full sync of the unchanged tenant, after the incremental one.
    pub resync: Option<Resync>,
    /// The change log the reads of `licenseEvents` (E1, E2) ran over.
    pub event_log: Option<SeededLog>,
    /// Q1 measured while a full sync runs.
    pub during_sync: Option<ReadsDuringSync>,
    /// Instructions and allocations per unit of work, counted by callgrind.
    pub costs: Option<CostResult>,
    /// Everything that went wrong; any entry makes `--quick` fail.
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FullSync {
    pub run: SyncRun,
    pub latency_ms: u64,
    /// pages × latency.
    pub paging_bound_secs: f64,
    pub floor_secs: f64,
    pub floor_pages: u64,
    pub floor_users: u64,
    /// Graph requests (token endpoint included) the simulator served during the sync.
    pub graph_requests: u64,
    pub peak_rss_bytes: Option<u64>,
    pub sql_statements: Option<f64>,
    pub database_bytes: u64,
    /// Rows the sync added to the change log: the first full sync is its baseline.
    pub events_written: i64,
}

impl FullSync {
    pub fn ratio_to_floor(&self) -> f64 {
        self.run.wall_secs / self.floor_secs
    }

    /// The scale issue 7's ratio target is set at: 100,000 users, 20 ms per Graph request.
    pub fn at_target_scale(&self) -> bool {
        self.run.users_seen >= 100_000 && self.latency_ms == 20
    }

    pub fn rows_per_sec(&self) -> f64 {
        self.run.users_seen as f64 / self.run.wall_secs
    }

    pub fn statements_per_page(&self) -> Option<f64> {
        Some(self.sql_statements? / self.run.pages_fetched.max(1) as f64)
    }
}

#[derive(Debug, Serialize)]
pub struct Incremental {
    pub run: SyncRun,
    pub users_changed: usize,
    /// Of the users changed, those also disabled: each is one change-log event.
    pub users_disabled: usize,
    pub events_written: i64,
    pub paging_bound_secs: f64,
    pub graph_requests: u64,
}

impl Incremental {
    pub fn ratio_to_bound(&self) -> f64 {
        self.run.wall_secs / self.paging_bound_secs
    }

    /// Issue 7's target: 1.5 × the bound + 1 s.
    pub fn target_secs(&self) -> f64 {
        1.5 * self.paging_bound_secs + 1.0
    }
}

#[derive(Debug, Serialize)]
pub struct ReadResult {
    pub query: &'static str,
    pub description: &'static str,
    /// Why it was not measured ("not available on this build", …).
    pub unavailable: Option<String>,
    pub levels: Vec<ReadLevel>,
}

#[derive(Debug, Serialize)]
pub struct PeerResult {
    /// e.g. "PostGraphile 4.14.1".
    pub name: String,
    pub query: &'static str,
    /// Why it was not measured (no Node.js, no registry, …); never an error of the run.
    pub skipped: Option<String>,
    pub levels: Vec<ReadLevel>,
}

impl PeerResult {
    fn skipped(reason: String) -> Self {
        Self {
            name: "PostGraphile".to_owned(),
            query: peer::Q1,
            skipped: Some(reason),
            levels: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ReadLevel {
    pub clients: usize,
    /// Closed loop: what the server sustains at this concurrency.
    pub capacity_rps: f64,
    /// Open loop: the offered rate, what was served, and latency from the due time.
    pub offered_rps: f64,
    pub achieved_rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub requests: u64,
    pub failed: u64,
    pub graphql_errors: u64,
    pub first_error: Option<String>,
    pub statements_per_request: Option<f64>,
}

/// Runs every scenario on `engine`; each database is dropped whatever happens.
pub async fn run_engine(
    engine: Engine,
    params: &Params,
    binaries: &Binaries,
    postgres_url: &str,
    logs: &Path,
) -> anyhow::Result<EngineResult> {
    let mut result = if params.runs_main_tenant() {
        let data_dir = DataDir::create(engine, "")?;
        let database = BenchDatabase::create(engine, "", data_dir.path(), postgres_url).await?;
        let result = measure(engine, params, binaries, &database, data_dir.path(), logs).await;
        database.discard().await;
        result?
    } else {
        EngineResult {
            engine: Some(engine),
            ..Default::default()
        }
    };
    if params.runs(Scenario::Reclaim) {
        let measured = reclaim::measure(engine, params, binaries, postgres_url, logs).await;
        result.errors.extend(measured.errors());
        result.reclaim = Some(measured);
    }
    if params.runs(Scenario::Costs) {
        let measured = costs::measure(engine, params, binaries, postgres_url, logs).await;
        result.errors.extend(measured.errors.iter().cloned());
        result.costs = Some(measured);
    }
    Ok(result)
}

/// What a stack runs beside the run's parameters.
pub struct StackSpec {
    /// Users of the simulated tenant.
    pub users: usize,
    /// Application permissions the app holds beyond graph-sim's default reads.
    pub grants: &'static [&'static str],
    /// Further settings of the server.
    pub server_env: Vec<(&'static str, String)>,
    /// Names its logs: `graph-sim-<tag>.log`, `server-<tag>.log`.
    pub tag: String,
    /// Graph's latency for this tenant (the run's, or none for the cost pass).
    pub latency_ms: u64,
    /// What the server runs under; see [`ServerConfig::launcher`].
    pub server_launcher: Vec<String>,
}

/// The processes of one engine's run; killed when dropped.
pub struct Stack {
    sim_process: Process,
    pub server: Process,
    pub sim: SimInfo,
    pub control: SimControl,
    pub api: Api,
}

impl Stack {
    pub async fn start(
        params: &Params,
        binaries: &Binaries,
        database: &BenchDatabase,
        data_dir: &Path,
        logs: &Path,
        spec: &StackSpec,
    ) -> anyhow::Result<Self> {
        let (sim_process, sim) = processes::start_sim(
            &binaries.sim,
            spec.users,
            params.seed,
            spec.latency_ms,
            spec.grants,
            &logs.join(format!("graph-sim-{}.log", spec.tag)),
        )
        .await?;
        // A fresh key per run; the token is signed in-process with the server's own code.
        let jwt_secret = format!("bench-{}-{}", std::process::id(), random_suffix());
        let (server, addr) = processes::start_server(
            &binaries.server,
            &ServerConfig {
                database_url: &database.url,
                data_dir,
                graph_url: &sim.base_url,
                oidc_issuer: &sim.issuer,
                oidc_audience: &sim.api_client_id,
                jwt_secret: &jwt_secret,
                log_filter: &params.server_log,
                log: &logs.join(format!("server-{}.log", spec.tag)),
                env: &spec.server_env,
                launcher: &spec.server_launcher,
            },
        )
        .await?;
        let (keys, _) = license_manager::app::load_jwt_keys(
            Some(&SecretString::from(jwt_secret)),
            MaxTokenLifetime::DEFAULT,
            data_dir,
        )
        .context("cannot load the signing key")?;
        let token = keys
            .issue("bench", Role::Admin, Duration::from_secs(24 * 3600))
            .context("cannot sign the admin token")?;
        Ok(Self {
            control: SimControl::new(&sim.base_url)?,
            api: Api::new(&addr, token)?,
            sim_process,
            server,
            sim,
        })
    }

    pub async fn stop(self) {
        self.server.stop().await;
        self.sim_process.stop().await;
    }

    /// Runs `work` on the stack, then stops it; an exit of the server during `work` is an
    /// error, whatever `work` returned.
    pub async fn run_then_stop<T>(
        mut self,
        work: impl AsyncFnOnce(&Stack) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let done = work(&self).await;
        self.server.ensure_running()?;
        self.stop().await;
        done
    }
}

/// 32 hex digits from the OS clock and pid: enough to make the signing key unguessable for a
/// local benchmark, without another dependency.
fn random_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:032x}")
}

async fn measure(
    engine: Engine,
    params: &Params,
    binaries: &Binaries,
    database: &BenchDatabase,
    data_dir: &Path,
    logs: &Path,
) -> anyhow::Result<EngineResult> {
    let spec = StackSpec {
        users: params.users,
        grants: &[],
        server_env: Vec::new(),
        tag: engine.name().to_owned(),
        latency_ms: params.latency_ms,
        server_launcher: Vec::new(),
    };
    let mut stack = Stack::start(params, binaries, database, data_dir, logs, &spec).await?;
    let mut result = EngineResult {
        engine: Some(engine),
        ..Default::default()
    };
    if params.runs(Scenario::Syncs) {
        syncs_and_reads(&mut stack, &mut result, params, database).await?;
    }
    if params.runs(Scenario::Peer) && engine == Engine::Postgres {
        eprintln!("bench[{}]: PostGraphile", engine.name());
        let measured = measure_peer(&stack.api, params, database, &binaries.cache, logs).await;
        let measured = measured.unwrap_or_else(|e| {
            result.errors.push(format!("PostGraphile: {e:#}"));
            PeerResult::skipped(format!("failed: {e:#}"))
        });
        result
            .errors
            .extend(level_errors(&measured.name, &measured.levels));
        result.peer = Some(measured);
        stack.server.ensure_running()?;
    }
    if params.runs(Scenario::Tokens) {
        eprintln!("bench[{}]: token validation", engine.name());
        let measured = tokens::measure(&stack.api, &stack.control, params).await?;
        result.errors.extend(measured.errors());
        result.tokens = Some(measured);
        stack.server.ensure_running()?;
    }
    stack.stop().await;
    Ok(result)
}

/// The syncs, then the reads (when asked for) on what they wrote.
async fn syncs_and_reads(
    stack: &mut Stack,
    result: &mut EngineResult,
    params: &Params,
    database: &BenchDatabase,
) -> anyhow::Result<()> {
    let engine = result.engine.map_or("?", Engine::name);
    eprintln!("bench[{engine}]: fetch-only floor");
    let floor = floor::measure(&stack.sim).await?;
    let provider = stack.api.create_provider(&stack.sim).await?;

    eprintln!("bench[{engine}]: full sync of {} users", params.users);
    let full = full_sync(stack, &provider, &floor, params, database).await?;
    check_run(result, "full sync", &full.run);
    if full.run.users_seen != full.floor_users {
        result.errors.push(format!(
            "the full sync saw {} users, the fetch-only listing {}",
            full.run.users_seen, full.floor_users
        ));
    }
    result.full = Some(full);
    stack.server.ensure_running()?;

    eprintln!("bench[{engine}]: incremental sync");
    let incremental = incremental_sync(stack, &provider, &floor.user_ids, params, database).await?;
    check_run(result, "incremental sync", &incremental.run);
    if incremental.events_written != incremental.users_disabled as i64 {
        result.errors.push(format!(
            "the incremental sync wrote {} change-log events for {} users disabled",
            incremental.events_written, incremental.users_disabled
        ));
    }
    result.incremental = Some(incremental);
    stack.server.ensure_running()?;

    if params.runs(Scenario::History) {
        eprintln!("bench[{engine}]: full sync of the unchanged tenant");
        let resync = history::resync(stack, &provider, database).await?;
        check_run(result, "resync", &resync.run);
        if resync.events_written != 0 {
            result.errors.push(format!(
                "the full sync of the unchanged tenant wrote {} change-log events",
                resync.events_written
            ));
        }
        result.resync = Some(resync);
        stack.server.ensure_running()?;
    }

    let wanted = read_queries(params, result.engine);
    let prepared = if wanted.is_empty() {
        Vec::new()
    } else {
        queries::prepare(&stack.api, params.users).await?
    };
    for query in prepared
        .into_iter()
        .filter(|query| wanted.contains(&query.name))
    {
        eprintln!("bench[{engine}]: reads {}", query.name);
        let read = reads(&stack.api, query, params).await?;
        result.errors.extend(level_errors(read.query, &read.levels));
        result.reads.push(read);
        stack.server.ensure_running()?;
    }

    if params.runs(Scenario::ReadsDuringSync) {
        eprintln!("bench[{engine}]: Q1 during a full sync");
        let pages = result.full.as_ref().map_or(1, |f| f.run.pages_fetched);
        let during = history::reads_during_sync(stack, &provider, pages, params).await?;
        check_run(result, "full sync under reads", &during.run);
        if during.status_after_load != "RUNNING" {
            result.errors.push(format!(
                "the full sync was {} when the reads ended: Q1 was not measured during a sync",
                during.status_after_load
            ));
        }
        result.errors.extend(level_errors(
            "Q1 during a sync",
            std::slice::from_ref(&during.level),
        ));
        result.during_sync = Some(during);
        stack.server.ensure_running()?;
    }

    if params.runs(Scenario::History) {
        eprintln!(
            "bench[{engine}]: seeding {} change-log events",
            params.events
        );
        let engine_kind = result.engine.unwrap_or(Engine::Sqlite);
        let log = history::seed_events(database, engine_kind, params.events).await?;
        if log.seeded != params.events as i64 {
            result.errors.push(format!(
                "seeded {} change-log events of {}",
                log.seeded, params.events
            ));
        }
        result.event_log = Some(log);
        for query in history::event_queries(&stack.api).await? {
            eprintln!("bench[{engine}]: reads {}", query.name);
            let read = reads(&stack.api, query, params).await?;
            result.errors.extend(level_errors(read.query, &read.levels));
            result.reads.push(read);
            stack.server.ensure_running()?;
        }
    }
    Ok(())
}

/// The reads asked for, and Q1 wherever PostGraphile is measured: its figures are a ratio to ours.
fn read_queries(params: &Params, engine: Option<Engine>) -> Vec<&str> {
    let mut wanted: Vec<&str> = if params.runs(Scenario::Reads) {
        params.queries.iter().map(String::as_str).collect()
    } else {
        Vec::new()
    };
    if params.runs(Scenario::Peer) && engine == Some(Engine::Postgres) && !wanted.contains(&"Q1") {
        wanted.insert(0, "Q1");
    }
    wanted
}

/// PostGraphile on the synced database: installed (or skipped with the reason), started,
/// checked against our own Q1 answer, measured like our reads, stopped.
async fn measure_peer(
    api: &Api,
    params: &Params,
    database: &BenchDatabase,
    cache: &Path,
    logs: &Path,
) -> anyhow::Result<PeerResult> {
    let installed = match peer::install(cache, logs).await {
        Ok(installed) => installed,
        Err(reason) => {
            eprintln!("bench: PostGraphile skipped: {reason}");
            return Ok(PeerResult::skipped(reason));
        }
    };
    let ours = api
        .run(queries::Q1, serde_json::json!({}))
        .await
        .context("our Q1, to check PostGraphile's answer against")?;
    let log = logs.join("postgraphile-postgres.log");
    let mut server = peer::start(&installed, &database.url, api.http(), &log).await?;
    server.verify(api.http(), &ours).await?;
    let levels = measure_levels(&server.target(api.http())?, params, None).await;
    server.process.ensure_running()?;
    server.process.stop().await;
    Ok(PeerResult {
        name: format!("PostGraphile {}", installed.version),
        query: peer::Q1,
        skipped: None,
        levels,
    })
}

fn level_errors<'a>(what: &'a str, levels: &'a [ReadLevel]) -> impl Iterator<Item = String> + 'a {
    levels.iter().filter_map(move |level| {
        level.first_error.as_ref().map(|error| {
            format!(
                "{what} at {} clients: {} failed, {} GraphQL errors; first: {error}",
                level.clients, level.failed, level.graphql_errors
            )
        })
    })
}

fn check_run(result: &mut EngineResult, what: &str, run: &SyncRun) {
    if !run.succeeded() {
        result.errors.push(format!(
            "{what} ended {}: {}",
            run.status,
            run.error.clone().unwrap_or_default()
        ));
    }
}

async fn full_sync(
    stack: &Stack,
    provider: &str,
    floor: &floor::Floor,
    params: &Params,
    database: &BenchDatabase,
) -> anyhow::Result<FullSync> {
    let memory = Memory::of(&stack.server);
    let peak_reset = memory.reset_peak();
    let statements_before = stack.api.sql_statements().await;
    let events_before = history::count_events(database).await?;
    stack.control.reset_stats().await?;
    let run = stack.api.sync(provider, "FULL").await?;
    // Without a reset the peak would include start-up: still an upper bound, so keep it.
    let peak_rss_bytes = memory.peak().ok();
    if !peak_reset {
        eprintln!("bench: cannot reset the server's VmHWM; its peak includes start-up");
    }
    let graph_requests = stack.control.requests().await?;
    let statements_after = stack.api.sql_statements().await;
    Ok(FullSync {
        paging_bound_secs: run.pages_fetched as f64 * params.latency_ms as f64 / 1000.0,
        latency_ms: params.latency_ms,
        floor_secs: floor.secs,
        floor_pages: floor.pages,
        floor_users: floor.users,
        graph_requests,
        peak_rss_bytes,
        sql_statements: statements_after
            .zip(statements_before)
            .map(|(after, before)| after - before),
        database_bytes: database.size().await?,
        events_written: history::count_events(database).await? - events_before,
        run,
    })
}

async fn incremental_sync(
    stack: &Stack,
    provider: &str,
    user_ids: &[String],
    params: &Params,
    database: &BenchDatabase,
) -> anyhow::Result<Incremental> {
    let (changed, disabled) = change_users(&stack.control, user_ids, params).await?;
    let events_before = history::count_events(database).await?;
    stack.control.reset_stats().await?;
    let run = stack.api.sync(provider, "DELTA").await?;
    Ok(Incremental {
        users_disabled: disabled.len(),
        events_written: history::count_events(database).await? - events_before,
        paging_bound_secs: run.pages_fetched.max(1) as f64 * params.latency_ms as f64 / 1000.0,
        graph_requests: stack.control.requests().await?,
        users_changed: changed.len(),
        run,
    })
}

/// Renames `change_fraction` of the users (every n-th, in listing order) and disables a tenth of
/// those whose account is enabled; returns the renamed and the disabled.
pub async fn change_users(
    control: &SimControl,
    user_ids: &[String],
    params: &Params,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let every = (1.0 / params.change_fraction).round() as usize;
    let changed: Vec<String> = user_ids.iter().step_by(every.max(1)).cloned().collect();
    control.rename_users(&changed).await?;
    // A rename is not a fact the change log keeps; disabling a tenth of the changed users gives
    // the sync changes it must record, one event each, without changing what it pages through.
    // Only enabled accounts count: the generated tenant has disabled ones already.
    let enabled = control.enabled_user_ids().await?;
    let disabled: Vec<String> = changed
        .iter()
        .filter(|id| enabled.contains(*id))
        .step_by(10)
        .cloned()
        .collect();
    control.disable_users(&disabled).await?;
    Ok((changed, disabled))
}

/// One query at each concurrency: warm-up, closed loop for capacity, then open loop at
/// `rate_fraction` of that capacity for latency.
async fn reads(
    api: &Api,
    query: queries::ReadQuery,
    params: &Params,
) -> anyhow::Result<ReadResult> {
    let mut result = ReadResult {
        query: query.name,
        description: query.description,
        unavailable: None,
        levels: Vec::new(),
    };
    let (text, variables) = match query.query {
        Ok(q) => q,
        Err(reason) => {
            result.unavailable = Some(reason);
            return Ok(result);
        }
    };
    let target = api.target(&text, variables)?;
    result.levels = measure_levels(&target, params, Some(api)).await;
    Ok(result)
}

/// One target at each concurrency: warm-up, closed loop for capacity, then open loop at
/// `rate_fraction` of that capacity for latency. SQL statements per request are counted where
/// `statements` (our server's metrics) is given.
async fn measure_levels(
    target: &Target,
    params: &Params,
    statements: Option<&Api>,
) -> Vec<ReadLevel> {
    let mut levels = Vec::new();
    for &clients in &params.concurrency {
        load::run(target, clients, Pace::Closed, params.warmup).await;
        let statements_before = sql_statements(statements).await;
        let capacity = load::run(target, clients, Pace::Closed, params.read_phase).await;
        let statements_after = sql_statements(statements).await;
        let offered = capacity.requests_per_sec() * params.rate_fraction;
        let latency = load::run(
            target,
            clients,
            Pace::Open { rate: offered },
            params.read_phase,
        )
        .await;
        // The metrics requests themselves run no statement worth counting per request.
        let statements = statements_after
            .zip(statements_before)
            .map(|(after, before)| (after - before) / capacity.requests.max(1) as f64);
        levels.push(ReadLevel::from_phases(
            clients, capacity, latency, offered, statements,
        ));
    }
    levels
}

impl ReadLevel {
    /// A closed-loop phase (capacity) and the open-loop phase at `offered` req/s after it.
    pub fn from_phases(
        clients: usize,
        capacity: load::Outcome,
        latency: load::Outcome,
        offered: f64,
        statements_per_request: Option<f64>,
    ) -> Self {
        Self {
            clients,
            capacity_rps: capacity.requests_per_sec(),
            offered_rps: offered,
            achieved_rps: latency.requests_per_sec(),
            p50_ms: latency.percentile_ms(0.50),
            p99_ms: latency.percentile_ms(0.99),
            max_ms: latency.percentile_ms(1.0),
            requests: capacity.requests + latency.requests,
            failed: capacity.failed + latency.failed,
            graphql_errors: capacity.graphql_errors + latency.graphql_errors,
            first_error: capacity.first_error.or(latency.first_error),
            statements_per_request,
        }
    }
}

async fn sql_statements(api: Option<&Api>) -> Option<f64> {
    api?.sql_statements().await
}
