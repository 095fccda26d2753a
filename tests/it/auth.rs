//! Every GraphQL operation needs a valid bearer token; each way a token can be wrong is refused
//! with UNAUTHENTICATED, and a good one is accepted with its subject and role.

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use common::{Engine, TestApp, error_code};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use license_manager::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

const VIEWER_QUERY: &str = "{ viewer { subject role } }";

fn signing_key(app: &TestApp) -> Vec<u8> {
    license_manager::keyfile::load_or_create(
        &app.data_path(),
        license_manager::app::JWT_SECRET_FILE,
    )
    .expect("the server's key file")
    .key
}

fn sign(claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .expect("signed")
}

fn claims(role: &str, expires_in_seconds: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({ "sub": "someone", "role": role, "iat": now, "exp": now + expires_in_seconds })
}

async fn assert_refused(app: &TestApp, authorization: Option<&str>, case: &str) {
    let (status, body) = app.graphql_with_header(authorization, VIEWER_QUERY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{case}: {body}");
    assert!(body["data"].is_null(), "{case}: no data may leak: {body}");
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let key = signing_key(&app);
    let good_claims = claims("viewer", 3600);

    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good_claims.to_string())
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty bearer", Some("Bearer ".into())),
        (
            "not a bearer scheme",
            Some(format!("Basic {}", sign(&good_claims, &key))),
        ),
        ("malformed token", Some("Bearer not.a.jwt".into())),
        (
            "wrong signature",
            Some(format!(
                "Bearer {}",
                sign(&good_claims, b"some-other-key-that-is-32-bytes-long")
            )),
        ),
        (
            "expired",
            Some(format!("Bearer {}", sign(&claims("viewer", -600), &key))),
        ),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        (
            "unknown role",
            Some(format!("Bearer {}", sign(&claims("root", 3600), &key))),
        ),
        (
            "missing expiry",
            Some(format!(
                "Bearer {}",
                sign(&json!({ "sub": "x", "role": "admin", "iat": 0 }), &key)
            )),
        ),
        (
            "HS512 with the right key",
            Some(format!(
                "Bearer {}",
                jsonwebtoken::encode(
                    &Header::new(Algorithm::HS512),
                    &good_claims,
                    &EncodingKey::from_secret(&key)
                )
                .expect("signed")
            )),
        ),
    ];
    for (case, header) in &cases {
        assert_refused(&app, header.as_deref(), case).await;
    }
    app.finish().await;
}

#[tokio::test]
async fn a_bad_token_is_refused_before_the_document_is_read() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{ this is not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn viewer_reports_subject_and_role(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for (role, expected) in [(Role::Viewer, "VIEWER"), (Role::Admin, "ADMIN")] {
        let token = app.token(role, "ci-bot");
        let (status, body) = app
            .graphql_with_header(Some(&format!("Bearer {token}")), VIEWER_QUERY)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({ "data": { "viewer": { "subject": "ci-bot", "role": expected } } })
        );
    }
    app.finish().await;
}

async fn the_token_command_mints_tokens_the_server_accepts(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_license-manager"))
        .args([
            "token",
            "--role",
            "admin",
            "--subject",
            "ops",
            "--ttl",
            "2h",
        ])
        .env("LM_DATA_DIR", app.data_path())
        .env_remove("LM_JWT_SECRET")
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).expect("UTF-8");
    let token = token.trim();
    assert_eq!(token.lines().count(), 1, "stdout holds only the token");

    let keys = license_manager::auth::JwtKeys::new(&signing_key(&app)).expect("keys");
    let claims = keys.verify(token).expect("valid");
    assert_eq!(
        claims.exp - claims.iat,
        Duration::from_secs(7200).as_secs() as i64
    );

    let (status, body) = app
        .graphql_with_header(Some(&format!("Bearer {token}")), VIEWER_QUERY)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"]["viewer"],
        json!({ "subject": "ops", "role": "ADMIN" })
    );
    app.finish().await;
}

#[tokio::test]
async fn a_document_the_server_cannot_run_is_bad_user_input() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = app.token(Role::Viewer, "typo");
    for document in [
        "{ viewer { subject ",
        "{ viewer { nosuchfield } }",
        // Two operations and no operationName to choose one.
        "query A { viewer { subject } } query B { viewer { role } }",
        // Subscriptions run over the websocket only.
        r#"subscription { syncRunUpdated(id: "1") { status } }"#,
    ] {
        let (status, body) = app
            .graphql_with_header(Some(&format!("Bearer {token}")), document)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{document}: {body}");
    }
    app.finish().await;
}

engine_tests!(
    viewer_reports_subject_and_role,
    the_token_command_mints_tokens_the_server_accepts
);

#[test]
fn the_token_command_refuses_a_weak_explicit_secret() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_license-manager"))
        .args(["token", "--role", "viewer", "--subject", "me"])
        .env("LM_DATA_DIR", dir.path())
        .env("LM_JWT_SECRET", "secret")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no token printed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
}
