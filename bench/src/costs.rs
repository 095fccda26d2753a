//! The cost pass: CPU instructions and allocations per unit of work — per full-sync user, per
//! user an incremental sync changed, per Q1–Q4 request — counted by callgrind in a server of its
//! own, on a fresh database and a tenant at no Graph latency. A count depends on the code and
//! the data, not on the host's speed or load, so a change of a few percent shows where a timing
//! drifting by a third hides it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use crate::api::{self, Api, SyncRun};
use crate::callgrind::{self, Callgrind, Count};
use crate::cli::{Engine, Params};
use crate::database::{BenchDatabase, DataDir};
use crate::floor;
use crate::load::{self, Target};
use crate::processes::Binaries;
use crate::queries;
use crate::scenarios::{self, Stack, StackSpec};

/// Requests sent before each counted read, uncounted, at most: the first ones fill caches
/// (prepared statements, the pool's connections) that every later request finds filled. No more
/// than are counted, so that `--quick` stays quick.
const WARM_UP: usize = 5;
/// How often a sync's status is polled while it is counted. Each poll is a request the server
/// serves, counted with the sync and taken out after (its own cost is measured): polling
/// rarely keeps what is taken out small; the slower host polls more.
const SYNC_POLL: Duration = Duration::from_secs(1);
/// How long the server is counted doing nothing: three of its 2-second polls for queued runs.
const IDLE_SPAN: Duration = Duration::from_secs(6);
/// The server serves a built license report for up to this long (`report_cache::MAX_AGE`): a
/// counted window longer than that counts a rebuild of the report (Q4), which a shorter
/// window on a quicker host does not.
pub const REPORT_MAX_AGE_SECS: f64 = 60.0;
/// Growth of a cost, since the previous results of the same parameters, that is flagged.
pub const GROWTH_LIMIT: f64 = 0.05;
/// The server's limits on one request's time, raised because callgrind slows it 50–100 times;
/// no cost depends on them.
const SLOW_SERVER_ENV: [(&str, &str); 3] = [
    ("LM_REQUEST_TIMEOUT", "10m"),
    ("LM_HEADER_READ_TIMEOUT", "20m"),
    // An idle connection closed between two counted requests would make the next one pay for
    // a new connection, on a slow host only.
    ("LM_KEEP_ALIVE_TIMEOUT", "10m"),
];

#[derive(Debug, Default, Serialize)]
pub struct CostResult {
    /// Users of the tenant synced.
    pub users: usize,
    /// Requests of each read counted.
    pub requests: usize,
    /// The cargo profile of the server: a debug build's counts are not a release build's.
    pub profile: String,
    pub valgrind: Option<String>,
    /// Why the pass did not run (no valgrind); never an error of the run.
    pub skipped: Option<String>,
    /// Why PostgreSQL's backends, which run much of a request's work in their own processes,
    /// are not counted (PostgreSQL only).
    pub backends: Option<String>,
    /// Instructions per second of the server doing nothing but its timers (polls for queued
    /// runs, lease renewals): counted into every window in proportion to its length, so this is
    /// the part of a cost that a slower host inflates.
    pub idle_instructions_per_sec: Option<f64>,
    pub costs: Vec<Cost>,
    pub errors: Vec<String>,
}

