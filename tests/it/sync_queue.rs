//! Syncs as durable jobs: queued by the API, claimed under a lease by exactly one worker,
//! cancelled, and never left RUNNING when the process holding them dies.

use crate::common;

use std::collections::HashSet;

use chrono::Duration;
use common::{Engine, TestApp, error_code};
use license_manager::auth::Role;
use license_manager::entities::sync_runs;
use license_manager::sync::events::RunEvents;
use license_manager::sync::queue::{self, Heartbeat, Outcome, Progress, SyncMode};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

async fn graphql(app: &TestApp, role: Role, query: &str) -> Value {
    let token = app.token(role, "ops-script");
    let (_, body) = app
        .graphql_with_header(Some(&format!("Bearer {token}")), query)
        .await;
    body
}

async fn create_provider(app: &TestApp, tenant: &str) -> String {
    let body = graphql(
        app,
        Role::Admin,
        &format!(
            r#"mutation {{ createMicrosoftProvider(input: {{
                name: "{tenant}", tenantId: "{tenant}",
                clientId: "535fb089-9ff3-47b6-9bfb-4f1264799865", clientSecret: "s3cret-value"
            }}) {{ id }} }}"#
        ),
    )
    .await;
    body["data"]["createMicrosoftProvider"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("provider created: {body}"))
        .to_owned()
}

async fn start(app: &TestApp, provider: &str) -> Value {
    graphql(
        app,
        Role::Admin,
        &format!(
            r#"mutation {{ startSync(providerId: "{provider}", mode: FULL) {{
                id status mode trigger effectiveMode startedAt error {{ code }}
            }} }}"#
        ),
    )
    .await
}

async fn a_provider_has_at_most_one_active_sync(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let provider = create_provider(&app, "contoso.onmicrosoft.com").await;

    let first = start(&app, &provider).await;
    let run = &first["data"]["startSync"];
    assert_eq!(run["status"], "QUEUED", "{first}");
    assert_eq!(run["mode"], "FULL");
    assert_eq!(run["trigger"], "manual");
    assert!(run["startedAt"].is_null() && run["effectiveMode"].is_null());

    let second = start(&app, &provider).await;
    assert_eq!(error_code(&second), "CONFLICT");

    let run_id = run["id"].as_str().expect("id");
    let cancelled = graphql(
        &app,
        Role::Admin,
        &format!(r#"mutation {{ cancelSync(id: "{run_id}") {{ status finishedAt error {{ code hint }} }} }}"#),
    )
    .await;
    assert_eq!(
        cancelled["data"]["cancelSync"]["status"], "CANCELLED",
        "{cancelled}"
    );
    assert_eq!(
        cancelled["data"]["cancelSync"]["error"]["code"],
        "CANCELLED"
    );

    let again = start(&app, &provider).await;
    assert_eq!(again["data"]["startSync"]["status"], "QUEUED", "{again}");

    let history = graphql(
        &app,
        Role::Viewer,
        &format!(
            r#"{{ provider(id: "{provider}") {{ lastSyncRun {{ id status }} }}
                 syncRuns(providerId: "{provider}", first: 1) {{
                    edges {{ node {{ status }} }} pageInfo {{ hasNextPage endCursor }} }} }}"#
        ),
    )
    .await;
    let data = &history["data"];
    assert_eq!(
        data["provider"]["lastSyncRun"]["id"],
        again["data"]["startSync"]["id"]
    );
    assert_eq!(
        data["syncRuns"]["edges"],
        json!([{ "node": { "status": "QUEUED" } }])
    );
    assert_eq!(data["syncRuns"]["pageInfo"]["hasNextPage"], true);
    let cursor = data["syncRuns"]["pageInfo"]["endCursor"]
        .as_str()
        .expect("cursor");
    let older = graphql(
        &app,
        Role::Viewer,
        &format!(r#"{{ syncRuns(first: 5, after: "{cursor}") {{ edges {{ node {{ status }} }} pageInfo {{ hasNextPage }} }} }}"#),
    )
    .await;
    assert_eq!(
        older["data"]["syncRuns"],
        json!({ "edges": [{ "node": { "status": "CANCELLED" } }], "pageInfo": { "hasNextPage": false } })
    );
    app.finish().await;
}

