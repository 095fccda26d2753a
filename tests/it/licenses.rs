//! What is paid for and who holds it: SKUs with seat math, their subscriptions and holders,
//! unit prices, and the constant SQL cost of a page of users with their licenses.

use crate::common;

use std::collections::HashMap;

use common::fixtures::{
    self, ENTERPRISEPACK, NewUser, POWER_BI_PRO, SPE_E3, SPE_E5, Via, assign, data, gql,
};
use common::{Engine, TestApp, error_code};
use license_manager::auth::Role;
use license_manager::providers::microsoft365::catalog;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const SKUS: &str = "query($providerId: ID) { licenseSkus(providerId: $providerId) {
    skuPartNumber displayName capabilityStatus subscribed
    enabledUnits consumedUnits availableUnits suspendedUnits warningUnits lockedOutUnits
    price { amount currency period monthlyAmount }
    subscriptions { status totalLicenses isTrial nextLifecycleAt }
    holders(first: 10) { totalCount nodes { userPrincipalName } }
} }";

async fn skus_show_seat_math_subscriptions_and_holders(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let other = fixtures::provider(&db, "Fabrikam", None).await;
    // Graph sums the units of both subscriptions behind E5: 20 paid + 5 trial.
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (25, 2, 5, 3, 1)).await;
    fixtures::subscription(&db, contoso, SPE_E5, "sub-paid", "Enabled", 20, false).await;
    fixtures::subscription(&db, contoso, SPE_E5, "sub-trial", "Enabled", 5, true).await;
    // Over-assigned: more consumed than enabled.
    fixtures::sku(&db, contoso, POWER_BI_PRO, (1, 2, 0, 0, 0)).await;
    fixtures::sku(&db, other, ENTERPRISEPACK, (7, 0, 0, 0, 0)).await;
    fixtures::subscription(&db, other, ENTERPRISEPACK, "sub-other", "Warning", 7, false).await;
    for name in ["amy", "ben"] {
        let user = NewUser::named(name).insert(&db, contoso).await;
        assign(&db, contoso, user, e5, Via::Direct).await;
    }
    let mut gone = NewUser::named("gone");
    gone.removed = Some(fixtures::days_ago(1));
    let gone = gone.insert(&db, contoso).await;
    assign(&db, contoso, gone, e5, Via::Direct).await;

    let skus = data(&app, SKUS, json!({ "providerId": contoso.to_string() })).await;
    assert_eq!(
        skus["licenseSkus"][0],
        json!({
            "skuPartNumber": "SPE_E5", "displayName": "Microsoft 365 E5",
            "capabilityStatus": "Enabled", "subscribed": true,
            "enabledUnits": 25, "consumedUnits": 2, "availableUnits": 23,
            "suspendedUnits": 5, "warningUnits": 3, "lockedOutUnits": 1,
            "price": null,
            "subscriptions": [
                { "status": "Enabled", "totalLicenses": 20, "isTrial": false,
                  "nextLifecycleAt": skus["licenseSkus"][0]["subscriptions"][0]["nextLifecycleAt"] },
                { "status": "Enabled", "totalLicenses": 5, "isTrial": true,
                  "nextLifecycleAt": skus["licenseSkus"][0]["subscriptions"][1]["nextLifecycleAt"] },
            ],
            "holders": { "totalCount": 2, "nodes": [
                { "userPrincipalName": "amy@contoso.com" },
                { "userPrincipalName": "ben@contoso.com" },
            ] },
        })
    );
    let power_bi = &skus["licenseSkus"][1];
    assert_eq!(power_bi["displayName"], "Power BI Pro");
    assert_eq!(power_bi["availableUnits"], -1);
    assert_eq!(power_bi["subscriptions"], json!([]));

    // Every provider's SKUs, and each provider's own through Provider.licenseSkus.
    let all = data(&app, SKUS, json!({})).await;
    assert_eq!(all["licenseSkus"].as_array().expect("a list").len(), 3);
    let providers = data(
        &app,
        "{ providers { name licenseSkus { skuPartNumber subscriptions { status } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        providers["providers"][1],
        json!({ "name": "Fabrikam", "licenseSkus": [
            { "skuPartNumber": "ENTERPRISEPACK", "subscriptions": [{ "status": "Warning" }] },
        ] })
    );
    // Holders take the users filters.
    let holders = data(
        &app,
        "{ licenseSkus { skuPartNumber holders(filter: { search: \"BEN\", includeRemoved: true }) {
            nodes { userPrincipalName } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        holders["licenseSkus"][0]["holders"]["nodes"],
        json!([{ "userPrincipalName": "ben@contoso.com" }])
    );
    db.close().await.ok();
    app.finish().await;
}

