//! The reclaim scenario (issue 25): an approved plan of exactly `reclaim_items` REMOVE_DIRECT
//! items executed against graph-sim, once per parallelism asked for, each on a fresh tenant and
//! database so that every execution starts from the same state and the same write-limit window.
//!
//! The bound is what Graph allows: every item is a read of the user then a write, one after the
//! other, with `P` items in flight; and no more than 3,000 writes per 150 s per app and tenant.
//! The execution's wall time runs from the executeReclaimPlan request to the first poll that sees
//! it SUCCEEDED, and counts only after the result is checked against graph-sim's own record.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::Api;
use crate::cli::{Engine, Params};
use crate::database::{BenchDatabase, DataDir};
use crate::processes::Binaries;
use crate::scenarios::{Stack, StackSpec};

/// The findings a plan is made of: those whose removal frees a seat a person no longer uses.
const KINDS: [&str; 3] = ["DISABLED_ACCOUNT", "INACTIVE_USER", "NEVER_SIGNED_IN"];
/// Graph's write limit per app and tenant, which graph-sim applies by default.
const WRITE_LIMIT: u64 = 3_000;
const WRITE_WINDOW_SECS: f64 = 150.0;
/// What the app needs beyond reads to remove licenses.
const GRANTS: &[&str] = &["LicenseAssignment.ReadWrite.All"];
/// Items of a plan per page of `items(first:)`, the most the API gives.
const PAGE: u64 = 500;
/// How often the execution is polled; its resolution bounds the wall-time error (≤ 1% of the
/// fastest default run, 5 s). Each poll runs a few statements on the server under test, so
/// polling faster would slow what it measures.
const POLL_EVERY: Duration = Duration::from_millis(50);
/// The status the harness polls.
const STATUS: &str = "query($id: ID!) { reclaimPlan(id: $id) { execution { status } } }";
/// An execution that takes longer than this is reported as failed.
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize)]
pub struct ReclaimResult {
    pub tenant_users: usize,
    pub items: usize,
    pub runs: Vec<ReclaimRun>,
}

impl ReclaimResult {
    pub fn errors(&self) -> impl Iterator<Item = String> + '_ {
        self.runs.iter().flat_map(|run| {
            run.errors
                .iter()
                .map(move |e| format!("reclaim at {} in flight: {e}", run.parallel))
        })
    }
}

/// One execution of the plan at one parallelism.
#[derive(Debug, Default, Serialize)]
pub struct ReclaimRun {
    /// LM_RECLAIM_PARALLEL_ITEMS.
    pub parallel: usize,
    /// The plan's REMOVE_DIRECT items, which the execution acts on.
    pub items: u64,
    pub status: String,
    pub done: u64,
    /// Items per outcome code.
    pub outcomes: BTreeMap<String, u64>,
    /// executeReclaimPlan → the first poll that saw the execution ended.
    pub wall_secs: f64,
    /// The job's startedAt → finishedAt as the server recorded it.
    pub server_secs: Option<f64>,
    pub latency_bound_secs: f64,
    pub write_bound_secs: f64,
    /// Graph requests graph-sim served during the execution (token endpoint included), and of
    /// those the user reads and the assignLicense writes, whatever their answer.
    pub graph_requests: u64,
    pub user_reads: u64,
    pub writes: u64,
    /// License removals graph-sim applied, and the seats its consumedUnits dropped by.
    pub removals_applied: u64,
    pub seats_freed: i64,
    pub sql_statements: Option<f64>,
    /// What makes the figure wrong: a failed check, or a step that failed.
    pub errors: Vec<String>,
}

impl ReclaimRun {
    pub fn bound_secs(&self) -> f64 {
        self.latency_bound_secs.max(self.write_bound_secs)
    }

    pub fn ratio_to_bound(&self) -> f64 {
        self.wall_secs / self.bound_secs()
    }

    pub fn removed(&self) -> u64 {
        self.outcomes.get("REMOVED").copied().unwrap_or_default()
    }

    pub fn measured(&self) -> bool {
        self.wall_secs > 0.0
    }
}

/// Each item a read then a write, `parallel` items at once: ⌈items ÷ parallel⌉ rounds of two
/// requests.
pub fn latency_bound_secs(items: u64, latency_ms: u64, parallel: usize) -> f64 {
    let rounds = items.div_ceil(parallel.max(1) as u64);
    rounds as f64 * 2.0 * latency_ms as f64 / 1000.0
}

/// The writes past the first window's 3,000 wait a window per 3,000 started.
pub fn write_bound_secs(writes: u64) -> f64 {
    writes.saturating_sub(WRITE_LIMIT).div_ceil(WRITE_LIMIT) as f64 * WRITE_WINDOW_SECS
}

