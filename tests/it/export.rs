//! CSV exports as a script or a spreadsheet user fetches them: authenticated like GraphQL,
//! filtered by query parameters, complete across the export's internal chunks.

use crate::common;

use common::fixtures::{self, ENTERPRISEPACK, NewUser, SPE_E5, Via, assign, data, gql};
use common::{Engine, TestApp};
use license_manager::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

async fn fetch(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("answered");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("a body"))
}

fn rows(csv_text: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(csv_text.as_bytes())
        .records()
        .collect::<Result<_, _>>()
        .expect("well-formed CSV")
}

fn header(csv_text: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect()
}

async fn exports_need_a_token(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for path in [
        "/export/users.csv",
        "/export/skus.csv",
        "/export/findings.csv",
    ] {
        let (status, _, body) = fetch(&app, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(body.contains("UNAUTHENTICATED"), "{body}");
        let (status, _, _) = fetch(&app, path, Some("not-a-jwt")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let token = app.token(Role::Viewer, "script");
    let (status, content_type, body) = fetch(&app, "/export/users.csv", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert!(rows(&body).is_empty());
    assert_eq!(header(&body)[2], "user_principal_name");
    app.finish().await;
}

async fn users_export_filters_and_joins_licenses(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (2000, 1300, 0, 0, 0)).await;
    let o365 = fixtures::sku(&db, contoso, ENTERPRISEPACK, (10, 1, 0, 0, 0)).await;
    // More users than one export chunk holds, to cross chunk boundaries.
    for n in 0..1203 {
        let mut user = NewUser::named(&format!("user{n:04}"));
        user.display_name = Some(format!("User, \"{n}\""));
        let id = user.insert(&db, contoso).await;
        if n % 2 == 0 {
            assign(&db, contoso, id, e5, Via::Direct).await;
        }
        if n == 4 {
            assign(&db, contoso, id, o365, Via::Groups(&["g-sales"])).await;
        }
    }
    let token = app.token(Role::Viewer, "script");
    let (status, _, body) = fetch(&app, "/export/users.csv", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let all = rows(&body);
    assert_eq!(all.len(), 1203);
    let ids: Vec<i64> = all
        .iter()
        .map(|row| row[0].parse().expect("an id"))
        .collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "each user once, in id order"
    );

    let path = format!("/export/users.csv?providerId={contoso}&licensed=true&search=USER000");
    let (status, _, body) = fetch(&app, &path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let licensed = rows(&body);
    let upns: Vec<&str> = licensed.iter().map(|row| &row[2]).collect();
    assert_eq!(
        upns,
        [
            "user0000@contoso.com",
            "user0002@contoso.com",
            "user0004@contoso.com",
            "user0006@contoso.com",
            "user0008@contoso.com",
        ]
    );
    let columns = header(&body);
    let column = |name: &str| {
        columns
            .iter()
            .position(|column| column == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    // Quotes and commas in names survive; licenses read as one column.
    assert_eq!(&licensed[2][column("display_name")], "User, \"4\"");
    assert_eq!(&licensed[2][column("license_count")], "2");
    assert_eq!(
        &licensed[2][column("licenses")],
        "Microsoft 365 E5; Office 365 E3 (group g-sales)"
    );
    assert_eq!(&licensed[0][column("sign_in_data_available")], "true");

    for bad in [
        "/export/users.csv?inactiveSinceDays=abc",
        "/export/users.csv?inactiveSinceDays=0",
        "/export/users.csv?colour=blue",
    ] {
        let (status, _, _) = fetch(&app, bad, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    db.close().await.ok();
    app.finish().await;
}

async fn hostile_searches_are_refused_before_the_export_starts(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    NewUser::named("adele").insert(&db, contoso).await;
    let token = app.token(Role::Viewer, "script");
    let long = "a".repeat(60 * 1024);
    for search in [long.as_str(), "ad%00ele", "ad%0Aele"] {
        let path = format!("/export/users.csv?search={search}");
        let (status, content_type, body) = fetch(&app, &path, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", &search[..8]);
        assert!(!content_type.starts_with("text/csv"), "{content_type}");
        assert!(
            body.contains("search"),
            "the refusal names the field: {body}"
        );
        assert!(!body.contains("aaaaaaaa"), "and does not echo it");
    }
    let (status, _, body) = fetch(&app, "/export/users.csv?search=adele", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&body).len(), 1);
    assert_eq!(app.metrics.sql_errors(), 0, "no statement failed");
    app.finish().await;
}

async fn skus_export_carries_seats_and_prices(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let other = fixtures::provider(&db, "Fabrikam", None).await;
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (25, 20, 5, 0, 0)).await;
    fixtures::sku(&db, other, ENTERPRISEPACK, (10, 1, 0, 0, 0)).await;
    let priced = gql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { setSkuPrice(skuId: $id,
            price: { amount: \"684\", currency: \"USD\", period: YEAR }) { id } }",
        json!({ "id": e5.to_string() }),
    )
    .await;
    assert!(priced.get("errors").is_none(), "{priced}");
    let token = app.token(Role::Viewer, "script");
    let (status, _, body) = fetch(
        &app,
        &format!("/export/skus.csv?providerId={contoso}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let columns = header(&body);
    let skus = rows(&body);
    assert_eq!(skus.len(), 1);
    let value = |name: &str| {
        let index = columns
            .iter()
            .position(|column| column == name)
            .unwrap_or_else(|| panic!("column {name}"));
        skus[0][index].to_owned()
    };
    assert_eq!(value("display_name"), "Microsoft 365 E5");
    assert_eq!(value("available_units"), "5");
    assert_eq!(value("suspended_units"), "5");
    assert_eq!(value("price_amount"), "684");
    assert_eq!(value("price_period"), "YEAR");
    assert_eq!(value("monthly_price"), "57.00");
    let (_, _, all) = fetch(&app, "/export/skus.csv", Some(&token)).await;
    assert_eq!(rows(&all).len(), 2);
    db.close().await.ok();
    app.finish().await;
}

/// The column of `name` in a header.
fn column(columns: &[String], name: &str) -> usize {
    columns
        .iter()
        .position(|column| column == name)
        .unwrap_or_else(|| panic!("column {name}"))
}

async fn findings_export_is_the_report_of_the_same_arguments(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let other = fixtures::provider(&db, "Fabrikam", Some("AVAILABLE")).await;
    let e5 = fixtures::sku(&db, contoso, SPE_E5, (600, 520, 0, 0, 0)).await;
    fixtures::sku(&db, other, ENTERPRISEPACK, (10, 1, 0, 0, 0)).await;
    let priced = gql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { setSkuPrice(skuId: $id,
            price: { amount: \"600\", currency: \"USD\", period: YEAR }) { id } }",
        json!({ "id": e5.to_string() }),
    )
    .await;
    assert!(priced.get("errors").is_none(), "{priced}");
    // More disabled accounts than one export chunk holds, one of them named like a formula.
    for n in 0..518 {
        let mut user = NewUser::named(&format!("gone{n:04}")).signed_in(1);
        user.enabled = false;
        if n == 0 {
            user.display_name = Some("=HYPERLINK(\"x\")".into());
        }
        let id = user.insert(&db, contoso).await;
        assign(&db, contoso, id, e5, Via::Direct).await;
    }
    let idle = NewUser::named("idle")
        .signed_in(200)
        .insert(&db, contoso)
        .await;
    assign(&db, contoso, idle, e5, Via::Both(&["g-all"])).await;
    let busy = NewUser::named("busy")
        .signed_in(1)
        .insert(&db, contoso)
        .await;
    assign(&db, contoso, busy, e5, Via::Direct).await;

    let token = app.token(Role::Viewer, "script");
    let path = format!("/export/findings.csv?providerId={contoso}");
    let (status, content_type, body) = fetch(&app, &path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let columns = header(&body);
    let all = rows(&body);
    let kinds: Vec<&str> = all.iter().map(|row| &row[0]).collect();
    assert_eq!(
        kinds.len(),
        518 + 1 + 1,
        "disabled, inactive, unassigned seats"
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|kind| **kind == "DISABLED_ACCOUNT")
            .count(),
        518
    );
    assert_eq!(
        kinds.last(),
        Some(&"UNASSIGNED_SEATS"),
        "unassigned seats last"
    );
    let report = data(
        &app,
        "query($p: ID) { licenseReport(providerId: $p) { findings { totalCount } } }",
        json!({ "p": contoso.to_string() }),
    )
    .await;
    assert_eq!(
        report["licenseReport"]["findings"]["totalCount"],
        json!(all.len()),
        "the export holds what the report counts"
    );
    let at = |row: &csv::StringRecord, name: &str| row[column(&columns, name)].to_owned();
    let first = &all[0];
    assert_eq!(
        at(first, "display_name"),
        "'=HYPERLINK(\"x\")",
        "made inert"
    );
    assert_eq!(at(first, "removable_directly"), "true");
    assert_eq!(at(first, "removal"), "remove it from the user");
    assert_eq!(at(first, "monthly_cost_amount"), "50.00");
    assert_eq!(at(first, "monthly_cost_currency"), "USD");
    let seats = all.last().expect("a row");
    assert_eq!(at(seats, "units"), "80");
    assert_eq!(at(seats, "user_id"), "");
    assert_eq!(at(seats, "monthly_cost_amount"), "4000.00");

    let path = format!("/export/findings.csv?providerId={contoso}&kind=INACTIVE_USER");
    let (_, _, body) = fetch(&app, &path, Some(&token)).await;
    let inactive = rows(&body);
    assert_eq!(inactive.len(), 1);
    assert_eq!(at(&inactive[0], "user_principal_name"), "idle@contoso.com");
    assert_eq!(at(&inactive[0], "inherited_from_group_ids"), "g-all");
    assert_eq!(at(&inactive[0], "removable_directly"), "false");
    assert_eq!(at(&inactive[0], "last_sign_in_field"), "INTERACTIVE");
    assert_eq!(at(&inactive[0], "license_state"), "Active");

    let path =
        format!("/export/findings.csv?providerId={contoso}&kind=INACTIVE_USER&inactiveDays=365");
    let (_, _, body) = fetch(&app, &path, Some(&token)).await;
    assert!(
        rows(&body).is_empty(),
        "idle for 200 days is not idle for 365"
    );
    let (_, _, body) = fetch(&app, "/export/findings.csv", Some(&token)).await;
    assert_eq!(
        rows(&body).len(),
        all.len() + 1,
        "every provider's findings"
    );

    for (bad, field) in [
        ("/export/findings.csv?kind=NOPE", Some("kind")),
        ("/export/findings.csv?inactiveDays=0", Some("inactiveDays")),
        ("/export/findings.csv?inactiveDays=abc", None),
        ("/export/findings.csv?colour=blue", None),
    ] {
        let (status, content_type, body) = fetch(&app, bad, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!content_type.starts_with("text/csv"), "{content_type}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{bad}"
        );
        if let Some(field) = field {
            assert_eq!(
                body["errors"][0]["extensions"]["fields"][0]["field"], field,
                "{body}"
            );
        }
    }
    db.close().await.ok();
    app.finish().await;
}

engine_tests!(
    findings_export_is_the_report_of_the_same_arguments,
    hostile_searches_are_refused_before_the_export_starts,
    exports_need_a_token,
    users_export_filters_and_joins_licenses,
    skus_export_carries_seats_and_prices,
);