const SET_PRICE: &str = "mutation($skuId: ID!, $price: MoneyInput) {
    setSkuPrice(skuId: $skuId, price: $price) {
        skuPartNumber price { amount currency period monthlyAmount }
    }
}";

async fn admins_set_and_clear_prices_with_an_audit_trail(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let e3 = fixtures::sku(&db, contoso, SPE_E3, (10, 10, 0, 0, 0)).await;
    let id = e3.to_string();
    let yearly = json!({ "skuId": id, "price": { "amount": "433.20", "currency": "EUR", "period": "YEAR" } });

    let viewer = gql(&app, Role::Viewer, SET_PRICE, yearly.clone()).await;
    assert_eq!(error_code(&viewer), "FORBIDDEN");

    let set = gql(&app, Role::Admin, SET_PRICE, yearly).await;
    assert_eq!(
        set["data"]["setSkuPrice"],
        json!({ "skuPartNumber": "SPE_E3", "price": {
            "amount": "433.2", "currency": "EUR", "period": "YEAR", "monthlyAmount": "36.10",
        } })
    );
    let read = data(
        &app,
        "{ licenseSkus { price { amount monthlyAmount } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        read["licenseSkus"][0]["price"],
        json!({ "amount": "433.2", "monthlyAmount": "36.10" })
    );

    let bad = gql(
        &app,
        Role::Admin,
        SET_PRICE,
        json!({ "skuId": id, "price": { "amount": "12,50", "currency": "eur", "period": "MONTH" } }),
    )
    .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let fields: Vec<&str> = bad["errors"][0]["extensions"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|field| field["field"].as_str().expect("a name"))
        .collect();
    assert_eq!(fields, ["price.amount", "price.currency"]);

    // A price left half-written (edited by hand, say) does not block setting a new one.
    db.execute_unprepared(&format!(
        "UPDATE license_skus SET price_period = NULL WHERE id = {e3}"
    ))
    .await
    .expect("price damaged");
    let monthly =
        json!({ "skuId": id, "price": { "amount": "30", "currency": "EUR", "period": "MONTH" } });
    let repaired = gql(&app, Role::Admin, SET_PRICE, monthly).await;
    assert_eq!(
        repaired["data"]["setSkuPrice"]["price"]["monthlyAmount"], "30.00",
        "{repaired}"
    );

    let cleared = gql(
        &app,
        Role::Admin,
        SET_PRICE,
        json!({ "skuId": id, "price": null }),
    )
    .await;
    assert_eq!(cleared["data"]["setSkuPrice"]["price"], Value::Null);

    let missing = gql(
        &app,
        Role::Admin,
        SET_PRICE,
        json!({ "skuId": "424242", "price": null }),
    )
    .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");

    let audit = gql(
        &app,
        Role::Admin,
        "{ auditEvents { nodes { action outcome targetId detail } } }",
        json!({}),
    )
    .await;
    let events: Vec<(String, String)> = audit["data"]["auditEvents"]["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| {
            (
                event["action"].as_str().unwrap_or_default().to_owned(),
                event["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let price_events = |outcome: &str| {
        events
            .iter()
            .filter(|(action, found)| action == "sku.price.set" && found == outcome)
            .count()
    };
    assert_eq!(price_events("SUCCEEDED"), 3, "{events:?}");
    assert_eq!(price_events("FAILED"), 2, "{events:?}");
    db.close().await.ok();
    app.finish().await;
}

const ONE_SKU: &str = "query($id: ID!) { licenseSku(id: $id) {
    id skuPartNumber enabledUnits price { monthlyAmount } monthlyCost { amount currency }
    provider { name } holders(first: 5) { totalCount }
} }";

