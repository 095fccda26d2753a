//! Access tokens of an identity provider (graph-sim playing Entra ID): accepted with the role
//! their app roles map to, refused as UNAUTHENTICATED in every way the contract lists, FORBIDDEN
//! without a mapped role; keys followed through rotation and kept while the provider is down.

use crate::common;

use std::time::Duration;

use crate::common::websocket;
use common::graph::tenant;
use common::{Engine, Options, TestApp, error_code};
use futures::StreamExt;
use graph_sim::{ROLE_ADMIN, ROLE_READER, SimServer, TestToken};
use license_manager::auth::{OidcSettings, Role};
use reqwest::StatusCode;
use sea_orm::prelude::Uuid;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const VIEWER: &str = "{ viewer { subject role displayName } }";
const JWKS_ROUTE: &str = "/discovery/v2.0/keys";

/// The people of the simulated tenant this suite signs in: an admin, a reader, one without a
/// role of the API.
struct People {
    admin: Uuid,
    reader: Uuid,
    nobody: Uuid,
}

fn people(sim: &SimServer) -> People {
    let mut enabled = sim
        .users()
        .into_iter()
        .filter(|user| user.account_enabled)
        .map(|user| user.id);
    let mut next = || enabled.next().expect("enough enabled users");
    let people = People {
        admin: next(),
        reader: next(),
        nobody: next(),
    };
    for (user, roles) in [
        (people.admin, vec![ROLE_ADMIN]),
        (people.reader, vec![ROLE_READER]),
        (people.nobody, vec![]),
    ] {
        sim.set_app_roles(user, &roles).expect("roles set");
    }
    people
}

fn oidc_settings(sim: &SimServer) -> OidcSettings {
    OidcSettings::new(sim.oidc_issuer(), vec![sim.api_audience()])
}

async fn spawn(engine: Engine, sim: &SimServer) -> TestApp {
    TestApp::spawn_with(
        engine,
        Options {
            oidc: Some(oidc_settings(sim)),
            ..Options::default()
        },
    )
    .await
}

fn mint(sim: &SimServer, user: Uuid, kind: TestToken) -> String {
    sim.mint_token(user, kind).expect("token minted")
}

