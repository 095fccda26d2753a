//! Reclaim plans, the dry run: made from one provider's findings, each item with its action —
//! remove the direct assignment, or manual saying why (inherited from groups, an error state,
//! an accepted finding) — and what it would save per currency; fixed once made; approved (by
//! another admin with four eyes) or cancelled, never both; every step in the audit log. The
//! groups a license comes through are named from the provider, with whether a rule or an
//! on-premises directory decides their members; without the permission to read them, by id
//! with a warning.

use crate::common;

use chrono::{Duration, Utc};
use common::fixtures::{self, ENTERPRISEPACK, SPE_E5, Via, assign, data, gql, price};
use common::graph::tenant_with;
use common::{Engine, Options, TestApp, error_code};
use graph_sim::{LicenseFixture, Permissions, SimOptions, SimServer, TenantSpec};
use license_manager::auth::Role;
use license_manager::domain::reclaim_plans::ReclaimSettings;
use license_manager::entities::license_assignments;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};

struct Tenant {
    provider: i64,
    e5: i64,
    e3: i64,
    direct: i64,
}

async fn disabled_user(db: &DatabaseConnection, provider: i64, name: &str) -> i64 {
    let mut user = fixtures::NewUser::named(name).signed_in(400);
    user.enabled = false;
    user.insert(db, provider).await
}

/// Disabled accounts holding E5 (50 USD a month) or Office 365 E3 (20 EUR a month) in every way
/// a plan must tell apart.
async fn tenant(app: &TestApp, db: &DatabaseConnection) -> Tenant {
    let provider = fixtures::provider(db, "Contoso", Some("AVAILABLE")).await;
    let e5 = fixtures::sku(db, provider, SPE_E5, (10, 4, 0, 0, 0)).await;
    let e3 = fixtures::sku(db, provider, ENTERPRISEPACK, (10, 2, 0, 0, 0)).await;
    price(app, e5, "50", "USD", "MONTH").await;
    price(app, e3, "240", "EUR", "YEAR").await;

    let direct = disabled_user(db, provider, "direct").await;
    assign(db, provider, direct, e5, Via::Direct).await;
    license_assignments::Entity::update_many()
        .col_expr(
            license_assignments::Column::DisabledPlans,
            Expr::value(json!(["efb87545-963c-4e0d-99df-69c6916d9eb0"])),
        )
        .filter(license_assignments::Column::UserId.eq(direct))
        .exec(db)
        .await
        .expect("a plan disabled");
    let grouped = disabled_user(db, provider, "grouped").await;
    assign(db, provider, grouped, e5, Via::Groups(&["g-sales"])).await;
    let both = disabled_user(db, provider, "both").await;
    assign(db, provider, both, e5, Via::Both(&["g-all"])).await;
    let failing = disabled_user(db, provider, "failing").await;
    assign(db, provider, failing, e5, Via::Direct).await;
    license_assignments::Entity::update_many()
        .col_expr(license_assignments::Column::State, Expr::value("Error"))
        .col_expr(
            license_assignments::Column::Error,
            Expr::value("MutuallyExclusiveViolation"),
        )
        .filter(license_assignments::Column::UserId.eq(failing))
        .exec(db)
        .await
        .expect("an error state");
    let accepted = disabled_user(db, provider, "accepted").await;
    assign(db, provider, accepted, e3, Via::Direct).await;
    let body = gql(
        app,
        Role::Admin,
        "mutation($input: AcceptFindingInput!) { acceptFinding(input: $input) { id } }",
        json!({ "input": {
            "userId": accepted.to_string(), "skuId": e3.to_string(), "kind": "DISABLED_ACCOUNT",
            "reason": "Legal hold", "expiresOn": (Utc::now().date_naive() + Duration::days(30)).to_string(),
        } }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let second = disabled_user(db, provider, "second").await;
    assign(db, provider, second, e3, Via::Direct).await;
    Tenant {
        provider,
        e5,
        e3,
        direct,
    }
}

const CREATE: &str =
    "mutation($input: CreateReclaimPlanInput!) { createReclaimPlan(input: $input) {
    id status createdBy kinds
    summary { items toRemove manual unpriced monthlySaving { amount currency } }
    items(first: 50) { nodes {
      userPrincipalName skuDisplayName findingKind action manualReason groupIds disabledPlans
      monthlySaving { amount currency } } }
} }";