async fn sync_mutations_check_their_input(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let provider = create_provider(&app, "contoso.onmicrosoft.com").await;
    assert_eq!(error_code(&start(&app, "424242").await), "NOT_FOUND");
    assert_eq!(error_code(&start(&app, "abc").await), "BAD_USER_INPUT");
    let viewer = graphql(
        &app,
        Role::Viewer,
        &format!(r#"mutation {{ startSync(providerId: "{provider}") {{ id }} }}"#),
    )
    .await;
    assert_eq!(error_code(&viewer), "FORBIDDEN");
    let bad_cursor = graphql(
        &app,
        Role::Viewer,
        r#"{ syncRuns(after: "nonsense") { edges { cursor } } }"#,
    )
    .await;
    assert_eq!(error_code(&bad_cursor), "BAD_USER_INPUT");
    let too_many = graphql(
        &app,
        Role::Viewer,
        "{ syncRuns(first: 100000) { edges { cursor } } }",
    )
    .await;
    assert_eq!(error_code(&too_many), "BAD_USER_INPUT");
    app.finish().await;
}

async fn queue_runs(app: &TestApp, count: usize) -> (DatabaseConnection, HashSet<i64>) {
    let mut queued = HashSet::new();
    for index in 0..count {
        let provider = create_provider(app, &format!("tenant{index}.onmicrosoft.com")).await;
        let run = start(app, &provider).await;
        let id = run["data"]["startSync"]["id"].as_str().expect("queued");
        queued.insert(id.parse::<i64>().expect("numeric id"));
    }
    (app.database.connect().await, queued)
}

/// One queued run, claimed by `worker` with a lease that has already run out: its process died.
async fn dead_run(app: &TestApp, worker: &str) -> (DatabaseConnection, sync_runs::Model) {
    let (db, _) = queue_runs(app, 1).await;
    let run = queue::claim(&db, &RunEvents::default(), worker, Duration::seconds(-1))
        .await
        .expect("claim")
        .expect("a queued run");
    (db, run)
}

async fn each_run_is_claimed_by_exactly_one_worker(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (db, queued) = queue_runs(&app, 6).await;

    // Eight workers race for six runs.
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut claimed = Vec::new();
                while let Some(run) = queue::claim(
                    &db,
                    &RunEvents::default(),
                    &format!("worker-{worker}"),
                    Duration::minutes(5),
                )
                .await
                .expect("claim")
                {
                    assert_eq!(
                        run.lease_owner.as_deref(),
                        Some(format!("worker-{worker}").as_str())
                    );
                    claimed.push(run.id);
                }
                claimed
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.expect("worker finished"));
    }
    assert_eq!(
        claimed.len(),
        queued.len(),
        "every run claimed once: {claimed:?}"
    );
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), queued);
    db.close().await.ok();
    app.finish().await;
}