impl CostResult {
    /// The largest share of a cost that the idle server's timers make up (their rate times the
    /// window's length, over the window's count), and which cost it is.
    pub fn largest_timer_share(&self) -> Option<(f64, &str)> {
        let rate = self.idle_instructions_per_sec?;
        self.costs
            .iter()
            .map(|cost| {
                let counted = cost.instructions * cost.units.max(1) as f64;
                (rate * cost.window_secs / counted, cost.name.as_str())
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// The costs that grew more than [`GROWTH_LIMIT`] since the previous results, described.
    pub fn regressions(&self) -> impl Iterator<Item = String> + '_ {
        self.costs.iter().flat_map(|cost| {
            cost.growth()
                .into_iter()
                .flat_map(|growth| [("instructions", growth.0), ("allocations", growth.1)])
                .filter(|(_, growth)| *growth > GROWTH_LIMIT)
                .map(|(what, growth)| format!("{} {what} {:+.1} %", cost.name, growth * 100.0))
        })
    }
}

/// One unit of work's cost, and the same cost in the previous results.
#[derive(Debug, Serialize)]
pub struct Cost {
    /// `full sync`, `incremental sync`, `Q1`…: the name results are compared by.
    pub name: String,
    /// What one unit is: `user`, `user changed`, `request`.
    pub unit: &'static str,
    /// Units in the counted window.
    pub units: u64,
    pub instructions: f64,
    /// Calls into the allocator (malloc, calloc, realloc and jemalloc's own entry points).
    pub allocations: f64,
    /// Polls of the sync's status during the window, taken out at their measured cost.
    pub polls: Option<u64>,
    /// How long the counted window lasted under callgrind: times the idle rate, the share of
    /// the server's timers in the count.
    pub window_secs: f64,
    /// The window's callgrind profile, for `callgrind_annotate`.
    pub profile: PathBuf,
    pub previous: Option<PreviousCost>,
}

impl Cost {
    fn per_unit(
        name: &str,
        unit: &'static str,
        units: u64,
        count: Count,
        profile: PathBuf,
    ) -> Self {
        let units_f = units.max(1) as f64;
        Self {
            name: name.to_owned(),
            unit,
            units,
            instructions: count.instructions as f64 / units_f,
            allocations: count.allocations as f64 / units_f,
            polls: None,
            window_secs: count.secs,
            profile,
            previous: None,
        }
    }

    /// Growth of instructions and allocations since the previous results (0.05 = 5 % more).
    pub fn growth(&self) -> Option<(f64, f64)> {
        let previous = self.previous.as_ref()?;
        Some((
            growth(self.instructions, previous.instructions),
            growth(self.allocations, previous.allocations),
        ))
    }
}

fn growth(now: f64, before: f64) -> f64 {
    match (now, before) {
        (now, before) if before > 0.0 => now / before - 1.0,
        (now, _) if now > 0.0 => f64::INFINITY,
        _ => 0.0,
    }
}

/// The same cost as an earlier run measured it.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousCost {
    pub instructions: f64,
    pub allocations: f64,
    /// Which results: their file, time and commit.
    pub file: String,
    pub generated_at: String,
    pub commit: String,
}

pub async fn measure(
    engine: Engine,
    params: &Params,
    binaries: &Binaries,
    postgres_url: &str,
    logs: &Path,
) -> CostResult {
    let mut result = CostResult {
        users: params.cost_users,
        requests: params.cost_requests,
        profile: binaries.profile.clone(),
        backends: (engine == Engine::Postgres).then(|| BACKENDS_NOT_COUNTED.to_owned()),
        ..Default::default()
    };
    match callgrind::available().await {
        Ok(version) => result.valgrind = Some(version),
        Err(reason) => {
            eprintln!("bench: cost pass skipped: {reason}");
            result.skipped = Some(reason);
            return result;
        }
    }
    eprintln!(
        "bench[{}]: costs under callgrind, {} users",
        engine.name(),
        params.cost_users
    );
    if let Err(e) = measure_on(engine, params, binaries, postgres_url, logs, &mut result).await {
        result.errors.push(format!("cost pass: {e:#}"));
    }
    result
}

/// Why the backends are not in the figures: under callgrind they would be forked children of
/// the postmaster, which callgrind_control can neither switch on nor dump (bench/README.md).
const BACKENDS_NOT_COUNTED: &str = "not under callgrind: see bench/README.md";

async fn measure_on(
    engine: Engine,
    params: &Params,
    binaries: &Binaries,
    postgres_url: &str,
    logs: &Path,
    result: &mut CostResult,
) -> anyhow::Result<()> {
    let tag = "_costs";
    let out = logs.join(format!("callgrind-{}.out", engine.name()));
    // The profiles an earlier run kept, and dumps it left, would pass for this run's.
    remove_files_starting(&logs.join(format!("callgrind-{}", engine.name())));
    let data_dir = DataDir::create(engine, tag)?;
    let database = BenchDatabase::create(engine, tag, data_dir.path(), postgres_url).await?;
    let spec = StackSpec {
        users: params.cost_users,
        grants: &[],
        server_env: SLOW_SERVER_ENV
            .iter()
            .map(|(key, value)| (*key, (*value).to_owned()))
            .collect(),
        tag: format!("{}-costs", engine.name()),
        latency_ms: 0,
        server_launcher: callgrind::launcher(&out),
    };
    let measured = async {
        Stack::start(params, binaries, &database, data_dir.path(), logs, &spec)
            .await?
            .run_then_stop(async |stack| {
                let mut counter = Counter {
                    callgrind: Callgrind::new(stack.server.pid(), out.clone()),
                    logs,
                    engine,
                    poll: None,
                };
                count_all(stack, &mut counter, params, result).await
            })
            .await
    }
    .await;
    database.discard().await;
    // A killed server leaves its final dump empty; the windows' dumps were kept under names
    // of their own.
    remove_files_starting(&out);
    measured
}

/// Removes the files of `prefix`'s folder whose names start with its file name.
fn remove_files_starting(prefix: &Path) {
    let (Some(dir), Some(name)) = (prefix.parent(), prefix.file_name()) else {
        return;
    };
    let name = name.to_string_lossy();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(name.as_ref())
        {
            std::fs::remove_file(entry.path()).ok();
        }
    }
}

/// The server under callgrind, and where each window's profile is kept.
struct Counter<'a> {
    callgrind: Callgrind,
    logs: &'a Path,
    engine: Engine,
    /// What one poll of a sync's status costs, once measured.
    poll: Option<Cost>,
}

