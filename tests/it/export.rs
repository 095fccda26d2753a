//! CSV exports as a script or a spreadsheet user fetches them: authenticated like GraphQL,
//! filtered by query parameters, complete across the export's internal chunks.

use crate::common;

use common::fixtures::{self, ENTERPRISEPACK, NewUser, SPE_E5, Via, assign, gql};
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
    for path in ["/export/users.csv", "/export/skus.csv"] {
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

engine_tests!(
    hostile_searches_are_refused_before_the_export_starts,
    exports_need_a_token,
    users_export_filters_and_joins_licenses,
    skus_export_carries_seats_and_prices,
);
