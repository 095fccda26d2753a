//! Waste to plan in a real browser: an admin accepts a finding (a reason and a last day; it
//! leaves the totals and shows as accepted), makes a reclaim plan from the rest, reads what it
//! would free and why each other seat stays, and approves it. A viewer sees the plan but none
//! of the controls. Then, against graph-sim, an admin executes an approved plan, follows it to
//! its end (licenses removed, a user who came back skipped) and puts one license back; a viewer
//! sees the outcomes and no control. Each page passes the accessibility check.

use graph_sim::{FaultOptions, Permissions, SimOptions, TenantSpec};
use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::fixtures::{self, SPE_E5, Via, assign};
use crate::common::graph::tenant_with;
use crate::common::{Engine, Options, TestApp};
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

const EXECUTION: &str = r#"[data-test="execution"]"#;
const ROW: &str = r#"tr[data-test="plan-item"]"#;

/// Long enough a wait on each Graph request that an execution is seen part-way.
const LATENCY: std::time::Duration = std::time::Duration::from_millis(150);

/// Graph-sim's tenant whose app may change licenses, synced once by a server with a worker; an
/// approved plan of every finding, and one of its users signs in after approval: with the
/// plan's id, how many of its licenses that user's return makes stale.
async fn approved_plan_with_a_returning_user(
    engine: Engine,
) -> (graph_sim::SimServer, TestApp, String, i64) {
    let sim = tenant_with(
        TenantSpec {
            users: 40,
            seed: 23,
            permissions: Permissions::default().with_license_writes(),
            ..Default::default()
        },
        SimOptions {
            faults: FaultOptions {
                latency: LATENCY,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let app = TestApp::spawn_with(
        engine,
        Options {
            workers: 1,
            ..Options::with_graph(sim.base_url())
        },
    )
    .await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    let created = app
        .admin(
            "mutation($input: CreateReclaimPlanInput!) { createReclaimPlan(input: $input) {
                id items(first: 500) { nodes { userPrincipalName action findingKind } } } }",
            json!({ "input": { "providerId": provider } }),
        )
        .await;
    let plan = &created["data"]["createReclaimPlan"];
    let id = plan["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a plan: {created}"))
        .to_owned();
    let approved = app
        .admin(
            "mutation($id: ID!) { approveReclaimPlan(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        approved["data"]["approveReclaimPlan"]["status"], "APPROVED",
        "{approved}"
    );
    let returning = plan["items"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|item| item["action"] == "REMOVE_DIRECT" && item["findingKind"] == "INACTIVE_USER")
        .and_then(|item| item["userPrincipalName"].as_str())
        .unwrap_or_else(|| panic!("an inactive user with a license to remove: {plan}"));
    let user = sim
        .users()
        .into_iter()
        .find(|user| user.user_principal_name == returning)
        .unwrap_or_else(|| panic!("no simulated user {returning}"));
    sim.sign_in_now(user.id).expect("the user signs in");
    let stale = plan["items"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["action"] == "REMOVE_DIRECT" && item["userPrincipalName"] == returning)
        .count();
    (sim, app, id, stale as i64)
}

fn count_of(counts: &Value, code: &str) -> i64 {
    counts
        .as_array()
        .into_iter()
        .flatten()
        .find(|count| count["code"] == code)
        .and_then(|count| count["items"].as_i64())
        .unwrap_or_default()
}

