//! Waste to plan in a real browser: an admin accepts a finding (a reason and a last day; it
//! leaves the totals and shows as accepted), makes a reclaim plan from the rest, reads what it
//! would free and why each other seat stays, and approves it. A viewer sees the plan but none
//! of the controls. Each page passes the accessibility check.

use crate::common::browser::Browser;
use crate::common::fixtures::{self, SPE_E5, Via, assign};
use crate::common::{Engine, TestApp};
use license_manager::auth::Role;

const ACCEPT_FORM: &str = r#"form[aria-label="Accept finding"]"#;
const PLAN_FORM: &str = r#"form[aria-label="Plan reclaim"]"#;

#[tokio::test]
async fn an_admin_accepts_a_finding_plans_the_rest_and_approves_the_plan() {
    let Some(browser) = Browser::start("console-reclaim").await else {
        return;
    };
    let app = TestApp::spawn(Engine::Sqlite).await;
    let db = app.database.connect().await;
    let provider = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let e5 = fixtures::sku(&db, provider, SPE_E5, (3, 3, 0, 0, 0)).await;
    for (name, via) in [
        ("mailbox", Via::Direct),
        ("former", Via::Direct),
        ("grouped", Via::Groups(&["g-sales"])),
    ] {
        let mut user = fixtures::NewUser::named(name).signed_in(300);
        user.enabled = false;
        let user = user.insert(&db, provider).await;
        assign(&db, provider, user, e5, via).await;
    }
    let admin = app.token(Role::Admin, "alex");
    browser
        .open(&app.url(&format!("/sign-in#token={admin}&next=/waste")))
        .await;
    browser
        .wait_for_text(r#"[data-test="total-findings"]"#, "text === '3'")
        .await;

    // Accept the shared mailbox's license.
    let mailbox_row = r#"tr[data-test="finding"]:first-child"#;
    let first_user = browser.text(&format!("{mailbox_row} .upn")).await;
    assert_eq!(first_user, "mailbox@contoso.com");
    browser.press(mailbox_row, "Accept…").await;
    browser.wait_for(ACCEPT_FORM).await;
    browser
        .fill(ACCEPT_FORM, "Reason", "Shared mailbox of the front desk")
        .await;
    browser.assert_accessible("the accept dialog").await;
    browser.press(ACCEPT_FORM, "Accept").await;
    browser
        .wait_for_text(r#"[data-test="accepted-findings"]"#, "text === '1'")
        .await;
    browser
        .wait_for_text(r#"[data-test="total-findings"]"#, "text === '2'")
        .await;
    let accepted = browser
        .text(r#"tr[data-accepted="true"] [data-test="acceptance"]"#)
        .await;
    assert!(
        accepted.contains("Shared mailbox of the front desk") && accepted.contains("alex"),
        "{accepted}"
    );

    browser.screenshot_for_docs("console-waste-accepted").await;

    // Plan the rest.
    browser.press("header.page-header", "Plan reclaim…").await;
    browser.wait_for(PLAN_FORM).await;
    browser.assert_accessible("the plan dialog").await;
    browser.press(PLAN_FORM, "Make the plan").await;
    browser
        .wait_until(
            "the plan's page",
            "return /^\\/reclaim\\/\\d+$/.test(window.location.pathname) && !!document.querySelector('[data-test=\"to-remove\"]');",
        )
        .await;
    assert_eq!(
        browser.text(r#"[data-test="to-remove"]"#).await,
        "1",
        "only the former employee's own license frees a seat"
    );
    browser
        .wait_until(
            "the plan's items",
            "return document.querySelectorAll('[data-test=\"plan-item\"]').length === 3;",
        )
        .await;
    assert_eq!(
        browser
            .count(r#"[data-test="plan-item"][data-reason="ACCEPTED"]"#)
            .await,
        1
    );
    assert_eq!(
        browser
            .count(r#"[data-test="plan-item"][data-reason="INHERITED_FROM_GROUP"]"#)
            .await,
        1
    );
    browser.assert_accessible("a reclaim plan").await;
    browser.screenshot_for_docs("console-reclaim-plan").await;
    let plan_path = browser
        .run("return window.location.pathname", Vec::new())
        .await;

    browser.press("header.page-header", "Approve").await;
    browser.press("dialog.confirm", "Approve").await;
    browser
        .wait_for_text(r#"[data-test="plan-summary"]"#, "text.includes('approved')")
        .await;

    // A viewer reads the plan and is offered no decision, and no acceptance on the waste page.
    let viewer = app.token(Role::Viewer, "vic");
    browser
        .open(&app.url(&format!(
            "/sign-in#token={viewer}&next={}",
            plan_path.as_str().unwrap_or("/reclaim")
        )))
        .await;
    browser.wait_for(r#"[data-test="plan-item"]"#).await;
    let buttons = browser
        .run(
            "return [...document.querySelectorAll('main button')].map(button => button.innerText.trim())",
            Vec::new(),
        )
        .await;
    assert!(
        !buttons
            .as_array()
            .into_iter()
            .flatten()
            .any(|text| text == "Approve" || text == "Cancel plan"),
        "{buttons}"
    );
    browser.click("header.top nav a[href='/waste']").await;
    browser
        .wait_for_text(r#"[data-test="total-findings"]"#, "text === '2'")
        .await;
    assert_eq!(
        browser.count("main button.link").await,
        browser
            .run(
                "return [...document.querySelectorAll('main button.link')].filter(b => b.innerText.startsWith('Show')).length",
                Vec::new()
            )
            .await,
        "a viewer gets no Accept or Reopen"
    );
    db.close().await.ok();
    browser.close().await;
    app.finish().await;
}
