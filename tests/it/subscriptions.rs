//! `syncRunUpdated` over graphql-transport-ws, as a dashboard follows a sync live.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use crate::common::websocket::{Socket, connect, next_json, open};
use chrono::Duration as ChronoDuration;
use common::graph::slow_tenant;
use common::{Engine, Options, TestApp};
use futures::{SinkExt, StreamExt};
use license_manager::api::SubscriptionLimits;
use license_manager::app::load_jwt_keys;
use license_manager::auth::{MaxTokenLifetime, Role};
use license_manager::http::{ServerLimits, Timeout};
use license_manager::sync::queue::{self, Progress};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn rename(app: &TestApp, provider: &str, name: &str) {
    let body = app
        .admin(
            &format!(
                r#"mutation {{ updateMicrosoftProvider(id: "{provider}", input: {{ name: "{name}" }}) {{ name }} }}"#
            ),
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

/// The dashboard also shows the provider, renamed while it watches, and its seats as the sync
/// fills them in: each event is read afresh, not from what the connection saw at an earlier one.
async fn a_dashboard_follows_a_sync_to_its_end(engine: Engine) {
    // Latency, so that the sync is still running when the provider is renamed.
    let sim = slow_tenant(2_500, 17, Duration::from_millis(100)).await;
    let app = TestApp::spawn_with(engine, Options::with_graph(sim.base_url())).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    let run = app.start_sync(&provider, "FULL").await;

    let mut socket = connect(&app, Some(&app.token(Role::Viewer, "dashboard"))).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": format!(r#"subscription {{ syncRunUpdated(id: "{run}") {{
            status usersSeen provider {{ name licenseSkus {{ skuPartNumber consumedUnits }} }}
        }} }}"#) } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");

    let mut updates = Vec::new();
    loop {
        let message = next_json(&mut socket).await.expect("a message");
        match message["type"].as_str() {
            Some("next") => {
                if updates.is_empty() {
                    rename(&app, &provider, "Contoso (renamed)").await;
                }
                updates.push(message["payload"]["data"]["syncRunUpdated"].clone());
            }
            Some("complete") => break,
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    let last = updates.last().expect("at least one update");
    assert_eq!(last["status"], "SUCCEEDED");
    assert_eq!(last["usersSeen"], 2_500);
    assert_eq!(last["provider"]["name"], "Contoso (renamed)", "{last}");
    let skus = last["provider"]["licenseSkus"].as_array().cloned();
    let consumed: HashMap<String, i64> = skus
        .unwrap_or_default()
        .iter()
        .map(|sku| {
            let name = sku["skuPartNumber"].as_str().unwrap_or_default().to_owned();
            (name, sku["consumedUnits"].as_i64().unwrap_or(-1))
        })
        .collect();
    // The provider also lists SKUs its users hold without a subscription; those have no seats.
    for sku in sim.subscribed_skus() {
        assert_eq!(
            consumed.get(&sku.sku_part_number),
            Some(&i64::from(sku.consumed_units)),
            "the last event shows the synced seats of {}: {consumed:?}",
            sku.sku_part_number
        );
    }
    let seen: Vec<i64> = updates
        .iter()
        .filter_map(|u| u["usersSeen"].as_i64())
        .collect();
    assert!(
        seen.windows(2).all(|pair| pair[0] <= pair[1]),
        "progress only grows: {seen:?}"
    );
    app.finish().await;
}

engine_tests!(
    a_dashboard_follows_a_sync_to_its_end,
    a_named_subscription_follows_the_run_to_its_end,
    a_subscription_ends_when_its_provider_is_deleted,
);

#[tokio::test]
async fn a_websocket_without_a_valid_token_is_closed() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    for token in [None, Some("not-a-jwt")] {
        let mut socket = connect(&app, token).await;
        // graphql-transport-ws: Forbidden.
        assert_eq!(close_code(&mut socket).await, Some(4403), "{token:?}");
    }
    app.finish().await;
}

/// A `connection_init` bigger than any request may be is not read to its end: the socket closes
/// before anything is acknowledged, whatever the payload says.
#[tokio::test]
async fn an_oversized_connection_init_closes_the_socket() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mut socket = open(&app).await;
    let padding = "x".repeat(2 * 1024 * 1024);
    let init = json!({ "type": "connection_init", "payload": {
        "Authorization": format!("Bearer {}", app.token(Role::Viewer, "dashboard")),
        "padding": padding,
    } });
    // The server may close while the message is still being sent.
    let _ = socket.send(Message::text(init.to_string())).await;
    let answer = next_json(&mut socket).await;
    assert!(answer.is_none(), "not acknowledged: {answer:?}");
    app.finish().await;
}

/// A dashboard's mistake in a subscription document gets the same code over the websocket as it
/// would over HTTP, so one error handler serves both.
#[tokio::test]
async fn a_subscription_document_that_fails_validation_is_bad_user_input() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mut socket = connect(&app, Some(&app.token(Role::Viewer, "dashboard"))).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": r#"subscription { syncRunUpdated(id: "1") { noSuchField } }"# } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");
    let message = next_json(&mut socket).await.expect("a message");
    assert_eq!(message["type"], "next", "{message}");
    let error = &message["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{message}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|text| text.contains("noSuchField")),
        "{message}"
    );
    app.finish().await;
}

