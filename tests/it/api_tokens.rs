//! API tokens as scripts use them: created once by an admin, sent as a bearer token to
//! `/graphql` (HTTP and websocket) and `/export`, listed with their last use, refused once
//! revoked or expired on every replica, and managed from the command line for bootstrap.

use crate::cli::{BINARY, Process, serving_address};
use crate::common;

use std::num::NonZeroUsize;
use std::process::Command;

use crate::common::websocket::{self, Socket};
use chrono::{Duration, Utc};
use common::{Engine, Options, TestApp, TestDatabase, error_code};
use futures::{SinkExt, StreamExt};
use license_manager::auth::Role;
use license_manager::entities::api_tokens;
use license_manager::http::{ServerLimits, Timeout};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const CREATE: &str = "mutation($input: CreateApiTokenInput!) {
    createApiToken(input: $input) {
        token apiToken { id name role creator createdAt expiresAt lastUsedAt revokedAt } } }";
const LIST: &str =
    "{ apiTokens { nodes { id name role creator createdAt expiresAt lastUsedAt revokedAt } } }";

/// Creates a token with an admin JWT of subject `admin-person`; returns the secret and the row.
async fn create(app: &TestApp, name: &str, role: &str, days: Option<i32>) -> (String, Value) {
    let admin = app.token(Role::Admin, "admin-person");
    let input = json!({ "name": name, "role": role, "expiresInDays": days });
    let (status, body) = app
        .graphql_as(&admin, CREATE, json!({ "input": input }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = &body["data"]["createApiToken"];
    let token = created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    (token.to_owned(), created["apiToken"].clone())
}

async fn listed(app: &TestApp) -> Value {
    app.query(Role::Admin, LIST).await["apiTokens"]["nodes"].clone()
}

async fn export_status(app: &TestApp, token: &str) -> StatusCode {
    app.http
        .get(app.url("/export/skus.csv"))
        .bearer_auth(token)
        .send()
        .await
        .expect("answered")
        .status()
}

async fn audit(app: &TestApp, action: &str) -> Value {
    let query = format!(
        r#"{{ auditEvents(filter: {{ action: "{action}" }}) {{ nodes {{ subject role targetId outcome detail }} }} }}"#
    );
    app.query(Role::Admin, &query).await["auditEvents"]["nodes"].clone()
}

/// The answer a refused token gets: 401 and UNAUTHENTICATED.
async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let (status, body) = app
        .graphql_as(token, "{ viewer { subject } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{why}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains(why)),
        "{why}: {body}"
    );
    assert_eq!(
        export_status(app, token).await,
        StatusCode::UNAUTHORIZED,
        "{why}"
    );
}

/// graphql-transport-ws with the token in `connection_init`: the first message back.
async fn websocket_answer(app: &TestApp, token: &str) -> Value {
    websocket(app, token).await.1
}

/// The next message of `socket`, as JSON; a close as `{"closed": code}`.
async fn next_message(socket: &mut Socket) -> Value {
    match socket.next().await {
        Some(Ok(Message::Text(text))) => serde_json::from_str(&text).expect("JSON"),
        Some(Ok(Message::Close(frame))) => {
            json!({ "closed": frame.map(|frame| u16::from(frame.code)) })
        }
        other => panic!("unexpected {other:?}"),
    }
}

async fn websocket(app: &TestApp, token: &str) -> (Socket, Value) {
    let mut socket = websocket::open(app).await;
    websocket::init(&mut socket, Some(token)).await;
    let first = next_message(&mut socket).await;
    (socket, first)
}

/// A viewer token reads over HTTP, the websocket and the exports, acts as `apitoken:<id>`, is
/// listed with its last use, and is never shown again; it cannot mutate, and the refusal is
/// recorded under its subject. An admin token can.
async fn a_token_works_everywhere_a_jwt_does_and_is_listed_with_its_use(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let before = Utc::now();
    let (secret, row) = create(&app, "nightly-export", "VIEWER", Some(30)).await;
    assert!(
        secret.starts_with("lmat_") && secret.len() == 48,
        "{secret}"
    );
    let id = row["id"].as_str().expect("an id").to_owned();
    assert_eq!(row["name"], "nightly-export");
    assert_eq!(row["role"], "VIEWER");
    assert_eq!(row["creator"], "admin-person");
    assert_eq!(row["lastUsedAt"], Value::Null);
    assert_eq!(row["revokedAt"], Value::Null);
    let expires: chrono::DateTime<Utc> = row["expiresAt"]
        .as_str()
        .and_then(|at| at.parse().ok())
        .expect("a time");
    assert!(
        (expires - (before + Duration::days(30)))
            .num_seconds()
            .abs()
            < 60,
        "{row}"
    );

    let (status, body) = app
        .graphql_as(&secret, "{ viewer { subject role } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["viewer"],
        json!({ "subject": format!("apitoken:{id}"), "role": "VIEWER" })
    );
    assert_eq!(export_status(&app, &secret).await, StatusCode::OK);
    assert_eq!(
        websocket_answer(&app, &secret).await["type"],
        "connection_ack"
    );

    let tokens = listed(&app).await;
    assert_eq!(tokens.as_array().map(Vec::len), Some(1), "{tokens}");
    let last_used: chrono::DateTime<Utc> = tokens[0]["lastUsedAt"]
        .as_str()
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| panic!("the use is listed: {tokens}"));
    assert!(last_used >= before - Duration::seconds(1), "{tokens}");

    // A viewer's token cannot mutate; the refusal names the token.
    let input = json!({ "name": "escalate", "role": "ADMIN" });
    let (_, refused) = app
        .graphql_as(&secret, CREATE, json!({ "input": input }))
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let refusals = audit(&app, "api_token.create").await;
    assert!(
        refusals
            .as_array()
            .is_some_and(|events| events.iter().any(|event| {
                event["outcome"] == "FORBIDDEN" && event["subject"] == format!("apitoken:{id}")
            })),
        "{refusals}"
    );

    // An admin's token can, and what it creates names it as the creator.
    let (admin_secret, admin_row) = create(&app, "provisioning", "ADMIN", None).await;
    let input = json!({ "name": "made-by-a-script", "role": "VIEWER", "expiresInDays": 1 });
    let (status, made) = app
        .graphql_as(&admin_secret, CREATE, json!({ "input": input }))
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let admin_subject = format!("apitoken:{}", admin_row["id"].as_str().expect("an id"));
    assert_eq!(
        made["data"]["createApiToken"]["apiToken"]["creator"],
        admin_subject
    );

    // The secrets appear in no later answer: not in the list, not in the audit log.
    let everything = json!([listed(&app).await, audit(&app, "api_token.create").await]).to_string();
    for shown in [&secret, &admin_secret] {
        assert!(
            !everything.contains(shown.as_str()),
            "a secret is shown again"
        );
    }
    assert!(
        everything.contains("\"subject\":\"admin-person\""),
        "{everything}"
    );
    app.finish().await;
}

