//! Syncs against simulated Microsoft 365 tenants, as an admin runs them: exact data after a
//! full sync, every kind of change applied by an incremental one, and the faults of the real
//! service handled without losing anything.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::graph::{
    LastSync, LicenseView, assert_synced, faulty_tenant, tenant, tenant_with, truth,
};
use common::{Engine, Options, TestApp};
use graph_sim::{FaultOptions, NewUser, NoErrorAs, SimOptions, TenantSpec, UserPatch};
use license_manager::auth::Role;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement,
};
use serde_json::{Value, json};

async fn app_for(engine: Engine, sim: &graph_sim::SimServer) -> TestApp {
    TestApp::spawn_with(engine, Options::with_graph(sim.base_url())).await
}

async fn a_full_sync_stores_exactly_the_tenant(engine: Engine) {
    let sim = tenant(300, 7).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;

    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["effectiveMode"], "FULL");
    assert_eq!(run["usersSeen"], 300);
    assert_eq!(run["usersCreated"], 300);
    assert_eq!(run["usersRemoved"], 0);
    assert_eq!(run["skusSynced"], sim.subscribed_skus().len());
    assert_eq!(run["warnings"], json!([]));
    assert_synced(&app, &sim, &provider, LastSync::Full).await;

    // Nothing changed in the tenant: the second sync reads everything and writes no user.
    let again = app.sync(&provider, "FULL").await;
    assert_eq!(again["status"], "SUCCEEDED", "{again}");
    assert_eq!(
        (again["usersCreated"].clone(), again["usersUpdated"].clone()),
        (json!(0), json!(0))
    );
    assert_synced(&app, &sim, &provider, LastSync::Full).await;
    app.finish().await;
}

async fn an_incremental_sync_applies_every_kind_of_change(engine: Engine) {
    let sim = tenant(120, 11).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    assert_eq!(user_count(&app).await, 120);

    let users = sim.users();
    let sku = sim.subscribed_skus()[0].sku_id;
    let mut new_user = NewUser::named("Zoë Ångström");
    new_user.assigned_licenses = vec![graph_sim::AssignedLicense {
        disabled_plans: vec![],
        sku_id: sku,
    }];
    sim.add_user(new_user).expect("added");
    sim.rename_user(users[0].id, "Renamed Person", None)
        .expect("renamed");
    sim.disable_user(users[1].id).expect("disabled");
    // The license changes go to users touched by nothing else, so each counts once.
    let rest = &users[5..];
    let unlicensed = rest
        .iter()
        .find(|u| u.assigned_licenses.is_empty())
        .expect("an unlicensed user");
    sim.assign_license(unlicensed.id, sku, vec![])
        .expect("licensed");
    let licensed = rest
        .iter()
        .find(|u| {
            u.id != unlicensed.id
                && u.license_assignment_states
                    .iter()
                    .any(|s| s.assigned_by_group.is_none())
        })
        .expect("a directly licensed user");
    let direct_sku = licensed
        .license_assignment_states
        .iter()
        .find(|s| s.assigned_by_group.is_none())
        .expect("direct")
        .sku_id;
    sim.remove_license(licensed.id, direct_sku)
        .expect("unlicensed");
    sim.update_user(
        users[2].id,
        UserPatch {
            mail: Some(None),
            ..Default::default()
        },
    )
    .expect("mail cleared");
    sim.soft_delete_user(users[3].id).expect("soft-deleted");
    sim.hard_delete_user(users[4].id).expect("hard-deleted");

    let run = app.sync(&provider, "DELTA").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["effectiveMode"], "DELTA");
    assert_eq!(run["usersCreated"], 1);
    assert_eq!(run["usersRemoved"], 2);
    assert_eq!(run["usersSeen"], 8, "each user the round changed, once");
    assert_eq!(
        run["usersUpdated"], 5,
        "renamed, disabled, mail cleared, licensed, unlicensed"
    );
    assert_synced(&app, &sim, &provider, LastSync::Incremental).await;
    // Counts are kept between requests until a sync writes: these must not be the last ones.
    assert_eq!(user_count(&app).await, 120 + 1 - 2);

    // A restored user comes back with the next round.
    sim.restore_user(users[3].id).expect("restored");
    let run = app.sync(&provider, "DELTA").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_synced(&app, &sim, &provider, LastSync::Incremental).await;
    assert_eq!(user_count(&app).await, 120);
    app.finish().await;
}

/// The provider's `userCount`, as a dashboard reads it.
async fn user_count(app: &TestApp) -> i64 {
    let data = app.query(Role::Viewer, "{ providers { userCount } }").await;
    data["providers"][0]["userCount"].as_i64().expect("a count")
}

async fn throttling_and_expiring_tokens_cost_time_not_data(engine: Engine) {
    let options = SimOptions {
        token_ttl_secs: 1,
        faults: FaultOptions {
            throttle_rate: 0.15,
            retry_after_secs: 0.05,
            latency: Duration::from_millis(150),
            ..FaultOptions::default()
        },
        ..SimOptions::default()
    };
    let sim = tenant_with(
        TenantSpec {
            users: 2_000,
            seed: 3,
            ..Default::default()
        },
        options,
    )
    .await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;

    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_synced(&app, &sim, &provider, LastSync::Full).await;
    let stats = sim.stats();
    assert!(stats.throttled > 0, "the simulator throttled some requests");
    assert_eq!(stats.early_retries, 0, "every Retry-After was honoured");
    assert!(
        stats.tokens_issued > 1,
        "the token expired during the sync and was renewed"
    );
    app.finish().await;
}

