//! Signing in to the console: with the link `token --link` prints (the token in the address's
//! fragment, never sent to the server), or by pasting a token; the token is kept for the tab
//! only, out of the address bar and the history, and forgotten on sign-out.

use serde_json::{Value, json};

use super::SIGNED_IN_AS;
use crate::common::browser::Browser;
use crate::common::{Engine, TestApp};
use license_manager::auth::Role;

/// What the browser keeps of the session: the address, the tab's and the origin's storage.
const KEPT: &str = "return {
    href: window.location.href,
    path: window.location.pathname,
    session: Object.values(sessionStorage),
    local: Object.values(localStorage),
    history: history.length,
};";

async fn kept(browser: &Browser) -> Value {
    browser.run(KEPT, Vec::new()).await
}

async fn signed_in_as(browser: &Browser) -> String {
    browser
        .wait_until(
            "the console to show who is signed in",
            &format!(
                "const who = document.querySelector('{SIGNED_IN_AS}'); return who && who.innerText;"
            ),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn wait_for_path(browser: &Browser, path: &str) {
    browser
        .wait_until(
            &format!("the address to be {path}"),
            &format!("return window.location.pathname === {};", json!(path)),
        )
        .await;
}

#[tokio::test]
async fn a_sign_in_link_keeps_the_token_for_the_tab_only_and_sign_out_forgets_it() {
    let Some(browser) = Browser::start("console-sign-in").await else {
        return;
    };
    let app = TestApp::spawn(Engine::Sqlite).await;
    let admin = app.token(Role::Admin, "alex");

    browser
        .open(&app.url(&format!("/sign-in#token={admin}&next=/users")))
        .await;
    wait_for_path(&browser, "/users").await;
    assert!(signed_in_as(&browser).await.contains("alex"));
    let after_link = kept(&browser).await;
    assert!(
        !after_link["href"]
            .as_str()
            .unwrap_or_default()
            .contains(&admin),
        "the token is taken out of the address bar: {after_link}"
    );
    assert_eq!(after_link["session"], json!([admin]), "{after_link}");
    assert_eq!(
        after_link["local"],
        json!([]),
        "nothing outlives the tab: {after_link}"
    );

    // Back does not bring the link back: it was replaced, not pushed.
    browser.run("history.back()", Vec::new()).await;
    let after_back = kept(&browser).await;
    assert!(
        !after_back["href"]
            .as_str()
            .unwrap_or_default()
            .contains("token"),
        "{after_back}"
    );

    // A reload keeps the session; the admin sees the admin-only page in the navigation.
    browser.open(&app.url("/users")).await;
    assert!(signed_in_as(&browser).await.contains("admin"));
    browser.wait_for(r#"nav a[href="/audit"]"#).await;
    browser.assert_accessible("/users").await;

    browser.click(&format!("{SIGNED_IN_AS} button")).await;
    wait_for_path(&browser, "/sign-in").await;
    let after_sign_out = kept(&browser).await;
    assert_eq!(after_sign_out["session"], json!([]), "{after_sign_out}");
    browser.assert_accessible("/sign-in").await;

    // Signed out, a page asks for a token, and keeps where it was going.
    browser.open(&app.url("/licenses")).await;
    browser.wait_for("textarea#token").await;

    app.finish().await;
    browser.close().await;
}

#[tokio::test]
async fn a_refused_token_is_explained_beside_the_field_and_a_viewer_sees_no_admin_page() {
    let Some(browser) = Browser::start("console-sign-in-pasted").await else {
        return;
    };
    let app = TestApp::spawn(Engine::Sqlite).await;
    let viewer = app.token(Role::Viewer, "vera");

    browser.open(&app.url("/sign-in")).await;
    let field = browser.wait_for("textarea#token").await;
    field.send_keys("not-a-token").await.expect("typed");
    browser.click("form button[type=submit]").await;
    let message = browser
        .wait_until(
            "the refusal beside the field",
            "const error = document.getElementById('token-error'); return error && error.innerText;",
        )
        .await;
    assert!(
        message
            .as_str()
            .unwrap_or_default()
            .contains("does not accept"),
        "{message}"
    );
    let described = browser
        .run(
            "const field = document.getElementById('token');
             return [field.value, field.getAttribute('aria-invalid'), field.getAttribute('aria-describedby')];",
            Vec::new(),
        )
        .await;
    assert_eq!(described[0], json!("not-a-token"), "what was typed is kept");
    assert_eq!(described[1], json!("true"));
    assert!(
        described[2]
            .as_str()
            .unwrap_or_default()
            .contains("token-error")
    );
    assert_eq!(kept(&browser).await["session"], json!([]));

    browser
        .run("document.getElementById('token').value = ''", Vec::new())
        .await;
    let field = browser.wait_for("textarea#token").await;
    field.clear().await.expect("cleared");
    field.send_keys(&viewer).await.expect("typed");
    browser.click("form button[type=submit]").await;
    assert!(signed_in_as(&browser).await.contains("viewer"));
    let audit_links = browser
        .run(
            "return document.querySelectorAll('nav a[href=\"/audit\"]').length",
            Vec::new(),
        )
        .await;
    assert_eq!(
        audit_links,
        json!(0),
        "a viewer is not offered the audit log"
    );

    app.finish().await;
    browser.close().await;
}