/// Revoked on one replica, refused by the other from its very next request, over HTTP, the
/// exports and the websocket; the revocation is in the audit log.
async fn revocation_holds_at_once_on_every_replica(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let replica = app.replica(Options::default()).await;
    // A replica that looks up its sockets' API tokens often, so that the test need not wait.
    let limits = ServerLimits {
        api_token_recheck: Timeout::new(std::time::Duration::from_millis(100)).expect("a timeout"),
        ..ServerLimits::default()
    };
    let watchful = app
        .replica(Options {
            limits,
            ..Options::default()
        })
        .await;
    let (secret, row) = create(&app, "ci", "VIEWER", None).await;
    let id = row["id"].as_str().expect("an id").to_owned();
    let (status, _) = replica
        .graphql_as(&secret, "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "the replica accepts it");
    let (mut open_socket, ack) = websocket(&replica, &secret).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    let (mut watched_socket, ack) = websocket(&watchful, &secret).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");

    let revoke = "mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }";
    let admin = app.token(Role::Admin, "admin-person");
    let (_, body) = app.graphql_as(&admin, revoke, json!({ "id": id })).await;
    assert!(
        body["data"]["revokeApiToken"]["revokedAt"].is_string(),
        "{body}"
    );

    assert_refused(&replica, &secret, "revoked").await;
    // A socket opened before the revocation runs no further operation.
    let query = json!({ "id": "1", "type": "subscribe",
                        "payload": { "query": "{ viewer { subject } }" } });
    open_socket
        .send(Message::text(query.to_string()))
        .await
        .expect("sent");
    let answer = next_message(&mut open_socket).await;
    assert!(
        answer.to_string().contains("UNAUTHENTICATED") && answer["payload"]["data"].is_null(),
        "{answer}"
    );
    // And one that sits idle, or follows a subscription, is closed within a recheck.
    assert_eq!(
        next_message(&mut watched_socket).await,
        json!({ "closed": 4403 })
    );
    assert_refused(&app, &secret, "revoked").await;
    assert_eq!(
        websocket_answer(&replica, &secret).await,
        json!({ "closed": 4403 })
    );
    let events = audit(&app, "api_token.revoke").await;
    assert_eq!(events[0]["subject"], "admin-person", "{events}");
    assert_eq!(events[0]["targetId"], id.as_str(), "{events}");
    assert_eq!(events[0]["outcome"], "SUCCEEDED", "{events}");
    assert_eq!(
        listed(&replica).await[0]["revokedAt"],
        body["data"]["revokeApiToken"]["revokedAt"]
    );

    // Revoking an unknown id names it.
    let (_, missing) = app
        .graphql_as(&admin, revoke, json!({ "id": "999999" }))
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND", "{missing}");
    watchful.stop().await;
    replica.stop().await;
    app.finish().await;
}

/// Expired, unknown and malformed API tokens get the 401 any bad token gets.
async fn expired_unknown_and_malformed_tokens_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (secret, row) = create(&app, "short-lived", "ADMIN", Some(1)).await;
    let id: i64 = row["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("an id");
    let db = app.database.connect().await;
    api_tokens::Entity::update_many()
        .col_expr(
            api_tokens::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::seconds(1)),
        )
        .filter(api_tokens::Column::Id.eq(id))
        .exec(&db)
        .await
        .expect("expired");
    db.close().await.ok();
    assert_refused(&app, &secret, "expired").await;

    let unknown = format!("lmat_{}", "A".repeat(43));
    assert_refused(&app, &unknown, "unknown API token").await;
    assert_refused(&app, "lmat_not-a-token", "not a well-formed API token").await;
    app.finish().await;
}