async fn a_run_whose_worker_died_is_failed_as_interrupted(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (db, run) = dead_run(&app, "dead-worker").await;
    assert_eq!(
        queue::fail_expired(&db, &RunEvents::default())
            .await
            .expect("reaped"),
        vec![run.id]
    );

    // The dead worker, should it wake up, can no longer touch the run.
    assert_eq!(
        queue::heartbeat(&db, run.id, "dead-worker", Duration::minutes(1))
            .await
            .expect("heartbeat"),
        Heartbeat::Lost
    );
    assert!(
        !queue::save_progress(
            &db,
            &RunEvents::default(),
            run.id,
            "dead-worker",
            &Progress::default()
        )
        .await
        .expect("write")
    );
    assert!(
        !queue::finish(
            &db,
            &RunEvents::default(),
            run.id,
            "dead-worker",
            Outcome::Succeeded
        )
        .await
        .expect("write")
    );

    let data = app
        .query(
            Role::Viewer,
            &format!(r#"{{ syncRun(id: "{}") {{ status finishedAt error {{ code message hint }} provider {{ id }} }} }}"#, run.id),
        )
        .await;
    assert_eq!(data["syncRun"]["status"], "FAILED");
    assert_eq!(data["syncRun"]["error"]["code"], "INTERRUPTED");
    assert!(!data["syncRun"]["finishedAt"].is_null());

    // The provider is free to sync again.
    let provider = data["syncRun"]["provider"]["id"]
        .as_str()
        .expect("provider id");
    assert_eq!(
        start(&app, provider).await["data"]["startSync"]["status"],
        "QUEUED"
    );
    db.close().await.ok();
    app.finish().await;
}

async fn a_running_sync_stops_when_cancelled(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (db, _) = queue_runs(&app, 1).await;
    let run = queue::claim(&db, &RunEvents::default(), "worker", Duration::minutes(5))
        .await
        .expect("claim")
        .expect("a queued run");
    let progress = Progress {
        effective_mode: Some(SyncMode::Full),
        pages_fetched: 3,
        users_seen: 2500,
        users_created: 2500,
        ..Progress::default()
    };
    assert!(
        queue::save_progress(&db, &RunEvents::default(), run.id, "worker", &progress)
            .await
            .expect("write")
    );
    assert_eq!(
        queue::heartbeat(&db, run.id, "worker", Duration::minutes(5))
            .await
            .expect("heartbeat"),
        Heartbeat::Continue
    );

    let body = graphql(
        &app,
        Role::Admin,
        &format!(
            r#"mutation {{ cancelSync(id: "{}") {{ status }} }}"#,
            run.id
        ),
    )
    .await;
    assert_eq!(
        body["data"]["cancelSync"]["status"], "RUNNING",
        "asked, not yet stopped: {body}"
    );
    assert_eq!(
        queue::heartbeat(&db, run.id, "worker", Duration::minutes(5))
            .await
            .expect("heartbeat"),
        Heartbeat::CancelRequested
    );
    assert!(
        queue::finish(
            &db,
            &RunEvents::default(),
            run.id,
            "worker",
            Outcome::Cancelled
        )
        .await
        .expect("write")
    );

    let data = app
        .query(
            Role::Viewer,
            &format!(r#"{{ syncRun(id: "{}") {{ status effectiveMode pagesFetched usersSeen usersCreated error {{ code }} }} }}"#, run.id),
        )
        .await;
    assert_eq!(
        data["syncRun"],
        json!({ "status": "CANCELLED", "effectiveMode": "FULL", "pagesFetched": 3,
                "usersSeen": 2500, "usersCreated": 2500, "error": { "code": "CANCELLED" } })
    );
    let ended = graphql(
        &app,
        Role::Admin,
        &format!(
            r#"mutation {{ cancelSync(id: "{}") {{ status }} }}"#,
            run.id
        ),
    )
    .await;
    assert_eq!(error_code(&ended), "CONFLICT");
    db.close().await.ok();
    app.finish().await;
}

async fn a_dead_run_never_blocks_the_next_start_even_without_workers(engine: Engine) {
    // An API-only server (no workers), and a run whose process died without a word.
    let app = TestApp::spawn(engine).await;
    let (db, dead) = dead_run(&app, "killed-cron-job").await;
    let body = graphql(
        &app,
        Role::Viewer,
        &format!(
            r#"{{ syncRun(id: "{}") {{ provider {{ id }} }} }}"#,
            dead.id
        ),
    )
    .await;
    let provider = body["data"]["syncRun"]["provider"]["id"]
        .as_str()
        .expect("provider")
        .to_owned();

    let next = start(&app, &provider).await;
    assert_eq!(next["data"]["startSync"]["status"], "QUEUED", "{next}");
    let old = graphql(
        &app,
        Role::Viewer,
        &format!(
            r#"{{ syncRun(id: "{}") {{ status error {{ code }} }} }}"#,
            dead.id
        ),
    )
    .await;
    assert_eq!(
        old["data"]["syncRun"],
        json!({ "status": "FAILED", "error": { "code": "INTERRUPTED" } })
    );
    db.close().await.ok();
    app.finish().await;
}

/// A sync history page names each run's provider; the providers of a whole page cost one
/// statement, however many runs and providers it lists.
async fn a_history_page_reads_its_providers_at_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // Seven queued runs, each of a provider of its own.
    queue_runs(&app, 7).await;
    let mut measured = Vec::new();
    for first in [1, 7] {
        let history = format!(
            "{{ syncRuns(first: {first}) {{ edges {{ node {{ status provider {{ name }} }} }} }} }}"
        );
        let before = app.metrics.sql_statements();
        let body = graphql(&app, Role::Viewer, &history).await;
        measured.push(app.metrics.sql_statements() - before);
        let runs = body["data"]["syncRuns"]["edges"].as_array().cloned();
        let names: Vec<Value> = runs
            .unwrap_or_default()
            .iter()
            .map(|edge| edge["node"]["provider"]["name"].clone())
            .collect();
        assert_eq!(names.len(), first, "{body}");
        assert!(names.iter().all(Value::is_string), "{body}");
    }
    assert_eq!(measured[0], measured[1], "statements for 1 and 7 runs");
    app.finish().await;
}

engine_tests!(
    a_history_page_reads_its_providers_at_once,
    a_dead_run_never_blocks_the_next_start_even_without_workers,
    a_provider_has_at_most_one_active_sync,
    sync_mutations_check_their_input,
    each_run_is_claimed_by_exactly_one_worker,
    a_run_whose_worker_died_is_failed_as_interrupted,
    a_running_sync_stops_when_cancelled,
);
