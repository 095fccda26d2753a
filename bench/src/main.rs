//! `cargo run --release -p bench -- [--users N] [--latency-ms L] [--engines sqlite,postgres] [--quick]`
//!
//! Builds the release binaries of license-manager and graph-sim, then on each engine starts a
//! simulated tenant and the real server as child processes and measures a full sync against
//! the fetch-only floor, an incremental sync after 1% of users changed, the reads Q1–Q4 at
//! 1 and 32 clients, what checking each kind of bearer token adds to a request, and a 1,000-item
//! reclaim plan executed against the bound Graph's latency and write limit set, and the CPU
//! instructions and allocations per request and per synced user counted under callgrind,
//! compared with the previous results. Prints one table and writes it as JSON and Markdown
//! under bench/results/.
//! Exits non-zero when anything failed (a sync not SUCCEEDED, a non-200, a GraphQL error, a
//! reclaim that did not remove exactly its items), so
//! CI can run `--quick` to keep the harness working; timings never fail it.

mod api;
mod baseline;
mod callgrind;
mod cli;
mod costs;
mod database;
mod floor;
mod history;
mod load;
mod peer;
mod processes;
mod queries;
mod reclaim;
mod report;
mod scenarios;
mod sim;
mod tokens;

use clap::Parser;

use cli::{Cli, Engine, Params};
use report::{Machine, Report, Versions};
use scenarios::EngineResult;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let params = Params::from_cli(&cli)?;
    let binaries = processes::Binaries::locate(!cli.no_build)?;
    let logs = cli.results_dir.join("logs");
    std::fs::create_dir_all(&logs)?;

    let mut engines = Vec::new();
    for &engine in &params.engines {
        engines.push(run_engine(engine, &params, &binaries, &cli, &logs).await);
    }
    baseline::attach(&cli.results_dir, &mut engines);
    let report = Report {
        generated_at: chrono::Utc::now(),
        machine: Machine::detect(),
        versions: Versions::detect(&binaries),
        params,
        engines,
    };
    print!("{}", report.text());
    for path in report.write(&cli.results_dir)? {
        eprintln!("bench: wrote {}", path.display());
    }
    let errors = report.errors().count();
    anyhow::ensure!(errors == 0, "{errors} error(s) during the benchmark");
    let grown = report.cost_regressions().count();
    anyhow::ensure!(
        !report.params.fail_on_cost_growth || grown == 0,
        "{grown} cost(s) grew more than 5% (--fail-on-cost-growth)"
    );
    Ok(())
}

/// One engine's results; a failure is recorded in them rather than ending the whole run, so the
/// other engine is still measured and the report still written.
async fn run_engine(
    engine: Engine,
    params: &Params,
    binaries: &processes::Binaries,
    cli: &Cli,
    logs: &std::path::Path,
) -> EngineResult {
    if engine == Engine::Postgres
        && !params.engines_explicit
        && !database::postgres_reachable(&cli.postgres_url).await
    {
        return EngineResult {
            engine: Some(engine),
            skipped: Some(format!("PostgreSQL not reachable at {}", cli.postgres_url)),
            ..Default::default()
        };
    }
    scenarios::run_engine(engine, params, binaries, &cli.postgres_url, logs)
        .await
        .unwrap_or_else(|e| EngineResult {
            engine: Some(engine),
            errors: vec![format!("{}: {e:#}", engine.name())],
            ..Default::default()
        })
}