async fn a_page_that_keeps_failing_fails_the_sync_and_removes_nothing(engine: Engine) {
    let sim = tenant(1_200, 5).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    let before = truth(&sim);

    // Users leave the tenant, but the listing that would show it never completes.
    for user in sim.users().iter().take(10) {
        sim.hard_delete_user(user.id).expect("deleted");
    }
    sim.set_faults(FaultOptions {
        fail_users_page: Some(2),
        ..FaultOptions::default()
    });
    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "FAILED", "{run}");
    assert_eq!(run["error"]["code"], "GRAPH_UNAVAILABLE");
    assert_eq!(run["usersRemoved"], 0);

    let db = app.database.connect().await;
    let stored = common::graph::stored(&db, provider.parse().expect("id")).await;
    db.close().await.ok();
    assert_eq!(stored.0.len(), before.0.len(), "nobody was marked removed");

    sim.set_faults(FaultOptions::default());
    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["usersRemoved"], 10);
    assert_synced(&app, &sim, &provider, LastSync::Full).await;
    app.finish().await;
}

async fn a_tenant_without_sign_in_data_syncs_with_a_warning(engine: Engine) {
    let sim = tenant(200, 9).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");

    sim.set_premium(false);
    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["warnings"][0]["code"], "SIGN_IN_ACTIVITY_UNAVAILABLE");
    assert!(
        run["warnings"][0]["hint"]
            .as_str()
            .expect("hint")
            .contains("P1 or P2")
    );
    // The dates read while they were available are kept, not nulled.
    assert_synced(&app, &sim, &provider, LastSync::Full).await;

    let mut permissions = sim.permissions();
    permissions.audit_log_read_all = false;
    sim.set_permissions(permissions);
    sim.set_premium(true);
    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert!(
        run["warnings"][0]["hint"]
            .as_str()
            .expect("hint")
            .contains("AuditLog.Read.All")
    );
    app.finish().await;
}

async fn an_expired_delta_link_falls_back_to_a_full_sync(engine: Engine) {
    let sim = tenant(150, 13).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    sim.hard_delete_user(sim.users()[0].id).expect("deleted");
    sim.invalidate_delta_tokens();

    let run = app.sync(&provider, "DELTA").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["effectiveMode"], "FULL");
    assert_eq!(run["warnings"][0]["code"], "DELTA_TOKEN_EXPIRED");
    assert_eq!(run["usersRemoved"], 1);
    assert_synced(&app, &sim, &provider, LastSync::Full).await;

    // The full sync stored a fresh link: the next incremental round works again.
    let run = app.sync(&provider, "AUTO").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["effectiveMode"], "DELTA");
    app.finish().await;
}

async fn a_sync_cut_short_by_shutdown_is_not_left_running(engine: Engine) {
    let sim = common::graph::slow_tenant(5_000, 21, Duration::from_millis(150)).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    let run = app.start_sync(&provider, "FULL").await;
    app.wait_for_run(&run, |state| {
        state["pagesFetched"].as_i64().unwrap_or_default() >= 1
    })
    .await;
    let options = app.options.clone();
    let (data_dir, database) = app.stop().await;

    let app = TestApp::start_with(data_dir, database, options).await;
    let interrupted = app.sync_run(&run).await;
    assert_eq!(interrupted["status"], "FAILED", "{interrupted}");
    assert_eq!(interrupted["error"]["code"], "INTERRUPTED");

    sim.set_faults(FaultOptions::default());
    let next = app.sync(&provider, "FULL").await;
    assert_eq!(next["status"], "SUCCEEDED", "{next}");
    assert_synced(&app, &sim, &provider, LastSync::Full).await;
    app.finish().await;
}

