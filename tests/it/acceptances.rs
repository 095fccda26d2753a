//! Accepted findings: an admin keeps a license a finding names (a shared mailbox, a person on
//! leave) with a reason and a last day; the finding stays listed as accepted, leaves the
//! report's totals, and comes back by itself when the acceptance expires or the finding
//! changes kind. Bad input loses nothing and writes nothing; viewers may read, not decide.

use crate::common;

use chrono::{Duration, Utc};
use common::fixtures::{self, SPE_E5, Via, assign, data, gql, price};
use common::{Engine, TestApp, error_code};
use license_manager::auth::Role;
use license_manager::entities::{accepted_findings, directory_users, providers};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};

struct Tenant {
    provider: i64,
    e5: i64,
    mailbox: i64,
    on_leave: i64,
}

/// Two people holding E5 (50 USD a month) that the report flags: a disabled shared mailbox
/// and someone inactive for four months.
async fn tenant(app: &TestApp, db: &DatabaseConnection) -> Tenant {
    let provider = fixtures::provider(db, "Contoso", Some("AVAILABLE")).await;
    let e5 = fixtures::sku(db, provider, SPE_E5, (2, 2, 0, 0, 0)).await;
    price(app, e5, "50", "USD", "MONTH").await;
    let mut mailbox = fixtures::NewUser::named("mailbox").signed_in(400);
    mailbox.enabled = false;
    let mailbox = mailbox.insert(db, provider).await;
    assign(db, provider, mailbox, e5, Via::Direct).await;
    let on_leave = fixtures::NewUser::named("leave")
        .signed_in(120)
        .insert(db, provider)
        .await;
    assign(db, provider, on_leave, e5, Via::Direct).await;
    Tenant {
        provider,
        e5,
        mailbox,
        on_leave,
    }
}

const REPORT: &str = "query($accepted: Boolean) { licenseReport {
    findings(accepted: $accepted, first: 50) { totalCount nodes {
      kind user { userPrincipalName }
      acceptance { id reason acceptedBy expiresOn kind userPrincipalName skuDisplayName inForce } } }
    totals { findings acceptedFindings monthlyCost { amount currency }
      byKind { kind findings accepted } }
} }";

const ACCEPT: &str = "mutation($input: AcceptFindingInput!) { acceptFinding(input: $input) {
    id kind reason acceptedBy expiresOn userPrincipalName inForce } }";

const ACCEPTED: &str = "query($all: Boolean!) { acceptedFindings(includeExpired: $all) {
    nodes { userPrincipalName kind inForce } } }";

async fn report(app: &TestApp, accepted: Option<bool>) -> Value {
    data(app, REPORT, json!({ "accepted": accepted })).await["licenseReport"].clone()
}

fn in_days(days: i64) -> String {
    (Utc::now().date_naive() + Duration::days(days)).to_string()
}

fn acceptance(user: i64, sku: i64, kind: &str, reason: &str, expires_on: &str) -> Value {
    json!({ "input": {
        "userId": user.to_string(), "skuId": sku.to_string(), "kind": kind,
        "reason": reason, "expiresOn": expires_on,
    } })
}

/// The open findings by user, and the accepted ones, as the report lists them.
fn listed(report: &Value) -> (Vec<String>, Vec<String>) {
    let mut open = Vec::new();
    let mut accepted = Vec::new();
    for finding in report["findings"]["nodes"].as_array().into_iter().flatten() {
        let Some(upn) = finding["user"]["userPrincipalName"].as_str() else {
            continue;
        };
        let line = format!("{} {upn}", finding["kind"].as_str().unwrap_or("?"));
        if finding["acceptance"].is_null() {
            open.push(line);
        } else {
            accepted.push(line);
        }
    }
    (open, accepted)
}