/// Every field has a bound: the name's length, the lifetime within the server's maximum, and
/// the number of active tokens.
async fn names_lifetimes_and_the_number_of_tokens_are_bounded(engine: Engine) {
    let options = Options {
        max_api_tokens: NonZeroUsize::new(2),
        ..Options::default()
    };
    let app = TestApp::spawn_with(engine, options).await;
    let admin = app.token(Role::Admin, "admin-person");
    let attempt = |name: String, days: Option<i32>| {
        let input = json!({ "name": name, "role": "VIEWER", "expiresInDays": days });
        let admin = admin.clone();
        let app = &app;
        async move {
            app.graphql_as(&admin, CREATE, json!({ "input": input }))
                .await
                .1
        }
    };
    let refused = attempt("x".repeat(101), Some(401)).await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    let fields: Vec<&str> = refused["errors"][0]["extensions"]["fields"]
        .as_array()
        .map(|fields| fields.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["name", "expiresInDays"], "{refused}");
    for (name, days) in [(" ", None), ("tab\there", None), ("zero", Some(0))] {
        let refused = attempt(name.to_owned(), days).await;
        assert_eq!(
            error_code(&refused),
            "BAD_USER_INPUT",
            "{name:?}: {refused}"
        );
    }

    create(&app, "one", "VIEWER", Some(400)).await;
    let (_, second) = create(&app, "two", "VIEWER", None).await;
    let third = attempt("three".into(), None).await;
    assert_eq!(error_code(&third), "CONFLICT", "{third}");
    let revoke = "mutation($id: ID!) { revokeApiToken(id: $id) { id } }";
    app.graphql_as(&admin, revoke, json!({ "id": second["id"] }))
        .await;
    let again = attempt("three".into(), None).await;
    assert!(
        again.get("errors").is_none(),
        "a revoked token frees its place: {again}"
    );
    app.finish().await;
}