async fn assert_unauthenticated(app: &TestApp, token: &str, case: &str) -> String {
    let (status, body) = app.graphql_as(token, VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{case}: {body}");
    assert!(body["data"].is_null(), "{case}: {body}");
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn assert_accepted(app: &TestApp, token: &str, case: &str) -> Value {
    let (status, body) = app.graphql_as(token, VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{case}: {body}");
    assert!(body.get("errors").is_none(), "{case}: {body}");
    body["data"]["viewer"].clone()
}

fn jwks_reads(sim: &SimServer) -> u64 {
    sim.stats().count(JWKS_ROUTE, 200)
}

const CREATE: &str = "mutation($input: CreateMicrosoftProviderInput!) {
    createMicrosoftProvider(input: $input) { id name } }";

fn provider_input(sim: &SimServer, name: &str) -> Value {
    json!({ "input": {
        "name": name, "tenantId": sim.tenant_id().to_string(),
        "clientId": sim.client_id().to_string(), "clientSecret": sim.client_secret(),
    }})
}

/// An admin by app role creates a provider, under the subject `tid/oid` in the audit log; a
/// reader reads it and cannot change anything; a token without a mapped role is FORBIDDEN.
async fn app_roles_decide_what_a_person_may_do(engine: Engine) {
    let sim = tenant(20, 41).await;
    let people = people(&sim);
    let app = spawn(engine, &sim).await;
    let admin_token = mint(&sim, people.admin, TestToken::Access);

    let admin = sim.user(people.admin).expect("the admin exists");
    let subject = format!("{}/{}", sim.tenant_id(), people.admin);
    assert_eq!(
        assert_accepted(&app, &admin_token, "admin").await,
        json!({ "subject": subject, "role": "ADMIN", "displayName": admin.display_name })
    );
    let (status, body) = app
        .graphql_as(&admin_token, CREATE, provider_input(&sim, "Contoso"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["createMicrosoftProvider"]["name"], "Contoso");

    let events = app
        .query(
            Role::Admin,
            "{ auditEvents(first: 10) { edges { node { subject role action outcome } } } }",
        )
        .await;
    let created = events["auditEvents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| &edge["node"])
        .find(|node| node["outcome"] == "SUCCEEDED")
        .cloned()
        .unwrap_or_else(|| panic!("a successful event: {events}"));
    assert_eq!(created["subject"], subject.as_str(), "{created}");
    assert_eq!(created["role"], "admin", "{created}");

    let reader_token = mint(&sim, people.reader, TestToken::Access);
    let reader = assert_accepted(&app, &reader_token, "reader").await;
    assert_eq!(reader["role"], "VIEWER");
    let (status, body) = app
        .graphql_as(&reader_token, "{ providers { name } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["providers"], json!([{ "name": "Contoso" }]));
    let (_, body) = app
        .graphql_as(&reader_token, CREATE, provider_input(&sim, "Other"))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");

    let nobody_token = mint(&sim, people.nobody, TestToken::Access);
    let (status, body) = app.graphql_as(&nobody_token, VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert!(body["data"].is_null(), "{body}");

    // The exports admit the same callers.
    for (token, expected) in [
        (&reader_token, StatusCode::OK),
        (&nobody_token, StatusCode::FORBIDDEN),
    ] {
        let response = app
            .http
            .get(app.url("/export/users.csv"))
            .bearer_auth(token)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), expected);
    }

    app.finish().await;
}

/// Over a websocket, `connection_init` is checked the same way.
async fn a_websocket_admits_the_same_tokens(engine: Engine) {
    let sim = tenant(20, 42).await;
    let people = people(&sim);
    let app = spawn(engine, &sim).await;

    let reader = mint(&sim, people.reader, TestToken::Access);
    let (first, _) = websocket_init(&app, &reader).await;
    assert_eq!(first.expect("an answer")["type"], "connection_ack");

    for (token, case) in [
        (mint(&sim, people.nobody, TestToken::Access), "no role"),
        (
            mint(&sim, people.admin, TestToken::WrongAudience),
            "wrong audience",
        ),
    ] {
        let (first, close) = websocket_init(&app, &token).await;
        assert!(first.is_none(), "{case}: no ack");
        assert_eq!(close, Some(4403), "{case}");
    }
    app.finish().await;
}

/// Opens a socket and sends `connection_init` with `token`: the first JSON message, and the close
/// code when the socket was closed instead.
async fn websocket_init(app: &TestApp, token: &str) -> (Option<Value>, Option<u16>) {
    let mut socket = websocket::open(app).await;
    websocket::init(&mut socket, Some(token)).await;
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => return (serde_json::from_str(&text).ok(), None),
            Ok(Message::Close(frame)) => return (None, frame.map(|frame| frame.code.into())),
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    (None, None)
}

/// Each token the contract says a resource server must refuse, and an unknown `kid` read
/// again once, not twice in a row.
#[tokio::test]
async fn tokens_not_meant_for_this_api_are_unauthenticated() {
    let sim = tenant(20, 43).await;
    let people = people(&sim);
    let app = spawn(Engine::Sqlite, &sim).await;
    let user = people.admin;
    assert_accepted(&app, &mint(&sim, user, TestToken::Access), "valid").await;
    // Each refused for its own reason, not by accident of an earlier check.
    for (kind, case, reason) in [
        (TestToken::Expired, "expired", "expired"),
        (TestToken::NotYetValid, "not yet valid", "not valid yet"),
        (
            TestToken::WrongIssuer,
            "another tenant's issuer",
            "another issuer",
        ),
        (
            TestToken::WrongAudience,
            "another API's audience",
            "another audience",
        ),
        (TestToken::IdToken, "an ID token", "another audience"),
        (
            TestToken::GraphAudience,
            "a Microsoft Graph token",
            "another audience",
        ),
        (TestToken::AlgNone, "alg none", "algorithm"),
        (
            TestToken::Hs256PublicKey,
            "HS256 keyed with the public key",
            "bad signature",
        ),
    ] {
        let message = assert_unauthenticated(&app, &mint(&sim, user, kind), case).await;
        assert!(message.contains(reason), "{case}: {message}");
    }

    let before = jwks_reads(&sim);
    assert_unauthenticated(
        &app,
        &mint(&sim, user, TestToken::UnknownKid),
        "unknown kid",
    )
    .await;
    assert_eq!(
        jwks_reads(&sim),
        before + 1,
        "an unknown kid reads the keys again once"
    );
    assert_unauthenticated(&app, &mint(&sim, user, TestToken::UnknownKid), "again").await;
    let mut tampered = sim.access_token_claims(user).expect("claims");
    tampered["aud"] = json!("not-this-api");
    let unknown_at_once: Vec<_> = (0..8)
        .map(|_| mint(&sim, user, TestToken::UnknownKid))
        .collect();
    let answers = futures::future::join_all(
        unknown_at_once
            .iter()
            .map(|token| app.graphql_as(token, VIEWER, json!({}))),
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        jwks_reads(&sim),
        before + 1,
        "no further read within the refetch interval, however many callers"
    );
    let signed = sim.sign_claims(&tampered).expect("signed");
    assert_unauthenticated(&app, &signed, "audience changed").await;
    app.finish().await;
}

/// A key rotated in the provider is picked up on the first token it signs, without a restart;
/// tokens of the retired key are refused once the keys were read again.
#[tokio::test]
async fn a_rotated_signing_key_is_followed_without_a_restart() {
    let sim = tenant(20, 44).await;
    let people = people(&sim);
    let app = spawn(Engine::Sqlite, &sim).await;
    let old = mint(&sim, people.admin, TestToken::Access);
    assert_accepted(&app, &old, "before the rotation").await;
    let before = jwks_reads(&sim);
    sim.rotate_signing_key().expect("rotated");
    let new = mint(&sim, people.admin, TestToken::Access);
    let viewer = assert_accepted(&app, &new, "signed by the new key").await;
    assert_eq!(viewer["role"], "ADMIN");
    assert_eq!(jwks_reads(&sim), before + 1);
    assert_unauthenticated(&app, &old, "signed by the retired key").await;
    app.finish().await;
}

/// With the provider down, the keys already read keep working; a token with a key the server
/// has not seen makes one read of the keys, which fails, and is refused; the known key works
/// on.
#[tokio::test]
async fn keys_already_read_outlive_the_provider() {
    let sim = tenant(20, 45).await;
    let people = people(&sim);
    let app = spawn(Engine::Sqlite, &sim).await;
    sim.set_oidc_available(false);
    let token = mint(&sim, people.reader, TestToken::Access);
    let viewer = assert_accepted(&app, &token, "provider down").await;
    assert_eq!(viewer["role"], "VIEWER");
    let unknown = mint(&sim, people.reader, TestToken::UnknownKid);
    assert_unauthenticated(&app, &unknown, "unknown kid, provider down").await;
    assert_eq!(
        sim.stats().count(JWKS_ROUTE, 503),
        1,
        "the unknown kid made the server try the keys once"
    );
    assert_accepted(&app, &token, "still, after a failed read").await;
    app.finish().await;
}

/// An unreachable provider does not keep the server from starting, nor its own tokens from
/// working; the provider's tokens are refused meanwhile, and accepted once it answers, without
/// a restart.
#[tokio::test]
async fn the_server_starts_without_the_provider_and_catches_up_with_it() {
    let sim = tenant(20, 46).await;
    let people = people(&sim);
    let token = mint(&sim, people.admin, TestToken::Access);
    sim.set_oidc_available(false);

    // A bound, not a measurement: a server that waited for the provider would never start.
    let app = tokio::time::timeout(Duration::from_secs(60), spawn(Engine::Sqlite, &sim))
        .await
        .expect("the server starts while the provider is down");
    assert!(
        sim.stats().count("/.well-known/openid-configuration", 503) >= 1,
        "the server tried the provider at start"
    );
    let own = app.token(Role::Viewer, "script");
    let viewer = assert_accepted(&app, &own, "own token").await;
    assert_eq!(
        viewer,
        json!({ "subject": "script", "role": "VIEWER", "displayName": null })
    );
    let message = assert_unauthenticated(&app, &token, "provider unreachable").await;
    assert!(message.contains("does not publish"), "{message}");

    // Only the background retry reads the provider now: the refused token above used up the
    // read an unknown key may cause within the refetch interval.
    sim.set_oidc_available(true);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = app.graphql_as(&token, VIEWER, json!({})).await;
        if status == StatusCode::OK {
            assert_eq!(body["data"]["viewer"]["role"], "ADMIN", "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the provider's tokens are accepted once it answers: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.finish().await;
}

/// `LM_OIDC_TENANTS` refuses the tenants it does not list; `LM_OIDC_ROLE_CLAIM` and the role
/// lists map whatever claim the provider puts roles in.
#[tokio::test]
async fn the_tenant_list_and_the_role_mapping_are_configurable() {
    let sim = tenant(20, 47).await;
    let people = people(&sim);
    let token = mint(&sim, people.nobody, TestToken::Access);
    let scoped = OidcSettings {
        tenants: vec!["11111111-2222-3333-4444-555555555555".to_owned()],
        ..oidc_settings(&sim)
    };
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        Options {
            oidc: Some(scoped),
            ..Options::default()
        },
    )
    .await;
    let message = assert_unauthenticated(&app, &token, "tenant not listed").await;
    assert!(message.contains("LM_OIDC_TENANTS"), "{message}");
    app.finish().await;

    // Every delegated token of the API carries the scope `access_as_user`.
    let by_scope = OidcSettings {
        tenants: vec![sim.tenant_id().to_string().to_uppercase()],
        role_claim: "scp".to_owned(),
        admin_roles: vec![],
        viewer_roles: vec!["access_as_user".to_owned()],
        ..oidc_settings(&sim)
    };
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        Options {
            oidc: Some(by_scope),
            ..Options::default()
        },
    )
    .await;
    let viewer = assert_accepted(&app, &token, "a viewer by scope").await;
    assert_eq!(viewer["role"], "VIEWER");
    let admin = mint(&sim, people.admin, TestToken::Access);
    assert_eq!(
        assert_accepted(&app, &admin, "no admin role mapped").await["role"],
        "VIEWER"
    );
    app.finish().await;
}

/// A multi-tenant issuer (`organizations`): discovery answers with the `{tenantid}` template, and
/// each token's `iss` must be the template filled with its own `tid`.
#[tokio::test]
async fn a_multi_tenant_issuer_binds_each_token_to_its_tenant() {
    let sim = tenant(20, 49).await;
    let people = people(&sim);
    let settings = OidcSettings {
        issuer: format!("{}/organizations/v2.0", sim.base_url()),
        ..oidc_settings(&sim)
    };
    let app = TestApp::spawn_with(
        Engine::Sqlite,
        Options {
            oidc: Some(settings),
            ..Options::default()
        },
    )
    .await;
    let viewer = assert_accepted(
        &app,
        &mint(&sim, people.admin, TestToken::Access),
        "own tenant",
    )
    .await;
    assert_eq!(
        viewer["subject"],
        format!("{}/{}", sim.tenant_id(), people.admin)
    );
    let message = assert_unauthenticated(
        &app,
        &mint(&sim, people.admin, TestToken::WrongIssuer),
        "iss of another tenant than its tid",
    )
    .await;
    assert!(message.contains("another issuer"), "{message}");
    let mut claims = sim.access_token_claims(people.admin).expect("claims");
    claims["tid"] = json!("../evil");
    let forged = sim.sign_claims(&claims).expect("signed");
    let message = assert_unauthenticated(&app, &forged, "a tid that is no tenant id").await;
    assert!(message.contains("another issuer"), "{message}");
    app.finish().await;
}

engine_tests!(
    app_roles_decide_what_a_person_may_do,
    a_websocket_admits_the_same_tokens,
);
