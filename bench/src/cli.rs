//! The command line, and the run parameters it resolves to (`--quick` is a preset).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The groups of figures one run can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// The fetch-only floor, the full sync and the incremental sync.
    Syncs,
    /// Q1–Q4 on the synced database.
    Reads,
    /// The added latency of checking each kind of bearer token, per request.
    Tokens,
    /// Q1 served by PostGraphile from the same PostgreSQL database, beside ours (PostgreSQL
    /// only, and only where Node.js and npm are present).
    Peer,
    /// The change log: a full sync of the unchanged tenant writes no event, and
    /// `licenseEvents` read over a log seeded to `--events` rows.
    History,
    /// Q1 at the highest concurrency while a full sync of the tenant runs.
    ReadsDuringSync,
    /// An approved reclaim plan executed against the simulated tenant, beside the bound Graph's
    /// latency and write limit set; on a tenant and database of its own.
    Reclaim,
    /// CPU instructions and allocations per request and per synced user, counted by callgrind
    /// on a server of its own: figures that do not move with the host.
    Costs,
}

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Full sync, incremental sync and read benchmarks of license-manager against graph-sim."
)]
pub struct Cli {
    /// Users in the simulated tenant (default 100000; 1000 with --quick).
    #[arg(long)]
    pub users: Option<usize>,
    /// Latency graph-sim adds to every Graph and token request, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub latency_ms: u64,
    /// Engines to measure, comma-separated. Default: both; PostgreSQL is skipped (with a note)
    /// when it is not reachable, unless named here explicitly.
    #[arg(long, value_delimiter = ',')]
    pub engines: Option<Vec<Engine>>,
    /// A smoke run for CI: 1,000 users and short read phases; exits non-zero on any error.
    #[arg(long)]
    pub quick: bool,
    /// Seed of the simulated tenant.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// PostgreSQL server (any database on it) where bench creates and drops its own databases.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
    /// Seconds of each measured read phase (default 5; 0.5 with --quick).
    #[arg(long)]
    pub read_secs: Option<f64>,
    /// Read scenarios to run, comma-separated (Q1,Q2,Q3,Q4; default all). `none` measures the
    /// syncs only — handy while profiling one of them.
    #[arg(long, value_delimiter = ',')]
    pub queries: Option<Vec<String>>,
    /// Scenarios to run, comma-separated (default all). `reads` and `peer` need `syncs`: they
    /// read what the sync wrote. `--scenarios tokens` measures token validation alone in a few
    /// seconds; `--scenarios syncs,peer` measures Q1 beside PostGraphile.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Option<Vec<Scenario>>,
    /// REMOVE_DIRECT items of the reclaim plan executed (default 1000; 100 with --quick).
    #[arg(long)]
    pub reclaim_items: Option<usize>,
    /// LM_RECLAIM_PARALLEL_ITEMS of each reclaim execution, comma-separated (default 1,4,8; 4
    /// with --quick); each runs on a fresh tenant and database.
    #[arg(long, value_delimiter = ',')]
    pub reclaim_parallel: Option<Vec<usize>>,
    /// Change-log rows seeded before `licenseEvents` is read (default 1000000; 10000 with
    /// --quick).
    #[arg(long)]
    pub events: Option<usize>,
    /// Users of the tenant the cost pass syncs (default 10000; 500 with --quick).
    #[arg(long)]
    pub cost_users: Option<usize>,
    /// Requests of each read the cost pass counts instructions over, after a warm-up (default
    /// 50; 2 with --quick).
    #[arg(long)]
    pub cost_requests: Option<usize>,
    /// Exit non-zero when a cost grew more than 5% since the previous results of the same
    /// parameters (by default such a growth is flagged only).
    #[arg(long)]
    pub fail_on_cost_growth: bool,
    /// The open-loop latency phase offers this fraction of the closed-loop capacity.
    #[arg(long, default_value_t = 0.8)]
    pub rate_fraction: f64,
    /// Use the binaries already next to this one instead of running `cargo build`.
    #[arg(long)]
    pub no_build: bool,
    /// RUST_LOG of the server, e.g. `info,sqlx::query=trace` to log every SQL statement with
    /// its duration (a profile: it slows the server, so the timings of such a run are not
    /// comparable). Logs go to <results-dir>/logs/.
    #[arg(long, default_value = "info")]
    pub server_log: String,
    /// Where the JSON and Markdown results go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    pub results_dir: PathBuf,
}