/// The code of the close frame that ends the socket, skipping anything sent before it; `None`
/// when the socket ends without one.
async fn close_code(socket: &mut Socket) -> Option<u16> {
    while let Some(message) = socket.next().await {
        if let Ok(Message::Close(frame)) = message {
            return frame.map(|frame| u16::from(frame.code));
        }
    }
    None
}

async fn subscribe(socket: &mut Socket, id: &str, run: &str) {
    let subscribe = json!({ "id": id, "type": "subscribe", "payload": {
        "query": format!(r#"subscription {{ syncRunUpdated(id: "{run}") {{ id status }} }}"#) } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");
}

/// A run that stays queued, as no worker runs: its subscriptions stay open.
async fn queued_run(app: &TestApp) -> String {
    queued_run_and_provider(app).await.0
}

/// A queued run, as [`queued_run`], and its provider's id.
async fn queued_run_and_provider(app: &TestApp) -> (String, String) {
    let body = app
        .admin(
            r#"mutation { createMicrosoftProvider(input: {
                name: "Contoso", tenantId: "contoso.onmicrosoft.com",
                clientId: "535fb089-9ff3-47b6-9bfb-4f1264799865", clientSecret: "s3cret-value"
            }) { id } }"#,
            json!({}),
        )
        .await;
    let provider = body["data"]["createMicrosoftProvider"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("provider created: {body}"))
        .to_owned();
    (app.start_sync(&provider, "FULL").await, provider)
}

async fn viewer_socket(app: &TestApp) -> Socket {
    let mut socket = connect(app, Some(&app.token(Role::Viewer, "dashboard"))).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    socket
}

/// Subscribes `ids` at once and sorts the first answer of each: served (the run) or refused
/// (the error's `limit`).
async fn subscribe_all(socket: &mut Socket, run: &str, ids: &[&str]) -> (Vec<String>, Vec<String>) {
    for id in ids {
        subscribe(socket, id, run).await;
    }
    let (mut served, mut refused) = (Vec::new(), Vec::new());
    while served.len() + refused.len() < ids.len() {
        let message = next_json(socket).await.expect("a message");
        if message["type"] != "next" {
            continue;
        }
        let id = message["id"].as_str().expect("an id").to_owned();
        match message["payload"]["errors"].get(0) {
            None => served.push(id),
            Some(error) => {
                assert_eq!(
                    error["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
                    "{message}"
                );
                refused.push(
                    error["extensions"]["limit"]
                        .as_str()
                        .expect("limit")
                        .to_owned(),
                );
            }
        }
    }
    (served, refused)
}

fn limits(limits: ServerLimits) -> Options {
    Options {
        limits,
        ..Options::default()
    }
}

/// A socket that never says `connection_init` is closed once the wait is over, with the code
/// graphql-transport-ws gives it.
#[tokio::test]
async fn a_websocket_that_never_initialises_is_closed_with_4408() {
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        limits(ServerLimits {
            websocket_init_timeout: Timeout::new(Duration::from_millis(200)).expect("not zero"),
            ..ServerLimits::default()
        }),
    )
    .await;
    let mut socket = open(&app).await;
    assert_eq!(close_code(&mut socket).await, Some(4408));
    app.finish().await;
}

/// Past the cap of one socket, and then past the process's, a subscription is refused with a
/// code naming the limit; completing one makes room again.
async fn a_subscription_flood_is_refused_past_the_caps(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        limits(ServerLimits {
            subscriptions: SubscriptionLimits {
                per_socket: 3.try_into().expect("not zero"),
                total: 5.try_into().expect("not zero"),
            },
            ..ServerLimits::default()
        }),
    )
    .await;
    let run = queued_run(&app).await;

    let mut first = viewer_socket(&app).await;
    let (served, refused) = subscribe_all(&mut first, &run, &["1", "2", "3", "4"]).await;
    assert_eq!(
        (served.len(), refused),
        (3, vec!["maxSubscriptionsPerSocket".to_owned()])
    );

    let mut second = viewer_socket(&app).await;
    let (_, refused) = subscribe_all(&mut second, &run, &["1", "2", "3"]).await;
    assert_eq!(refused, ["maxSubscriptions"]);

    let complete = json!({ "id": served[0], "type": "complete" });
    first
        .send(Message::text(complete.to_string()))
        .await
        .expect("sent");
    loop {
        let message = next_json(&mut first).await.expect("a message");
        if message["type"] == "complete" && message["id"] == served[0].as_str() {
            break;
        }
    }
    let (served, refused) = subscribe_all(&mut second, &run, &["4"]).await;
    assert_eq!(
        (served, refused),
        (vec!["4".to_owned()], Vec::<String>::new())
    );
    app.finish().await;
}

