//! The license report on a tenant built to contain each kind of waste once, with prices in two
//! currencies and a provider that cannot provide sign-in data.

use crate::common;

use std::collections::BTreeSet;

use common::fixtures::{
    self, ENTERPRISEPACK, EXCHANGESTANDARD, NewUser, POWER_BI_PRO, SPE_E5, Via, assign, data,
    days_ago, gql, price,
};
use common::{Engine, Options, TestApp, error_code, graph};
use license_manager::auth::Role;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

struct Tenant {
    contoso: i64,
    fabrikam: i64,
    e5: i64,
}

async fn tenant(app: &TestApp, db: &DatabaseConnection) -> Tenant {
    let contoso = fixtures::provider(db, "Contoso", Some("AVAILABLE")).await;
    let fabrikam = fixtures::provider(db, "Fabrikam", Some("MISSING_PERMISSION")).await;
    let e5 = fixtures::sku(db, contoso, SPE_E5, (10, 5, 0, 0, 0)).await;
    let o365_e3 = fixtures::sku(db, contoso, ENTERPRISEPACK, (5, 2, 0, 0, 0)).await;
    let exchange = fixtures::sku(db, contoso, EXCHANGESTANDARD, (3, 3, 0, 0, 0)).await;
    let power_bi = fixtures::sku(db, fabrikam, POWER_BI_PRO, (2, 1, 0, 0, 0)).await;
    price(app, e5, "50", "USD", "MONTH").await;
    price(app, o365_e3, "240", "EUR", "YEAR").await;
    price(app, power_bi, "10.00", "USD", "MONTH").await;

    let mut disabled = NewUser::named("disabled").signed_in(1);
    disabled.enabled = false;
    let disabled = disabled.insert(db, contoso).await;
    assign(db, contoso, disabled, e5, Via::Direct).await;
    assign(db, contoso, disabled, o365_e3, Via::Groups(&["g-sales"])).await;

    // Latest activity: the non-interactive sign-in 100 days ago.
    let mut idle = NewUser::named("idle").signed_in(120);
    idle.non_interactive = Some(days_ago(100));
    let idle = idle.insert(db, contoso).await;
    assign(db, contoso, idle, e5, Via::Both(&["g-all"])).await;

    let ghost = NewUser::named("ghost").insert(db, contoso).await;
    assign(db, contoso, ghost, exchange, Via::Direct).await;

    // Never signed in, but created last week: too new to judge.
    let mut newbie = NewUser::named("newbie");
    newbie.created = Some(days_ago(7));
    let newbie = newbie.insert(db, contoso).await;
    assign(db, contoso, newbie, exchange, Via::Direct).await;

    let both = NewUser::named("both")
        .signed_in(1)
        .insert(db, contoso)
        .await;
    assign(db, contoso, both, e5, Via::Direct).await;
    assign(db, contoso, both, o365_e3, Via::Direct).await;
    assign(db, contoso, both, exchange, Via::Groups(&["g-mail"])).await;

    let fine = NewUser::named("fine")
        .signed_in(3)
        .insert(db, contoso)
        .await;
    assign(db, contoso, fine, e5, Via::Direct).await;

    // Fabrikam cannot tell: never inactive, never "never signed in".
    let unknown = NewUser::named("unknown").insert(db, fabrikam).await;
    assign(db, fabrikam, unknown, power_bi, Via::Direct).await;
    Tenant {
        contoso,
        fabrikam,
        e5,
    }
}

/// A server on a fresh database of `engine`, holding the tenant above.
async fn spawn_tenant(engine: Engine) -> (TestApp, DatabaseConnection, Tenant) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;
    (app, db, tenant)
}

async fn finish(app: TestApp, db: DatabaseConnection) {
    db.close().await.ok();
    app.finish().await;
}