impl Counter<'_> {
    fn profile(&self, name: &str) -> PathBuf {
        let slug = name.replace(' ', "-");
        self.logs
            .join(format!("callgrind-{}-{slug}.out", self.engine.name()))
    }

    async fn idle(&mut self) -> anyhow::Result<f64> {
        let profile = self.profile("idle");
        let ((), count) = self
            .callgrind
            .count(&profile, async {
                tokio::time::sleep(IDLE_SPAN).await;
                Ok(())
            })
            .await?;
        Ok(count.instructions as f64 / IDLE_SPAN.as_secs_f64())
    }

    /// `target` sent `requests` times, one after the other, counted after a warm-up.
    async fn per_request(
        &mut self,
        name: &str,
        target: &Target,
        requests: usize,
    ) -> anyhow::Result<Cost> {
        let warm = load::sequential(target, WARM_UP.min(requests)).await;
        answered(name, &warm)?;
        let profile = self.profile(name);
        let (outcome, count) = self
            .callgrind
            .count(&profile, async {
                Ok(load::sequential(target, requests).await)
            })
            .await?;
        answered(name, &outcome)?;
        Ok(Cost::per_unit(
            name,
            "request",
            requests as u64,
            count,
            profile,
        ))
    }

    /// A sync of `mode`, counted from its startSync request to the poll that sees it ended; the
    /// polls are taken out at what one costs, measured on the first finished run (a poll of any
    /// finished run asks for the same fields).
    async fn sync(
        &mut self,
        api: &Api,
        provider: &str,
        mode: &str,
        name: &str,
        requests: usize,
    ) -> anyhow::Result<(SyncRun, Count, u64)> {
        let (run, count) = self
            .callgrind
            .count(&self.profile(name), async {
                let started = api.start_sync(provider, mode).await?;
                api.finish_sync_every(&started, SYNC_POLL).await
            })
            .await?;
        let (run, polls) = run;
        if !run.succeeded() {
            bail!("the {name} ended {}: {:?}", run.status, run.error);
        }
        let poll = match self.poll.take() {
            Some(poll) => poll,
            None => {
                let poll = api.target(api::SYNC_RUN, json!({ "id": run.id }))?;
                self.per_request("sync poll", &poll, requests).await?
            }
        };
        let taken_out = |total: u64, per_poll: f64| {
            total.saturating_sub((per_poll * polls as f64).round() as u64)
        };
        let count = Count {
            instructions: taken_out(count.instructions, poll.instructions),
            allocations: taken_out(count.allocations, poll.allocations),
            ..count
        };
        self.poll = Some(poll);
        Ok((run, count, polls))
    }
}

fn answered(name: &str, outcome: &load::Outcome) -> anyhow::Result<()> {
    match &outcome.first_error {
        Some(error) => bail!(
            "{name}: {} failed, {} GraphQL errors; first: {error}",
            outcome.failed,
            outcome.graphql_errors
        ),
        None => Ok(()),
    }
}

/// The full sync, the incremental one, then each read the build serves.
async fn count_all(
    stack: &Stack,
    counter: &mut Counter<'_>,
    params: &Params,
    result: &mut CostResult,
) -> anyhow::Result<()> {
    let api = &stack.api;
    // The listing order picks the users the incremental sync changes, as in the timed scenario.
    let listing = floor::measure(&stack.sim).await?;
    let provider = api.create_provider(&stack.sim).await?;
    result.idle_instructions_per_sec = Some(counter.idle().await?);

    let requests = params.cost_requests;
    let name = "full sync";
    let (full, count, polls) = counter.sync(api, &provider, "FULL", name, requests).await?;
    anyhow::ensure!(
        full.users_seen == listing.users,
        "the full sync saw {} users, the listing {}",
        full.users_seen,
        listing.users
    );
    let profile = counter.profile(name);
    let mut cost = Cost::per_unit(name, "user", full.users_seen, count, profile);
    cost.polls = Some(polls);
    result.costs.push(cost);

    let (changed, _) = scenarios::change_users(&stack.control, &listing.user_ids, params).await?;
    let name = "incremental sync";
    let (_, count, polls) = counter
        .sync(api, &provider, "DELTA", name, requests)
        .await?;
    let profile = counter.profile(name);
    let units = changed.len() as u64;
    let mut cost = Cost::per_unit(name, "user changed", units, count, profile);
    cost.polls = Some(polls);
    result.costs.push(cost);

    for query in queries::prepare(api, params.cost_users).await? {
        let Ok((text, variables)) = query.query else {
            continue;
        };
        let target = api
            .target(&text, variables)
            .with_context(|| format!("cannot encode {}", query.name))?;
        eprintln!("bench: counting {}", query.name);
        let cost = counter.per_request(query.name, &target, requests).await?;
        result.costs.push(cost);
    }
    Ok(())
}
