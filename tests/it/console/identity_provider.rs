//! Signing in to the console with the organization's identity provider (graph-sim playing Entra
//! ID): the authorization code flow with PKCE from the browser, the token renewed before it
//! ends, and sign-out ending the provider's session too; the server names the provider at
//! `/auth/identity-provider` and lets the page reach its token endpoint, and nothing else.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::SIGNED_IN_AS;
use crate::common::browser::Browser;
use crate::common::graph::{tenant, tenant_with};
use crate::common::{Engine, Options, TestApp, error_code};
use graph_sim::{OidcOptions, ROLE_ADMIN, SimOptions, SimServer, TenantSpec};
use license_manager::auth::{ConsoleClient, OidcSettings};

const TOKEN_ROUTE: &str = "/oauth2/v2.0/token";

fn console_settings(sim: &SimServer) -> OidcSettings {
    let audiences = vec![sim.api_audience()];
    OidcSettings {
        console: Some(ConsoleClient {
            client_id: sim.spa_client_id().to_string(),
            scope: ConsoleClient::default_scope(&audiences).expect("an audience"),
        }),
        ..OidcSettings::new(sim.oidc_issuer(), audiences)
    }
}

async fn spawn(settings: OidcSettings) -> TestApp {
    TestApp::spawn_with(
        Engine::Sqlite,
        Options {
            oidc: Some(settings),
            ..Options::default()
        },
    )
    .await
}