/// What the tests read of a finding; a macro so that it can be spliced into query constants.
macro_rules! finding_fields {
    () => {
        "kind user { userPrincipalName } sku { skuPartNumber } units
      assignedDirectly inheritedFromGroupIds removableDirectly removal
      lastSignInField lastSignInAt containedIn { skuPartNumber }
      monthlyCost { amount currency } evidence"
    };
}

const REPORT: &str = concat!(
    "query($providerId: ID, $inactiveDays: Int) {
  licenseReport(providerId: $providerId, inactiveDays: $inactiveDays) {
    generatedAt inactiveDays
    findings(first: 500) { totalCount nodes { ",
    finding_fields!(),
    " } }
    totals {
      findings unpricedFindings monthlyCost { amount currency }
      byKind { kind findings units monthlyCost { amount currency } }
    }
    signInData { providerName available status licensedUsersUnknown message }
    skus { skuPartNumber availableUnits }
  }
}"
);

const FINDINGS_PAGE: &str = concat!(
    "query($kind: FindingKind, $first: Int, $after: String) {
  licenseReport { generatedAt findings(kind: $kind, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { ",
    finding_fields!(),
    " } } }
}"
);

/// A finding in one line: kind, user, SKU, how to remove it, and what it costs.
fn summary(finding: &Value) -> String {
    let user = finding["user"]["userPrincipalName"]
        .as_str()
        .map(|upn| upn.trim_end_matches("@contoso.com"))
        .unwrap_or("-");
    let cost = match &finding["monthlyCost"] {
        Value::Null => "unpriced".to_owned(),
        cost => format!(
            "{} {}",
            cost["amount"].as_str().unwrap_or("?"),
            cost["currency"].as_str().unwrap_or("?")
        ),
    };
    let mut line = format!(
        "{} {user} {} x{} {cost}",
        finding["kind"].as_str().unwrap_or("?"),
        finding["sku"]["skuPartNumber"].as_str().unwrap_or("?"),
        finding["units"],
    );
    if let Some(container) = finding["containedIn"]["skuPartNumber"].as_str() {
        line.push_str(&format!(" in {container}"));
    }
    if let Some(field) = finding["lastSignInField"].as_str() {
        line.push_str(&format!(" by {field}"));
    }
    line
}

async fn each_kind_of_waste_is_found_with_its_cost(engine: Engine) {
    let (app, db, _) = spawn_tenant(engine).await;
    let report = data(&app, REPORT, json!({})).await["licenseReport"].clone();
    assert_eq!(report["inactiveDays"], 90);
    let findings = report["findings"]["nodes"].as_array().expect("findings");
    let found: BTreeSet<String> = findings.iter().map(summary).collect();
    let expected: BTreeSet<String> = [
        "DISABLED_ACCOUNT disabled SPE_E5 x1 50.00 USD",
        "DISABLED_ACCOUNT disabled ENTERPRISEPACK x1 20.00 EUR",
        "INACTIVE_USER idle SPE_E5 x1 50.00 USD by NON_INTERACTIVE",
        "NEVER_SIGNED_IN ghost EXCHANGESTANDARD x1 unpriced",
        "OVERLAPPING_ASSIGNMENT both ENTERPRISEPACK x1 20.00 EUR in SPE_E5",
        "OVERLAPPING_ASSIGNMENT both EXCHANGESTANDARD x1 unpriced in SPE_E5",
        "UNASSIGNED_SEATS - SPE_E5 x5 250.00 USD",
        "UNASSIGNED_SEATS - ENTERPRISEPACK x3 60.00 EUR",
        "UNASSIGNED_SEATS - POWER_BI_PRO x1 10.00 USD",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);
    assert_eq!(findings.len(), expected.len(), "no finding twice");

    // Each finding says how the seat can be freed.
    let by = |kind: &str, upn: &str, sku: &str| {
        findings
            .iter()
            .find(|finding| {
                finding["kind"] == kind
                    && finding["user"]["userPrincipalName"] == format!("{upn}@contoso.com")
                    && finding["sku"]["skuPartNumber"] == sku
            })
            .unwrap_or_else(|| panic!("{kind} {upn} {sku}"))
    };
    let group_only = by("DISABLED_ACCOUNT", "disabled", "ENTERPRISEPACK");
    assert_eq!(group_only["assignedDirectly"], false);
    assert_eq!(group_only["removableDirectly"], false);
    assert_eq!(group_only["inheritedFromGroupIds"], json!(["g-sales"]));
    assert_eq!(group_only["removal"], "only through group(s) g-sales");
    let direct = by("DISABLED_ACCOUNT", "disabled", "SPE_E5");
    assert_eq!(direct["removableDirectly"], true);
    let idle = by("INACTIVE_USER", "idle", "SPE_E5");
    assert_eq!(idle["assignedDirectly"], true);
    assert_eq!(idle["removableDirectly"], false);
    assert_eq!(
        idle["removal"],
        "remove it from the user and from group(s) g-all"
    );
    assert!(idle["lastSignInAt"].is_string());
    let evidence = idle["evidence"].as_str().expect("evidence");
    assert!(
        evidence.contains("lastNonInteractiveSignInAt"),
        "{evidence}"
    );

    let totals = &report["totals"];
    assert_eq!(totals["findings"], 9);
    assert_eq!(totals["unpricedFindings"], 2);
    assert_eq!(
        totals["monthlyCost"],
        json!([
            { "amount": "100.00", "currency": "EUR" },
            { "amount": "360.00", "currency": "USD" },
        ])
    );
    let kinds: Vec<(String, i64)> = totals["byKind"]
        .as_array()
        .expect("byKind")
        .iter()
        .map(|kind| {
            (
                kind["kind"].as_str().unwrap_or_default().to_owned(),
                kind["units"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("DISABLED_ACCOUNT".to_owned(), 2),
            ("INACTIVE_USER".to_owned(), 1),
            ("NEVER_SIGNED_IN".to_owned(), 1),
            ("UNASSIGNED_SEATS".to_owned(), 9),
            ("OVERLAPPING_ASSIGNMENT".to_owned(), 2),
        ]
    );

    // The data-quality section: Fabrikam's users are unknown, not inactive.
    let quality = &report["signInData"];
    assert_eq!(quality[0]["available"], true);
    assert_eq!(quality[1]["providerName"], "Fabrikam");
    assert_eq!(quality[1]["available"], false);
    assert_eq!(quality[1]["status"], "MISSING_PERMISSION");
    assert_eq!(quality[1]["licensedUsersUnknown"], 1);
    let message = quality[1]["message"].as_str().expect("a message");
    assert!(message.contains("unknown is not inactive"), "{message}");
    finish(app, db).await;
}

async fn the_threshold_and_the_provider_narrow_the_report(engine: Engine) {
    let (app, db, tenant) = spawn_tenant(engine).await;
    let report = data(
        &app,
        REPORT,
        json!({ "providerId": tenant.contoso.to_string(), "inactiveDays": 110 }),
    )
    .await["licenseReport"]
        .clone();
    let found: BTreeSet<String> = report["findings"]["nodes"]
        .as_array()
        .expect("findings")
        .iter()
        .map(summary)
        .collect();
    // idle signed in 100 days ago: active under a 110-day threshold; Fabrikam is out of scope.
    assert!(
        !found
            .iter()
            .any(|finding| finding.starts_with("INACTIVE_USER"))
    );
    assert!(!found.iter().any(|finding| finding.contains("POWER_BI_PRO")));
    assert_eq!(report["signInData"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        report["totals"]["monthlyCost"],
        json!([
            { "amount": "100.00", "currency": "EUR" },
            { "amount": "300.00", "currency": "USD" },
        ])
    );
    let bad = gql(&app, Role::Viewer, REPORT, json!({ "inactiveDays": 0 })).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    finish(app, db).await;
}

async fn report(app: &TestApp, variables: Value) -> Value {
    data(app, REPORT, variables).await["licenseReport"].clone()
}

fn summaries(report: &Value) -> BTreeSet<String> {
    report["findings"]["nodes"]
        .as_array()
        .expect("findings")
        .iter()
        .map(summary)
        .collect()
}

async fn a_new_price_shows_in_the_next_report(engine: Engine) {
    let (app, db, tenant) = spawn_tenant(engine).await;
    let before = report(&app, json!({})).await;
    assert!(summaries(&before).contains("UNASSIGNED_SEATS - SPE_E5 x5 250.00 USD"));

    price(&app, tenant.e5, "57", "USD", "MONTH").await;
    let after = report(&app, json!({})).await;
    let found = summaries(&after);
    assert!(
        found.contains("UNASSIGNED_SEATS - SPE_E5 x5 285.00 USD"),
        "{found:?}"
    );
    assert!(found.contains("DISABLED_ACCOUNT disabled SPE_E5 x1 57.00 USD"));
    assert_ne!(after["generatedAt"], before["generatedAt"], "built anew");
    assert_eq!(
        after["totals"]["monthlyCost"],
        json!([
            { "amount": "100.00", "currency": "EUR" },
            { "amount": "409.00", "currency": "USD" },
        ])
    );
    finish(app, db).await;
}

async fn a_deleted_provider_leaves_the_report(engine: Engine) {
    let (app, db, tenant) = spawn_tenant(engine).await;
    let before = report(&app, json!({})).await;
    assert!(summaries(&before).contains("UNASSIGNED_SEATS - POWER_BI_PRO x1 10.00 USD"));

    let deleted = gql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { deleteProvider(id: $id) }",
        json!({ "id": tenant.fabrikam.to_string() }),
    )
    .await;
    assert!(deleted.get("errors").is_none(), "{deleted}");
    let after = report(&app, json!({})).await;
    assert!(
        !summaries(&after)
            .iter()
            .any(|finding| finding.contains("POWER_BI_PRO"))
    );
    assert_eq!(after["signInData"].as_array().map(Vec::len), Some(1));
    finish(app, db).await;
}

async fn concurrent_identical_requests_get_one_report(engine: Engine) {
    let (app, db, tenant) = spawn_tenant(engine).await;
    let variables = json!({ "providerId": tenant.contoso.to_string(), "inactiveDays": 30 });
    let (first, second, third) = tokio::join!(
        report(&app, variables.clone()),
        report(&app, variables.clone()),
        report(&app, variables.clone()),
    );
    assert!(first["generatedAt"].is_string(), "{first}");
    for other in [&second, &third] {
        assert_eq!(other["generatedAt"], first["generatedAt"], "built once");
        assert_eq!(*other, first);
    }
    // Nothing changed since: a later request is served the same report.
    let later = report(&app, variables).await;
    assert_eq!(later["generatedAt"], first["generatedAt"]);
    // Another threshold is another report.
    let other = report(
        &app,
        json!({ "providerId": tenant.contoso.to_string(), "inactiveDays": 31 }),
    )
    .await;
    assert_eq!(other["inactiveDays"], 31);
    finish(app, db).await;
}

/// UPNs of the users a report finds on disabled accounts.
fn disabled_accounts(report: &Value) -> BTreeSet<String> {
    report["findings"]["nodes"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["kind"] == "DISABLED_ACCOUNT")
        .filter_map(|finding| finding["user"]["userPrincipalName"].as_str())
        .map(str::to_owned)
        .collect()
}

async fn a_second_sync_shows_in_the_next_report(engine: Engine) {
    let sim = graph::tenant(150, 5).await;
    let app = TestApp::spawn_with(engine, Options::with_graph(sim.base_url())).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");
    let variables = json!({ "providerId": provider });
    let before = report(&app, variables.clone()).await;

    let leaver = sim
        .users()
        .into_iter()
        .find(|user| user.account_enabled && !user.assigned_licenses.is_empty())
        .expect("an enabled, licensed user");
    assert!(!disabled_accounts(&before).contains(&leaver.user_principal_name));
    sim.disable_user(leaver.id).expect("disabled");
    assert_eq!(app.sync(&provider, "DELTA").await["status"], "SUCCEEDED");

    let after = report(&app, variables).await;
    let mut expected = disabled_accounts(&before);
    expected.insert(leaver.user_principal_name.clone());
    assert_eq!(disabled_accounts(&after), expected);
    assert_ne!(after["generatedAt"], before["generatedAt"], "built anew");
    app.finish().await;
}

/// The findings of `kind` (or all) after `after`, `first` at a time, page by page.
async fn findings_in_pages(app: &TestApp, kind: Value, first: usize) -> (Vec<String>, usize) {
    let (mut found, mut pages, mut after) = (Vec::new(), 0, Value::Null);
    loop {
        let variables = json!({ "kind": kind, "first": first, "after": after });
        let page = data(app, FINDINGS_PAGE, variables).await["licenseReport"]["findings"].clone();
        let nodes = page["nodes"].as_array().expect("nodes");
        assert!(
            nodes.len() <= first,
            "a page holds at most `first` findings"
        );
        found.extend(nodes.iter().map(summary));
        pages += 1;
        if page["pageInfo"]["hasNextPage"] != true {
            assert_eq!(
                page["totalCount"],
                found.len(),
                "totalCount counts every page"
            );
            return (found, pages);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

async fn findings_come_a_page_at_a_time(engine: Engine) {
    let (app, db, tenant) = spawn_tenant(engine).await;
    let whole = summaries(&report(&app, json!({})).await);
    let (paged, pages) = findings_in_pages(&app, Value::Null, 2).await;
    assert_eq!(pages, 5, "9 findings, 2 a page");
    assert_eq!(paged.len(), whole.len(), "no finding twice");
    assert_eq!(paged.into_iter().collect::<BTreeSet<_>>(), whole);

    let (unassigned, _) = findings_in_pages(&app, json!("UNASSIGNED_SEATS"), 2).await;
    assert_eq!(unassigned.len(), 3);
    assert!(unassigned.iter().all(|f| f.starts_with("UNASSIGNED_SEATS")));

    // A cursor outlives the report it came from: after a rebuild, the next page starts after
    // the finding the cursor names, with the new figures.
    let first = data(&app, FINDINGS_PAGE, json!({ "first": 4 })).await["licenseReport"].clone();
    price(&app, tenant.e5, "57", "USD", "MONTH").await;
    let variables = json!({ "after": first["findings"]["pageInfo"]["endCursor"] });
    let rest = data(&app, FINDINGS_PAGE, variables).await["licenseReport"].clone();
    assert_ne!(rest["generatedAt"], first["generatedAt"], "built anew");
    let rebuilt = data(&app, FINDINGS_PAGE, json!({})).await["licenseReport"]["findings"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(summary)
        .collect::<Vec<_>>();
    let rest: Vec<String> = rest["findings"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(summary)
        .collect();
    assert_eq!(rest, rebuilt[4..]);
    assert!(rest.iter().any(|f| f.contains("285.00 USD")), "{rest:?}");

    for (variables, argument) in [
        (json!({ "first": 0 }), "first"),
        (json!({ "first": 501 }), "first"),
        (json!({ "after": "not-a-cursor" }), "after"),
    ] {
        let bad = gql(&app, Role::Viewer, FINDINGS_PAGE, variables).await;
        assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{argument}: {bad}");
    }
    finish(app, db).await;
}

engine_tests!(
    findings_come_a_page_at_a_time,
    each_kind_of_waste_is_found_with_its_cost,
    the_threshold_and_the_provider_narrow_the_report,
    a_new_price_shows_in_the_next_report,
    a_deleted_provider_leaves_the_report,
    concurrent_identical_requests_get_one_report,
    a_second_sync_shows_in_the_next_report,
);