async fn create_as(app: &TestApp, subject: &str, input: Value) -> Value {
    let token = app.token(Role::Admin, subject);
    app.graphql_as(&token, CREATE, json!({ "input": input }))
        .await
        .1
}

/// An item in one line: who, what, the action, and the saving or the reason.
fn line(item: &Value) -> String {
    let who = item["userPrincipalName"]
        .as_str()
        .unwrap_or("?")
        .trim_end_matches("@contoso.com");
    let outcome = match item["manualReason"].as_str() {
        Some(reason) => format!("MANUAL {reason}"),
        None => format!(
            "{} {} {}",
            item["action"].as_str().unwrap_or("?"),
            item["monthlySaving"]["amount"].as_str().unwrap_or("-"),
            item["monthlySaving"]["currency"].as_str().unwrap_or("-"),
        ),
    };
    format!(
        "{who} {} {outcome}",
        item["skuDisplayName"].as_str().unwrap_or("?")
    )
}

fn lines(plan: &Value) -> Vec<String> {
    plan["items"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(line)
        .collect()
}

async fn a_plan_says_what_it_would_free_and_why_each_other_seat_stays(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;

    let body = create_as(
        &app,
        "alex",
        json!({ "providerId": tenant.provider.to_string() }),
    )
    .await;
    let plan = &body["data"]["createReclaimPlan"];
    assert_eq!(plan["status"], "PENDING_APPROVAL", "{body}");
    assert_eq!(plan["createdBy"], "alex");
    assert_eq!(
        lines(plan),
        [
            "direct Microsoft 365 E5 REMOVE_DIRECT 50.00 USD",
            "grouped Microsoft 365 E5 MANUAL INHERITED_FROM_GROUP",
            "both Microsoft 365 E5 MANUAL INHERITED_FROM_GROUP",
            "failing Microsoft 365 E5 MANUAL LICENSE_ERROR",
            "accepted Office 365 E3 MANUAL ACCEPTED",
            "second Office 365 E3 REMOVE_DIRECT 20.00 EUR",
        ],
        "{body}"
    );
    let items = plan["items"]["nodes"].as_array().expect("items");
    assert_eq!(
        items[1]["groupIds"],
        json!(["g-sales"]),
        "the group is named"
    );
    assert_eq!(items[2]["groupIds"], json!(["g-all"]));
    assert_eq!(
        items[0]["disabledPlans"],
        json!(["efb87545-963c-4e0d-99df-69c6916d9eb0"]),
        "what an undo must switch off again"
    );
    assert_eq!(
        plan["summary"],
        json!({ "items": 6, "toRemove": 2, "manual": 4, "unpriced": 0,
                "monthlySaving": [{ "amount": "20.00", "currency": "EUR" },
                                  { "amount": "50.00", "currency": "USD" }] })
    );

    // Narrowed to one SKU, and to one user.
    let e3_only = create_as(
        &app,
        "alex",
        json!({ "providerId": tenant.provider.to_string(), "skuIds": [tenant.e3.to_string()] }),
    )
    .await;
    assert_eq!(
        lines(&e3_only["data"]["createReclaimPlan"]),
        [
            "accepted Office 365 E3 MANUAL ACCEPTED",
            "second Office 365 E3 REMOVE_DIRECT 20.00 EUR"
        ],
        "{e3_only}"
    );
    let one_user = create_as(
        &app,
        "alex",
        json!({ "providerId": tenant.provider.to_string(), "userIds": [tenant.direct.to_string()],
                "kinds": ["DISABLED_ACCOUNT"] }),
    )
    .await;
    assert_eq!(
        lines(&one_user["data"]["createReclaimPlan"]),
        ["direct Microsoft 365 E5 REMOVE_DIRECT 50.00 USD"]
    );

    // A plan is fixed when made: a later decision does not change it.
    let first_id = plan["id"].clone();
    let body = gql(
        &app,
        Role::Admin,
        "mutation($input: AcceptFindingInput!) { acceptFinding(input: $input) { id } }",
        json!({ "input": {
            "userId": tenant.direct.to_string(), "skuId": tenant.e5.to_string(),
            "kind": "DISABLED_ACCOUNT", "reason": "Kept after all",
            "expiresOn": (Utc::now().date_naive() + Duration::days(3)).to_string(),
        } }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let again = data(
        &app,
        "query($id: ID!) { reclaimPlan(id: $id) { summary { toRemove } items { nodes {
            userPrincipalName skuDisplayName findingKind action manualReason groupIds
            disabledPlans monthlySaving { amount currency } } } } }",
        json!({ "id": first_id }),
    )
    .await;
    assert_eq!(again["reclaimPlan"]["summary"]["toRemove"], 2);
    assert_eq!(
        lines(&again["reclaimPlan"])[0],
        "direct Microsoft 365 E5 REMOVE_DIRECT 50.00 USD"
    );
    db.close().await.ok();
    app.finish().await;
}