/// Cancelled once pages are arriving: what was written stays, nothing is removed, and no
/// delta link is kept, so the next automatic sync reads the whole tenant and ends exact.
async fn a_sync_cancelled_mid_listing_keeps_its_writes_and_the_next_one_completes(engine: Engine) {
    let sim = common::graph::slow_tenant(5_000, 2, Duration::from_millis(200)).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    let run = app.start_sync(&provider, "FULL").await;
    app.wait_for_run(&run, |state| {
        state["usersSeen"].as_i64().unwrap_or_default() > 0
    })
    .await;
    let body = app
        .admin(
            &format!(r#"mutation {{ cancelSync(id: "{run}") {{ status }} }}"#),
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let cancelled = app.finished(&run).await;
    assert_eq!(cancelled["status"], "CANCELLED", "{cancelled}");
    assert_eq!(cancelled["usersRemoved"], 0);
    let written = cancelled["usersCreated"].as_i64().unwrap_or_default();
    assert!(written > 0 && written < 5_000, "{cancelled}");
    assert_eq!(user_count(&app).await, written);

    sim.set_faults(FaultOptions::default());
    let next = app.sync(&provider, "AUTO").await;
    assert_eq!(next["status"], "SUCCEEDED", "{next}");
    assert_eq!(next["effectiveMode"], "FULL", "{next}");
    assert_eq!(next["usersCreated"], 5_000 - written, "{next}");
    assert_synced(&app, &sim, &provider, LastSync::Full).await;
    app.finish().await;
}

/// The Settings page's connection test of provider `id`, every field of its checks.
fn test_connection(id: &str) -> String {
    format!(
        r#"mutation {{ testProviderConnection(id: "{id}") {{ ok checks {{ name ok warning code message hint }} }} }}"#
    )
}

/// Whether the app may change licenses: a warning in the connection test (syncs work without
/// the permission), and `Provider.licenseWrite`, both read from the token's granted permissions.
async fn the_connection_test_warns_when_licenses_cannot_be_changed(engine: Engine) {
    let sim = tenant(50, 4).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    let license_write = format!(
        r#"{{ provider(id: "{provider}") {{ licenseWrite {{ allowed code message hint }} }} }}"#
    );
    let test_and_check = || async {
        let body = app.admin(&test_connection(&provider), json!({})).await;
        let test = body["data"]["testProviderConnection"].clone();
        let check = test["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["name"] == "licenseWrite"))
            .cloned()
            .unwrap_or_else(|| panic!("a licenseWrite check: {body}"));
        (test, check)
    };

    let writes_before = sim.stats().license_writes.values().sum::<u64>();
    let (test, check) = test_and_check().await;
    assert_eq!(test["ok"], true, "a warning does not fail the test: {test}");
    assert_eq!(check["ok"], false, "{check}");
    assert_eq!(check["warning"], true, "{check}");
    assert_eq!(check["code"], "INSUFFICIENT_PRIVILEGES", "{check}");
    let hint = check["hint"].as_str().expect("hint");
    assert!(
        hint.contains("LicenseAssignment.ReadWrite.All") && hint.contains("reclaim stays off"),
        "{hint}"
    );
    let data = app.query(Role::Viewer, &license_write).await;
    let access = &data["provider"]["licenseWrite"];
    assert_eq!(access["allowed"], false, "{data}");
    assert_eq!(access["code"], "INSUFFICIENT_PRIVILEGES", "{data}");
    assert_eq!(access["hint"], check["hint"], "{data}");

    let mut granted = sim.permission_names();
    granted.push("LicenseAssignment.ReadWrite.All");
    sim.set_permission_names(&granted).expect("known names");
    let (test, check) = test_and_check().await;
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(check["ok"], true, "{check}");
    assert!(check["code"].is_null(), "{check}");
    let data = app.query(Role::Viewer, &license_write).await;
    assert_eq!(
        data["provider"]["licenseWrite"]["allowed"], true,
        "the token the test fetched is the provider's from then on: {data}"
    );
    assert_eq!(
        sim.stats().license_writes.values().sum::<u64>(),
        writes_before,
        "nothing was written to find out"
    );
    app.finish().await;
}

async fn the_connection_test_names_what_works_and_what_does_not(engine: Engine) {
    let sim = tenant(50, 4).await;
    let app = app_for(engine, &sim).await;
    let good = app.connect_tenant(&sim, &sim.client_secret()).await;
    let body = app.admin(&test_connection(&good), json!({})).await;
    let test = &body["data"]["testProviderConnection"];
    assert_eq!(test["ok"], true, "{body}");
    let names: Vec<&str> = test["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "token",
            "organization",
            "users",
            "subscriptions",
            "signInActivity",
            "licenseWrite"
        ]
    );
    assert!(
        test["checks"][1]["message"]
            .as_str()
            .expect("message")
            .contains(&sim.domain())
    );
    let seats = format!(
        "{} subscribed SKUs and {} subscriptions can be read",
        sim.subscribed_skus().len(),
        sim.subscriptions().len()
    );
    assert_eq!(test["checks"][3]["message"], seats.as_str(), "{body}");

    let mut permissions = sim.permissions();
    permissions.audit_log_read_all = false;
    sim.set_permissions(permissions);
    let body = app.admin(&test_connection(&good), json!({})).await;
    let checks = &body["data"]["testProviderConnection"]["checks"];
    assert_eq!(body["data"]["testProviderConnection"]["ok"], false);
    assert_eq!(checks[2]["ok"], true, "users still readable");
    assert_eq!(checks[4]["code"], "SIGN_IN_ACTIVITY_UNAVAILABLE");

    let wrong = {
        let body = app
            .admin(
                "mutation($input: CreateMicrosoftProviderInput!) { createMicrosoftProvider(input: $input) { id } }",
                json!({ "input": { "name": "typo", "tenantId": sim.domain(),
                    "clientId": "00000000-1111-2222-3333-444444444444", "clientSecret": "wrong" } }),
            )
            .await;
        body["data"]["createMicrosoftProvider"]["id"]
            .as_str()
            .expect("created")
            .to_owned()
    };
    let body = app.admin(&test_connection(&wrong), json!({})).await;
    let token = &body["data"]["testProviderConnection"]["checks"][0];
    assert_eq!(token["code"], "APPLICATION_NOT_FOUND", "{body}");
    assert!(
        token["hint"]
            .as_str()
            .expect("hint")
            .contains("Application (client) ID")
    );

    let rotate = format!(
        r#"mutation {{ updateMicrosoftProvider(id: "{good}", input: {{ clientSecret: "not-the-secret" }}) {{ id }} }}"#
    );
    assert!(app.admin(&rotate, json!({})).await.get("errors").is_none());
    let body = app.admin(&test_connection(&good), json!({})).await;
    let token = &body["data"]["testProviderConnection"]["checks"][0];
    assert_eq!(token["code"], "INVALID_CLIENT_SECRET", "{body}");
    assert!(
        token["hint"]
            .as_str()
            .expect("hint")
            .contains("Value, not its Secret ID")
    );
    app.finish().await;
}

/// While Graph throttles the app, the Settings page's connection test says so in seconds,
/// instead of waiting out each Retry-After as a sync does (up to five minutes per request).
async fn the_connection_test_reports_throttling_instead_of_waiting_it_out(engine: Engine) {
    let faults = FaultOptions {
        throttle_rate: 1.0,
        retry_after_secs: 120.0,
        ..FaultOptions::default()
    };
    let sim = faulty_tenant(20, 6, faults).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    let body = app.admin(&test_connection(&provider), json!({})).await;
    let test = &body["data"]["testProviderConnection"];
    assert_eq!(test["ok"], false, "{body}");
    let checks = test["checks"].as_array().expect("checks");
    assert_eq!(
        checks[0]["ok"], true,
        "the token endpoint is not throttled: {body}"
    );
    let (license_write, reads) = checks[1..].split_last().expect("checks");
    for check in reads {
        assert_eq!(check["code"], "THROTTLED", "{body}");
    }
    assert_eq!(
        license_write["code"], "INSUFFICIENT_PRIVILEGES",
        "read from the token, without asking Graph: {body}"
    );
    assert!(
        checks[2]["message"]
            .as_str()
            .expect("message")
            .contains("s more"),
        "says how long Graph asked to wait: {body}"
    );
    let stats = sim.stats();
    assert_eq!(
        stats.throttled, 1,
        "after the first 429 nothing more was sent to Graph, and nothing early"
    );
    assert_eq!(stats.early_retries, 0);
    app.finish().await;
}

/// A tenant of a national cloud, reached through an overridden endpoint (the simulator here, a
/// proxy in the field): the token is asked for that cloud's Graph, which the sign-in accepts.
async fn a_national_cloud_tenant_syncs_through_an_overridden_endpoint(engine: Engine) {
    let sim = tenant(40, 5).await;
    let app = app_for(engine, &sim).await;
    for cloud in ["US_GOV", "US_GOV_DOD", "CHINA"] {
        let provider = app
            .connect_tenant_in(&sim, &sim.client_secret(), cloud)
            .await;
        let run = app.sync(&provider, "FULL").await;
        assert_eq!(run["status"], "SUCCEEDED", "{cloud}: {run}");
        assert_eq!(run["usersSeen"], 40, "{cloud}: {run}");
        let deleted = app
            .admin(
                &format!(r#"mutation {{ deleteProvider(id: "{provider}") }}"#),
                json!({}),
            )
            .await;
        assert!(deleted.get("errors").is_none(), "{deleted}");
    }
    app.finish().await;
}

/// The indexes that order the user lists, by name.
async fn order_indexes(app: &TestApp) -> BTreeSet<String> {
    let db = app.database.connect().await;
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'directory_users'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'directory_users'",
    };
    let names = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("index list")
        .iter()
        .map(|row| row.try_get::<String>("", "name").expect("name column"))
        .filter(|name| {
            ["_upn", "_display_name", "_last_sign_in", "_created"]
                .iter()
                .any(|key| name.ends_with(key))
        })
        .collect();
    db.close().await.ok();
    names
}

/// A first sync into an empty database builds the indexes of the user lists at its end rather
/// than row by row: whether it completes or fails half-way, the lists are indexed afterwards.
async fn a_first_sync_leaves_the_user_lists_indexed_whether_or_not_it_completes(engine: Engine) {
    let expected: BTreeSet<String> = [
        "ix_directory_users_created",
        "ix_directory_users_display_name",
        "ix_directory_users_last_sign_in",
        "ix_directory_users_upn",
    ]
    .map(String::from)
    .into();
    for (failing_page, status) in [(None, "SUCCEEDED"), (Some(2), "FAILED")] {
        let faults = FaultOptions {
            fail_users_page: failing_page,
            ..FaultOptions::default()
        };
        let sim = faulty_tenant(1_200, 5, faults).await;
        let app = app_for(engine, &sim).await;
        let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
        let run = app.sync(&provider, "FULL").await;
        assert_eq!(run["status"], status, "{run}");
        assert_eq!(order_indexes(&app).await, expected, "after a sync {status}");
        app.finish().await;
    }
}

engine_tests!(
    a_full_sync_stores_exactly_the_tenant,
    a_first_sync_leaves_the_user_lists_indexed_whether_or_not_it_completes,
    a_national_cloud_tenant_syncs_through_an_overridden_endpoint,
    an_incremental_sync_applies_every_kind_of_change,
    throttling_and_expiring_tokens_cost_time_not_data,
    a_page_that_keeps_failing_fails_the_sync_and_removes_nothing,
    a_tenant_without_sign_in_data_syncs_with_a_warning,
    an_expired_delta_link_falls_back_to_a_full_sync,
    a_sync_cut_short_by_shutdown_is_not_left_running,
    a_sync_cancelled_mid_listing_keeps_its_writes_and_the_next_one_completes,
    the_connection_test_names_what_works_and_what_does_not,
    the_connection_test_warns_when_licenses_cannot_be_changed,
    the_connection_test_reports_throttling_instead_of_waiting_it_out,
);

async fn replicas_never_run_one_provider_twice_at_once(engine: Engine) {
    use license_manager::entities::sync_runs;

    let sim = common::graph::slow_tenant(1_500, 8, Duration::from_millis(30)).await;
    let first = TestApp::spawn_with(
        engine,
        Options {
            workers: 2,
            ..Options::with_graph(sim.base_url())
        },
    )
    .await;
    let second = first
        .replica(Options {
            workers: 2,
            ..Options::with_graph(sim.base_url())
        })
        .await;
    let provider = first.connect_tenant(&sim, &sim.client_secret()).await;
    let db = first.database.connect().await;

    // Both replicas ask for a sync of the one provider at the same moment, and again once it
    // runs; each round ends when its runs have, so the pace is set by the syncs, not the clock.
    let running = || {
        sync_runs::Entity::find()
            .filter(sync_runs::Column::Status.eq("RUNNING"))
            .count(&db)
    };
    for _ in 0..3 {
        // Nothing is queued or running: one of the two is queued.
        let mut runs = ask_both([&first, &second], &provider).await;
        assert_eq!(runs.len(), 1, "one of two simultaneous requests is queued");
        first
            .wait_for_run(&runs[0], |run| run["status"] != "QUEUED")
            .await;
        // Refused while it runs; queued only if it has already ended.
        runs.extend(ask_both([&first, &second], &provider).await);
        assert!(running().await.expect("count") <= 1, "never two at once");
        for run in &runs {
            let run = first.finished(run).await;
            assert_eq!(run["status"], "SUCCEEDED", "{run}");
        }
    }

    // Every run, in the order they started: each began after the one before had ended.
    let mut history = sync_runs::Entity::find()
        .filter(sync_runs::Column::ProviderId.eq(provider.parse::<i64>().expect("id")))
        .all(&db)
        .await
        .expect("runs");
    history.sort_by_key(|run| run.started_at);
    assert!(history.len() >= 3, "several syncs ran one after another");
    for pair in history.windows(2) {
        let (earlier, later) = (&pair[0], &pair[1]);
        let ended = earlier.finished_at.expect("an ended run has an end");
        let began = later.started_at.expect("a run that ran has a start");
        assert!(
            began >= ended,
            "run {} started at {began} while run {} ran until {ended}",
            later.id,
            earlier.id
        );
    }
    db.close().await.ok();
    second.stop().await;
    first.finish().await;
}

/// Both replicas ask for a sync of `provider` at the same moment; returns the run queued, if
/// any: the unique index lets at most one through and the other is refused with CONFLICT.
async fn ask_both(replicas: [&TestApp; 2], provider: &str) -> Vec<String> {
    let mutation =
        format!(r#"mutation {{ startSync(providerId: "{provider}", mode: FULL) {{ id }} }}"#);
    let (a, b) = tokio::join!(
        replicas[0].admin(&mutation, json!({})),
        replicas[1].admin(&mutation, json!({}))
    );
    let queued: Vec<String> = [a, b]
        .iter()
        .filter_map(|body| match body["data"]["startSync"]["id"].as_str() {
            Some(run) => Some(run.to_owned()),
            None => {
                assert_eq!(common::error_code(body), "CONFLICT", "{body}");
                None
            }
        })
        .collect();
    assert!(queued.len() <= 1, "two runs queued at once: {queued:?}");
    queued
}

engine_tests!(replicas_never_run_one_provider_twice_at_once);

async fn the_license_api_reports_the_tenants_seats_and_holders(engine: Engine) {
    let sim = tenant(400, 19).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");

    let skus = assert_seats_match(&app, &sim).await;
    // SKUs users hold without a subscription are listed too, with no seats.
    let unsubscribed: Vec<&serde_json::Value> = skus
        .iter()
        .filter(|sku| sku["subscribed"] == false)
        .collect();
    assert!(unsubscribed.iter().all(|sku| sku["enabledUnits"] == 0));
    app.finish().await;
}

/// Asserts that the license API reports each subscribed SKU's seats and holders as the tenant
/// has them; returns every SKU it lists.
async fn assert_seats_match(app: &TestApp, sim: &graph_sim::SimServer) -> Vec<serde_json::Value> {
    let body = app
        .admin(
            "{ licenseSkus { skuId skuPartNumber subscribed enabledUnits consumedUnits availableUnits
                suspendedUnits warningUnits holders(first: 1) { totalCount } } }",
            json!({}),
        )
        .await;
    let skus = body["data"]["licenseSkus"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    for truth in sim.subscribed_skus() {
        let sku = skus
            .iter()
            .find(|sku| sku["skuId"] == truth.sku_id.to_string())
            .unwrap_or_else(|| panic!("{} listed", truth.sku_part_number));
        let enabled = i64::from(truth.prepaid_units.enabled);
        let consumed = i64::from(truth.consumed_units);
        assert_eq!(sku["enabledUnits"], enabled, "{}", truth.sku_part_number);
        assert_eq!(sku["consumedUnits"], consumed, "{}", truth.sku_part_number);
        assert_eq!(
            sku["availableUnits"],
            enabled - consumed,
            "{}",
            truth.sku_part_number
        );
        assert_eq!(
            sku["suspendedUnits"],
            i64::from(truth.prepaid_units.suspended)
        );
        assert_eq!(sku["warningUnits"], i64::from(truth.prepaid_units.warning));
        // Graph counts a seat per holder: the holders listed are exactly the consumed seats.
        let holders = sim
            .users()
            .iter()
            .filter(|user| {
                user.assigned_licenses
                    .iter()
                    .any(|l| l.sku_id == truth.sku_id)
            })
            .count();
        assert_eq!(
            sku["holders"]["totalCount"], holders,
            "{}",
            truth.sku_part_number
        );
    }
    skus.clone()
}

engine_tests!(the_license_api_reports_the_tenants_seats_and_holders);

/// Users in the tenants that list some of them twice: 30 pages of the sign-in listing.
const RELISTED_TENANT_USERS: usize = 3_000;

/// A tenant whose listing shows some users twice when `repeat_users` is on. Graph may list a
/// user twice when it changes while the listing is paged through ("It's possible that a single
/// entity will be contained multiple times in the response",
/// learn.microsoft.com/graph/delta-query-overview), the later time newer. graph-sim's
/// `repeat_users` lists such users first in an older state (another name, a license fewer),
/// then as they are, on the next page or at the end of the same one. Pages of 100 make many:
/// the writer meets them within one write (pages that piled up are written together) and, on
/// PostgreSQL, which writes two batches at once, in a batch still being written.
async fn relisting_tenant(repeat_users: bool) -> graph_sim::SimServer {
    let options = SimOptions {
        signin_page_cap: 100,
        faults: FaultOptions {
            repeat_users,
            ..FaultOptions::default()
        },
        ..SimOptions::default()
    };
    let spec = TenantSpec {
        users: RELISTED_TENANT_USERS,
        seed: 23,
        ..Default::default()
    };
    tenant_with(spec, options).await
}

/// A tenant synced in full while it listed each user once, and listing some twice from then on;
/// returns it, the app and the provider's id.
async fn synced_then_relisting(engine: Engine) -> (graph_sim::SimServer, TestApp, String) {
    let sim = relisting_tenant(false).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    sim.set_faults(FaultOptions {
        repeat_users: true,
        ..FaultOptions::default()
    });
    (sim, app, provider)
}

/// Runs a full sync of a tenant listing users twice and asserts what an admin would see: it
/// succeeds, counts each user once, and stores each once, as listed last, with its seats.
async fn assert_full_sync_keeps_the_later_listing(
    app: &TestApp,
    sim: &graph_sim::SimServer,
    provider: &str,
    created: usize,
) {
    let listed_twice = sim.stats().repeated_users;
    let run = app.sync(provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let repeated = sim.stats().repeated_users - listed_twice;
    assert!(repeated > 0, "users listed twice");
    assert_eq!(
        run["usersSeen"], RELISTED_TENANT_USERS,
        "each user counted once"
    );
    assert_eq!(run["usersCreated"], created);
    // A user listed twice is one user: created by a first sync (never also "updated"), or at
    // most one user updated over stored rows. How many of those are written twice at all
    // depends on how pages were batched: within one write the later listing replaces the
    // earlier before anything is written.
    let updated = run["usersUpdated"].as_u64().unwrap_or(u64::MAX);
    if created > 0 {
        assert_eq!(updated, 0, "{run}");
    } else {
        assert!(updated <= repeated, "{run}");
    }
    assert_eq!(run["usersRemoved"], 0);
    // Each user once, as listed last: the older state differs in name and licenses.
    assert_synced(app, sim, provider, LastSync::Full).await;
    assert_eq!(user_count(app).await, RELISTED_TENANT_USERS as i64);
    assert_seats_match(app, sim).await;
}

/// A first sync inserts each user listed twice once.
async fn a_first_sync_stores_a_user_listed_twice_once_as_listed_last(engine: Engine) {
    let sim = relisting_tenant(true).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_full_sync_keeps_the_later_listing(&app, &sim, &provider, RELISTED_TENANT_USERS).await;
    app.finish().await;
}

/// Over stored rows the older state differs from what is stored and the current one does not:
/// if the older were written last, it would stay.
async fn a_resync_keeps_the_later_state_of_a_user_listed_twice(engine: Engine) {
    let (sim, app, provider) = synced_then_relisting(engine).await;
    assert_full_sync_keeps_the_later_listing(&app, &sim, &provider, 0).await;
    app.finish().await;
}

/// An incremental round that lists a change twice (each delta page repeats the last change of
/// the page before) applies it and counts each changed user once.
async fn an_incremental_round_counts_a_user_listed_twice_once(engine: Engine) {
    let (sim, app, provider) = synced_then_relisting(engine).await;
    // More changes than one delta page holds (200), so that later pages repeat.
    let renamed: Vec<_> = sim.users().into_iter().take(450).collect();
    for (index, user) in renamed.iter().enumerate() {
        sim.rename_user(user.id, &format!("Renamed person {index}"), None)
            .expect("renamed");
    }
    let listed_twice = sim.stats().repeated_users;
    let run = app.sync(&provider, "DELTA").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["effectiveMode"], "DELTA");
    assert!(
        sim.stats().repeated_users > listed_twice,
        "changes listed twice"
    );
    assert_eq!(
        run["usersSeen"], 450,
        "each changed user counted once: {run}"
    );
    assert_eq!(run["usersUpdated"], 450, "{run}");
    assert_synced(&app, &sim, &provider, LastSync::Incremental).await;
    app.finish().await;
}

engine_tests!(
    a_first_sync_stores_a_user_listed_twice_once_as_listed_last,
    a_resync_keeps_the_later_state_of_a_user_listed_twice,
    an_incremental_round_counts_a_user_listed_twice_once,
);

/// Every user the filter selects, with each license's state, error and paths, as a frontend
/// reads them: by user principal name.
async fn users_with_licenses(app: &TestApp, filter: Value) -> BTreeMap<String, Value> {
    let query = "query($filter: UserFilter, $after: String) {
        users(filter: $filter, first: 500, after: $after) {
            pageInfo { hasNextPage endCursor }
            nodes { userPrincipalName licenses { sku { skuId displayName } assignedDirectly
                inheritedFromGroupIds state error
                sources { groupId state error disabledPlans } } } } }";
    let mut users = BTreeMap::new();
    let mut after = Value::Null;
    loop {
        let body = app
            .admin(query, json!({ "filter": filter, "after": after }))
            .await;
        let page = &body["data"]["users"];
        for user in page["nodes"].as_array().unwrap_or_else(|| panic!("{body}")) {
            let upn = user["userPrincipalName"].as_str().expect("upn").to_owned();
            users.insert(upn, user["licenses"].clone());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return users;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// A license of the tenant's truth as the API must show it.
fn expected_license(license: &LicenseView) -> Value {
    json!({
        "assignedDirectly": license.direct,
        "inheritedFromGroupIds": license.groups.iter().collect::<Vec<_>>(),
        "state": license.state,
        "error": license.error,
        "sources": license.paths.iter().map(|path| json!({
            "groupId": path.group,
            "state": path.state,
            "error": path.error,
            "disabledPlans": path.disabled_plans,
        })).collect::<Vec<_>>(),
    })
}

/// The API's licenses of one user, by SKU id, without the SKU itself.
fn by_sku(licenses: &Value) -> BTreeMap<String, Value> {
    licenses
        .as_array()
        .expect("licenses")
        .iter()
        .map(|license| {
            let mut shown = license.clone();
            let sku = shown
                .as_object_mut()
                .and_then(|fields| fields.remove("sku"))
                .expect("sku");
            (sku["skuId"].as_str().expect("skuId").to_owned(), shown)
        })
        .collect()
}

/// Graph sends "None" for an assignment without error (and null in some responses): either way
/// the API shows `error: null`, except on licenses with a failing path; a SKU held directly and
/// through a group that cannot assign it shows the group's error and both paths.
async fn a_tenant_sending_none_shows_errors_only_on_failing_paths(engine: Engine) {
    for no_error_as in [NoErrorAs::NoneText, NoErrorAs::Null] {
        let spec = TenantSpec {
            users: 300,
            seed: 7,
            no_error_as,
            ..Default::default()
        };
        let sim = tenant_with(spec, SimOptions::default()).await;
        let app = app_for(engine, &sim).await;
        let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
        let run = app.sync(&provider, "FULL").await;
        assert_eq!(run["status"], "SUCCEEDED", "{run}");
        assert_synced(&app, &sim, &provider, LastSync::Full).await;

        let (truth, _, _) = truth(&sim);
        let shown = users_with_licenses(&app, Value::Null).await;
        let mut in_error = 0;
        for user in &truth {
            let licenses = by_sku(&shown[&user.upn]);
            let expected: BTreeMap<String, Value> = user
                .licenses
                .iter()
                .map(|(sku, license)| (sku.clone(), expected_license(license)))
                .collect();
            assert_eq!(licenses, expected, "{no_error_as:?}: {}", user.upn);
            in_error += user
                .licenses
                .values()
                .filter(|license| license.error.is_some())
                .count();
        }
        assert!(in_error > 0, "some licenses have a failing path");
        let errors: Vec<&Value> = shown
            .values()
            .flat_map(|licenses| licenses.as_array().expect("licenses"))
            .map(|license| &license["error"])
            .filter(|error| !error.is_null())
            .collect();
        assert_eq!(errors.len(), in_error, "{no_error_as:?}: {errors:?}");
        assert!(errors.iter().all(|error| *error != "None"));

        // The case of the issue: held directly (Active, "None") and through a group whose
        // assignment failed.
        let (upn, sku, group) = truth
            .iter()
            .find_map(|user| {
                user.licenses.iter().find_map(|(sku, license)| {
                    let direct = license.paths.first()?;
                    let group = license.paths.get(1)?;
                    (direct.group.is_none()
                        && direct.state.as_deref() == Some("Active")
                        && group.state.as_deref() == Some("Error"))
                    .then(|| (user.upn.clone(), sku.clone(), group.clone()))
                })
            })
            .expect("a user holds a SKU directly and through a failing group");
        let license = &by_sku(&shown[&upn])[&sku];
        assert_eq!(license["assignedDirectly"], true);
        assert_eq!(license["state"], "Error");
        assert_eq!(license["error"], json!(group.error), "the group's error");
        assert_eq!(license["sources"][0]["groupId"], Value::Null);
        assert_eq!(license["sources"][0]["state"], "Active");
        assert_eq!(
            license["sources"][0]["error"],
            Value::Null,
            "\"None\" is no error"
        );
        assert_eq!(license["sources"][1]["groupId"], json!(group.group));
        assert_eq!(license["sources"][1]["error"], json!(group.error));
        app.finish().await;
    }
}

/// Graph's edge answers one request in ten with 500, 502 or 504, half of them an HTML page: two
/// full syncs still end SUCCEEDED with exactly the tenant's data, the second writing nothing.
/// Pages of 50 users make the syncs' hundreds of requests meet every kind of answer.
async fn a_full_sync_through_an_edge_failing_one_request_in_ten_ends_exact(engine: Engine) {
    let options = SimOptions {
        signin_page_cap: 50,
        faults: FaultOptions {
            server_error_rate: 0.1,
            ..FaultOptions::default()
        },
        ..SimOptions::default()
    };
    let spec = TenantSpec {
        users: 6_000,
        seed: 17,
        ..Default::default()
    };
    let sim = tenant_with(spec, options).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;

    let run = app.sync(&provider, "FULL").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["usersCreated"], 6_000);
    assert_synced(&app, &sim, &provider, LastSync::Full).await;
    let again = app.sync(&provider, "FULL").await;
    assert_eq!(again["status"], "SUCCEEDED", "{again}");
    assert_eq!(
        (again["usersCreated"].clone(), again["usersUpdated"].clone()),
        (json!(0), json!(0))
    );
    assert_synced(&app, &sim, &provider, LastSync::Full).await;

    let stats = sim.stats();
    assert!(
        stats.html_errors > 0,
        "some failures were HTML pages: {stats:?}"
    );
    assert!(
        stats.server_errors > stats.html_errors,
        "and some Graph's JSON: {stats:?}"
    );
    app.finish().await;
}

/// The report, the `licenseInError` filter and the CSV export tell the same licenses in error
/// as the API's `error` field: none of them takes Graph's "None" for one.
async fn the_report_the_filter_and_the_csv_agree_on_licenses_in_error(engine: Engine) {
    let sim = tenant(400, 19).await;
    let app = app_for(engine, &sim).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    let (truth, _, _) = truth(&sim);
    // (user, SKU) → error, for every license in error.
    let in_error: BTreeMap<(String, String), String> = truth
        .iter()
        .flat_map(|user| {
            user.licenses.iter().filter_map(|(sku, license)| {
                let error = license.error.clone()?;
                Some(((user.upn.clone(), sku.clone()), error))
            })
        })
        .collect();
    assert!(!in_error.is_empty(), "the tenant has licenses in error");
    let users_in_error: BTreeSet<String> = in_error.keys().map(|(upn, _)| upn.clone()).collect();

    // The filter.
    let filtered = users_with_licenses(&app, json!({ "licenseInError": true })).await;
    assert_eq!(
        filtered.keys().cloned().collect::<BTreeSet<_>>(),
        users_in_error
    );
    let others = users_with_licenses(&app, json!({ "licenseInError": false })).await;
    assert_eq!(others.len() + filtered.len(), truth.len());
    assert!(others.keys().all(|upn| !users_in_error.contains(upn)));

    // The report: each finding about a license shows that license's error, or null.
    let report = app
        .admin(
            "{ licenseReport(inactiveDays: 30) { findings(first: 500) { nodes {
                user { userPrincipalName } sku { skuId } licenseState licenseError removal } } } }",
            json!({}),
        )
        .await;
    let findings = report["data"]["licenseReport"]["findings"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"));
    let mut reported_in_error = 0;
    for finding in findings {
        let Some(upn) = finding["user"]["userPrincipalName"].as_str() else {
            assert_eq!(finding["licenseError"], Value::Null, "unassigned seats");
            continue;
        };
        let key = (
            upn.to_owned(),
            finding["sku"]["skuId"].as_str().expect("sku").to_owned(),
        );
        assert_eq!(
            finding["licenseError"],
            json!(in_error.get(&key)),
            "{finding}"
        );
        let removal = finding["removal"].as_str().expect("removal");
        assert!(!removal.contains("None"), "{removal}");
        if let Some(error) = in_error.get(&key) {
            assert!(removal.contains(&format!("reports {error}")), "{removal}");
            reported_in_error += 1;
        }
    }
    assert!(
        reported_in_error > 0,
        "some findings are about licenses in error"
    );

    // The CSV: the licenses column marks each license in error, and no other.
    let skus = app
        .admin("{ licenseSkus { skuId displayName } }", json!({}))
        .await;
    let names: BTreeMap<String, String> = skus["data"]["licenseSkus"]
        .as_array()
        .expect("skus")
        .iter()
        .map(|sku| {
            let field = |name: &str| sku[name].as_str().expect("text").to_owned();
            (field("skuId"), field("displayName"))
        })
        .collect();
    let csv_text = app
        .http
        .get(app.url("/export/users.csv"))
        .bearer_auth(app.token(Role::Viewer, "csv"))
        .send()
        .await
        .expect("exported")
        .text()
        .await
        .expect("CSV");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    assert_eq!(rows.len(), truth.len());
    for row in &rows {
        let (upn, cell) = (&row[2], &row[14]);
        let expected: Vec<(&String, &String)> = in_error
            .iter()
            .filter(|((user, _), _)| user == upn)
            .map(|((_, sku), error)| (&names[sku], error))
            .collect();
        assert_eq!(
            cell.matches("error ").count(),
            expected.len(),
            "{upn}: {cell}"
        );
        for (name, error) in expected {
            let marked = cell.split("; ").any(|license| {
                license.starts_with(name.as_str()) && license.ends_with(&format!("error {error})"))
            });
            assert!(marked, "{upn}: {name} marked with {error} in {cell}");
        }
        assert!(!cell.contains("None"), "{cell}");
    }
    let csv_in_error = app
        .http
        .get(app.url("/export/users.csv?licenseInError=true"))
        .bearer_auth(app.token(Role::Viewer, "csv"))
        .send()
        .await
        .expect("exported")
        .text()
        .await
        .expect("CSV");
    let upns: BTreeSet<String> = csv::Reader::from_reader(csv_in_error.as_bytes())
        .records()
        .map(|row| row.expect("a row")[2].to_owned())
        .collect();
    assert_eq!(upns, users_in_error);
    app.finish().await;
}

engine_tests!(
    a_tenant_sending_none_shows_errors_only_on_failing_paths,
    a_full_sync_through_an_edge_failing_one_request_in_ten_ends_exact,
    the_report_the_filter_and_the_csv_agree_on_licenses_in_error,
);
