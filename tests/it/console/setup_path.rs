//! The setup path an IT admin follows, in a real browser against a graph-sim tenant: sign in
//! with a link → add the Microsoft 365 provider (a malformed tenant id and a wrong secret
//! first: the field's error and the failed check show) → rotate the secret → test the
//! connection → sync and watch it succeed → the users page lists the tenant's users → a SKU's
//! seats are the tenant's → the waste page's totals are the report's. Then a viewer finds no
//! control that would fail for a viewer. Each page passes the accessibility check, at 1280 and
//! at 390 px.

use serde_json::{Value, json};

use super::SIGNED_IN_AS;
use crate::common::browser::Browser;
use crate::common::graph::{tenant, truth};
use crate::common::{Engine, Options, TestApp};
use license_manager::auth::Role;

const ADD_FORM: &str = r#"form[aria-label="Add Microsoft 365"]"#;
const PROVIDER: &str = r#"[data-test="provider"]"#;
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

/// Buttons and fields only an admin may use, by their text; none may show to a viewer.
const ADMIN_CONTROLS: [&str; 7] = [
    "Add Microsoft 365",
    "Test connection",
    "Edit",
    "Delete",
    "Sync now",
    "Set price",
    "Edit price",
];

async fn open_page(browser: &Browser, app: &TestApp, path: &str, ready: &str) {
    browser.open(&app.url(path)).await;
    browser.wait_for(ready).await;
}

/// Checks the page at both widths and, at the phone's, that nothing but tables scrolls sideways.
async fn check_both_widths(browser: &Browser, page: &str) {
    browser.assert_accessible(page).await;
    browser.resize(PHONE.0, PHONE.1).await;
    browser
        .assert_accessible(&format!("{page} at 390 px"))
        .await;
    assert!(
        browser.fits_the_window().await,
        "{page} is wider than a 390 px window"
    );
    browser.resize(DESKTOP.0, DESKTOP.1).await;
}

fn number(text: &str) -> i64 {
    let digits: String = text
        .chars()
        .filter(|character| character.is_ascii_digit() || *character == '-' || *character == '−')
        .map(|character| if character == '−' { '-' } else { character })
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number: {text:?}"))
}

/// The figure an element shows: its `data-value` where the text is worded ("7 over-assigned"),
/// else the number in its text.
async fn figure(browser: &Browser, css: &str) -> i64 {
    let text = browser.text(css).await;
    let value = browser
        .run(
            "return document.querySelector(arguments[0]).dataset.value ?? null;",
            vec![json!(css)],
        )
        .await;
    match value.as_str() {
        Some(value) => number(value),
        None => number(&text),
    }
}

async fn admin_controls_shown(browser: &Browser) -> Value {
    browser
        .run(
            "return [...document.querySelectorAll('main button, main a')]
                 .map(control => control.innerText.trim())
                 .filter(text => arguments[0].includes(text));",
            vec![json!(ADMIN_CONTROLS)],
        )
        .await
}