/// A page about one SKU reads it by id, with what its enabled seats cost per month: summed
/// before rounding, like the report (3 × 100/12 is 25.00, not 3 × 8.33).
async fn one_sku_by_id_with_the_monthly_cost_of_its_seats(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let e3 = fixtures::sku(&db, contoso, SPE_E3, (3, 1, 0, 0, 0)).await;
    fixtures::sku(&db, contoso, SPE_E5, (9, 0, 0, 0, 0)).await;
    let amy = NewUser::named("amy").insert(&db, contoso).await;
    assign(&db, contoso, amy, e3, Via::Direct).await;
    let id = e3.to_string();

    let unpriced = data(&app, ONE_SKU, json!({ "id": id })).await;
    assert_eq!(
        unpriced["licenseSku"],
        json!({ "id": id, "skuPartNumber": "SPE_E3", "enabledUnits": 3, "price": null,
                "monthlyCost": null, "provider": { "name": "Contoso" },
                "holders": { "totalCount": 1 } })
    );
    let price =
        json!({ "skuId": id, "price": { "amount": "100", "currency": "USD", "period": "YEAR" } });
    let set = gql(&app, Role::Admin, SET_PRICE, price).await;
    assert!(set.get("errors").is_none(), "{set}");
    let priced = data(&app, ONE_SKU, json!({ "id": id })).await;
    assert_eq!(priced["licenseSku"]["price"]["monthlyAmount"], "8.33");
    assert_eq!(
        priced["licenseSku"]["monthlyCost"],
        json!({ "amount": "25.00", "currency": "USD" })
    );
    // The list shows the same figure.
    let listed = data(
        &app,
        "{ licenseSkus { skuPartNumber monthlyCost { amount } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed["licenseSkus"],
        json!([
            { "skuPartNumber": "SPE_E3", "monthlyCost": { "amount": "25.00" } },
            { "skuPartNumber": "SPE_E5", "monthlyCost": null },
        ])
    );

    let missing = data(&app, ONE_SKU, json!({ "id": "424242" })).await;
    assert_eq!(missing["licenseSku"], Value::Null);
    let malformed = gql(&app, Role::Viewer, ONE_SKU, json!({ "id": "SPE_E3" })).await;
    assert_eq!(error_code(&malformed), "BAD_USER_INPUT");
    db.close().await.ok();
    app.finish().await;
}

const PAGE_WITH_LICENSES: &str = "query($first: Int) { users(first: $first) { edges { node {
    userPrincipalName licenses { sku { displayName } } provider { name }
} } } }";

/// SQL statements the server ran for one GraphQL request.
async fn statements(app: &TestApp, query: &str, variables: Value) -> (u64, Value) {
    let before = app.metrics.sql_statements();
    let body = data(app, query, variables).await;
    (app.metrics.sql_statements() - before, body)
}