async fn plans_that_cannot_be_made_are_refused_and_leave_nothing(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        Options {
            reclaim: ReclaimSettings {
                max_plan_items: 5,
                ..ReclaimSettings::default()
            },
            ..Options::default()
        },
    )
    .await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;
    let provider = tenant.provider.to_string();

    let refused = |body: &Value, field: &str| {
        assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["fields"][0]["field"], field,
            "{body}"
        );
    };
    refused(
        &create_as(&app, "alex", json!({ "providerId": provider })).await,
        "filter",
    );
    refused(
        &create_as(
            &app,
            "alex",
            json!({ "providerId": provider, "kinds": ["INACTIVE_USER"] }),
        )
        .await,
        "filter",
    );
    refused(
        &create_as(
            &app,
            "alex",
            json!({ "providerId": provider, "kinds": ["UNASSIGNED_SEATS"] }),
        )
        .await,
        "kinds",
    );
    let unknown = create_as(&app, "alex", json!({ "providerId": "999999" })).await;
    assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
    let viewer = gql(
        &app,
        Role::Viewer,
        CREATE,
        json!({ "input": { "providerId": provider, "skuIds": [tenant.e3.to_string()] } }),
    )
    .await;
    assert_eq!(error_code(&viewer), "FORBIDDEN", "{viewer}");
    let plans = data(&app, "{ reclaimPlans { nodes { id } } }", json!({})).await;
    assert_eq!(
        plans["reclaimPlans"]["nodes"],
        json!([]),
        "nothing was written"
    );
    db.close().await.ok();
    app.finish().await;
}

const DECIDE: &str =
    "mutation($id: ID!) { approve: approveReclaimPlan(id: $id) { status decidedBy } }";
const CANCEL: &str = "mutation($id: ID!) { cancelReclaimPlan(id: $id) { status decidedBy } }";