/// What a sync that changed these rows would leave: a newer provider row, which the report's
/// cache takes as "the data changed".
async fn synced(db: &DatabaseConnection, provider: i64) {
    providers::Entity::update_many()
        .col_expr(providers::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(providers::Column::Id.eq(provider))
        .exec(db)
        .await
        .expect("provider touched");
}

async fn an_accepted_finding_leaves_the_totals_stays_listed_and_comes_back_when_facts_change(
    engine: Engine,
) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;
    let before = report(&app, None).await;
    assert_eq!(before["totals"]["findings"], 2, "{before}");
    assert_eq!(before["totals"]["monthlyCost"][0]["amount"], "100.00");

    let body = gql(
        &app,
        Role::Admin,
        ACCEPT,
        acceptance(
            tenant.mailbox,
            tenant.e5,
            "DISABLED_ACCOUNT",
            "Shared mailbox of the front desk: keeps its archive",
            &in_days(30),
        ),
    )
    .await;
    let accepted = &body["data"]["acceptFinding"];
    assert_eq!(accepted["acceptedBy"], "fixture", "{body}");
    assert_eq!(accepted["userPrincipalName"], "mailbox@contoso.com");
    assert_eq!(accepted["inForce"], true);

    let after = report(&app, None).await;
    assert_eq!(
        listed(&after),
        (
            vec!["INACTIVE_USER leave@contoso.com".to_owned()],
            vec!["DISABLED_ACCOUNT mailbox@contoso.com".to_owned()]
        ),
        "the accepted finding stays listed, marked: {after}"
    );
    let totals = &after["totals"];
    assert_eq!(totals["findings"], 1, "{totals}");
    assert_eq!(totals["acceptedFindings"], 1);
    assert_eq!(
        totals["monthlyCost"][0]["amount"], "50.00",
        "its cost is out"
    );
    let disabled = totals["byKind"]
        .as_array()
        .and_then(|kinds| kinds.iter().find(|kind| kind["kind"] == "DISABLED_ACCOUNT"))
        .expect("the kind's total");
    assert_eq!(disabled["findings"], 0);
    assert_eq!(disabled["accepted"], 1);
    let open = report(&app, Some(false)).await;
    assert_eq!(open["findings"]["totalCount"], 1, "{open}");
    let only_accepted = report(&app, Some(true)).await;
    assert_eq!(only_accepted["findings"]["totalCount"], 1);
    assert_eq!(
        only_accepted["findings"]["nodes"][0]["acceptance"]["reason"],
        "Shared mailbox of the front desk: keeps its archive"
    );

    // The account is enabled again: a finding of another kind, which nobody accepted.
    directory_users::Entity::update_many()
        .col_expr(directory_users::Column::AccountEnabled, Expr::value(true))
        .filter(directory_users::Column::Id.eq(tenant.mailbox))
        .exec(&db)
        .await
        .expect("account enabled");
    synced(&db, tenant.provider).await;
    let reenabled = report(&app, None).await;
    assert_eq!(
        listed(&reenabled).0,
        [
            "INACTIVE_USER mailbox@contoso.com",
            "INACTIVE_USER leave@contoso.com"
        ],
        "the finding is back, open: {reenabled}"
    );
    assert_eq!(reenabled["totals"]["acceptedFindings"], 0);
    db.close().await.ok();
    app.finish().await;
}

async fn an_acceptance_lapses_after_its_last_day_and_can_be_withdrawn(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;
    let accept = |user: i64, kind: &str, reason: &str, expires_on: String| {
        gql(
            &app,
            Role::Admin,
            ACCEPT,
            acceptance(user, tenant.e5, kind, reason, &expires_on),
        )
    };
    let body = accept(
        tenant.on_leave,
        "INACTIVE_USER",
        "Parental leave",
        in_days(0),
    )
    .await;
    assert!(
        body.get("errors").is_none(),
        "today is a valid last day: {body}"
    );
    // Accepting again replaces the acceptance: one per license.
    let body = accept(
        tenant.on_leave,
        "INACTIVE_USER",
        "Parental leave until spring",
        in_days(90),
    )
    .await;
    let replaced = &body["data"]["acceptFinding"];
    assert_eq!(replaced["expiresOn"], in_days(90), "{body}");
    let listed_now = data(&app, ACCEPTED, json!({ "all": true })).await;
    assert_eq!(
        listed_now["acceptedFindings"]["nodes"],
        json!([{ "userPrincipalName": "leave@contoso.com", "kind": "INACTIVE_USER", "inForce": true }])
    );

    // Its last day passes.
    accepted_findings::Entity::update_many()
        .col_expr(
            accepted_findings::Column::ExpiresOn,
            Expr::value(Utc::now().date_naive() - Duration::days(1)),
        )
        .exec(&db)
        .await
        .expect("acceptance aged");
    synced(&db, tenant.provider).await;
    let lapsed = report(&app, None).await;
    assert_eq!(lapsed["totals"]["acceptedFindings"], 0, "{lapsed}");
    assert_eq!(lapsed["totals"]["findings"], 2);
    let in_force = data(&app, ACCEPTED, json!({ "all": false })).await;
    assert_eq!(in_force["acceptedFindings"]["nodes"], json!([]));
    let all = data(&app, ACCEPTED, json!({ "all": true })).await;
    assert_eq!(
        all["acceptedFindings"]["nodes"][0]["inForce"], false,
        "{all}"
    );

    // Accepted again, then withdrawn: open at once, and both recorded.
    let body = accept(tenant.on_leave, "INACTIVE_USER", "Back in May", in_days(10)).await;
    let id = body["data"]["acceptFinding"]["id"].clone();
    assert_eq!(report(&app, None).await["totals"]["acceptedFindings"], 1);
    let body = gql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { withdrawFindingAcceptance(id: $id) { id reason } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        body["data"]["withdrawFindingAcceptance"]["reason"], "Back in May",
        "{body}"
    );
    assert_eq!(report(&app, None).await["totals"]["acceptedFindings"], 0);
    let audit = gql(
        &app,
        Role::Admin,
        "{ auditEvents(first: 10) { nodes { action outcome subject } } }",
        json!({}),
    )
    .await;
    let actions: Vec<&str> = audit["data"]["auditEvents"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|event| event["action"].as_str())
        .filter(|action| action.starts_with("finding."))
        .collect();
    assert_eq!(
        actions,
        [
            "finding.reopen",
            "finding.accept",
            "finding.accept",
            "finding.accept"
        ],
        "{audit}"
    );
    db.close().await.ok();
    app.finish().await;
}