async fn identity_provider(app: &TestApp) -> (StatusCode, Value) {
    let response = reqwest::get(app.url("/auth/identity-provider"))
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

async fn page_policy(app: &TestApp) -> String {
    let response = reqwest::get(app.url("/sign-in"))
        .await
        .expect("the server answers");
    response.headers()[reqwest::header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("an ASCII policy")
        .to_owned()
}

fn connect_sources(policy: &str) -> Vec<String> {
    policy
        .split(';')
        .map(str::trim)
        .find_map(|directive| directive.strip_prefix("connect-src "))
        .expect("a connect-src directive")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_server_names_the_provider_to_browsers_and_lets_the_page_reach_its_token_endpoint_only()
{
    let without = TestApp::spawn(Engine::Sqlite).await;
    assert_eq!(
        identity_provider(&without).await,
        (StatusCode::OK, json!({ "identityProvider": null })),
        "an install without an identity provider signs in with tokens"
    );
    assert_eq!(connect_sources(&page_policy(&without).await), ["'self'"]);
    without.finish().await;

    let sim = tenant(5, 31).await;
    let app = spawn(console_settings(&sim)).await;
    let (status, body) = identity_provider(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tenant = sim.tenant_id();
    let provider = &body["identityProvider"];
    assert_eq!(provider["clientId"], json!(sim.spa_client_id().to_string()));
    assert_eq!(
        provider["scope"],
        json!(format!(
            "openid profile offline_access api://{}/access_as_user",
            sim.api_audience()
        )),
        "by default the console asks for this API's scope, not Microsoft Graph's"
    );
    assert_eq!(
        provider["authorizationEndpoint"],
        json!(format!("{}/{tenant}/oauth2/v2.0/authorize", sim.base_url()))
    );
    assert_eq!(
        provider["tokenEndpoint"],
        json!(format!("{}/{tenant}{TOKEN_ROUTE}", sim.base_url()))
    );
    assert_eq!(
        connect_sources(&page_policy(&app).await),
        [
            "'self'".to_owned(),
            sim.base_url().trim_end_matches('/').to_owned()
        ],
        "the page may redeem its code at the provider and call nothing else"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_provider_that_has_not_answered_yet_is_named_unavailable_and_tokens_still_sign_in() {
    // Nothing listens on the discard port.
    let mut settings = OidcSettings::new(
        "http://127.0.0.1:9/tenant/v2.0".to_owned(),
        vec!["api".to_owned()],
    );
    settings.console = Some(ConsoleClient {
        client_id: "console".to_owned(),
        scope: "openid api/access_as_user".to_owned(),
    });
    let app = spawn(settings).await;
    let (status, body) = identity_provider(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "UNAVAILABLE");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("sign in with a token")),
        "{body}"
    );
    assert_eq!(connect_sources(&page_policy(&app).await), ["'self'"]);
    app.finish().await;
}

/// The console's address, storage and what it shows of the person, as the browser has them.
const TAB: &str = "return {
    href: window.location.href,
    path: window.location.pathname,
    token: sessionStorage.getItem('license-manager:token'),
    stored: Object.keys(sessionStorage),
    local: Object.keys(localStorage),
};";

async fn tab(browser: &Browser) -> Value {
    browser.run(TAB, Vec::new()).await
}

#[tokio::test]
async fn a_person_signs_in_through_the_provider_with_pkce_stays_signed_in_and_signs_out() {
    let Some(browser) = Browser::start("console-identity-provider").await else {
        return;
    };
    // Tokens that live a few seconds, so that the console must renew one while the test watches.
    let sim = tenant_with(
        TenantSpec {
            users: 5,
            seed: 32,
            ..TenantSpec::default()
        },
        SimOptions {
            oidc: OidcOptions {
                access_token_ttl_secs: 6,
                ..OidcOptions::default()
            },
            ..SimOptions::default()
        },
    )
    .await;
    let admin = sim
        .users()
        .into_iter()
        .find(|user| sim.app_roles(user.id).contains(&ROLE_ADMIN.to_owned()))
        .expect("graph-sim gives the first enabled member the admin role");
    let app = spawn(console_settings(&sim)).await;

    browser.open(&app.url("/licenses")).await;
    browser
        .assert_accessible("sign-in with the identity provider")
        .await;
    browser.screenshot_for_docs("console-sign-in").await;
    browser
        .press("main", "Sign in with your organization's account")
        .await;
    // graph-sim's sign-in page: a person picks who they are.
    browser
        .wait_until(
            "the identity provider's sign-in page",
            "return document.title.includes('Sign in') && !!document.querySelector('button[name=gsim_user]');",
        )
        .await;
    let picked = format!(
        "button[name=gsim_user][value='{}']",
        admin.user_principal_name
    );
    browser.click(&picked).await;

    let name = admin.display_name.clone().unwrap_or_default();
    let who = browser
        .wait_for_text(SIGNED_IN_AS, &format!("text.includes({})", json!(name)))
        .await;
    assert!(who.contains("admin"), "the app role makes an admin: {who}");
    let signed_in = tab(&browser).await;
    assert_eq!(
        signed_in["path"], "/licenses",
        "back where they were going: {signed_in}"
    );
    assert!(
        !signed_in["href"]
            .as_str()
            .unwrap_or_default()
            .contains("code="),
        "the one-time code is taken off the address: {signed_in}"
    );
    assert_eq!(
        signed_in["local"],
        json!([]),
        "nothing outlives the tab: {signed_in}"
    );
    let first_token = signed_in["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(first_token.split('.').count(), 3, "a JWT: {signed_in}");

    // Renewed with the refresh token before it ends, without the person doing anything.
    browser
        .wait_until(
            "the console to renew its token",
            &format!(
                "return sessionStorage.getItem('license-manager:token') !== {};",
                json!(first_token)
            ),
        )
        .await;
    assert!(
        sim.stats().count(TOKEN_ROUTE, 200) >= 2,
        "a code redemption, then a refresh: {:?}",
        sim.stats().by_route
    );
    // A page that calls the API well past the first token's life still works.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    browser.click("header.top nav a[href='/users']").await;
    browser.wait_for_text("main h1", "text === 'Users'").await;
    // Its answer (nobody synced yet), not an error or the sign-in page.
    browser
        .wait_for_text("main", "text.includes('No users yet')")
        .await;

    browser.press("header.top", "Sign out").await;
    browser
        .wait_until(
            "the sign-in page after the provider's sign-out",
            "return window.location.pathname === '/sign-in' && !!document.querySelector('main.sign-in button');",
        )
        .await;
    let signed_out = tab(&browser).await;
    assert_eq!(signed_out["token"], Value::Null, "{signed_out}");
    assert_eq!(
        signed_out["stored"],
        json!([]),
        "the refresh token is forgotten too: {signed_out}"
    );
    assert_eq!(
        sim.stats().count("/oauth2/v2.0/logout", 302),
        1,
        "the provider's session ends too: {:?}",
        sim.stats().by_route
    );
    browser.close().await;
    app.finish().await;
}

#[tokio::test]
async fn an_answer_the_tab_did_not_ask_for_is_refused_without_redeeming_it() {
    let Some(browser) = Browser::start("console-forged-answer").await else {
        return;
    };
    let sim = tenant(5, 33).await;
    let app = spawn(console_settings(&sim)).await;

    // As a link another site could send: a code and a state this tab never made.
    browser
        .open(&app.url("/sign-in?code=stolen&state=forged"))
        .await;
    let shown = browser
        .wait_for_text("main [role=alert]", "text.includes('does not belong')")
        .await;
    assert!(shown.contains("Sign in again"), "{shown}");
    assert_eq!(
        sim.stats().count(TOKEN_ROUTE, 200) + sim.stats().count(TOKEN_ROUTE, 400),
        0
    );
    let after = tab(&browser).await;
    assert_eq!(after["token"], Value::Null, "{after}");
    assert!(
        !after["href"]
            .as_str()
            .unwrap_or_default()
            .contains("stolen"),
        "{after}"
    );
    browser.close().await;
    app.finish().await;
}

#[tokio::test]
async fn a_person_without_a_role_of_the_api_is_told_why_and_can_sign_in_as_someone_else() {
    let Some(browser) = Browser::start("console-no-role").await else {
        return;
    };
    let sim = tenant(5, 34).await;
    let nobody = sim
        .users()
        .into_iter()
        .find(|user| user.account_enabled && sim.app_roles(user.id).is_empty())
        .expect("graph-sim gives no role to the third enabled member");
    let app = spawn(console_settings(&sim)).await;

    browser.open(&app.url("/sign-in")).await;
    browser
        .press("main", "Sign in with your organization's account")
        .await;
    browser
        .click(&format!(
            "button[name=gsim_user][value='{}']",
            nobody.user_principal_name
        ))
        .await;
    let shown = browser
        .wait_for_text("main [role=alert]", "text.includes('FORBIDDEN')")
        .await;
    assert!(shown.contains("holds no role of this API"), "{shown}");
    browser.assert_accessible("signed in without a role").await;

    browser.press("main", "Sign out").await;
    browser
        .wait_until(
            "the sign-in page again",
            "return window.location.pathname === '/sign-in' && !!document.querySelector('main.sign-in');",
        )
        .await;
    assert_eq!(tab(&browser).await["stored"], json!([]));
    browser.close().await;
    app.finish().await;
}