/// A live subscription stops with its token: when the token expires the socket is closed with
/// 4403 and nothing more comes, without a new operation needed to notice.
async fn an_expired_token_closes_a_live_subscription(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let run = queued_run(&app).await;
    let (keys, _) = load_jwt_keys(None, MaxTokenLifetime::DEFAULT, app.data_dir.path())
        .expect("the server's signing key");
    let token = keys
        .issue("dashboard", Role::Viewer, Duration::from_secs(60))
        .expect("token signed");
    let mut socket = connect(&app, Some(&token)).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    subscribe(&mut socket, "1", &run).await;
    let first = next_json(&mut socket).await.expect("the run");
    assert_eq!(
        first["payload"]["data"]["syncRunUpdated"]["status"], "QUEUED",
        "{first}"
    );

    // The token's minute passes on tokio's clock, which the server's deadline follows. Time
    // runs again at once, as the database answers in real time.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(61)).await;
    tokio::time::resume();
    assert_eq!(close_code(&mut socket).await, Some(4403));
    assert!(socket.next().await.is_none(), "nothing after the close");
    app.finish().await;
}

/// Deleting a provider deletes its runs; a dashboard following one of them is told the run is
/// over instead of waiting for an end that will never come.
async fn a_subscription_ends_when_its_provider_is_deleted(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (run, provider) = queued_run_and_provider(&app).await;
    let mut socket = viewer_socket(&app).await;
    subscribe(&mut socket, "1", &run).await;
    let first = next_json(&mut socket).await.expect("the run");
    assert_eq!(
        first["payload"]["data"]["syncRunUpdated"]["status"], "QUEUED",
        "{first}"
    );

    let deleted = app
        .admin(
            "mutation($id: ID!) { deleteProvider(id: $id) }",
            json!({ "id": provider }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteProvider"], provider, "{deleted}");
    // Without the news the socket would stay silent: a generous bound turns a hang into a
    // failure; it is not a measure of speed.
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let message = next_json(&mut socket).await.expect("a message");
            if message["type"] == "complete" {
                return message;
            }
        }
    })
    .await
    .expect("the subscription completes");
    assert_eq!(ended["id"], "1", "{ended}");
    app.finish().await;
}