async fn the_setup_path_works_in_a_browser(engine: Engine) {
    let Some(browser) = Browser::start(&format!("console-setup-{engine:?}").to_lowercase()).await
    else {
        return;
    };
    let sim = tenant(120, 23).await;
    let app = TestApp::spawn_with(engine, Options::with_graph(sim.base_url())).await;
    let (users, skus, _) = truth(&sim);
    browser.resize(DESKTOP.0, DESKTOP.1).await;

    // A fresh install lands on Settings → Providers.
    let admin = app.token(Role::Admin, "it-admin");
    browser
        .open(&app.url(&format!("/sign-in#token={admin}")))
        .await;
    browser
        .wait_until(
            "the start page to lead to the providers",
            "return window.location.pathname === '/settings/providers';",
        )
        .await;
    browser.press("main", "Add Microsoft 365").await;
    browser.assert_accessible("the add form").await;

    // A malformed tenant id is refused beside its field; what was typed stays.
    let client_id = sim.client_id().to_string();
    browser.fill(ADD_FORM, "Name", "Contoso").await;
    browser.fill(ADD_FORM, "Tenant ID", "not a tenant").await;
    browser.fill(ADD_FORM, "Client ID", &client_id).await;
    browser
        .fill(ADD_FORM, "Client secret", "a-wrong-secret")
        .await;
    browser.press(ADD_FORM, "Add provider").await;
    let refused = browser.field_error(ADD_FORM, "Tenant ID").await;
    assert!(!refused.is_empty(), "the tenant id's error shows");
    assert_eq!(browser.value_of(ADD_FORM, "Client ID").await, client_id);
    assert_eq!(browser.value_of(ADD_FORM, "Name").await, "Contoso");

    // With the wrong secret the provider is added, and the connection test says what is wrong.
    browser
        .fill(ADD_FORM, "Tenant ID", &sim.tenant_id().to_string())
        .await;
    browser.press(ADD_FORM, "Add provider").await;
    browser.wait_for(PROVIDER).await;
    browser.press(PROVIDER, "Test connection").await;
    let token_check = browser
        .wait_for_text(
            r#"[data-test="check"][data-check-name="token"][data-ok="false"]"#,
            "text.includes('INVALID_CLIENT_SECRET')",
        )
        .await;
    assert!(
        token_check.len() > "INVALID_CLIENT_SECRET".len(),
        "with its hint: {token_check}"
    );
    browser.assert_accessible("a failed connection test").await;

    // The secret rotated, every check passes.
    browser.press(PROVIDER, "Edit").await;
    let edit_form = r#"form[aria-label="Edit Contoso"]"#;
    browser
        .fill(edit_form, "New client secret", &sim.client_secret())
        .await;
    browser.press(edit_form, "Save changes").await;
    browser
        .wait_for_text(PROVIDER, "text.includes('Saved the changes')")
        .await;
    browser.press(PROVIDER, "Test connection").await;
    browser
        .wait_until(
            "every check to pass, the optional licenseWrite one warning",
            r#"const checks = [...document.querySelectorAll('[data-test="check"]')];
               const write = checks.find(check => check.dataset.checkName === 'licenseWrite');
               return checks.length >= 4 && write && write.className === 'warning'
                 && checks.every(check => check.dataset.ok === 'true' || check === write)
                 && document.body.innerText.includes('Every check passed');"#,
        )
        .await;

    // A full sync, followed live to its end.
    browser.fill(PROVIDER, "Mode", "FULL").await;
    browser.press(PROVIDER, "Sync now").await;
    browser
        .wait_for_text(r#"[data-test="run-status"]"#, "text.includes('Succeeded')")
        .await;
    let seen = number(&browser.text(r#"[data-test="run-users-seen"]"#).await);
    assert_eq!(
        seen,
        users.len() as i64,
        "the live progress counts every user"
    );
    let created = number(&browser.text(r#"[data-test="run-created"]"#).await);
    assert_eq!(created, users.len() as i64);
    browser
        .wait_for_text(
            r#"[data-test="last-run-status"]"#,
            "text.includes('Succeeded')",
        )
        .await;
    check_both_widths(&browser, "/settings/providers").await;
    open_page(
        &browser,
        &app,
        "/settings/providers",
        r#"[data-test="last-run-status"]"#,
    )
    .await;
    browser.screenshot_for_docs("console-providers").await;

    // The users page lists the tenant's users.
    open_page(&browser, &app, "/users", r#"[data-test="users-total"]"#).await;
    browser
        .wait_for_text(r#"[data-test="users-total"]"#, "/[1-9]/.test(text)")
        .await;
    let total = figure(&browser, r#"[data-test="users-total"]"#).await;
    assert_eq!(total, users.len() as i64);
    let listed = browser
        .run(
            r#"return [...document.querySelectorAll('[data-test="user"]')].map(row => row.dataset.upn);"#,
            Vec::new(),
        )
        .await;
    let listed: Vec<&str> = listed
        .as_array()
        .map(|rows| rows.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(!listed.is_empty());
    for upn in &listed {
        assert!(
            users.iter().any(|user| user.upn == *upn),
            "{upn} is one of the tenant's users"
        );
    }
    check_both_widths(&browser, "/users").await;

    // A SKU's seats are the tenant's.
    open_page(&browser, &app, "/licenses", r#"[data-test="sku"]"#).await;
    let held = skus
        .iter()
        .find(|sku| sku.units[4] > 0)
        .expect("the tenant has a SKU in use");
    let row = format!(
        r#"[data-test="sku"][data-sku-part-number="{}"]"#,
        held.part_number
    );
    let enabled = number(
        &browser
            .text(&format!(r#"{row} [data-test="sku-enabled"]"#))
            .await,
    );
    let consumed = number(
        &browser
            .text(&format!(r#"{row} [data-test="sku-consumed"]"#))
            .await,
    );
    let available = number(
        &browser
            .text(&format!(r#"{row} [data-test="sku-available"]"#))
            .await,
    );
    assert_eq!(
        (enabled, consumed, available),
        (held.units[0], held.units[4], held.units[0] - held.units[4]),
        "{}",
        held.part_number
    );
    check_both_widths(&browser, "/licenses").await;

    // A price set here turns the SKU's findings into a monthly cost.
    browser.press(&row, "Set price").await;
    let price_form = "form.price-editor";
    browser.fill(price_form, "Unit price", "36").await;
    browser.fill(price_form, "Currency", "EUR").await;
    browser.fill(price_form, "Billed per", "MONTH").await;
    browser.press(price_form, "Save price").await;
    let cost = browser
        .wait_for_text(
            &format!(r#"{row} [data-test="sku-monthly-cost"]"#),
            "text.includes('EUR')",
        )
        .await;
    assert!(
        cost.replace(',', "")
            .contains(&format!("{}.00 EUR", 36 * held.units[0])),
        "36 EUR a month × {} seats: {cost}",
        held.units[0]
    );

    // The SKU's page lists its holders.
    let sku_page = browser
        .run(
            "return document.querySelector(arguments[0] + ' a[href^=\"/licenses/\"]').getAttribute('href');",
            vec![json!(row)],
        )
        .await;
    let sku_page = sku_page.as_str().unwrap_or_default().to_owned();
    browser
        .click(&format!(r#"{row} a[href="{sku_page}"]"#))
        .await;
    browser.wait_for(r#"[data-test="holders-total"]"#).await;
    let holders = users
        .iter()
        .filter(|user| user.licenses.contains_key(&held.sku_id))
        .count();
    assert_eq!(
        figure(&browser, r#"[data-test="holders-total"]"#).await,
        holders as i64
    );
    check_both_widths(&browser, &sku_page).await;

    // The waste page's totals are the report's.
    let report = app
        .query(
            Role::Viewer,
            "{ licenseReport { totals { findings monthlyCost { amount currency }
                byKind { kind findings units } } } }",
        )
        .await;
    let totals = &report["licenseReport"]["totals"];
    open_page(&browser, &app, "/waste", r#"[data-test="total-findings"]"#).await;
    let findings = number(&browser.text(r#"[data-test="total-findings"]"#).await);
    assert_eq!(findings, totals["findings"].as_i64().unwrap_or(-1));
    for cost in totals["monthlyCost"].as_array().into_iter().flatten() {
        let shown = browser
            .run(
                r#"const cost = document.querySelector(`[data-test="total-cost"][data-currency="${arguments[0]}"]`);
                   return cost && cost.dataset.amount;"#,
                vec![cost["currency"].clone()],
            )
            .await;
        assert_eq!(
            shown, cost["amount"],
            "the waste page's monthly cost in {}",
            cost["currency"]
        );
    }
    for kind in totals["byKind"].as_array().into_iter().flatten() {
        let card = format!(
            r#"[data-test="kind-total"][data-kind="{}"]"#,
            kind["kind"].as_str().unwrap_or_default()
        );
        let shown = number(
            &browser
                .text(&format!(r#"{card} [data-test="kind-findings"]"#))
                .await,
        );
        assert_eq!(shown, kind["findings"].as_i64().unwrap_or(-1), "{card}");
        let units = number(
            &browser
                .text(&format!(r#"{card} [data-test="kind-units"]"#))
                .await,
        );
        assert_eq!(units, kind["units"].as_i64().unwrap_or(-1), "{card}");
    }
    check_both_widths(&browser, "/waste").await;
    browser.screenshot_for_docs("console-waste").await;

    open_page(&browser, &app, "/audit", r#"[data-test="audit-event"]"#).await;
    check_both_widths(&browser, "/audit").await;

    // A viewer sees the same pages without a control that would fail for a viewer.
    browser.press(SIGNED_IN_AS, "Sign out").await;
    let viewer = app.token(Role::Viewer, "auditor");
    browser
        .open(&app.url(&format!("/sign-in#token={viewer}&next=/settings/providers")))
        .await;
    browser.wait_for(PROVIDER).await;
    assert_eq!(
        admin_controls_shown(&browser).await,
        json!([]),
        "on the providers page"
    );
    for (path, ready) in [
        ("/licenses", r#"[data-test="sku"]"#),
        ("/users", r#"[data-test="user"]"#),
        (sku_page.as_str(), r#"[data-test="holders-total"]"#),
        ("/waste", r#"[data-test="total-findings"]"#),
    ] {
        open_page(&browser, &app, path, ready).await;
        assert_eq!(admin_controls_shown(&browser).await, json!([]), "on {path}");
    }

    browser.close().await;
    app.finish().await;
}

engine_tests!(the_setup_path_works_in_a_browser);