async fn an_admin_executes_a_plan_follows_it_and_undoes_a_removal(engine: Engine) {
    let Some(browser) = Browser::start("console-reclaim-execute").await else {
        return;
    };
    let (sim, app, id, stale) = approved_plan_with_a_returning_user(engine).await;
    let admin = app.token(Role::Admin, "alex");
    browser
        .open(&app.url(&format!("/sign-in#token={admin}&next=/reclaim/{id}")))
        .await;
    browser.wait_for(ROW).await;

    // What executing does is said before anything changes.
    browser.press("header.page-header", "Execute…").await;
    let said = browser.text("dialog.confirm").await;
    assert!(
        said.contains("checked again first") && said.contains("30 days by default"),
        "{said}"
    );
    browser.assert_accessible("the execute dialog").await;
    browser.press("dialog.confirm", "Execute").await;

    // Part-way, the bar and the counts say how far it has come.
    let part_way = browser
        .wait_until(
            "the execution part-way",
            r#"const section = document.querySelector('[data-test="execution"]');
               const bar = section?.querySelector('progress');
               return section?.dataset.status === 'RUNNING' && bar.value > 0 && bar.value < bar.max
                   ? section.querySelector('[data-test="execution-done"]').innerText : null;"#,
        )
        .await;
    assert!(
        part_way
            .as_str()
            .is_some_and(|text| text.ends_with("licenses done")),
        "{part_way}"
    );
    // The items done show their outcome without waiting for the end.
    browser
        .wait_for(&format!(r#"{ROW}[data-outcome]:not([data-outcome=""])"#))
        .await;
    browser
        .run(
            "document.querySelector('[data-test=\"execution\"]').scrollIntoView();",
            Vec::new(),
        )
        .await;
    browser
        .screenshot_for_docs("console-reclaim-progress")
        .await;

    // Followed to its end: every license done, removed ones and the returning user's skipped.
    browser
        .wait_until(
            "the execution's end",
            r#"return document.querySelector('[data-test="execution"]')?.dataset.status === 'SUCCEEDED';"#,
        )
        .await;
    browser
        .wait_for_text(r#"[data-test="plan-summary"]"#, "text.includes('executed')")
        .await;
    let counts = browser
        .run(
            r#"return [...document.querySelectorAll('[data-test="outcome-count"]')]
                .map(count => ({ code: count.dataset.code, items: Number(count.querySelector('dd').innerText.replace(/\D/g, '')) }));"#,
            Vec::new(),
        )
        .await;
    let removed = count_of(&counts, "REMOVED");
    assert!(removed >= 2, "licenses removed: {counts}");
    assert_eq!(count_of(&counts, "SKIPPED_STALE"), stale, "{counts}");
    let done = browser.text(r#"[data-test="execution-done"]"#).await;
    let total: i64 = counts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|count| count["items"].as_i64())
        .sum();
    assert_eq!(done, format!("{total} of {total} licenses done"));
    let full = r#"const bar = document.querySelector('[data-test="execution"] progress');
        return bar.value === bar.max;"#;
    assert_eq!(
        browser.run(full, Vec::new()).await,
        json!(true),
        "the bar is full"
    );
    // The items show what was done to each, and why on demand.
    browser
        .wait_until(
            "the items' outcomes",
            &format!("return document.querySelectorAll('{ROW}[data-outcome=\"REMOVED\"]').length === {removed};"),
        )
        .await;
    let stale = format!(r#"{ROW}[data-outcome="SKIPPED_STALE"]"#);
    browser
        .click(&format!("{stale} details.outcome summary"))
        .await;
    let why = browser.text(&format!("{stale} details.outcome")).await;
    assert!(why.contains("signed in"), "{why}");
    browser.assert_accessible("an executed plan").await;
    browser
        .run(
            "document.querySelector('[data-test=\"execution\"]').scrollIntoView();",
            Vec::new(),
        )
        .await;
    browser.screenshot_for_docs("console-reclaim-plan").await;

    // One removed license goes back.
    let first_removed = format!(r#"{ROW}[data-outcome="REMOVED"]"#);
    let user = browser.text(&format!("{first_removed} .user")).await;
    browser
        .click(&format!("{first_removed} input[type=checkbox]"))
        .await;
    browser.press("main", "Undo selected…").await;
    let asked = browser.text("dialog.confirm h2").await;
    assert_eq!(asked, "Put 1 license back?");
    browser.assert_accessible("the undo dialog").await;
    browser.press("dialog.confirm", "Undo").await;
    browser
        .wait_for_text(
            r#"[data-test="undo-result"]"#,
            "text.includes('1 license put back')",
        )
        .await;
    let undone = format!(r#"{ROW}[data-undo="ADDED"]"#);
    assert_eq!(browser.text(&format!("{undone} .user")).await, user);
    assert_eq!(
        browser
            .count(&format!("{undone} input[type=checkbox]"))
            .await,
        0
    );
    let holder = sim
        .users()
        .into_iter()
        .find(|candidate| candidate.user_principal_name == user)
        .expect("the user");
    assert!(
        !holder.assigned_licenses.is_empty(),
        "the license is back: {holder:?}"
    );
    browser
        .assert_accessible("a plan with a license put back")
        .await;

    // A viewer reads the outcomes and is offered nothing to change.
    let viewer = app.token(Role::Viewer, "vic");
    browser
        .open(&app.url(&format!("/sign-in#token={viewer}&next=/reclaim/{id}")))
        .await;
    browser
        .wait_for(&format!("{ROW}[data-undo=\"ADDED\"]"))
        .await;
    browser.wait_for(EXECUTION).await;
    assert_eq!(browser.count("main input[type=checkbox]").await, 0);
    let buttons = browser
        .run(
            "return [...document.querySelectorAll('main button')].map(button => button.innerText.trim())",
            Vec::new(),
        )
        .await;
    assert!(
        !buttons.as_array().into_iter().flatten().any(|text| {
            let text = text.as_str().unwrap_or_default();
            text.starts_with("Execute") || text.starts_with("Undo") || text == "Cancel plan"
        }),
        "{buttons}"
    );
    browser.close().await;
    app.finish().await;
}

engine_tests!(an_admin_executes_a_plan_follows_it_and_undoes_a_removal);
