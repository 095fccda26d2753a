//! Every GraphQL operation needs a valid bearer token; each way a token can be wrong is refused
//! with UNAUTHENTICATED, and a good one is accepted with its subject and role.

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use common::{Engine, TestApp, error_code};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use license_manager::auth::{JwtKeys, MaxTokenLifetime, Role};
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

/// `claims` with `name` set to now + `from_now` seconds.
fn with(mut claims: Value, name: &str, from_now: i64) -> Value {
    claims[name] = (Utc::now().timestamp() + from_now).into();
    claims
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
            "not valid before a minute from now (nbf)",
            Some(format!(
                "Bearer {}",
                sign(&with(claims("viewer", 3600), "nbf", 60), &key)
            )),
        ),
        (
            "issued a year from now",
            Some(format!(
                "Bearer {}",
                sign(&with(claims("viewer", 3600), "iat", 365 * 24 * 3600), &key)
            )),
        ),
        (
            "expiring in 2^62 seconds",
            Some(format!(
                "Bearer {}",
                sign(&with(claims("viewer", 0), "exp", 1 << 62), &key)
            )),
        ),
        (
            "living 401 days",
            Some(format!(
                "Bearer {}",
                sign(&claims("viewer", 401 * 24 * 3600), &key)
            )),
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

/// The leeway is for clocks that disagree about when a token starts, not a grace period after it
/// ends: a token two seconds past its `exp` gets the same 401 as one expired long ago, never a
/// 200 whose fields fail one by one.
#[tokio::test]
async fn a_token_expired_within_the_leeway_is_refused_like_any_expired_one() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let key = signing_key(&app);
    let (long_ago_status, long_ago) = app
        .graphql_with_header(
            Some(&format!("Bearer {}", sign(&claims("admin", -600), &key))),
            VIEWER_QUERY,
        )
        .await;
    assert_eq!(long_ago_status, StatusCode::UNAUTHORIZED, "{long_ago}");
    for seconds_ago in [0, 2, 4] {
        let token = sign(&claims("admin", -seconds_ago), &key);
        let (status, body) = app
            .graphql_with_header(Some(&format!("Bearer {token}")), VIEWER_QUERY)
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{seconds_ago} s ago: {body}"
        );
        assert_eq!(body, long_ago, "{seconds_ago} s ago");
    }
    app.finish().await;
}

/// `token --ttl` refuses lifetimes beyond the maximum, with a message that says what to do; a
/// longer maximum given to `token` alone mints a token that the server, on the default, refuses.
#[tokio::test]
async fn the_token_command_refuses_lifetimes_beyond_the_maximum() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mint = |ttl: &str, max: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_license-manager"));
        command
            .args(["token", "--role", "admin", "--subject", "ops", "--ttl", ttl])
            .env("LM_DATA_DIR", app.data_path())
            .env_remove("LM_JWT_SECRET")
            .env_remove("LM_TOKEN_MAX_TTL");
        if let Some(max) = max {
            command.env("LM_TOKEN_MAX_TTL", max);
        }
        command.output().expect("the binary runs")
    };

    let refused = mint("99999999d", None);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(refused.stdout.is_empty(), "no token on stdout: {refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--ttl: a token may live at most 400d")
            && stderr.contains("LM_TOKEN_MAX_TTL"),
        "{stderr}"
    );

    let longer = mint("500d", Some("600d"));
    assert!(longer.status.success(), "{longer:?}");
    let token = String::from_utf8(longer.stdout).expect("UTF-8");
    let (status, body) = app
        .graphql_with_header(Some(&format!("Bearer {}", token.trim())), VIEWER_QUERY)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("maximum token lifetime of 400d")),
        "{body}"
    );
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

    let keys = JwtKeys::new(&signing_key(&app), MaxTokenLifetime::DEFAULT).expect("keys");
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
