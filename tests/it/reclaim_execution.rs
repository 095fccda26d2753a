//! Reclaim plans executed against graph-sim: exactly the direct seats are freed and nobody else
//! is touched, a user who signed in meanwhile is skipped, throttling changes nothing of the end
//! result, a job whose worker died resumes without doing an item twice, a worker that stalled
//! past its lease changes nothing, undo puts licenses back with their disabled plans, and
//! neither a viewer nor an app without the write permission can change anything.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::fixtures::gql;
use common::graph::granted_tenant;
use common::websocket::{connect, next_json};
use common::{Engine, Options, TestApp, error_code};
use futures::SinkExt;
use futures::future::BoxFuture;
use graph_sim::{FaultOptions, LicenseFixture, Permissions, SimServer};
use license_manager::auth::Role;
use license_manager::entities::sync_runs;
use license_manager::jobs::SyncEngine;
use license_manager::jobs::reclaim::Checkpoint;
use license_manager::sync::queue::{self, RunStatus, SyncMode};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const USERS: usize = 40;

async fn sim_with(permissions: Permissions, faults: FaultOptions) -> SimServer {
    granted_tenant(USERS, 23, permissions, faults).await
}

async fn writable_sim() -> SimServer {
    sim_with(
        Permissions::default().with_license_writes(),
        FaultOptions::default(),
    )
    .await
}

/// A server reading `sim`, synced once; `workers` 0 leaves reclaim jobs to the test.
async fn synced_app(engine: Engine, sim: &SimServer, workers: usize) -> (TestApp, String) {
    let options = Options {
        workers,
        ..Options::with_graph(sim.base_url())
    };
    let app = TestApp::spawn_with(engine, options).await;
    let provider = app.connect_tenant(sim, &sim.client_secret()).await;
    if workers > 0 {
        assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    } else {
        let id = provider.parse().expect("a provider id");
        let run = worker_engine(&app)
            .await
            .run_once(id, SyncMode::Full, CancellationToken::new())
            .await
            .expect("the sync runs");
        assert_eq!(run.status, RunStatus::Succeeded);
    }
    (app, provider)
}

const PLAN_FIELDS: &str = "id status executedAt
    execution { runId status attempt done items error { code message hint } outcomes { code items } }
    items(first: 500) { nodes { id userId skuId userPrincipalName action manualReason findingKind
      outcome { code message hint } undo { code message hint } undoableUntil } }";