/// What one run measures, after `--quick` and the defaults are applied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Params {
    pub users: usize,
    pub latency_ms: u64,
    pub seed: u64,
    pub quick: bool,
    /// Engines asked for explicitly must run; defaulted ones may be skipped.
    pub engines_explicit: bool,
    pub engines: Vec<Engine>,
    /// Share of users changed before the incremental sync.
    pub change_fraction: f64,
    #[serde(with = "secs")]
    pub warmup: Duration,
    #[serde(with = "secs")]
    pub read_phase: Duration,
    pub rate_fraction: f64,
    pub concurrency: Vec<usize>,
    /// The server's RUST_LOG.
    pub server_log: String,
    /// Read scenarios to run, by name (Q1…Q4); empty runs none.
    pub queries: Vec<String>,
    pub scenarios: Vec<Scenario>,
    /// Token validation: each credential is measured this long per round, the credentials
    /// taking turns, so a change in the machine's load falls on all of them alike.
    #[serde(with = "secs")]
    pub token_phase: Duration,
    pub token_rounds: u32,
    /// REMOVE_DIRECT items of the reclaim plan.
    pub reclaim_items: usize,
    /// Users of the reclaim scenario's tenant: enough that more than `reclaim_items` of their
    /// direct licenses are findings.
    pub reclaim_users: usize,
    /// LM_RECLAIM_PARALLEL_ITEMS of each execution, in the order they run.
    pub reclaim_parallel: Vec<usize>,
    /// Change-log rows seeded before `licenseEvents` is read.
    pub events: usize,
    /// Users of the cost pass's tenant.
    pub cost_users: usize,
    /// Requests of each read the cost pass counts over.
    pub cost_requests: usize,
    pub fail_on_cost_growth: bool,
}