fn cli(
    database: &TestDatabase,
    data_dir: &std::path::Path,
    args: &[&str],
) -> (bool, String, String) {
    let output = Command::new(BINARY)
        .args(args)
        .env("LM_DATA_DIR", data_dir)
        .env("DATABASE_URL", &database.url)
        .env("RUST_LOG", "trace")
        .output()
        .expect("the binary runs");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8");
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

/// `api-token create|list|revoke` on the server's database: the token printed alone on stdout
/// works against a running server, the list shows its use, the revocation stops it, and no
/// output of the server (at trace level) or of the command line but that one line holds it.
async fn the_command_line_creates_lists_and_revokes(engine: Engine) {
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let database = TestDatabase::create(engine, data_dir.path()).await;
    let (ok, secret, created_log) = cli(
        &database,
        data_dir.path(),
        &[
            "api-token",
            "create",
            "--name",
            "bootstrap",
            "--role",
            "admin",
            "--expires-in-days",
            "7",
        ],
    );
    assert!(ok, "{created_log}");
    let secret = secret.trim().to_owned();
    assert!(secret.starts_with("lmat_"), "{secret}");
    let (ok, _, refused) = cli(
        &database,
        data_dir.path(),
        &[
            "api-token",
            "create",
            "--name",
            "too-long",
            "--role",
            "viewer",
            "--expires-in-days",
            "401",
        ],
    );
    assert!(!ok && refused.contains("expiresInDays"), "{refused}");

    let server = Process::start(
        Command::new(BINARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--workers", "0"])
            .env("LM_DATA_DIR", data_dir.path())
            .env("DATABASE_URL", &database.url)
            .env("RUST_LOG", "trace"),
    );
    let address = server.wait_for(serving_address).await;
    let ask = || async {
        reqwest::Client::new()
            .post(format!("http://{address}/graphql"))
            .bearer_auth(&secret)
            .json(&json!({ "query": "{ viewer { subject role } }" }))
            .send()
            .await
            .expect("answered")
    };
    let answer: Value = ask().await.json().await.expect("JSON");
    assert_eq!(answer["data"]["viewer"]["role"], "ADMIN", "{answer}");

    let (ok, list, list_log) = cli(&database, data_dir.path(), &["api-token", "list"]);
    assert!(ok, "{list_log}");
    let line = list
        .lines()
        .find(|line| line.contains("bootstrap"))
        .unwrap_or_else(|| panic!("{list}"));
    let columns: Vec<&str> = line.split('\t').collect();
    assert_eq!(columns[1..4], ["bootstrap", "admin", "cli"], "{list}");
    assert_ne!(columns[6], "-", "the use is listed: {list}");
    assert_eq!(columns[7], "-", "not revoked yet: {list}");

    let (ok, revoked, revoke_log) = cli(
        &database,
        data_dir.path(),
        &["api-token", "revoke", columns[0]],
    );
    assert!(ok && revoked.contains("revoked"), "{revoke_log}");
    assert_eq!(ask().await.status(), StatusCode::UNAUTHORIZED);

    let everything = [
        Process::text(&server.stdout),
        Process::text(&server.stderr),
        created_log,
        list,
        list_log,
        revoked,
        revoke_log,
    ]
    .concat();
    assert!(
        !everything.contains(&secret["lmat_".len()..]),
        "the secret was printed again"
    );
    drop(server);
    database.drop_database().await;
}

engine_tests!(
    a_token_works_everywhere_a_jwt_does_and_is_listed_with_its_use,
    revocation_holds_at_once_on_every_replica,
    expired_unknown_and_malformed_tokens_are_refused,
    names_lifetimes_and_the_number_of_tokens_are_bounded,
    the_command_line_creates_lists_and_revokes,
);