async fn a_second_admin_approves_with_four_eyes_and_a_plan_is_decided_once(engine: Engine) {
    let app = TestApp::spawn_with(
        engine,
        Options {
            reclaim: ReclaimSettings {
                four_eyes: true,
                max_open_plans: 1,
                ..ReclaimSettings::default()
            },
            ..Options::default()
        },
    )
    .await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;
    let input =
        json!({ "providerId": tenant.provider.to_string(), "skuIds": [tenant.e3.to_string()] });
    let body = create_as(&app, "alex", input.clone()).await;
    let id = body["data"]["createReclaimPlan"]["id"].clone();
    let as_admin = |subject: &str, query: &'static str| {
        let token = app.token(Role::Admin, subject);
        let app = &app;
        let id = id.clone();
        async move { app.graphql_as(&token, query, json!({ "id": id })).await.1 }
    };

    let own = as_admin("alex", DECIDE).await;
    assert_eq!(error_code(&own), "FORBIDDEN", "{own}");
    assert!(
        own["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("another admin")),
        "{own}"
    );
    let full = create_as(&app, "sam", input.clone()).await;
    assert_eq!(
        error_code(&full),
        "CONFLICT",
        "one open plan at most: {full}"
    );

    let approved = as_admin("sam", DECIDE).await;
    assert_eq!(
        approved["data"]["approve"],
        json!({ "status": "APPROVED", "decidedBy": "sam" }),
        "{approved}"
    );
    let twice = as_admin("sam", DECIDE).await;
    assert_eq!(error_code(&twice), "CONFLICT", "{twice}");
    let cancelled = as_admin("alex", CANCEL).await;
    assert_eq!(
        cancelled["data"]["cancelReclaimPlan"],
        json!({ "status": "CANCELLED", "decidedBy": "alex" })
    );
    let approve_cancelled = as_admin("sam", DECIDE).await;
    assert_eq!(error_code(&approve_cancelled), "CONFLICT");
    let viewer = gql(&app, Role::Viewer, CANCEL, json!({ "id": id })).await;
    assert_eq!(error_code(&viewer), "FORBIDDEN");
    // Cancelled, it no longer counts against the open plans.
    let next = create_as(&app, "sam", input).await;
    assert!(next.get("errors").is_none(), "{next}");

    let audit = gql(
        &app,
        Role::Admin,
        "{ auditEvents(first: 20) { nodes { action outcome subject } } }",
        json!({}),
    )
    .await;
    let steps: Vec<String> = audit["data"]["auditEvents"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| {
            event["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("reclaim."))
        })
        .map(|event| {
            format!(
                "{} {} {}",
                event["action"].as_str().unwrap_or("?"),
                event["outcome"].as_str().unwrap_or("?"),
                event["subject"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "reclaim.plan.create SUCCEEDED sam",
            "reclaim.plan.cancel FORBIDDEN fixture",
            "reclaim.plan.approve FAILED sam",
            "reclaim.plan.cancel SUCCEEDED alex",
            "reclaim.plan.approve FAILED sam",
            "reclaim.plan.approve SUCCEEDED sam",
            "reclaim.plan.create FAILED sam",
            "reclaim.plan.approve FAILED alex",
            "reclaim.plan.create SUCCEEDED alex",
        ],
        "{audit}"
    );
    db.close().await.ok();
    app.finish().await;
}

async fn a_plan_exports_as_csv_for_whoever_checks_it(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let tenant = tenant(&app, &db).await;
    let body = create_as(
        &app,
        "alex",
        json!({ "providerId": tenant.provider.to_string() }),
    )
    .await;
    let id = body["data"]["createReclaimPlan"]["id"]
        .as_str()
        .expect("a plan")
        .to_owned();
    let export = |query: String, token: Option<String>| {
        let mut request = app
            .http
            .get(app.url(&format!("/export/reclaim-plan.csv{query}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("the export answers");
            (response.status(), response.text().await.expect("a body"))
        }
    };
    let viewer = app.token(Role::Viewer, "reviewer");
    let (status, text) = export(format!("?planId={id}"), Some(viewer.clone())).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{text}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<std::collections::HashMap<String, String>> = reader
        .records()
        .map(|record| {
            header
                .iter()
                .cloned()
                .zip(record.expect("a record").iter().map(str::to_owned))
                .collect()
        })
        .collect();
    let summary: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{} {} {} {} {}",
                row["user_principal_name"].trim_end_matches("@contoso.com"),
                row["action"],
                row["manual_reason"],
                row["monthly_saving_amount"],
                row["group_ids"]
            )
            .trim_end()
            .to_owned()
        })
        .collect();
    assert_eq!(
        summary,
        [
            "direct REMOVE_DIRECT  50.00",
            "grouped MANUAL INHERITED_FROM_GROUP  g-sales",
            "both MANUAL INHERITED_FROM_GROUP  g-all",
            "failing MANUAL LICENSE_ERROR",
            "accepted MANUAL ACCEPTED",
            "second REMOVE_DIRECT  20.00",
        ]
    );
    assert_eq!(
        rows[0]["disabled_plans"],
        "efb87545-963c-4e0d-99df-69c6916d9eb0"
    );

    let (missing, body) = export("?planId=999999".to_owned(), Some(viewer)).await;
    assert_eq!(missing, reqwest::StatusCode::NOT_FOUND, "{body}");
    let (anonymous, _) = export(format!("?planId={id}"), None).await;
    assert_eq!(anonymous, reqwest::StatusCode::UNAUTHORIZED);
    db.close().await.ok();
    app.finish().await;
}

const GROUPED_PLAN: &str =
    "mutation($input: CreateReclaimPlanInput!) { createReclaimPlan(input: $input) {
    id warnings { code message hint }
    items(first: 500) { nodes {
      userPrincipalName manualReason manualExplanation groupIds
      groups { id displayName dynamic syncedFromOnPremises found } } }
} }";