/// A named subscription sent without `operationName`, as the console sends it, is followed to
/// the run's end like an anonymous one, not cut after its first event as a query would be.
async fn a_named_subscription_follows_the_run_to_its_end(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let run = queued_run(&app).await;
    let mut socket = viewer_socket(&app).await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription RunUpdated($id: ID!) { syncRunUpdated(id: $id) { status } }",
        "variables": { "id": run } } });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");
    let first = next_json(&mut socket).await.expect("the run");
    assert_eq!(
        first["payload"]["data"]["syncRunUpdated"]["status"], "QUEUED",
        "{first}"
    );

    let cancelled = app
        .admin(
            "mutation($id: ID!) { cancelSync(id: $id) { status } }",
            json!({ "id": run }),
        )
        .await;
    assert_eq!(cancelled["data"]["cancelSync"]["status"], "CANCELLED");
    let next = tokio::time::timeout(Duration::from_secs(60), next_json(&mut socket))
        .await
        .expect("an answer")
        .expect("a message");
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["data"]["syncRunUpdated"]["status"], "CANCELLED",
        "{next}"
    );
    app.finish().await;
}

/// Subscribes `ids` on `socket` with `{ id status usersSeen }` and waits for their first answer.
async fn follow(socket: &mut Socket, run: &str, ids: &[String]) {
    for id in ids {
        let subscribe = json!({ "id": id, "type": "subscribe", "payload": {
            "query": format!(r#"subscription {{ syncRunUpdated(id: "{run}") {{ id status usersSeen }} }}"#) } });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .expect("sent");
    }
    for _ in ids {
        let message = next_json(socket).await.expect("a message");
        assert_eq!(message["type"], "next", "{message}");
    }
}

/// Waits until each of `count` subscriptions on `socket` has delivered `users_seen`.
async fn delivered(socket: &mut Socket, count: usize, users_seen: i64) {
    let mut pending = count;
    while pending > 0 {
        let message = next_json(socket).await.expect("a message");
        let run = &message["payload"]["data"]["syncRunUpdated"];
        assert_eq!(run["status"], "RUNNING", "{message}");
        if run["usersSeen"] == users_seen {
            pending -= 1;
        }
    }
}

/// Writes `changes` progress updates to the run as a worker would, each announced; returns
/// the statements the server ran meanwhile, once every subscription has delivered each update.
async fn statements_for_changes(
    app: &TestApp,
    db: &DatabaseConnection,
    run_id: i64,
    socket: &mut Socket,
    subscriptions: usize,
    first_users_seen: i64,
) -> u64 {
    let before = app.metrics.sql_statements();
    for users_seen in first_users_seen..first_users_seen + CHANGES {
        let progress = Progress {
            users_seen,
            ..Progress::default()
        };
        assert!(
            queue::save_progress(db, &app.events, run_id, "test-worker", &progress)
                .await
                .expect("saved")
        );
        delivered(socket, subscriptions, users_seen).await;
    }
    app.metrics.sql_statements() - before
}

const CHANGES: i64 = 5;

/// Subscriptions are pushed each change, not polled: the server reads a changed run once, and
/// forty subscribers on it cost the database what one does.
async fn subscribers_of_one_run_share_one_read_per_change(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let run = queued_run(&app).await;
    let run_id: i64 = run.parse().expect("a numeric id");
    let db = app.database.connect().await;
    let claimed = queue::claim_run(
        &db,
        &app.events,
        run_id,
        "test-worker",
        ChronoDuration::minutes(5),
    )
    .await
    .expect("claimed");
    assert!(claimed.is_some(), "the run is queued");

    let mut socket = viewer_socket(&app).await;
    follow(&mut socket, &run, &["0".to_owned()]).await;
    // The claim's announcement may reach the server after the subscription started (PostgreSQL
    // delivers NOTIFY when it can): changes delivered first guarantee it was heard, as the server
    // hears announcements in order, so the counts below hold only the changes they make.
    statements_for_changes(&app, &db, run_id, &mut socket, 1, 1).await;
    let alone = statements_for_changes(&app, &db, run_id, &mut socket, 1, 10).await;
    assert_eq!(alone, CHANGES as u64, "one read per change");

    let more: Vec<String> = (1..40).map(|id| id.to_string()).collect();
    follow(&mut socket, &run, &more).await;
    let crowded = statements_for_changes(&app, &db, run_id, &mut socket, 40, 100).await;
    assert_eq!(crowded, alone);
    db.close().await.ok();
    app.finish().await;
}

engine_tests!(
    a_subscription_flood_is_refused_past_the_caps,
    an_expired_token_closes_a_live_subscription,
    subscribers_of_one_run_share_one_read_per_change,
);

/// An API replica without workers tells its subscribers how a run goes that a worker in
/// another process executes: PostgreSQL's NOTIFY carries the changes between them.
#[tokio::test]
#[cfg_attr(
    not(lm_postgres_tests),
    ignore = "PostgreSQL suite skipped: TEST_DATABASE_URL is not set"
)]
async fn a_replica_follows_a_run_that_another_process_executes() {
    let sim = slow_tenant(1_000, 23, Duration::from_millis(50)).await;
    let api = TestApp::spawn_with(
        Engine::Postgres,
        Options {
            workers: 0,
            ..Options::with_graph(sim.base_url())
        },
    )
    .await;
    let provider = api.connect_tenant(&sim, &sim.client_secret()).await;
    let run = api.start_sync(&provider, "FULL").await;
    let mut socket = viewer_socket(&api).await;
    follow(&mut socket, &run, &["1".to_owned()]).await;

    let worker = api.replica(Options::with_graph(sim.base_url())).await;
    let mut statuses = Vec::new();
    let mut last = Value::Null;
    loop {
        let message = next_json(&mut socket).await.expect("a message");
        match message["type"].as_str() {
            Some("next") => {
                last = message["payload"]["data"]["syncRunUpdated"].clone();
                statuses.push(last["status"].as_str().unwrap_or_default().to_owned());
            }
            Some("complete") => break,
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    assert!(
        statuses.iter().any(|status| status == "RUNNING"),
        "{statuses:?}"
    );
    assert_eq!(last["status"], "SUCCEEDED", "{last}");
    assert_eq!(last["usersSeen"], 1_000, "{last}");
    worker.stop().await;
    api.finish().await;
}

/// Queries and mutations over a websocket take places under the same caps as subscriptions and
/// keep to the request budget: one connection test past the socket's cap is refused at once,
/// those admitted are cancelled with TIMEOUT when the budget is spent, and their places are then
/// free for the next operation.
async fn operations_in_flight_on_one_socket_are_capped_and_timed(engine: Engine) {
    let sim = slow_tenant(10, 3, Duration::from_secs(3600)).await;
    let app = TestApp::spawn_with(
        engine,
        Options {
            limits: ServerLimits {
                request_timeout: Timeout::new(Duration::from_secs(2)).expect("not zero"),
                subscriptions: SubscriptionLimits {
                    per_socket: 3.try_into().expect("not zero"),
                    ..SubscriptionLimits::default()
                },
                ..ServerLimits::default()
            },
            ..Options::with_graph(sim.base_url())
        },
    )
    .await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    let mut socket = connect(&app, Some(&app.token(Role::Admin, "script"))).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    for id in ["1", "2", "3", "4"] {
        let test = json!({ "id": id, "type": "subscribe", "payload": {
            "query": "mutation($id: ID!) { testProviderConnection(id: $id) { ok } }",
            "variables": { "id": provider } } });
        socket
            .send(Message::text(test.to_string()))
            .await
            .expect("sent");
    }
    let mut codes = Vec::new();
    while codes.len() < 4 {
        let message = next_json(&mut socket).await.expect("a message");
        if message["type"] != "next" {
            continue;
        }
        let error = &message["payload"]["errors"][0];
        let code = error["extensions"]["code"].as_str().unwrap_or_default();
        codes.push(format!("{code} {}", error["extensions"]["limit"]));
    }
    assert_eq!(
        codes,
        [
            "TOO_MANY_SUBSCRIPTIONS \"maxSubscriptionsPerSocket\"",
            "TIMEOUT null",
            "TIMEOUT null",
            "TIMEOUT null",
        ]
    );

    let viewer = json!({ "id": "5", "type": "subscribe",
        "payload": { "query": "{ viewer { subject } }" } });
    socket
        .send(Message::text(viewer.to_string()))
        .await
        .expect("sent");
    let answer = loop {
        let message = next_json(&mut socket).await.expect("a message");
        if message["type"] == "next" {
            break message;
        }
    };
    assert_eq!(
        answer["payload"]["data"]["viewer"]["subject"], "script",
        "{answer}"
    );
    app.finish().await;
}

engine_tests!(operations_in_flight_on_one_socket_are_capped_and_timed);