/// Every parallelism asked for, one after the other; a run that fails is recorded with its
/// error and the next still runs.
pub async fn measure(
    engine: Engine,
    params: &Params,
    binaries: &Binaries,
    postgres_url: &str,
    logs: &Path,
) -> ReclaimResult {
    let mut runs = Vec::new();
    for &parallel in &params.reclaim_parallel {
        eprintln!(
            "bench[{}]: reclaim of {} items, {parallel} in flight",
            engine.name(),
            params.reclaim_items
        );
        let run = measure_one(engine, params, binaries, postgres_url, logs, parallel)
            .await
            .unwrap_or_else(|e| ReclaimRun {
                parallel,
                errors: vec![format!("{e:#}")],
                ..Default::default()
            });
        runs.push(run);
    }
    ReclaimResult {
        tenant_users: params.reclaim_users,
        items: params.reclaim_items,
        runs,
    }
}

async fn measure_one(
    engine: Engine,
    params: &Params,
    binaries: &Binaries,
    postgres_url: &str,
    logs: &Path,
    parallel: usize,
) -> anyhow::Result<ReclaimRun> {
    let tag = format!("_reclaim_p{parallel}");
    let data_dir = DataDir::create(engine, &tag)?;
    let database = BenchDatabase::create(engine, &tag, data_dir.path(), postgres_url).await?;
    let spec = StackSpec {
        users: params.reclaim_users,
        grants: GRANTS,
        server_env: vec![("LM_RECLAIM_PARALLEL_ITEMS", parallel.to_string())],
        tag: format!("{}-reclaim-p{parallel}", engine.name()),
        latency_ms: params.latency_ms,
        server_launcher: Vec::new(),
    };
    let run = async {
        Stack::start(params, binaries, &database, data_dir.path(), logs, &spec)
            .await?
            .run_then_stop(async |stack| execute(stack, params, parallel).await)
            .await
    }
    .await;
    database.discard().await;
    run
}

/// Syncs the tenant, makes and approves the plan, executes it and checks what it did.
async fn execute(stack: &Stack, params: &Params, parallel: usize) -> anyhow::Result<ReclaimRun> {
    let api = &stack.api;
    let provider = api.create_provider(&stack.sim).await?;
    let sync = api.sync(&provider, "FULL").await?;
    if !sync.succeeded() {
        bail!(
            "the sync before the plan ended {}: {:?}",
            sync.status,
            sync.error
        );
    }
    let graph_skus = graph_skus(api, &provider).await?;
    // graph-sim refuses to remove a SKU the tenant no longer subscribes to, as a license it does
    // not know: such items fail, and would measure less work than the plan says.
    let subscribed = stack.control.consumed_units().await?;
    let skus: Vec<String> = graph_skus
        .iter()
        .filter(|(_, graph)| subscribed.contains_key(graph.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    let filter = Filter {
        provider: &provider,
        skus: &skus,
    };
    let users = users_for(api, &filter, params.reclaim_items).await?;
    let plan = create_plan(api, &filter, &users).await?;
    let summary = &plan["summary"];
    let items = summary["toRemove"].as_u64().unwrap_or_default();
    if items != params.reclaim_items as u64 || summary["manual"].as_u64() != Some(0) {
        bail!(
            "the plan is not {} removals: {summary}",
            params.reclaim_items
        );
    }
    let id = plan["id"].clone();
    api.run(
        "mutation($id: ID!) { approveReclaimPlan(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .context("cannot approve the plan")?;

    let seats_before = stack.control.consumed_units().await?;
    stack.control.reset_stats().await?;
    let per_poll = statements_per_poll(api, &id).await?;
    let statements_before = api.sql_statements().await;
    let (wall_secs, polls) = execute_and_wait(api, &id).await?;
    let statements_after = api.sql_statements().await;

    let execution = api
        .run(
            "query($id: ID!) { reclaimPlan(id: $id) { execution { status done items startedAt
                finishedAt error { code message } outcomes { code items } } } }",
            json!({ "id": id }),
        )
        .await?["reclaimPlan"]["execution"]
        .clone();
    let mut run = ReclaimRun {
        parallel,
        items,
        status: execution["status"].as_str().unwrap_or_default().to_owned(),
        done: execution["done"].as_u64().unwrap_or_default(),
        outcomes: execution["outcomes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| Some((o["code"].as_str()?.to_owned(), o["items"].as_u64()?)))
            .collect(),
        wall_secs,
        server_secs: server_secs(&execution),
        latency_bound_secs: latency_bound_secs(items, params.latency_ms, parallel),
        write_bound_secs: write_bound_secs(items),
        graph_requests: stack.control.requests().await?,
        user_reads: stack.control.answers("GET /v1.0/users/{id}").await?,
        writes: stack.control.answers("/assignLicense").await?,
        // The server's own, without the harness's polls.
        sql_statements: statements_after
            .zip(statements_before)
            .zip(per_poll)
            .map(|((after, before), per_poll)| after - before - polls as f64 * per_poll),
        ..Default::default()
    };
    if run.status != "SUCCEEDED" {
        run.errors.push(format!(
            "the execution ended {}: {}",
            run.status, execution["error"]
        ));
    }
    if run.done != items || execution["items"].as_u64() != Some(items) {
        run.errors
            .push(format!("{} of {items} items done: {execution}", run.done));
    }
    if run.removed() != items {
        // Every item is a finding that still holds: anything else would measure less work.
        run.errors.push(format!(
            "{} of {items} items REMOVED: {:?}",
            run.removed(),
            run.outcomes
        ));
    }
    check_removals(stack, &graph_skus, &id, &seats_before, &mut run).await?;
    Ok(run)
}

/// Graph's skuId (lower case) of each of the provider's license SKUs, by the API's id.
async fn graph_skus(api: &Api, provider: &str) -> anyhow::Result<HashMap<String, String>> {
    let data = api
        .run(
            "query($p: ID) { licenseSkus(providerId: $p) { id skuId } }",
            json!({ "p": provider }),
        )
        .await?;
    Ok(data["licenseSkus"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|sku| {
            Some((
                sku["id"].as_str()?.to_owned(),
                sku["skuId"].as_str()?.to_lowercase(),
            ))
        })
        .collect())
}

/// What every plan of the scenario is narrowed to, besides its users and `KINDS`.
struct Filter<'a> {
    provider: &'a str,
    skus: &'a [String],
}