async fn a_page_costs_the_same_statements_for_10_100_and_500_users(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let fabrikam = fixtures::provider(&db, "Fabrikam", None).await;
    let sku_rows = HashMap::from([
        (
            SPE_E5,
            fixtures::sku(&db, contoso, SPE_E5, (600, 600, 0, 0, 0)).await,
        ),
        (
            ENTERPRISEPACK,
            fixtures::sku(&db, contoso, ENTERPRISEPACK, (600, 300, 0, 0, 0)).await,
        ),
        (
            POWER_BI_PRO,
            fixtures::sku(&db, fabrikam, POWER_BI_PRO, (600, 300, 0, 0, 0)).await,
        ),
    ]);
    // Contoso's users (even numbers) hold E5, every other one Office 365 E3 too; Fabrikam's hold
    // Power BI Pro.
    let held_by = |n: usize| -> &'static [&'static str] {
        match (n % 2, n / 2 % 2) {
            (0, 0) => &[SPE_E5],
            (0, _) => &[SPE_E5, ENTERPRISEPACK],
            _ => &[POWER_BI_PRO],
        }
    };
    for n in 0..520_usize {
        let provider = if n.is_multiple_of(2) {
            contoso
        } else {
            fabrikam
        };
        let user = NewUser::named(&format!("user{n:04}"))
            .insert(&db, provider)
            .await;
        for sku in held_by(n) {
            assign(&db, provider, user, sku_rows[sku], Via::Direct).await;
        }
    }
    let mut measured = Vec::new();
    for first in [10, 100, 500] {
        let (count, body) = statements(&app, PAGE_WITH_LICENSES, json!({ "first": first })).await;
        let edges = body["users"]["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), first);
        // Each user shows its own licenses, in the order they were assigned.
        for edge in edges {
            let node = &edge["node"];
            let upn = node["userPrincipalName"].as_str().expect("a UPN");
            let n: usize = upn["user".len().."user0000".len()]
                .parse()
                .expect("a number");
            let provider = if n.is_multiple_of(2) {
                "Contoso"
            } else {
                "Fabrikam"
            };
            assert_eq!(node["provider"]["name"], provider, "{node}");
            let expected: Vec<Value> = held_by(n)
                .iter()
                .map(|sku| {
                    let name = catalog::product(sku)
                        .expect("a SKU of Microsoft's table")
                        .name;
                    json!({ "sku": { "displayName": name } })
                })
                .collect();
            assert_eq!(node["licenses"], Value::Array(expected), "{node}");
        }
        measured.push(count);
    }
    // users, licenses of the page, their SKUs, their providers.
    assert_eq!(measured, [4, 4, 4], "statements for 10, 100 and 500 users");
    // The same selection through fragments, as frontends write it, costs the same.
    let (with_fragments, _) = statements(
        &app,
        "query { users(first: 200) { nodes { ...row } } }
         fragment row on DirectoryUser { userPrincipalName ...held provider { name } }
         fragment held on DirectoryUser { licenses { sku { displayName } } }",
        json!({}),
    )
    .await;
    assert_eq!(with_fragments, 4);
    // totalCount costs one COUNT, and only when it is asked for.
    let (with_count, _) = statements(
        &app,
        "{ users(first: 100) { totalCount nodes { userPrincipalName } } }",
        json!({}),
    )
    .await;
    let (without_count, _) = statements(
        &app,
        "{ users(first: 100) { nodes { userPrincipalName } } }",
        json!({}),
    )
    .await;
    assert_eq!((without_count, with_count), (1, 2));
    db.close().await.ok();
    app.finish().await;
}

engine_tests!(
    skus_show_seat_math_subscriptions_and_holders,
    admins_set_and_clear_prices_with_an_audit_trail,
    one_sku_by_id_with_the_monthly_cost_of_its_seats,
    a_page_costs_the_same_statements_for_10_100_and_500_users,
);

/// Migrations before the one that keeps every path of a license.
const BEFORE_SOURCES: u32 = 5;

/// Inserts a license as a version before paths were kept stored it: with Graph's error text as
/// it came, "None" included.
async fn legacy_license(
    db: &sea_orm::DatabaseConnection,
    (provider, user, sku): (i64, i64, i64),
    direct: bool,
    groups: &[&str],
    state: &str,
    error: &str,
) {
    let sql = format!(
        "INSERT INTO license_assignments (provider_id, user_id, license_sku_id, disabled_plans, \
         assigned_directly, inherited_from_group_ids, state, error, updated_at) VALUES \
         ({provider}, {user}, {sku}, '[\"plan-x\"]', {direct}, '{}', '{state}', '{error}', \
         CURRENT_TIMESTAMP)",
        json!(groups)
    );
    db.execute_unprepared(&sql)
        .await
        .expect("legacy license inserted");
}