async fn bad_acceptances_are_refused_field_by_field_and_viewers_cannot_accept(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;

    let body = gql(
        &app,
        Role::Admin,
        ACCEPT,
        acceptance(
            tenant.mailbox,
            tenant.e5,
            "UNASSIGNED_SEATS",
            "  ",
            &in_days(-1),
        ),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let fields: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|field| field["field"].as_str())
        .collect();
    assert_eq!(fields, ["reason", "expiresOn", "kind"], "{body}");

    let too_far = gql(
        &app,
        Role::Admin,
        ACCEPT,
        acceptance(
            tenant.mailbox,
            tenant.e5,
            "DISABLED_ACCOUNT",
            "ok",
            &in_days(800),
        ),
    )
    .await;
    assert_eq!(error_code(&too_far), "BAD_USER_INPUT", "{too_far}");

    // Someone who does not hold the SKU has no such finding.
    let stranger = fixtures::NewUser::named("stranger")
        .signed_in(1)
        .insert(&db, tenant.provider)
        .await;
    let none = gql(
        &app,
        Role::Admin,
        ACCEPT,
        acceptance(stranger, tenant.e5, "INACTIVE_USER", "why not", &in_days(5)),
    )
    .await;
    assert_eq!(error_code(&none), "NOT_FOUND", "{none}");

    let viewer = gql(
        &app,
        Role::Viewer,
        ACCEPT,
        acceptance(
            tenant.mailbox,
            tenant.e5,
            "DISABLED_ACCOUNT",
            "mine",
            &in_days(5),
        ),
    )
    .await;
    assert_eq!(error_code(&viewer), "FORBIDDEN", "{viewer}");

    let nothing = data(&app, ACCEPTED, json!({ "all": true })).await;
    assert_eq!(
        nothing["acceptedFindings"]["nodes"],
        json!([]),
        "nothing was written"
    );
    assert_eq!(report(&app, None).await["totals"]["findings"], 2);
    db.close().await.ok();
    app.finish().await;
}

async fn the_findings_export_marks_accepted_findings_and_can_leave_them_out(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;
    let body = gql(
        &app,
        Role::Admin,
        ACCEPT,
        acceptance(
            tenant.mailbox,
            tenant.e5,
            "DISABLED_ACCOUNT",
            "Front desk",
            &in_days(7),
        ),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let export = |query: &'static str| {
        let url = app.url(&format!("/export/findings.csv{query}"));
        let token = app.token(Role::Viewer, "exporter");
        let http = app.http.clone();
        async move {
            let text = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("the export answers")
                .text()
                .await
                .expect("a body");
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            let header = reader.headers().expect("a header").clone();
            reader
                .records()
                .map(|record| {
                    let record = record.expect("a record");
                    header
                        .iter()
                        .zip(record.iter())
                        .map(|(name, value)| (name.to_owned(), value.to_owned()))
                        .collect::<std::collections::HashMap<_, _>>()
                })
                .filter(|row| !row["user_principal_name"].is_empty())
                .collect::<Vec<_>>()
        }
    };
    let rows = export("").await;
    let mailbox = rows
        .iter()
        .find(|row| row["user_principal_name"] == "mailbox@contoso.com")
        .expect("the accepted finding is exported");
    assert_eq!(mailbox["acceptance_reason"], "Front desk");
    assert_eq!(mailbox["accepted_until"], in_days(7));
    assert_eq!(mailbox["accepted_by"], "fixture");
    let open = export("?accepted=false").await;
    let upns: Vec<&str> = open
        .iter()
        .map(|row| row["user_principal_name"].as_str())
        .collect();
    assert_eq!(upns, ["leave@contoso.com"]);
    db.close().await.ok();
    app.finish().await;
}

engine_tests!(
    an_accepted_finding_leaves_the_totals_stays_listed_and_comes_back_when_facts_change,
    an_acceptance_lapses_after_its_last_day_and_can_be_withdrawn,
    bad_acceptances_are_refused_field_by_field_and_viewers_cannot_accept,
    the_findings_export_marks_accepted_findings_and_can_leave_them_out,
);