/// Users whose findings make exactly `wanted` REMOVE_DIRECT items and nothing else, read from a
/// plan of every such finding, which is then cancelled.
async fn users_for(api: &Api, filter: &Filter<'_>, wanted: usize) -> anyhow::Result<Vec<String>> {
    let probe = create_plan(api, filter, &[]).await?;
    let id = probe["id"].clone();
    // (removals, manual items) per user, in the plan's order.
    let mut per_user: Vec<(String, usize, usize)> = Vec::new();
    for item in plan_items(api, &id).await? {
        let user = item["userId"].as_str().context("an item without userId")?;
        if per_user.last().is_none_or(|(last, _, _)| last != user) {
            per_user.push((user.to_owned(), 0, 0));
        }
        if let Some((_, removals, manual)) = per_user.last_mut() {
            if item["action"] == "REMOVE_DIRECT" {
                *removals += 1;
            } else {
                *manual += 1;
            }
        }
    }
    api.run(
        "mutation($id: ID!) { cancelReclaimPlan(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .context("cannot cancel the probe plan")?;
    let mut chosen = Vec::new();
    let mut items = 0;
    for (user, removals, manual) in per_user {
        if manual == 0 && items + removals <= wanted {
            items += removals;
            chosen.push(user);
        }
        if items == wanted {
            return Ok(chosen);
        }
    }
    bail!(
        "the tenant has {items} direct licenses to reclaim, not {wanted}: raise its users \
         (--reclaim-items sets 5 per item)"
    )
}

/// A plan of the findings of `KINDS` of `users` (all users when empty): its id and summary.
async fn create_plan(api: &Api, filter: &Filter<'_>, users: &[String]) -> anyhow::Result<Value> {
    let input = json!({
        "providerId": filter.provider, "kinds": KINDS, "skuIds": filter.skus, "userIds": users,
    });
    let data = api
        .run(
            "mutation($input: CreateReclaimPlanInput!) { createReclaimPlan(input: $input) {
                id summary { items toRemove manual } } }",
            json!({ "input": input }),
        )
        .await
        .context("cannot create the reclaim plan")?;
    Ok(data["createReclaimPlan"].clone())
}

