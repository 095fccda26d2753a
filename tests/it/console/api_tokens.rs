//! Settings → API tokens in a real browser: an admin creates a token (a refused expiry first:
//! its error shows beside the field, nothing typed is lost), the token shown once (its Copy
//! button copies it) works against /graphql and is listed with its last use; at the server's
//! limit of active tokens the refusal says what to do; revoking it in the console refuses its
//! next request. A viewer is offered no such page, and following a link to it shows the API's
//! refusal. Each state passes the accessibility check at desktop and phone widths.

use std::num::NonZeroUsize;

use reqwest::StatusCode;
use serde_json::json;

use super::SIGNED_IN_AS;
use crate::common::browser::Browser;
use crate::common::{Engine, Options, TestApp, error_code};
use license_manager::auth::Role;

const PAGE: &str = "/settings/api-tokens";
const FORM: &str = r#"form[aria-label="Create an API token"]"#;
const NEW_TOKEN: &str = r#"[data-test="new-token"]"#;
const ROW: &str = r#"[data-test="api-token"]"#;
const WHO: &str = "{ viewer { subject role } }";
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

async fn check_both_widths(browser: &Browser, what: &str) {
    browser.assert_accessible(what).await;
    browser.resize(PHONE.0, PHONE.1).await;
    browser
        .assert_accessible(&format!("{what} at 390 px"))
        .await;
    assert!(
        browser.fits_the_window().await,
        "{what} is wider than a 390 px window"
    );
    browser.resize(DESKTOP.0, DESKTOP.1).await;
}