/// A plan of every finding of the simulated tenant, made by an admin.
async fn grouped_plan(app: &TestApp, provider: &str) -> Value {
    let body = gql(
        app,
        Role::Admin,
        GROUPED_PLAN,
        json!({ "input": { "providerId": provider } }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["createReclaimPlan"].clone()
}

/// The plan's item for the user of `fixture` (each holds one SKU).
fn item_of<'a>(plan: &'a Value, sim: &SimServer, fixture: &LicenseFixture) -> &'a Value {
    let upn = sim
        .user(fixture.user_id)
        .expect("the fixture's user")
        .user_principal_name;
    plan["items"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|item| item["userPrincipalName"] == upn.as_str())
        .unwrap_or_else(|| panic!("no item for {upn}: {plan}"))
}

fn group_id(fixture: &LicenseFixture) -> String {
    fixture.group_id.expect("a group fixture").to_string()
}

async fn a_plan_names_each_group_and_says_how_the_user_leaves_it(engine: Engine) {
    let sim = tenant_with(
        TenantSpec {
            users: 30,
            seed: 5,
            permissions: Permissions::default().with_license_writes(),
            ..Default::default()
        },
        SimOptions::default(),
    )
    .await;
    let fixtures = sim.license_fixtures().expect("fixtures");
    let app = TestApp::spawn_with(engine, Options::with_graph(sim.base_url())).await;
    let provider = app.connect_tenant(&sim, &sim.client_secret()).await;
    assert_eq!(app.sync(&provider, "FULL").await["status"], "SUCCEEDED");

    let plan = grouped_plan(&app, &provider).await;
    assert_eq!(plan["warnings"], json!([]), "{plan}");
    let name = |fixture: &LicenseFixture| {
        sim.group(fixture.group_id.expect("a group"))
            .expect("the group")
            .display_name
    };
    for (fixture, dynamic, synced, says) in [
        (
            &fixtures.static_group,
            false,
            false,
            "remove the user from the group",
        ),
        (&fixtures.dynamic_group, true, false, "change the rule"),
        (&fixtures.synced_group, false, true, "on-premises directory"),
    ] {
        let item = item_of(&plan, &sim, fixture);
        assert_eq!(item["manualReason"], "INHERITED_FROM_GROUP", "{item}");
        assert_eq!(
            item["groups"],
            json!([{ "id": group_id(fixture), "displayName": name(fixture), "dynamic": dynamic,
                     "syncedFromOnPremises": synced, "found": true }]),
        );
        assert_eq!(item["groupIds"], json!([group_id(fixture)]));
        let explanation = item["manualExplanation"].as_str().unwrap_or_default();
        assert!(
            explanation.contains(&name(fixture)) && explanation.contains(says),
            "{explanation}"
        );
    }

    // The export, read in a spreadsheet, names the groups too.
    let id = plan["id"].as_str().expect("a plan id");
    let csv = app
        .http
        .get(app.url(&format!("/export/reclaim-plan.csv?planId={id}")))
        .bearer_auth(app.token(Role::Viewer, "reviewer"))
        .send()
        .await
        .expect("the export answers")
        .text()
        .await
        .expect("a body");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().expect("a header").clone();
    let column = |wanted: &str| header.iter().position(|h| h == wanted).expect(wanted);
    let static_upn = sim
        .user(fixtures.static_group.user_id)
        .expect("a user")
        .user_principal_name;
    let row = reader
        .records()
        .map(|record| record.expect("a record"))
        .find(|record| record.get(column("user_principal_name")) == Some(static_upn.as_str()))
        .expect("the static group's item");
    assert_eq!(
        row.get(column("group_names")),
        Some(name(&fixtures.static_group).as_str())
    );
    assert!(
        row.get(column("manual_explanation"))
            .is_some_and(|text| text.contains("static group")),
        "{row:?}"
    );

    // Without a permission to read groups, the plan is still made, by ids, and says what to grant.
    sim.set_permissions(Permissions::default());
    let plan = grouped_plan(&app, &provider).await;
    let warnings = plan["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{plan}");
    assert_eq!(warnings[0]["code"], "GROUPS_UNAVAILABLE");
    assert!(
        warnings[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("INSUFFICIENT_PRIVILEGES")),
        "{plan}"
    );
    assert!(
        warnings[0]["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("GroupMember.Read.All")),
        "{plan}"
    );
    let item = item_of(&plan, &sim, &fixtures.dynamic_group);
    assert_eq!(
        item["groups"],
        json!([{ "id": group_id(&fixtures.dynamic_group), "displayName": null, "dynamic": null,
                 "syncedFromOnPremises": null, "found": null }]),
    );
    assert!(
        item["manualExplanation"]
            .as_str()
            .is_some_and(|text| text.contains(&group_id(&fixtures.dynamic_group))),
        "{item}"
    );
    app.finish().await;
}

/// A license of a SKU the organization no longer subscribes to costs nothing: a person decides.
async fn a_license_nobody_pays_for_is_left_to_a_person(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let provider = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let lapsed = fixtures::sku(&db, provider, SPE_E5, (0, 1, 0, 0, 0)).await;
    license_manager::entities::license_skus::Entity::update_many()
        .col_expr(
            license_manager::entities::license_skus::Column::Subscribed,
            Expr::value(false),
        )
        .exec(&db)
        .await
        .expect("the subscription lapsed");
    let user = disabled_user(&db, provider, "lapsed").await;
    assign(&db, provider, user, lapsed, Via::Direct).await;
    let body = create_as(&app, "alex", json!({ "providerId": provider.to_string() })).await;
    let plan = &body["data"]["createReclaimPlan"];
    assert_eq!(
        lines(plan),
        ["lapsed Microsoft 365 E5 MANUAL NOT_SUBSCRIBED"],
        "{body}"
    );
    assert_eq!(plan["summary"]["toRemove"], 0, "{body}");
    db.close().await.ok();
    app.finish().await;
}

engine_tests!(
    a_license_nobody_pays_for_is_left_to_a_person,
    a_plan_names_each_group_and_says_how_the_user_leaves_it,
    a_plan_says_what_it_would_free_and_why_each_other_seat_stays,
    a_plan_exports_as_csv_for_whoever_checks_it,
    plans_that_cannot_be_made_are_refused_and_leave_nothing,
    a_second_admin_approves_with_four_eyes_and_a_plan_is_decided_once,
);
