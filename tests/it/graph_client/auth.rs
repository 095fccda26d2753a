//! Token acquisition: every AADSTS mapping from a real exchange, caching, refresh.

use std::time::Duration;

use futures::TryStreamExt;
use graph_sim::SimOptions;
use license_manager::providers::microsoft365::graph::{
    Credentials, ErrorKind, GraphError, SecretString, UserQuery,
};

use super::common::*;

async fn token_error(sim: &graph_sim::SimServer, credentials: Credentials) -> GraphError {
    let secret = secrecy_text(&credentials);
    let err = client_with(sim, credentials, fast_config())
        .verify_credentials()
        .await
        .expect_err("token refused");
    assert_secret_hidden(&err, &secret);
    err
}

fn secrecy_text(c: &Credentials) -> String {
    use secrecy::ExposeSecret;
    c.client_secret.expose_secret().to_string()
}

#[tokio::test]
async fn each_token_error_maps_to_its_code_and_hint() {
    let sim = start(5, SimOptions::default()).await;

    let mut wrong_secret = credentials(&sim);
    wrong_secret.client_secret = SecretString::from("this-is-the-secret-id-not-its-value");
    let e = token_error(&sim, wrong_secret).await;
    assert_eq!(e.code().as_str(), "INVALID_CLIENT_SECRET");
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.graph_code(), Some("AADSTS7000215"));
    assert!(e.hint().contains("Value, not its Secret ID"));
    assert!(e.request_id().is_some(), "the trace id is kept for support");

    let mut wrong_app = credentials(&sim);
    wrong_app.client_id = "00000000-1111-2222-3333-444444444444".into();
    let e = token_error(&sim, wrong_app).await;
    assert_eq!(e.code().as_str(), "APPLICATION_NOT_FOUND");
    assert_eq!(e.status(), Some(400));
    assert!(e.hint().contains("Application (client) ID"));

    let mut unknown_tenant = credentials(&sim);
    unknown_tenant.tenant_id = "9b1c1c4e-0000-4000-8000-000000000000".into();
    let e = token_error(&sim, unknown_tenant).await;
    assert_eq!(
        (e.code().as_str(), e.graph_code()),
        ("TENANT_NOT_FOUND", Some("AADSTS90002"))
    );
    assert!(e.hint().contains("Directory (tenant) ID and the cloud"));

    let mut malformed_tenant = credentials(&sim);
    malformed_tenant.tenant_id = "not a tenant!".into();
    let e = token_error(&sim, malformed_tenant).await;
    assert_eq!(
        (e.code().as_str(), e.graph_code()),
        ("TENANT_NOT_FOUND", Some("AADSTS900023"))
    );

    let mut no_secret = credentials(&sim);
    no_secret.client_secret = SecretString::from("");
    let e = token_error(&sim, no_secret).await;
    assert_eq!(
        (e.code().as_str(), e.graph_code()),
        ("PROVIDER_AUTH_FAILED", Some("AADSTS7000216"))
    );
    assert!(e.hint().contains("AADSTS7000216"));

    sim.set_secret_expired(true);
    let e = token_error(&sim, credentials(&sim)).await;
    assert_eq!(e.code().as_str(), "CLIENT_SECRET_EXPIRED");
    assert!(e.hint().contains("Certificates & secrets"));
    assert_eq!(*e.kind(), ErrorKind::ClientSecretExpired);
}

#[tokio::test]
async fn a_graph_call_with_a_bad_secret_reports_the_token_error() {
    let sim = start(5, SimOptions::default()).await;
    let mut creds = credentials(&sim);
    creds.client_secret = SecretString::from("wrong");
    let client = client_with(&sim, creds, fast_config());
    let e = client.organization().await.expect_err("refused");
    assert_eq!(e.code().as_str(), "INVALID_CLIENT_SECRET");
    // Permanent errors are not retried: one token request, no Graph request.
    let stats = sim.stats();
    assert_eq!(stats.token_errors, 1);
    assert_eq!(stats.count("/v1.0/organization", 200), 0);
}

#[tokio::test]
async fn one_token_serves_many_calls() {
    let sim = start(1_200, SimOptions::default()).await;
    let client = client(&sim);
    client.organization().await.unwrap();
    client.subscribed_skus().await.unwrap();
    client.subscriptions().await.unwrap();
    let pages = all_pages(client.users(UserQuery::default())).await.unwrap();
    assert_eq!(pages.len(), 2);
    // Clones share the cache, and concurrent callers share the one request in flight.
    let other = client.clone();
    let (a, b) = tokio::join!(other.organization(), client.organization());
    a.unwrap();
    b.unwrap();
    assert_eq!(sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn concurrent_first_calls_fetch_one_token() {
    let sim = start(5, SimOptions::default()).await;
    let client = client(&sim);
    let calls = (0..8).map(|_| client.organization());
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn an_expiring_token_is_renewed_before_graph_refuses_it() {
    let sim = start(
        5,
        SimOptions {
            token_ttl_secs: 1,
            ..Default::default()
        },
    )
    .await;
    let client = client(&sim);
    client.organization().await.unwrap();
    // The client's token cache and the simulator's tokens both read the runtime's clock: move it
    // past the token's lifetime rather than wait it out. It runs again before the next request,
    // whose timeouts would otherwise fire while it waits for the simulator on a real socket.
    tokio::time::pause();
    tokio::time::advance(Duration::from_millis(1_200)).await;
    tokio::time::resume();
    client.organization().await.unwrap();
    let stats = sim.stats();
    assert_eq!(stats.tokens_issued, 2);
    assert_eq!(
        stats.count("/v1.0/organization", 401),
        0,
        "renewed proactively, not after a 401"
    );
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_the_request_retried() {
    let sim = start(250, SimOptions::default()).await;
    let client = client(&sim);
    client.organization().await.unwrap();
    sim.expire_tokens();
    let users: Vec<_> = client
        .users(UserQuery {
            page_size: Some(100),
            ..Default::default()
        })
        .map_ok(|p| p.items.len())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.iter().sum::<usize>(), 250);
    let stats = sim.stats();
    assert_eq!(stats.tokens_issued, 2);
    assert_eq!(stats.count("/v1.0/users", 401), 1);
}

#[tokio::test]
async fn verify_credentials_always_asks_entra() {
    let sim = start(5, SimOptions::default()).await;
    let client = client(&sim);
    let info = client.verify_credentials().await.unwrap();
    assert!(info.expires_at > chrono::Utc::now());
    client.verify_credentials().await.unwrap();
    client.organization().await.unwrap();
    assert_eq!(sim.stats().tokens_issued, 2);
}

#[tokio::test]
async fn a_token_refused_even_after_refresh_is_provider_auth_failed() {
    // Tokens that are already expired when issued: the refresh cannot help.
    let sim = start(
        5,
        SimOptions {
            token_ttl_secs: 0,
            ..Default::default()
        },
    )
    .await;
    let e = client(&sim)
        .organization()
        .await
        .expect_err("refused twice");
    assert_eq!(e.code().as_str(), "PROVIDER_AUTH_FAILED");
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.graph_code(), Some("InvalidAuthenticationToken"));
    let stats = sim.stats();
    assert_eq!(stats.tokens_issued, 2, "refreshed once, not in a loop");
    assert_eq!(stats.count("/v1.0/organization", 401), 2);
}