/// Every item of a plan, in plan order.
async fn plan_items(api: &Api, id: &Value) -> anyhow::Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = api
            .run(
                "query($id: ID!, $first: Int, $after: String) { reclaimPlan(id: $id) {
                    items(first: $first, after: $after) {
                      pageInfo { hasNextPage endCursor }
                      nodes { userId userPrincipalName skuId action outcome { code message } } } } }",
                json!({ "id": id, "first": PAGE, "after": after }),
            )
            .await?;
        let page = &data["reclaimPlan"]["items"];
        items.extend(page["nodes"].as_array().into_iter().flatten().cloned());
        if page["pageInfo"]["hasNextPage"] != true {
            return Ok(items);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// SQL statements one poll of the status costs the server, measured on the plan before it runs.
async fn statements_per_poll(api: &Api, id: &Value) -> anyhow::Result<Option<f64>> {
    let before = api.sql_statements().await;
    api.run(STATUS, json!({ "id": id })).await?;
    let after = api.sql_statements().await;
    Ok(after.zip(before).map(|(after, before)| after - before))
}

/// Sends executeReclaimPlan and polls the execution until it ends; the seconds in between, and
/// the polls sent.
async fn execute_and_wait(api: &Api, id: &Value) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    api.run(
        "mutation($id: ID!) { executeReclaimPlan(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .context("cannot execute the plan")?;
    let mut polls = 0;
    loop {
        let data = api.run(STATUS, json!({ "id": id })).await?;
        polls += 1;
        let status = data["reclaimPlan"]["execution"]["status"]
            .as_str()
            .unwrap_or_default();
        if !matches!(status, "QUEUED" | "RUNNING") {
            return Ok((started.elapsed().as_secs_f64(), polls));
        }
        if started.elapsed() > EXECUTION_TIMEOUT {
            bail!("the execution is still {status} after {EXECUTION_TIMEOUT:?}");
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

fn server_secs(execution: &Value) -> Option<f64> {
    let at = |field: &str| execution[field].as_str()?.parse::<DateTime<Utc>>().ok();
    let (start, end) = (at("startedAt")?, at("finishedAt")?);
    Some((end - start).num_microseconds()? as f64 / 1e6)
}

/// graph-sim's record against the plan: each REMOVED (user, SKU) removed exactly once, nothing
/// else removed, and its seats freed.
async fn check_removals(
    stack: &Stack,
    graph_skus: &HashMap<String, String>,
    id: &Value,
    seats_before: &HashMap<String, i64>,
    run: &mut ReclaimRun,
) -> anyhow::Result<()> {
    let user_ids = stack.control.user_ids().await?;
    let mut expected = BTreeMap::new();
    let mut not_removed = None;
    for item in plan_items(&stack.api, id).await? {
        if item["outcome"]["code"] != "REMOVED" {
            not_removed.get_or_insert(item);
            continue;
        }
        let upn = item["userPrincipalName"].as_str().unwrap_or_default();
        let user = user_ids.get(&upn.to_lowercase());
        let sku = graph_skus.get(item["skuId"].as_str().unwrap_or_default());
        let (Some(user), Some(sku)) = (user, sku) else {
            bail!("an item graph-sim does not know: {item}");
        };
        expected.entry((user.clone(), sku.clone())).or_insert(0u64);
    }
    if let Some(item) = not_removed {
        run.errors.push(format!("an item not removed: {item}"));
    }
    let applied = stack.control.removals_applied().await?;
    run.removals_applied = applied.len() as u64;
    for (user, sku) in applied {
        *expected.entry((user, sku.to_lowercase())).or_insert(0) += 1;
    }
    let wrong: Vec<_> = expected.iter().filter(|(_, times)| **times != 1).collect();
    if let Some(((user, sku), times)) = wrong.first() {
        run.errors.push(format!(
            "{} (user, SKU) pairs not removed exactly once as their items say, e.g. {user} {sku}: \
             {times} times",
            wrong.len()
        ));
    }
    if expected.len() as u64 != run.removed() {
        run.errors.push(format!(
            "graph-sim removed {} licenses, the plan says {} REMOVED",
            expected.len(),
            run.removed()
        ));
    }
    let seats_after = stack.control.consumed_units().await?;
    run.seats_freed = seats_before
        .iter()
        .map(|(sku, before)| before - seats_after.get(sku).copied().unwrap_or_default())
        .sum();
    if run.seats_freed != run.removed() as i64 {
        run.errors.push(format!(
            "consumedUnits dropped by {}, the plan says {} REMOVED",
            run.seats_freed,
            run.removed()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{latency_bound_secs, write_bound_secs};

    #[test]
    fn the_latency_bound_is_a_read_and_a_write_per_round_of_items_in_flight() {
        assert_eq!(latency_bound_secs(1_000, 20, 4), 10.0);
        assert_eq!(latency_bound_secs(1_000, 20, 1), 40.0);
        assert_eq!(latency_bound_secs(1_000, 20, 8), 5.0);
        // A last, partial round still takes its two requests.
        assert_eq!(latency_bound_secs(10, 20, 4), 0.12);
    }

    #[test]
    fn writes_wait_a_window_per_3000_past_the_first() {
        assert_eq!(write_bound_secs(1_000), 0.0);
        assert_eq!(write_bound_secs(3_000), 0.0);
        assert_eq!(write_bound_secs(3_001), 150.0);
        assert_eq!(write_bound_secs(9_000), 300.0);
    }
}