/// A database written by the previous version keeps every license through the upgrade: the
/// "None" it stored reads as no error, and each license shows the paths its columns name.
async fn licenses_stored_before_the_upgrade_keep_their_data(engine: Engine) {
    use migration::{Migrator, MigratorTrait};
    let data_dir = tempfile::tempdir().expect("temporary folder");
    let database = common::TestDatabase::create(engine, data_dir.path()).await;
    let db = database.connect().await;
    Migrator::up(&db, Some(BEFORE_SOURCES))
        .await
        .expect("the previous version's schema");
    let contoso = fixtures::LegacyProvider {
        sign_in: Some("AVAILABLE"),
        ..fixtures::LegacyProvider::named("Contoso")
    }
    .insert(&db)
    .await;
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (10, 4, 0, 0, 0)).await;
    let mut users = Vec::new();
    for (name, direct, groups, state, error) in [
        ("direct", true, &[][..], "Active", "None"),
        ("grouped", false, &["g1"][..], "Active", "none"),
        ("failing", true, &["g2"][..], "Error", "CountViolation"),
        ("blank", true, &[][..], "Active", ""),
    ] {
        let user = NewUser::named(name).insert(&db, contoso).await;
        legacy_license(&db, (contoso, user, e5), direct, groups, state, error).await;
        users.push(user);
    }
    // Up, back down (as an operator rolling back would), and up again when the server starts.
    Migrator::up(&db, None).await.expect("upgraded");
    let newer = Migrator::migrations().len() as u32 - BEFORE_SOURCES;
    Migrator::down(&db, Some(newer)).await.expect("rolled back");
    db.close().await.ok();

    let app = TestApp::start(data_dir, database).await;
    let shown = data(
        &app,
        "{ users(first: 10) { nodes { userPrincipalName licenses {
            disabledPlans assignedDirectly inheritedFromGroupIds state error
            sources { groupId state error disabledPlans } } } } }",
        json!({}),
    )
    .await;
    let licenses: HashMap<String, Value> = shown["users"]["nodes"]
        .as_array()
        .expect("users")
        .iter()
        .map(|user| {
            let upn = user["userPrincipalName"].as_str().expect("upn");
            (
                upn.split('@').next().expect("local").to_owned(),
                user["licenses"][0].clone(),
            )
        })
        .collect();
    let path = |group: Option<&str>, state: &str, error: Option<&str>| json!({ "groupId": group, "state": state, "error": error, "disabledPlans": ["plan-x"] });
    for name in ["direct", "blank"] {
        assert_eq!(licenses[name]["error"], Value::Null, "{name}");
        assert_eq!(
            licenses[name]["sources"],
            json!([path(None, "Active", None)])
        );
    }
    assert_eq!(licenses["grouped"]["error"], Value::Null);
    assert_eq!(licenses["grouped"]["assignedDirectly"], false);
    assert_eq!(
        licenses["grouped"]["sources"],
        json!([path(Some("g1"), "Active", None)])
    );
    let failing = &licenses["failing"];
    assert_eq!(
        (&failing["state"], &failing["error"]),
        (&json!("Error"), &json!("CountViolation"))
    );
    assert_eq!(failing["inheritedFromGroupIds"], json!(["g2"]));
    assert_eq!(
        failing["sources"],
        json!([
            path(None, "Error", Some("CountViolation")),
            path(Some("g2"), "Error", Some("CountViolation"))
        ]),
        "each path the columns name, in the license's state"
    );
    let filtered = data(
        &app,
        "{ users(filter: { licenseInError: true }) { nodes { userPrincipalName } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        filtered["users"]["nodes"],
        json!([{ "userPrincipalName": "failing@contoso.com" }]),
        "\"None\" is not an error"
    );

    // A state this version does not know is kept as sent, however long (PostgreSQL bounded it).
    let db = app.database.connect().await;
    let unknown = "PendingInputFromAnUpstreamLicensingServiceOfTheFuture";
    db.execute_unprepared(&format!(
        "UPDATE license_assignments SET state = '{unknown}' WHERE user_id = {}",
        users[0]
    ))
    .await
    .expect("a long state is stored");
    db.close().await.ok();
    let shown = data(
        &app,
        "{ users(filter: { search: \"direct\" }) { nodes { licenses { state } } } }",
        json!({}),
    )
    .await;
    assert_eq!(shown["users"]["nodes"][0]["licenses"][0]["state"], unknown);
    app.finish().await;
}

engine_tests!(licenses_stored_before_the_upgrade_keep_their_data);