impl Params {
    pub fn from_cli(cli: &Cli) -> anyhow::Result<Self> {
        anyhow::ensure!(
            cli.rate_fraction > 0.0 && cli.rate_fraction <= 1.0,
            "--rate-fraction must be in (0, 1]"
        );
        let read_secs = cli.read_secs.unwrap_or(if cli.quick { 0.5 } else { 5.0 });
        anyhow::ensure!(read_secs > 0.0, "--read-secs must be positive");
        let mut engines = cli
            .engines
            .clone()
            .unwrap_or_else(|| vec![Engine::Sqlite, Engine::Postgres]);
        engines.sort();
        engines.dedup();
        let users = cli.users.unwrap_or(if cli.quick { 1_000 } else { 100_000 });
        let mut scenarios = cli.scenarios.clone().unwrap_or_else(|| {
            vec![
                Scenario::Syncs,
                Scenario::Reads,
                Scenario::Tokens,
                Scenario::Peer,
                Scenario::Reclaim,
                Scenario::History,
                Scenario::ReadsDuringSync,
                Scenario::Costs,
            ]
        });
        scenarios.sort();
        scenarios.dedup();
        anyhow::ensure!(
            !scenarios.contains(&Scenario::Reads) || scenarios.contains(&Scenario::Syncs),
            "--scenarios: reads need syncs (they read what the full sync wrote)"
        );
        anyhow::ensure!(
            !scenarios.contains(&Scenario::Peer) || scenarios.contains(&Scenario::Syncs),
            "--scenarios: peer needs syncs (PostGraphile serves what the full sync wrote)"
        );
        for (scenario, name) in [
            (Scenario::History, "history"),
            (Scenario::ReadsDuringSync, "reads-during-sync"),
        ] {
            anyhow::ensure!(
                !scenarios.contains(&scenario) || scenarios.contains(&Scenario::Syncs),
                "--scenarios: {name} needs syncs (it follows the full and incremental syncs)"
            );
        }
        anyhow::ensure!(users >= 100, "--users must be at least 100");
        let reclaim_items = cli
            .reclaim_items
            .unwrap_or(if cli.quick { 100 } else { 1_000 });
        anyhow::ensure!(reclaim_items > 0, "--reclaim-items must be positive");
        let reclaim_parallel = cli
            .reclaim_parallel
            .clone()
            .unwrap_or_else(|| if cli.quick { vec![4] } else { vec![1, 4, 8] });
        anyhow::ensure!(
            !reclaim_parallel.is_empty() && !reclaim_parallel.contains(&0),
            "--reclaim-parallel: each must be at least 1"
        );
        let cost_users = cli
            .cost_users
            .unwrap_or(if cli.quick { 500 } else { 10_000 });
        anyhow::ensure!(cost_users >= 100, "--cost-users must be at least 100");
        let cost_requests = cli.cost_requests.unwrap_or(if cli.quick { 2 } else { 50 });
        anyhow::ensure!(cost_requests > 0, "--cost-requests must be positive");
        Ok(Self {
            users,
            latency_ms: cli.latency_ms,
            seed: cli.seed,
            quick: cli.quick,
            engines_explicit: cli.engines.is_some(),
            engines,
            change_fraction: 0.01,
            warmup: Duration::from_secs_f64(read_secs / 5.0),
            read_phase: Duration::from_secs_f64(read_secs),
            rate_fraction: cli.rate_fraction,
            concurrency: vec![1, 32],
            server_log: cli.server_log.clone(),
            queries: queries(cli.queries.as_deref())?,
            scenarios,
            token_phase: Duration::from_secs_f64(if cli.quick { 0.1 } else { 0.5 }),
            token_rounds: 4,
            // A generated tenant has about one such license per 3 users (seed 7: 1,040 in
            // 3,000); 5 per item leaves a margin for other seeds.
            reclaim_users: (reclaim_items * 5).max(1_000),
            reclaim_items,
            reclaim_parallel,
            events: cli
                .events
                .unwrap_or(if cli.quick { 10_000 } else { 1_000_000 }),
            cost_users,
            cost_requests,
            fail_on_cost_growth: cli.fail_on_cost_growth,
        })
    }

    pub fn runs(&self, scenario: Scenario) -> bool {
        self.scenarios.contains(&scenario)
    }

    /// Whether a scenario on the main tenant (of `users`) is asked for: reclaim and the cost
    /// pass have their own.
    pub fn runs_main_tenant(&self) -> bool {
        self.scenarios
            .iter()
            .any(|s| !matches!(s, Scenario::Reclaim | Scenario::Costs))
    }
}

const QUERY_NAMES: [&str; 4] = ["Q1", "Q2", "Q3", "Q4"];

fn queries(asked: Option<&[String]>) -> anyhow::Result<Vec<String>> {
    let Some(asked) = asked else {
        return Ok(QUERY_NAMES.map(String::from).to_vec());
    };
    if asked.iter().any(|name| name.eq_ignore_ascii_case("none")) {
        return Ok(Vec::new());
    }
    asked
        .iter()
        .map(|name| {
            QUERY_NAMES
                .iter()
                .find(|known| known.eq_ignore_ascii_case(name))
                .map(|known| (*known).to_owned())
                .with_context(|| {
                    format!("--queries: unknown {name:?}; use {}", QUERY_NAMES.join(","))
                })
        })
        .collect()
}

/// Durations in the JSON report as seconds.
mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}
