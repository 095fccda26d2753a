//! The renewals page in a real browser: a viewer sees what renews, expires or ends soon, soonest
//! first, with the recommended seats and the difference in cost, and a longer look-back reaches
//! an older peak. The page passes the accessibility check.

use chrono::{Duration, Utc};

use crate::common::browser::Browser;
use crate::common::fixtures::{self, POWER_BI_PRO, SPE_E5};
use crate::common::{Engine, TestApp};
use license_manager::auth::Role;

const ROWS: &str = r#"tr[data-test="renewal"]"#;

#[tokio::test]
async fn a_viewer_reads_the_renewals_with_their_recommendation() {
    let Some(browser) = Browser::start("console-renewals").await else {
        return;
    };
    let app = TestApp::spawn(Engine::Sqlite).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", None).await;
    let today = Utc::now().date_naive();
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (55, 40, 0, 0, 0)).await;
    fixtures::price(&app, e5, "10", "EUR", "MONTH").await;
    for (days, consumed) in [(150, 60), (30, 45)] {
        fixtures::snapshot(
            &db,
            contoso,
            e5,
            today - Duration::days(days),
            (55, consumed),
        )
        .await;
    }
    let paid = fixtures::subscription(&db, contoso, SPE_E5, "e5", "Enabled", 55, false).await;
    fixtures::renews_at(&db, paid, Utc::now() + Duration::days(30)).await;
    fixtures::sku(&db, contoso, POWER_BI_PRO, (25, 3, 0, 0, 0)).await;
    let trial =
        fixtures::subscription(&db, contoso, POWER_BI_PRO, "pbi", "Enabled", 25, true).await;
    fixtures::renews_at(&db, trial, Utc::now() + Duration::days(10)).await;

    let viewer = app.token(Role::Viewer, "vic");
    browser
        .open(&app.url(&format!("/sign-in#token={viewer}&next=/renewals")))
        .await;
    browser
        .wait_until(
            "two renewals",
            "return document.querySelectorAll('tr[data-test=\"renewal\"]').length === 2;",
        )
        .await;
    let trial_row = browser.text(&format!("{ROWS}:first-child")).await;
    assert!(trial_row.contains("Trial ends"), "{trial_row}");
    assert_eq!(
        browser
            .text(&format!("{ROWS}:first-child [data-test=\"recommended\"]"))
            .await,
        "4"
    );
    let paid_row = browser.text(&format!("{ROWS}:nth-child(2)")).await;
    assert!(
        paid_row.contains("Renewal") && paid_row.contains("−50.00 EUR"),
        "{paid_row}"
    );
    browser.assert_accessible("the renewals page").await;

    // Over 180 days, the peak of 60 five months ago counts: 66 seats.
    browser
        .open(&app.url("/renewals?within=90&lookback=180"))
        .await;
    browser
        .wait_for_text(
            &format!("{ROWS}:nth-child(2) [data-test=\"recommended\"]"),
            "text === '66'",
        )
        .await;
    browser.close().await;
}
