//! The change log in a real browser: after a tenant's changes are synced, a person opens the
//! History page, sees what changed in words, narrows it to one kind, and follows a user from
//! the Users page to that user's own history; a SKU's page charts its seats over time. The
//! pages pass the accessibility check.

use crate::common::browser::Browser;
use crate::common::fixtures;
use crate::common::graph::tenant;
use crate::common::{Engine, Options, TestApp};
use license_manager::auth::Role;

#[tokio::test]
async fn a_person_reads_what_changed_and_one_users_history() {
    let Some(browser) = Browser::start("console-history").await else {
        return;
    };
    let sim = tenant(20, 7).await;
    let app = TestApp::spawn_with(Engine::Sqlite, Options::with_graph(sim.base_url())).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    let users = sim.users();
    let (leaver, relicensed) = (&users[0], &users[1]);
    sim.disable_user(leaver.id).expect("disabled");
    let dropped = relicensed
        .assigned_licenses
        .first()
        .expect("a license")
        .sku_id;
    sim.remove_license(relicensed.id, dropped).expect("removed");
    assert_eq!(app.sync(&provider, "DELTA").await["status"], "SUCCEEDED");

    let token = app.token(Role::Viewer, "auditor");
    browser
        .open(&app.url(&format!("/sign-in#token={token}&next=/history")))
        .await;
    let event = r#"tr[data-test="license-event"]"#;
    browser.wait_for(event).await;
    assert_eq!(browser.count(event).await, 2);
    assert_eq!(
        browser
            .count(r#"tr[data-test="license-event"][data-kind="USER_DISABLED"]"#)
            .await,
        1
    );
    let text = browser.text("table.history").await;
    assert!(text.contains("account disabled"), "{text}");
    assert!(text.contains("license removed"), "{text}");
    assert!(text.contains(&leaver.user_principal_name), "{text}");
    browser.assert_accessible("the history").await;
    browser.screenshot_for_docs("console-history").await;

    // Only licenses removed.
    browser
        .fill(
            r#"form[aria-label="Filter the history"]"#,
            "What changed",
            "LICENSE_REMOVED",
        )
        .await;
    browser
        .wait_until(
            "only the removal is listed",
            r#"return document.querySelectorAll('tr[data-test="license-event"]').length === 1
                && document.querySelector('tr[data-test="license-event"]').dataset.kind === 'LICENSE_REMOVED';"#,
        )
        .await;

    // From the Users page to one user's history.
    browser
        .open(&app.url(&format!("/users?search={}", leaver.user_principal_name)))
        .await;
    let link = format!(
        r#"tr[data-upn="{}"] .identity a"#,
        leaver.user_principal_name
    );
    browser.wait_for(&link).await;
    browser.click(&link).await;
    browser
        .wait_until(
            "the user's history",
            r#"return location.pathname === '/history'
                && document.querySelectorAll('tr[data-test="license-event"]').length === 1;"#,
        )
        .await;
    let text = browser.text("main").await;
    assert!(
        text.contains(&format!("What changed of {}", leaver.user_principal_name)),
        "{text}"
    );
    browser.close().await;
    app.finish().await;
}

/// A SKU's page draws its seats over the last 90 days from the daily snapshots: a break where no
/// sync ran, and each day's figures and cost in its tooltip.
#[tokio::test]
async fn a_skus_page_charts_its_seats_with_the_days_no_sync_ran() {
    let Some(browser) = Browser::start("console-trend").await else {
        return;
    };
    let app = TestApp::spawn(Engine::Sqlite).await;
    let db = app.database.connect().await;
    let provider = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let e5 = fixtures::sku(&db, provider, fixtures::SPE_E5, (40, 31, 0, 0, 0)).await;
    fixtures::price(&app, e5, "50", "USD", "MONTH").await;
    let today = chrono::Utc::now().date_naive();
    // Synced every day but ten, ten to nineteen days ago.
    for days_ago in (0..60).filter(|days| !(10..20).contains(days)) {
        let consumed = 25 + days_ago % 7;
        fixtures::snapshot(
            &db,
            provider,
            e5,
            today - chrono::Duration::days(days_ago),
            (40, consumed),
        )
        .await;
    }
    let token = app.token(Role::Viewer, "analyst");
    browser
        .open(&app.url(&format!("/sign-in#token={token}&next=/licenses/{e5}")))
        .await;
    let chart = r#"svg[data-test="trend-chart"]"#;
    browser.wait_for(chart).await;
    let shape = browser
        .run(
            "const chart = document.querySelector(arguments[0]);
             return [chart.dataset.points, chart.dataset.gaps, chart.querySelectorAll('polyline.used').length,
                     chart.querySelector('circle:last-of-type title').textContent];",
            vec![serde_json::json!(chart)],
        )
        .await;
    // 90 days, of which the 30 before the first snapshot and the 10 without a sync are gaps:
    // the line breaks once, where syncs stopped and started again.
    assert_eq!(shape[0], "90", "{shape}");
    assert_eq!(shape[1], "40", "{shape}");
    assert_eq!(shape[2], 2, "{shape}");
    let today_tip = shape[3].as_str().unwrap_or_default();
    assert!(today_tip.contains("25 in use of 40 paid"), "{today_tip}");
    assert!(today_tip.contains("1,250.00 USD a month"), "{today_tip}");
    browser.assert_accessible("a SKU's trend").await;
    browser
        .run(
            "document.getElementById('trend-heading').scrollIntoView();",
            vec![],
        )
        .await;
    browser.screenshot_for_docs("console-sku-trend").await;
    db.close().await.ok();
    browser.close().await;
    app.finish().await;
}