async fn admin(app: &TestApp, query: &str, variables: Value) -> Value {
    let body = gql(app, Role::Admin, query, variables).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// An approved plan of every finding of the provider's users.
async fn approved_plan(app: &TestApp, provider: &str) -> Value {
    let created = admin(
        app,
        "mutation($input: CreateReclaimPlanInput!) { createReclaimPlan(input: $input) { id } }",
        json!({ "input": { "providerId": provider } }),
    )
    .await;
    let id = created["createReclaimPlan"]["id"].clone();
    admin(
        app,
        "mutation($id: ID!) { approveReclaimPlan(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    plan(app, &id).await
}

async fn plan(app: &TestApp, id: &Value) -> Value {
    let query = format!("query($id: ID!) {{ reclaimPlan(id: $id) {{ {PLAN_FIELDS} }} }}");
    admin(app, &query, json!({ "id": id })).await["reclaimPlan"].clone()
}

async fn execute(app: &TestApp, id: &Value) -> Value {
    let query = format!("mutation($id: ID!) {{ executeReclaimPlan(id: $id) {{ {PLAN_FIELDS} }} }}");
    admin(app, &query, json!({ "id": id })).await["executeReclaimPlan"].clone()
}

/// The plan once its execution has ended.
async fn executed(app: &TestApp, id: &Value) -> Value {
    for _ in 0..600 {
        let plan = plan(app, id).await;
        let status = plan["execution"]["status"].as_str().unwrap_or_default();
        if matches!(status, "SUCCEEDED" | "FAILED" | "CANCELLED") {
            return plan;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "the plan's execution did not end in 60 s: {}",
        plan(app, id).await
    )
}

fn items(plan: &Value) -> Vec<Value> {
    plan["items"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn item_of(plan: &Value, sim: &SimServer, fixture: &LicenseFixture) -> Value {
    let upn = sim
        .user(fixture.user_id)
        .expect("the fixture's user")
        .user_principal_name;
    items(plan)
        .into_iter()
        .find(|item| item["userPrincipalName"] == upn.as_str())
        .unwrap_or_else(|| panic!("no item for {upn}: {plan}"))
}

fn removals(plan: &Value) -> Vec<Value> {
    items(plan)
        .into_iter()
        .filter(|item| item["action"] == "REMOVE_DIRECT")
        .collect()
}

fn user_by_upn(sim: &SimServer, upn: &str) -> Uuid {
    sim.users()
        .into_iter()
        .find(|user| user.user_principal_name == upn)
        .map(|user| user.id)
        .unwrap_or_else(|| panic!("no simulated user {upn}"))
}

/// Seats in use per SKU, as graph-sim counts them.
fn consumed(sim: &SimServer) -> HashMap<Uuid, i32> {
    sim.subscribed_skus()
        .into_iter()
        .map(|sku| (sku.sku_id, sku.consumed_units))
        .collect()
}

/// The removals graph-sim applied: how often each (user, SKU).
fn removals_applied(sim: &SimServer) -> BTreeMap<(Uuid, Uuid), usize> {
    let mut applied = BTreeMap::new();
    for write in sim.applied_writes() {
        for sku in write.remove_licenses {
            *applied.entry((write.user_id, sku)).or_default() += 1;
        }
    }
    applied
}

/// The (user, SKU) of plan items, in graph-sim's ids.
async fn licenses_of(
    app: &TestApp,
    sim: &SimServer,
    items: &[Value],
) -> BTreeMap<(Uuid, Uuid), usize> {
    let skus = app.sku_guids().await;
    items
        .iter()
        .map(|item| {
            let user = user_by_upn(sim, item["userPrincipalName"].as_str().unwrap_or_default());
            let sku = skus[item["skuId"].as_str().unwrap_or_default()];
            ((user, sku), 1)
        })
        .collect()
}

async fn product_consumed(app: &TestApp, provider: &str) -> HashMap<String, i64> {
    let data = admin(
        app,
        "query($p: ID) { licenseSkus(providerId: $p) { skuId consumedUnits } }",
        json!({ "p": provider }),
    )
    .await;
    data["licenseSkus"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|sku| {
            (
                sku["skuId"].as_str().unwrap_or_default().to_owned(),
                sku["consumedUnits"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

async fn executing_a_plan_frees_exactly_the_direct_seats_and_undo_restores_them(engine: Engine) {
    let sim = writable_sim().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let (app, provider) = synced_app(engine, &sim, 1).await;
    let plan = approved_plan(&app, &provider).await;
    let id = plan["id"].clone();

    // Each planted case has the action it calls for.
    assert_eq!(
        item_of(&plan, &sim, &fixtures.direct)["action"],
        "REMOVE_DIRECT"
    );
    for (fixture, reason) in [
        (&fixtures.static_group, "INHERITED_FROM_GROUP"),
        (&fixtures.dynamic_group, "INHERITED_FROM_GROUP"),
        (&fixtures.synced_group, "INHERITED_FROM_GROUP"),
        (&fixtures.direct_and_group, "INHERITED_FROM_GROUP"),
        (&fixtures.direct_error, "LICENSE_ERROR"),
    ] {
        let item = item_of(&plan, &sim, fixture);
        assert_eq!(
            (item["action"].as_str(), item["manualReason"].as_str()),
            (Some("MANUAL"), Some(reason)),
            "{item}"
        );
    }
    let to_remove = removals(&plan);
    assert!(to_remove.len() >= 3, "a tenant with direct waste: {plan}");

    // One user signs in between approval and execution: the finding no longer holds.
    let returning = to_remove
        .iter()
        .find(|item| {
            item["findingKind"] == "INACTIVE_USER"
                && item["userPrincipalName"]
                    != sim
                        .user(fixtures.direct.user_id)
                        .expect("a user")
                        .user_principal_name
                        .as_str()
        })
        .unwrap_or_else(|| panic!("an inactive user to come back: {plan}"))
        .clone();
    let returning_upn = returning["userPrincipalName"].as_str().unwrap_or_default();
    sim.sign_in_now(user_by_upn(&sim, returning_upn))
        .expect("the user signs in");

    // A viewer can neither execute nor undo.
    let viewer = gql(
        &app,
        Role::Viewer,
        "mutation($id: ID!) { executeReclaimPlan(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(error_code(&viewer), "FORBIDDEN", "{viewer}");

    let seats_before = consumed(&sim);
    let product_before = product_consumed(&app, &provider).await;
    let started = execute(&app, &id).await;
    assert!(
        matches!(
            started["execution"]["status"].as_str(),
            Some("QUEUED" | "RUNNING" | "SUCCEEDED")
        ),
        "{started}"
    );
    let done = executed(&app, &id).await;
    assert_eq!(done["execution"]["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["status"], "EXECUTED");
    assert_eq!(done["execution"]["done"], done["execution"]["items"]);

    let outcome = |item: &Value| item["outcome"]["code"].as_str().map(str::to_owned);
    let removed: Vec<Value> = removals(&done)
        .into_iter()
        .filter(|item| outcome(item).as_deref() == Some("REMOVED"))
        .collect();
    let stale = items(&done)
        .into_iter()
        .find(|item| item["userPrincipalName"] == returning_upn)
        .expect("the returning user's item");
    assert_eq!(outcome(&stale).as_deref(), Some("SKIPPED_STALE"), "{stale}");
    assert!(
        stale["outcome"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("signed in")),
        "{stale}"
    );
    let stale_items = items(&done)
        .iter()
        .filter(|item| item["userPrincipalName"] == returning_upn)
        .count();
    assert_eq!(removed.len(), to_remove.len() - stale_items, "{done}");
    for item in items(&done)
        .iter()
        .filter(|item| item["action"] == "MANUAL")
    {
        assert_eq!(
            item["outcome"],
            Value::Null,
            "manual items are left: {item}"
        );
    }

    // Exactly the removed users were written to, once each, and their seats are free.
    assert_eq!(
        removals_applied(&sim),
        licenses_of(&app, &sim, &removed).await
    );
    let seats_after = consumed(&sim);
    let freed: i32 = seats_before
        .iter()
        .map(|(sku, before)| before - seats_after.get(sku).copied().unwrap_or_default())
        .sum();
    assert_eq!(freed as usize, removed.len());

    // The product knows at once, before any sync.
    let product_after = product_consumed(&app, &provider).await;
    let product_freed: i64 = product_before
        .iter()
        .map(|(sku, before)| before - product_after.get(sku).copied().unwrap_or_default())
        .sum();
    assert_eq!(product_freed as usize, removed.len());
    // The change log names the plan for each removal.
    let logged = admin(
        &app,
        "{ licenseEvents(filter: { kinds: [LICENSE_REMOVED] }) { nodes { reclaimPlanId syncRunId } } }",
        json!({}),
    )
    .await;
    let logged = logged["licenseEvents"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(logged.len(), removed.len(), "{logged:?}");
    assert!(
        logged
            .iter()
            .all(|event| event["reclaimPlanId"] == id && event["syncRunId"].is_null()),
        "{logged:?}"
    );

    // Undo puts the planted direct license back, with the service plan it had switched off.
    let direct = item_of(&done, &sim, &fixtures.direct);
    assert_eq!(outcome(&direct).as_deref(), Some("REMOVED"), "{direct}");
    assert!(direct["undoableUntil"].is_string(), "{direct}");
    let viewer = gql(
        &app,
        Role::Viewer,
        "mutation($ids: [ID!]!) { undoReclaim(itemIds: $ids) { id } }",
        json!({ "ids": [direct["id"]] }),
    )
    .await;
    assert_eq!(error_code(&viewer), "FORBIDDEN", "{viewer}");
    let undone = admin(
        &app,
        "mutation($ids: [ID!]!) { undoReclaim(itemIds: $ids) { id undo { code message } undoableUntil } }",
        json!({ "ids": [direct["id"]] }),
    )
    .await;
    assert_eq!(
        undone["undoReclaim"][0]["undo"]["code"], "ADDED",
        "{undone}"
    );
    assert_eq!(undone["undoReclaim"][0]["undoableUntil"], Value::Null);
    let user = sim.user(fixtures.direct.user_id).expect("the user");
    let license = user
        .assigned_licenses
        .iter()
        .find(|license| license.sku_id == fixtures.direct.sku_id)
        .expect("the license is back");
    assert_eq!(license.disabled_plans.len(), 1, "{user:?}");
    assert_eq!(
        consumed(&sim).get(&fixtures.direct.sku_id),
        seats_after
            .get(&fixtures.direct.sku_id)
            .map(|seats| seats + 1)
            .as_ref()
    );

    // Undone once: a second undo is refused and changes nothing.
    let again = gql(
        &app,
        Role::Admin,
        "mutation($ids: [ID!]!) { undoReclaim(itemIds: $ids) { id } }",
        json!({ "ids": [direct["id"]] }),
    )
    .await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");
    // A skipped item has nothing to undo.
    let skipped = gql(
        &app,
        Role::Admin,
        "mutation($ids: [ID!]!) { undoReclaim(itemIds: $ids) { id } }",
        json!({ "ids": [stale["id"]] }),
    )
    .await;
    assert_eq!(error_code(&skipped), "CONFLICT", "{skipped}");
    app.finish().await;
}

/// Undo when the seat went to someone else meanwhile: a clear code with its hint; undone again
/// once a seat is free.
async fn undo_says_when_the_seat_went_to_someone_else(engine: Engine) {
    let sim = writable_sim().await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let (app, provider) = synced_app(engine, &sim, 1).await;
    let plan = approved_plan(&app, &provider).await;
    let id = plan["id"].clone();
    execute(&app, &id).await;
    let done = executed(&app, &id).await;
    let direct = item_of(&done, &sim, &fixtures.direct);
    assert_eq!(direct["outcome"]["code"], "REMOVED", "{direct}");

    let others = sim
        .fill_seats(fixtures.direct.sku_id)
        .expect("seats filled");
    let undo =
        "mutation($ids: [ID!]!) { undoReclaim(itemIds: $ids) { undo { code message hint } } }";
    let refused = admin(&app, undo, json!({ "ids": [direct["id"]] })).await;
    let outcome = &refused["undoReclaim"][0]["undo"];
    assert_eq!(outcome["code"], "COUNT_VIOLATION", "{refused}");
    assert!(
        outcome["hint"]
            .as_str()
            .is_some_and(|hint| !hint.is_empty()),
        "{refused}"
    );

    // A seat comes free: the same undo now succeeds.
    let freed = others.first().copied().expect("someone took a seat");
    sim.remove_license(freed, fixtures.direct.sku_id)
        .expect("a seat is freed");
    let retried = admin(&app, undo, json!({ "ids": [direct["id"]] })).await;
    assert_eq!(
        retried["undoReclaim"][0]["undo"]["code"], "ADDED",
        "{retried}"
    );

    // A user who lost the usage location a direct license needs: said so, and nothing changes.
    let other = removals(&done)
        .into_iter()
        .find(|item| item["outcome"]["code"] == "REMOVED" && item["id"] != direct["id"])
        .expect("another removed license");
    let user = user_by_upn(
        &sim,
        other["userPrincipalName"].as_str().unwrap_or_default(),
    );
    sim.set_usage_location(user, None)
        .expect("the location is cleared");
    let writes = sim.applied_writes().len();
    let refused = admin(&app, undo, json!({ "ids": [other["id"]] })).await;
    let outcome = &refused["undoReclaim"][0]["undo"];
    assert_eq!(outcome["code"], "USAGE_LOCATION_MISSING", "{refused}");
    assert!(
        outcome["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("usage location")),
        "{refused}"
    );
    assert_eq!(sim.applied_writes().len(), writes);
    app.finish().await;
}

/// Faults that answer this share of license writes 429.
fn throttled_writes(rate: f64) -> FaultOptions {
    FaultOptions {
        write_throttle_rate: rate,
        ..FaultOptions::default()
    }
}

/// With 15 % of writes throttled, every seat is still freed exactly once.
async fn throttled_writes_still_end_exact(engine: Engine) {
    let sim = sim_with(
        Permissions::default().with_license_writes(),
        FaultOptions::default(),
    )
    .await;
    let (app, provider) = synced_app(engine, &sim, 1).await;
    let plan = approved_plan(&app, &provider).await;
    let id = plan["id"].clone();
    let seats_before = consumed(&sim);
    // At 15 % a short plan may pass untouched (the writes run concurrently, so the seeded draws
    // fall on them in no fixed order): every write is throttled until one has been.
    sim.set_faults(throttled_writes(1.0));
    execute(&app, &id).await;
    for _ in 0..600 {
        if sim.stats().throttled > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    sim.set_faults(throttled_writes(0.15));
    let done = executed(&app, &id).await;
    assert_eq!(done["execution"]["status"], "SUCCEEDED", "{done}");
    let removed: Vec<Value> = removals(&done)
        .into_iter()
        .filter(|item| item["outcome"]["code"] == "REMOVED")
        .collect();
    assert_eq!(removed.len(), removals(&plan).len(), "{done}");
    assert_eq!(
        removals_applied(&sim),
        licenses_of(&app, &sim, &removed).await,
        "each once"
    );
    let freed: i32 = seats_before
        .iter()
        .map(|(sku, before)| before - consumed(&sim).get(sku).copied().unwrap_or_default())
        .sum();
    assert_eq!(freed as usize, removed.len());
    assert!(sim.stats().throttled > 0, "some writes were throttled");
    app.finish().await;
}

/// An app that may not change licenses: the hint, and nothing queued or written.
async fn an_app_without_the_write_permission_gets_the_hint_and_nothing_is_attempted(
    engine: Engine,
) {
    let sim = sim_with(Permissions::default(), FaultOptions::default()).await;
    let (app, provider) = synced_app(engine, &sim, 1).await;
    let plan = approved_plan(&app, &provider).await;
    let refused = gql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { executeReclaimPlan(id: $id) { id } }",
        json!({ "id": plan["id"] }),
    )
    .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("LicenseAssignment.ReadWrite.All")),
        "{refused}"
    );
    let after = plan_state(&app, &plan["id"]).await;
    assert_eq!(
        after["execution"]["runId"],
        Value::Null,
        "nothing queued: {after}"
    );
    assert!(sim.applied_writes().is_empty());
    app.finish().await;
}

async fn plan_state(app: &TestApp, id: &Value) -> Value {
    plan(app, id).await
}

/// Holds a worker at the `at`-th write it is about to make (or has made), until released; or
/// for ever, as a process that died there.
struct Pause {
    at: usize,
    after_write: bool,
    seen: AtomicUsize,
    reached: Notify,
    release: Notify,
}

impl Pause {
    fn new(at: usize, after_write: bool) -> Arc<Self> {
        Arc::new(Self {
            at,
            after_write,
            seen: AtomicUsize::new(0),
            reached: Notify::new(),
            release: Notify::new(),
        })
    }

    async fn hold(&self, after_write: bool) {
        if after_write != self.after_write {
            return;
        }
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.at {
            self.reached.notify_one();
            self.release.notified().await;
        }
    }
}

impl Checkpoint for Pause {
    fn before_write(&self, _item_id: i64) -> BoxFuture<'_, ()> {
        Box::pin(self.hold(false))
    }

    fn after_write(&self, _item_id: i64) -> BoxFuture<'_, ()> {
        Box::pin(self.hold(true))
    }
}

/// A worker engine of its own on the app's database and keys, as another process would run.
async fn worker_engine(app: &TestApp) -> SyncEngine {
    let settings = common::settings(&app.database.url, app.data_dir.path(), &app.options);
    let (engine, _) = license_manager::app::open_engine(&settings.engine)
        .await
        .expect("a worker engine opens");
    engine
}

/// The plan's job, claimed by `worker`.
async fn claim(engine: &SyncEngine, plan: &Value, worker: &str) -> sync_runs::Model {
    let run_id: i64 = plan["execution"]["runId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a queued job: {plan}"));
    queue::claim_run(
        &engine.db,
        &engine.events,
        run_id,
        worker,
        engine.settings.lease,
    )
    .await
    .expect("the claim runs")
    .expect("the job is queued")
}

/// The lease of `run` runs out, as it does for a worker that stopped renewing it; the reaper
/// then gives the job back to the queue.
async fn expire_lease(engine: &SyncEngine, run: &sync_runs::Model) {
    sync_runs::Entity::update_many()
        .col_expr(
            sync_runs::Column::LeaseExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(sync_runs::Column::Id.eq(run.id))
        .exec(&engine.db)
        .await
        .expect("the lease expires");
    queue::fail_expired(&engine.db, &engine.events)
        .await
        .expect("the reaper runs");
}

/// Worker A dies after its 2nd removal reached graph-sim but before it recorded it; worker B
/// takes the job over and ends it: every seat freed, none removed twice.
async fn a_worker_killed_mid_plan_leaves_the_job_resumable_with_no_item_applied_twice(
    engine: Engine,
) {
    let sim = writable_sim().await;
    let (app, provider) = synced_app(engine, &sim, 0).await;
    let plan = approved_plan(&app, &provider).await;
    let queued = execute(&app, &plan["id"]).await;
    let workers = worker_engine(&app).await;

    let death = Pause::new(2, true);
    let run = claim(&workers, &queued, "worker-a").await;
    let dying = {
        let (workers, run, death) = (workers.clone(), run.clone(), death.clone());
        tokio::spawn(async move {
            workers
                .execute_with(run, "worker-a", CancellationToken::new(), Some(death))
                .await;
        })
    };
    death.reached.notified().await;
    dying.abort();
    let _ = dying.await;
    let midway = plan_state(&app, &plan["id"]).await;
    assert!(
        midway["execution"]["done"].as_i64() < midway["execution"]["items"].as_i64(),
        "the job is left half done: {midway}"
    );

    expire_lease(&workers, &run).await;
    let resumed = claim(&workers, &queued, "worker-b").await;
    assert_eq!(resumed.attempt, 2);
    workers
        .execute(resumed, "worker-b", CancellationToken::new())
        .await;

    let done = plan_state(&app, &plan["id"]).await;
    assert_eq!(done["execution"]["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["status"], "EXECUTED");
    let freed: Vec<Value> = removals(&done)
        .into_iter()
        .filter(|item| {
            matches!(
                item["outcome"]["code"].as_str(),
                Some("REMOVED" | "ALREADY_REMOVED")
            )
        })
        .collect();
    assert_eq!(freed.len(), removals(&plan).len(), "{done}");
    // The removals in flight when A died reached graph-sim; B found them done.
    assert!(
        removals(&done)
            .iter()
            .any(|item| item["outcome"]["code"] == "ALREADY_REMOVED"),
        "the items whose answer was lost: {done}"
    );
    assert_eq!(
        removals_applied(&sim),
        licenses_of(&app, &sim, &freed).await
    );
    app.finish().await;
}

/// Worker A stalls right before its 2nd removal, past its lease; worker B takes the job over
/// and ends it. When A wakes, it sends nothing and records nothing.
async fn a_stalled_worker_past_its_lease_changes_nothing(engine: Engine) {
    let sim = writable_sim().await;
    let (app, provider) = synced_app(engine, &sim, 0).await;
    let plan = approved_plan(&app, &provider).await;
    let queued = execute(&app, &plan["id"]).await;
    let workers = worker_engine(&app).await;

    let stall = Pause::new(2, false);
    let run = claim(&workers, &queued, "worker-a").await;
    let stalled = {
        let (workers, run, stall) = (workers.clone(), run.clone(), stall.clone());
        tokio::spawn(async move {
            workers
                .execute_with(run, "worker-a", CancellationToken::new(), Some(stall))
                .await;
        })
    };
    stall.reached.notified().await;
    expire_lease(&workers, &run).await;
    let taken_over = claim(&workers, &queued, "worker-b").await;
    workers
        .execute(taken_over, "worker-b", CancellationToken::new())
        .await;
    let by_b = plan_state(&app, &plan["id"]).await;
    assert_eq!(by_b["execution"]["status"], "SUCCEEDED", "{by_b}");
    let writes_by_b = sim.applied_writes().len();

    stall.release.notify_one();
    stalled.await.expect("worker A ends without panicking");
    assert_eq!(sim.applied_writes().len(), writes_by_b, "A sent nothing");
    assert_eq!(
        plan_state(&app, &plan["id"]).await,
        by_b,
        "A recorded nothing"
    );
    assert!(removals_applied(&sim).values().all(|count| *count == 1));
    let run = sync_runs::Entity::find_by_id(run.id)
        .one(&workers.db)
        .await
        .expect("the run reads")
        .expect("the run");
    assert_eq!(run.status, "SUCCEEDED");
    app.finish().await;
}

/// Cancelling a plan while it waits for a worker cancels its job: nothing is removed.
async fn a_cancelled_plan_changes_nothing(engine: Engine) {
    let sim = writable_sim().await;
    let (app, provider) = synced_app(engine, &sim, 0).await;
    let plan = approved_plan(&app, &provider).await;
    execute(&app, &plan["id"]).await;
    let cancelled = admin(
        &app,
        "mutation($id: ID!) { cancelReclaimPlan(id: $id) { status } }",
        json!({ "id": plan["id"] }),
    )
    .await;
    assert_eq!(cancelled["cancelReclaimPlan"]["status"], "CANCELLED");
    let after = plan_state(&app, &plan["id"]).await;
    assert_eq!(after["execution"]["status"], "CANCELLED", "{after}");
    let again = gql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { executeReclaimPlan(id: $id) { id } }",
        json!({ "id": plan["id"] }),
    )
    .await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");
    assert!(sim.applied_writes().is_empty());
    let jobs = sync_runs::Entity::find()
        .filter(sync_runs::Column::ReclaimPlanId.is_not_null())
        .all(&worker_engine(&app).await.db)
        .await
        .expect("runs read");
    assert_eq!(jobs.len(), 1);
    app.finish().await;
}

/// A dashboard subscribed to a plan sees it waiting, then executed with every item done.
async fn a_dashboard_follows_a_plan_to_its_end(engine: Engine) {
    let sim = writable_sim().await;
    let (app, provider) = synced_app(engine, &sim, 1).await;
    let plan = approved_plan(&app, &provider).await;
    let mut socket = connect(&app, Some(&app.token(Role::Viewer, "dashboard"))).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription($id: ID!) { reclaimPlanUpdated(id: $id) {
            status execution { status done items outcomes { code items } } } }",
        "variables": { "id": plan["id"] } } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");
    let first = next_json(&mut socket).await.expect("the plan now");
    assert_eq!(
        first["payload"]["data"]["reclaimPlanUpdated"]["execution"]["status"],
        Value::Null,
        "{first}"
    );
    execute(&app, &plan["id"]).await;
    let mut last = first;
    loop {
        let message = next_json(&mut socket).await.expect("a message");
        match message["type"].as_str() {
            Some("next") => last = message,
            Some("complete") => break,
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    let last = &last["payload"]["data"]["reclaimPlanUpdated"];
    assert_eq!(last["status"], "EXECUTED", "{last}");
    assert_eq!(last["execution"]["status"], "SUCCEEDED", "{last}");
    assert_eq!(last["execution"]["done"], removals(&plan).len(), "{last}");
    app.finish().await;
}

engine_tests!(
    a_dashboard_follows_a_plan_to_its_end,
    executing_a_plan_frees_exactly_the_direct_seats_and_undo_restores_them,
    undo_says_when_the_seat_went_to_someone_else,
    throttled_writes_still_end_exact,
    an_app_without_the_write_permission_gets_the_hint_and_nothing_is_attempted,
    a_worker_killed_mid_plan_leaves_the_job_resumable_with_no_item_applied_twice,
    a_stalled_worker_past_its_lease_changes_nothing,
    a_cancelled_plan_changes_nothing,
);
