//! The change log against graph-sim: the first full sync is a baseline with no event; then the
//! same script of changes — a license added, one removed, its disabled plans changed, an
//! account disabled, a user deleted, a user created — observed once through an incremental
//! round and once through a full listing yields exactly the expected events, the same in both;
//! accounts re-enabled and users restored are seen too; a resync without changes records
//! nothing; and pruning deletes only what is past retention.

use crate::common;

use std::collections::HashMap;

use chrono::{Duration, Utc};
use common::fixtures::gql;
use common::graph::tenant;
use common::{Engine, Options, TestApp, error_code};
use graph_sim::{NewUser, SimServer, User};
use license_manager::auth::Role;
use license_manager::domain::license_events;
use license_manager::entities::license_events as event_rows;
use sea_orm::prelude::Uuid;
use sea_orm::{ActiveValue::Set, Database, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

/// (UPN, kind, SKU GUID) of one event, as a person would list it.
type Seen = (String, String, Option<Uuid>);

async fn events(app: &TestApp, after_id: i64) -> (Vec<Seen>, i64) {
    let data = gql(
        app,
        Role::Viewer,
        "{ licenseSkus { id skuId } licenseEvents(first: 500) {
            nodes { id kind userPrincipalName skuId syncRunId } } }",
        json!({}),
    )
    .await;
    assert!(data.get("errors").is_none(), "{data}");
    let skus: HashMap<String, Uuid> = data["data"]["licenseSkus"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|sku| {
            Some((
                sku["id"].as_str()?.to_owned(),
                sku["skuId"].as_str()?.parse().ok()?,
            ))
        })
        .collect();
    let nodes = data["data"]["licenseEvents"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let newest = nodes
        .first()
        .and_then(|node| node["id"].as_str()?.parse().ok())
        .unwrap_or(after_id);
    let mut seen: Vec<Seen> = nodes
        .iter()
        .filter(|node| node["id"].as_str().and_then(|id| id.parse::<i64>().ok()) > Some(after_id))
        .map(|node| {
            assert!(node["syncRunId"].is_string(), "a sync saw it: {node}");
            (
                node["userPrincipalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                node["kind"].as_str().unwrap_or_default().to_owned(),
                node["skuId"].as_str().map(|id| skus[id]),
            )
        })
        .collect();
    seen.sort();
    (seen, newest)
}

fn event(user: &User, kind: &str, sku: Option<Uuid>) -> Seen {
    (user.user_principal_name.clone(), kind.to_owned(), sku)
}

/// Enabled users holding at least one license, not among the planted license cases.
fn licensed(sim: &SimServer) -> Vec<User> {
    let planted: Vec<Uuid> = sim
        .license_fixtures()
        .map(|f| {
            [
                f.direct,
                f.static_group,
                f.dynamic_group,
                f.synced_group,
                f.direct_and_group,
                f.direct_error,
                f.direct_failed_group,
            ]
            .map(|fixture| fixture.user_id)
            .to_vec()
        })
        .unwrap_or_default();
    sim.users()
        .into_iter()
        .filter(|user| {
            user.account_enabled
                && !planted.contains(&user.id)
                && user
                    .license_assignment_states
                    .iter()
                    .all(|s| s.assigned_by_group.is_none())
                && !user.assigned_licenses.is_empty()
        })
        .collect()
}

/// Makes one of each change on five users of `users` and a new one; returns the events it
/// must yield.
fn script(sim: &SimServer, users: &[User], name: &str) -> Vec<Seen> {
    let [added, removed, replanned, disabled, deleted] = users else {
        panic!("five users");
    };
    let skus = sim.skus();
    let unheld = skus
        .iter()
        .find(|sku| {
            !added
                .assigned_licenses
                .iter()
                .any(|held| held.sku_id == sku.sku_id)
        })
        .expect("a SKU the user does not hold");
    sim.assign_license(added.id, unheld.sku_id, Vec::new())
        .expect("added");
    let gone = removed.assigned_licenses[0].sku_id;
    sim.remove_license(removed.id, gone).expect("removed");
    let held = &replanned.assigned_licenses[0];
    let plan = skus
        .iter()
        .find(|sku| sku.sku_id == held.sku_id)
        .and_then(|sku| {
            sku.service_plans
                .iter()
                .find(|plan| !held.disabled_plans.contains(&plan.service_plan_id))
        })
        .expect("a plan to switch off");
    let mut switched_off = held.disabled_plans.clone();
    switched_off.push(plan.service_plan_id);
    sim.assign_license(replanned.id, held.sku_id, switched_off)
        .expect("replanned");
    sim.disable_user(disabled.id).expect("disabled");
    sim.soft_delete_user(deleted.id).expect("deleted");
    let newcomer = sim
        .add_user(NewUser {
            usage_location: Some("US".into()),
            assigned_licenses: vec![graph_sim::AssignedLicense {
                disabled_plans: Vec::new(),
                sku_id: unheld.sku_id,
            }],
            ..NewUser::named(name)
        })
        .expect("created");
    let mut expected = vec![
        event(added, "LICENSE_ADDED", Some(unheld.sku_id)),
        event(removed, "LICENSE_REMOVED", Some(gone)),
        event(replanned, "DISABLED_PLANS_CHANGED", Some(held.sku_id)),
        event(disabled, "USER_DISABLED", None),
        event(deleted, "USER_REMOVED", None),
        event(&newcomer, "USER_CREATED", None),
        event(&newcomer, "LICENSE_ADDED", Some(unheld.sku_id)),
    ];
    expected.sort();
    expected
}

/// A tenant of `users`, synced once in full.
async fn synced(engine: Engine, users: usize, seed: u64) -> (SimServer, TestApp, String) {
    let sim = tenant(users, seed).await;
    let app = TestApp::spawn_with(engine, Options::with_graph(sim.base_url())).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    (sim, app, provider)
}

async fn a_scripted_month_yields_exactly_the_expected_events(engine: Engine) {
    let (sim, app, provider) = synced(engine, 40, 31).await;
    let (baseline, last) = events(&app, 0).await;
    assert_eq!(
        baseline,
        Vec::<Seen>::new(),
        "the first full sync is the baseline"
    );

    let users = licensed(&sim);
    assert!(
        users.len() >= 10,
        "a tenant with licensed users: {}",
        users.len()
    );

    // Week 1, seen by an incremental round.
    let expected = script(&sim, &users[..5], "Week One");
    assert_eq!(app.sync(&provider, "DELTA").await["status"], "SUCCEEDED");
    let (seen, last) = events(&app, last).await;
    assert_eq!(seen, expected, "an incremental round");

    // Week 2, the same kinds of change, seen by a full listing: the same facts.
    let expected = script(&sim, &users[5..10], "Week Two");
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    let (seen, last) = events(&app, last).await;
    assert_eq!(seen, expected, "a full listing");

    // Week 3: the account disabled in week 1 is enabled again, the deleted user restored with
    // its licenses.
    let (reenabled, restored) = (&users[3], &users[4]);
    sim.set_account_enabled(reenabled.id, true)
        .expect("enabled");
    sim.restore_user(restored.id).expect("restored");
    assert_eq!(app.sync(&provider, "DELTA").await["status"], "SUCCEEDED");
    let (seen, last) = events(&app, last).await;
    let mut expected = vec![
        event(reenabled, "USER_ENABLED", None),
        event(restored, "USER_RESTORED", None),
    ];
    expected.extend(
        restored
            .assigned_licenses
            .iter()
            .map(|license| event(restored, "LICENSE_ADDED", Some(license.sku_id))),
    );
    expected.sort();
    assert_eq!(seen, expected, "re-enabled and restored");

    // Nothing changed: a full resync records nothing.
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    let (seen, _) = events(&app, last).await;
    assert_eq!(seen, Vec::<Seen>::new(), "a resync without changes");

    // One user's history, newest first, and the filters.
    let history = gql(
        &app,
        Role::Viewer,
        "query($id: ID!) { user(id: $id) { licenseHistory(first: 10) { nodes { kind } } } }",
        json!({ "id": user_id(&app, &users[3]).await }),
    )
    .await;
    let kinds: Vec<&str> = history["data"]["user"]["licenseHistory"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| node["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["USER_ENABLED", "USER_DISABLED"], "{history}");
    let filtered = gql(
        &app,
        Role::Viewer,
        "{ licenseEvents(filter: { kinds: [USER_CREATED] }) { nodes { kind } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        filtered["data"]["licenseEvents"]["nodes"],
        json!([{ "kind": "USER_CREATED" }, { "kind": "USER_CREATED" }]),
    );
    let backwards = gql(
        &app,
        Role::Viewer,
        "{ licenseEvents(filter: { from: \"2026-02-01T00:00:00Z\", to: \"2026-01-01T00:00:00Z\" }) { nodes { kind } } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&backwards), "BAD_USER_INPUT", "{backwards}");

    // The same log as CSV, with the same filters.
    let export = |query: &str| {
        app.http
            .get(app.url(&format!("/export/license-events.csv{query}")))
            .bearer_auth(app.token(Role::Viewer, "auditor"))
            .send()
    };
    let csv = export("?kinds=USER_CREATED,USER_DISABLED")
        .await
        .expect("the export answers")
        .text()
        .await
        .expect("a body");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().expect("a header").clone();
    let kind = header.iter().position(|name| name == "kind").expect("kind");
    let mut kinds: Vec<String> = reader
        .records()
        .map(|record| record.expect("a record")[kind].to_owned())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "USER_CREATED",
            "USER_CREATED",
            "USER_DISABLED",
            "USER_DISABLED"
        ]
    );
    let refused = export("?kinds=LICENSE_STOLEN")
        .await
        .expect("the export answers");
    assert_eq!(refused.status(), 400);
    app.finish().await;
}

async fn user_id(app: &TestApp, user: &User) -> Value {
    let data = gql(
        app,
        Role::Viewer,
        "query($s: String) { users(filter: { search: $s }) { nodes { id userPrincipalName } } }",
        json!({ "s": user.user_principal_name }),
    )
    .await;
    data["data"]["users"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|node| node["userPrincipalName"] == user.user_principal_name.as_str())
        .map(|node| node["id"].clone())
        .unwrap_or_else(|| panic!("no user {}: {data}", user.user_principal_name))
}

/// Pruning deletes the events past retention, and only those.
async fn pruning_removes_only_what_is_past_retention(engine: Engine) {
    let (sim, app, provider) = synced(engine, 12, 2).await;
    let db = Database::connect(&app.database.url)
        .await
        .expect("database");
    let user = sim.users()[0].clone();
    let user_row = user_id(&app, &user).await;
    let now = Utc::now();
    let row = |days_ago: i64| event_rows::ActiveModel {
        provider_id: Set(provider.parse().expect("an id")),
        user_id: Set(user_row
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an id")),
        license_sku_id: Set(None),
        kind: Set("USER_DISABLED".into()),
        observed_at: Set(now - Duration::days(days_ago)),
        sync_run_id: Set(None),
        reclaim_plan_id: Set(None),
        before: Set(None),
        after: Set(None),
        ..Default::default()
    };
    event_rows::Entity::insert_many([row(800), row(731), row(729), row(1)])
        .exec(&db)
        .await
        .expect("events inserted");
    let pruned = license_events::prune(&db, 730, now).await.expect("pruned");
    assert_eq!(pruned, 2);
    assert_eq!(
        event_rows::Entity::find()
            .count(&db)
            .await
            .expect("counted"),
        2
    );
    db.close().await.ok();
    app.finish().await;
}

engine_tests!(
    a_scripted_month_yields_exactly_the_expected_events,
    pruning_removes_only_what_is_past_retention,
);