async fn an_admin_creates_uses_and_revokes_a_token_in_the_console(engine: Engine) {
    let Some(browser) =
        Browser::start(&format!("console-api-tokens-{engine:?}").to_lowercase()).await
    else {
        return;
    };
    let options = Options {
        max_api_tokens: NonZeroUsize::new(1),
        ..Options::default()
    };
    let app = TestApp::spawn_with(engine, options).await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;

    let admin = app.token(Role::Admin, "it-admin");
    browser
        .open(&app.url(&format!("/sign-in#token={admin}&next={PAGE}")))
        .await;
    browser
        .wait_for_text("main .empty", "text.includes('No API token yet')")
        .await;
    // Settings stays marked in the navigation, and its tabs lead to both of its pages.
    browser
        .wait_for(r#"header.top nav a[href="/settings/providers"][aria-current="page"]"#)
        .await;
    browser
        .wait_for(
            r#"nav[aria-label="Settings"] a[href="/settings/api-tokens"][aria-current="page"]"#,
        )
        .await;
    browser
        .wait_for(r#"nav[aria-label="Settings"] a[href="/settings/providers"]"#)
        .await;
    check_both_widths(&browser, "API tokens, none yet").await;

    // An expiry beyond the server's limit is refused beside its field; what was typed stays.
    browser.press("main .empty", "Create token").await;
    browser.fill(FORM, "Name", "nightly-export").await;
    browser.fill(FORM, "Role", "VIEWER").await;
    browser.fill(FORM, "Expires in days", "5000").await;
    browser.press(FORM, "Create token").await;
    let refused = browser.field_error(FORM, "Expires in days").await;
    assert!(refused.contains("between 1 and 400"), "{refused}");
    assert_eq!(browser.value_of(FORM, "Name").await, "nightly-export");
    assert_eq!(browser.value_of(FORM, "Expires in days").await, "5000");
    browser
        .assert_accessible("the create form with an error")
        .await;

    // Created: the token shows once, with a request to try it.
    browser.fill(FORM, "Expires in days", "30").await;
    browser.press(FORM, "Create token").await;
    let notice = browser
        .wait_for_text(NEW_TOKEN, "text.includes('you will not see it again')")
        .await;
    assert!(notice.contains("nightly-export"), "{notice}");
    let token = browser.value_of(NEW_TOKEN, "Token").await;
    assert!(token.starts_with("lmat_"), "{token}");
    let example = browser
        .value_of(NEW_TOKEN, "Try it: ask the API who this token is")
        .await;
    assert!(
        example.contains(&format!("Bearer {token}")) && example.contains(&app.url("/graphql")),
        "{example}"
    );
    browser.press(NEW_TOKEN, "Copy").await;
    browser
        .wait_for_text(&format!("{NEW_TOKEN} .copied"), "text === 'Copied.'")
        .await;
    check_both_widths(&browser, "a new token").await;
    browser.screenshot("new-token").await;

    // The token shown works, as the viewer it was created as.
    let (status, body) = app.graphql_as(&token, WHO, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["role"], "VIEWER", "{body}");
    let subject = body["data"]["viewer"]["subject"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let id = subject.trim_start_matches("apitoken:").to_owned();

    // Listed, with its use; after a reload its secret is nowhere on the page.
    browser.open(&app.url(PAGE)).await;
    let row = format!(r#"{ROW}[data-token-id="{id}"]"#);
    let listed = browser.wait_for_text(&row, "!text.includes('never')").await;
    assert!(
        listed.contains("nightly-export")
            && listed.contains("viewer")
            && listed.contains("it-admin"),
        "{listed}"
    );
    assert!(listed.contains("Active"), "{listed}");
    assert_eq!(browser.count(NEW_TOKEN).await, json!(0));
    let page_text = browser.text("body").await;
    assert!(!page_text.contains(&token), "the secret is shown only once");
    check_both_widths(&browser, "the token list").await;
    browser.screenshot("list").await;

    // At the server's limit of active tokens the refusal says what to do, and keeps the form.
    browser.press("main .page-header", "Create token").await;
    browser.fill(FORM, "Name", "second-script").await;
    browser.press(FORM, "Create token").await;
    let conflict = browser
        .wait_for_text(&format!("{FORM} .error-box"), "text.includes('CONFLICT')")
        .await;
    assert!(
        conflict.contains("LM_MAX_API_TOKENS") && conflict.contains("Revoke one"),
        "{conflict}"
    );
    assert_eq!(browser.value_of(FORM, "Name").await, "second-script");
    browser
        .assert_accessible("the limit of active tokens")
        .await;
    browser.press(FORM, "Cancel").await;

    // Revoked after a confirmation: the row says so and the token's next request is refused.
    browser.press(&row, "Revoke").await;
    let dialog = browser
        .wait_for_text("dialog.confirm[open]", "text.includes('nightly-export')")
        .await;
    assert!(dialog.contains("cannot be undone"), "{dialog}");
    browser.assert_accessible("the revoke dialog").await;
    browser.press("dialog.confirm[open]", "Revoke token").await;
    browser
        .wait_for(&format!(r#"{row}[data-state="revoked"]"#))
        .await;
    let revoked = browser
        .text(&format!(r#"{row} [data-test="token-status"]"#))
        .await;
    assert!(revoked.contains("Revoked"), "{revoked}");
    assert_eq!(browser.count("dialog[open]").await, json!(0));
    let (status, body) = app.graphql_as(&token, WHO, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");

    // A viewer: no API tokens in the settings, and a link to the page shows the API's refusal.
    browser.press(SIGNED_IN_AS, "Sign out").await;
    let viewer = app.token(Role::Viewer, "vera");
    browser
        .open(&app.url(&format!("/sign-in#token={viewer}&next=/settings/providers")))
        .await;
    browser
        .wait_for_text("main h1", "text === 'Providers'")
        .await;
    assert_eq!(
        browser.count(r#"a[href="/settings/api-tokens"]"#).await,
        json!(0)
    );
    browser.open(&app.url(PAGE)).await;
    let refusal = browser
        .wait_for_text(r#"[data-test="admins-only"]"#, "text.includes('FORBIDDEN')")
        .await;
    assert!(refusal.contains("admins only"), "{refusal}");
    assert_eq!(browser.count("main button").await, json!(0));
    check_both_widths(&browser, "API tokens for a viewer").await;

    browser.close().await;
    app.finish().await;
}

engine_tests!(an_admin_creates_uses_and_revokes_a_token_in_the_console);
