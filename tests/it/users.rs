//! Browsing the directory as a license dashboard does: every filter, every order, and paging
//! through it forwards and backwards while a sync inserts users.

use crate::common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::fixtures::{
    self, ENTERPRISEPACK, NewUser, SPE_E3, SPE_E5, Via, assign, data, days_ago, gql,
};
use common::{Engine, TestApp, error_code};
use license_manager::auth::Role;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

struct Directory {
    contoso: i64,
    alice: i64,
    gina: i64,
    erin: i64,
}

/// Contoso (sign-in data available) and Fabrikam (not available), with one user per case.
async fn directory(db: &DatabaseConnection) -> Directory {
    let contoso = fixtures::provider(db, "Contoso", Some("AVAILABLE")).await;
    let fabrikam = fixtures::provider(db, "Fabrikam", Some("MISSING_PERMISSION")).await;
    let e5 = fixtures::sku(db, contoso, SPE_E5, (10, 3, 0, 0, 0)).await;
    let e3 = fixtures::sku(db, contoso, SPE_E3, (5, 1, 0, 0, 0)).await;
    let fabrikam_e5 = fixtures::sku(db, fabrikam, SPE_E5, (1, 1, 0, 0, 0)).await;
    let created = |n: i64| Some(days_ago(400 - n));

    let mut alice = NewUser::named("alice").signed_in(5);
    alice.display_name = Some("Alice Archer".into());
    alice.created = created(1);
    let alice = alice.insert(db, contoso).await;
    assign(db, contoso, alice, e5, Via::Direct).await;

    let mut bob = NewUser::named("bob").signed_in(200);
    bob.display_name = Some("Bob Baker".into());
    bob.enabled = false;
    bob.created = created(2);
    let bob = bob.insert(db, contoso).await;
    assign(db, contoso, bob, e3, Via::Groups(&["sales"])).await;

    let mut carol = NewUser::named("carol");
    carol.display_name = Some("Carol Cruz".into());
    carol.user_type = "Guest";
    carol.created = created(3);
    let carol = carol.insert(db, contoso).await;
    assign(db, contoso, carol, e5, Via::Direct).await;

    // No display name; the non-interactive sign-in is the latest.
    let mut dave = NewUser::named("dave").signed_in(400);
    dave.display_name = None;
    dave.non_interactive = Some(days_ago(100));
    dave.created = None;
    dave.insert(db, contoso).await;

    let mut erin = NewUser::named("erin").signed_in(2);
    erin.display_name = Some("Erin Removed".into());
    erin.removed = Some(days_ago(1));
    erin.created = created(5);
    let erin = erin.insert(db, contoso).await;
    assign(db, contoso, erin, e5, Via::Direct).await;

    let mut frank = NewUser::named("frank");
    frank.display_name = Some("Frank 50%_off".into());
    frank.successful = Some(days_ago(10));
    frank.created = created(6);
    frank.insert(db, contoso).await;

    // Fabrikam cannot provide sign-in data: null dates mean unknown.
    let mut gina = NewUser::named("gina");
    gina.display_name = Some("Gina Green".into());
    gina.created = created(7);
    let gina = gina.insert(db, fabrikam).await;
    assign(db, fabrikam, gina, fabrikam_e5, Via::Both(&["all-staff"])).await;

    Directory {
        contoso,
        alice,
        gina,
        erin,
    }
}

const PAGE: &str = "query($filter: UserFilter, $orderBy: UserOrder, $first: Int, $after: String,
                          $last: Int, $before: String) {
    users(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last,
          before: $before) {
        edges { cursor node { userPrincipalName } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
}";

fn names(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| {
            let upn = edge["node"]["userPrincipalName"].as_str().expect("a UPN");
            upn.trim_end_matches("@contoso.com").to_owned()
        })
        .collect()
}

async fn filtered(app: &TestApp, filter: Value) -> Vec<String> {
    let variables = json!({
        "filter": filter, "first": 100,
        "orderBy": { "field": "USER_PRINCIPAL_NAME" },
    });
    names(&data(app, PAGE, variables).await["users"])
}

async fn every_filter_narrows_the_list(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let directory = directory(&db).await;
    let cases = [
        (
            json!({}),
            vec!["alice", "bob", "carol", "dave", "frank", "gina"],
        ),
        (
            json!({ "includeRemoved": true }),
            vec!["alice", "bob", "carol", "dave", "erin", "frank", "gina"],
        ),
        (
            json!({ "providerId": directory.contoso.to_string() }),
            vec!["alice", "bob", "carol", "dave", "frank"],
        ),
        (json!({ "search": "ARCHER" }), vec!["alice"]),
        // Wildcards typed by a user match literally.
        (json!({ "search": "50%_" }), vec!["frank"]),
        (json!({ "search": "%" }), vec!["frank"]),
        (json!({ "search": "gina@contoso" }), vec!["gina"]),
        (json!({ "accountEnabled": false }), vec!["bob"]),
        (
            json!({ "licensed": true }),
            vec!["alice", "bob", "carol", "gina"],
        ),
        (json!({ "licensed": false }), vec!["dave", "frank"]),
        (
            json!({ "skuPartNumber": "SPE_E5" }),
            vec!["alice", "carol", "gina"],
        ),
        (json!({ "skuId": SPE_E3.to_uppercase() }), vec!["bob"]),
        (json!({ "skuId": ENTERPRISEPACK }), vec![]),
        (json!({ "userType": "Guest" }), vec!["carol"]),
        // Latest of the three dates: dave's non-interactive sign-in 100 days ago counts; carol
        // never signed in (her own filter); gina's activity is unknown, never inactive.
        (json!({ "inactiveSinceDays": 90 }), vec!["bob", "dave"]),
        (json!({ "inactiveSinceDays": 150 }), vec!["bob"]),
        (json!({ "neverSignedIn": true }), vec!["carol"]),
        (
            json!({ "neverSignedIn": false }),
            vec!["alice", "bob", "dave", "frank"],
        ),
        (
            json!({ "licensed": true, "accountEnabled": true, "skuPartNumber": "SPE_E5" }),
            vec!["alice", "carol", "gina"],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(filtered(&app, filter.clone()).await, expected, "{filter}");
    }
    let body = gql(
        &app,
        Role::Viewer,
        PAGE,
        json!({ "filter": { "inactiveSinceDays": 0 } }),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    db.close().await.ok();
    app.finish().await;
}

async fn every_order_puts_missing_values_last(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    directory(&db).await;
    let cases = [
        (
            "DISPLAY_NAME",
            "ASC",
            vec!["alice", "bob", "carol", "frank", "gina", "dave"],
        ),
        (
            "DISPLAY_NAME",
            "DESC",
            vec!["gina", "frank", "carol", "bob", "alice", "dave"],
        ),
        (
            "USER_PRINCIPAL_NAME",
            "DESC",
            vec!["gina", "frank", "dave", "carol", "bob", "alice"],
        ),
        // Users without an interactive sign-in follow, by id.
        (
            "LAST_SIGN_IN_AT",
            "ASC",
            vec!["dave", "bob", "alice", "carol", "frank", "gina"],
        ),
        (
            "LAST_SIGN_IN_AT",
            "DESC",
            vec!["alice", "bob", "dave", "gina", "frank", "carol"],
        ),
        (
            "CREATED_AT",
            "ASC",
            vec!["alice", "bob", "carol", "frank", "gina", "dave"],
        ),
        (
            "CREATED_AT",
            "DESC",
            vec!["gina", "frank", "carol", "bob", "alice", "dave"],
        ),
    ];
    for (field, direction, expected) in cases {
        let order = json!({ "field": field, "direction": direction });
        let all = data(&app, PAGE, json!({ "orderBy": order, "first": 100 })).await;
        assert_eq!(names(&all["users"]), expected, "{field} {direction}");
        assert_eq!(
            walk_forward(&app, &order).await,
            expected,
            "{field} {direction}"
        );
        assert_eq!(
            walk_backward(&app, &order).await,
            expected,
            "{field} {direction}"
        );
    }
    db.close().await.ok();
    app.finish().await;
}

/// Pages of two from the start, following endCursor until hasNextPage is false.
async fn walk_forward(app: &TestApp, order: &Value) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let variables = json!({ "orderBy": order, "first": 2, "after": after });
        let page = data(app, PAGE, variables).await["users"].clone();
        seen.extend(names(&page));
        assert_eq!(page["pageInfo"]["hasPreviousPage"], !after.is_null());
        if page["pageInfo"]["hasNextPage"] == false {
            return seen;
        }
        after = page["pageInfo"]["endCursor"].clone();
        assert!(seen.len() < 20, "paging does not end");
    }
}

/// Pages of two from the end, following startCursor backwards.
async fn walk_backward(app: &TestApp, order: &Value) -> Vec<String> {
    let mut pages = Vec::new();
    let mut before = Value::Null;
    loop {
        let variables = json!({ "orderBy": order, "last": 2, "before": before });
        let page = data(app, PAGE, variables).await["users"].clone();
        pages.insert(0, names(&page));
        if page["pageInfo"]["hasPreviousPage"] == false {
            return pages.concat();
        }
        before = page["pageInfo"]["startCursor"].clone();
        assert!(pages.len() < 20, "paging does not end");
    }
}

async fn after_and_before_bound_a_window(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    directory(&db).await;
    // By display name: alice bob carol frank gina, then dave (no name).
    let order = json!({ "field": "DISPLAY_NAME" });
    let all = data(&app, PAGE, json!({ "orderBy": order, "first": 100 })).await["users"].clone();
    let cursor = |index: usize| all["edges"][index]["cursor"].clone();
    let window = |variables: Value| {
        let app = &app;
        async move { names(&data(app, PAGE, variables).await["users"]) }
    };
    let (bob, gina, dave) = (cursor(1), cursor(4), cursor(5));
    assert_eq!(
        window(json!({ "orderBy": order, "first": 10, "after": bob, "before": dave })).await,
        ["carol", "frank", "gina"]
    );
    assert_eq!(
        window(json!({ "orderBy": order, "last": 2, "after": bob, "before": dave })).await,
        ["frank", "gina"]
    );
    // Across the boundary to users without a name, in both directions.
    assert_eq!(
        window(json!({ "orderBy": order, "first": 10, "after": gina })).await,
        ["dave"]
    );
    assert_eq!(
        window(json!({ "orderBy": order, "last": 2, "before": dave })).await,
        ["frank", "gina"]
    );
    assert_eq!(
        window(json!({ "orderBy": order, "first": 1, "before": bob })).await,
        ["alice"]
    );
    db.close().await.ok();
    app.finish().await;
}

async fn cursors_survive_a_concurrent_sync(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let directory = directory(&db).await;
    let order = json!({ "field": "DISPLAY_NAME" });
    let first = data(&app, PAGE, json!({ "orderBy": order, "first": 2 })).await["users"].clone();
    assert_eq!(names(&first), ["alice", "bob"]);
    // A sync adds one user before the cursor and one after it, and removes one further on.
    let mut aaron = NewUser::named("aaron");
    aaron.display_name = Some("Aaron Abbott".into());
    aaron.insert(&db, directory.contoso).await;
    let mut bobby = NewUser::named("bobby");
    bobby.display_name = Some("Bobby Brown".into());
    bobby.insert(&db, directory.contoso).await;
    let after = first["pageInfo"]["endCursor"].clone();
    let rest = data(
        &app,
        PAGE,
        json!({ "orderBy": order, "first": 100, "after": after }),
    )
    .await["users"]
        .clone();
    // Nothing repeats, nothing shifts: the page goes on right after Bob.
    assert_eq!(names(&rest), ["bobby", "carol", "frank", "gina", "dave"]);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    db.close().await.ok();
    app.finish().await;
}

async fn empty_and_last_pages_say_so(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let query = "query($filter: UserFilter) { users(filter: $filter, first: 5) {
        totalCount edges { cursor } nodes { id }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let empty = data(&app, query, json!({})).await;
    assert_eq!(
        empty["users"],
        json!({
            "totalCount": 0, "edges": [], "nodes": [],
            "pageInfo": { "hasNextPage": false, "hasPreviousPage": false,
                          "startCursor": null, "endCursor": null },
        })
    );
    let db = app.database.connect().await;
    directory(&db).await;
    let licensed = data(&app, query, json!({ "filter": { "licensed": true } })).await;
    assert_eq!(licensed["users"]["totalCount"], 4);
    assert_eq!(licensed["users"]["pageInfo"]["hasNextPage"], false);
    let all = data(&app, query, json!({})).await;
    assert_eq!(all["users"]["totalCount"], 6);
    assert_eq!(all["users"]["pageInfo"]["hasNextPage"], true);
    db.close().await.ok();
    app.finish().await;
}

async fn page_arguments_are_checked(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    directory(&db).await;
    let other_order = data(
        &app,
        PAGE,
        json!({ "orderBy": { "field": "CREATED_AT" }, "first": 1 }),
    )
    .await["users"]["pageInfo"]["endCursor"]
        .clone();
    let cases = [
        (json!({ "first": 501 }), "500"),
        (json!({ "first": 0 }), "first"),
        (json!({ "last": 501 }), "500"),
        (json!({ "first": 1, "last": 1 }), "first or last"),
        (json!({ "after": "not-a-cursor" }), "cursor"),
        (json!({ "after": other_order }), "orderBy"),
    ];
    for (variables, words) in cases {
        let body = gql(&app, Role::Viewer, PAGE, variables.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{variables}");
        let message = body["errors"][0]["message"].as_str().expect("a message");
        assert!(message.contains(words), "{variables}: {message}");
    }
    let conflicting = gql(
        &app,
        Role::Viewer,
        "{ users(providerId: \"1\", filter: { providerId: \"2\" }) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&conflicting), "BAD_USER_INPUT");
    let full = data(&app, PAGE, json!({ "first": 500 })).await;
    assert_eq!(names(&full["users"]).len(), 6);
    db.close().await.ok();
    app.finish().await;
}

/// The fields a refusal names, in order.
fn refused_fields(body: &Value) -> Vec<String> {
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
    body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of fields: {body}"))
        .iter()
        .map(|field| field["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn hostile_filter_texts_are_refused_by_name(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    directory(&db).await;
    let page = |filter: Value| json!({ "filter": filter, "first": 5 });

    // 60 KB made SQLite fail ("LIKE or GLOB pattern too complex"), answered as INTERNAL.
    let long = "a".repeat(60 * 1024);
    let body = gql(&app, Role::Viewer, PAGE, page(json!({ "search": long }))).await;
    assert_eq!(refused_fields(&body), ["search"]);
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("256"), "{message}");
    let longest = data(&app, PAGE, page(json!({ "search": "a".repeat(256) }))).await;
    assert_eq!(names(&longest["users"]), Vec::<String>::new());

    // A NUL matched every user on SQLite and failed the statement on PostgreSQL.
    let body = gql(
        &app,
        Role::Viewer,
        PAGE,
        page(json!({ "search": "zz\u{0}" })),
    )
    .await;
    assert_eq!(refused_fields(&body), ["search"]);
    let every_text = json!({
        "search": "al\tice", "skuPartNumber": "SPE\u{0}E5", "skuId": "\u{1b}[2J",
        "userType": "Member\n",
    });
    let body = gql(&app, Role::Viewer, PAGE, page(every_text)).await;
    assert_eq!(refused_fields(&body), ["search", "skuPartNumber", "skuId"]);
    // A trailing line break is trimmed like a trailing space, not refused.
    let members = data(&app, PAGE, page(json!({ "userType": "Member\n" }))).await;
    assert!(!names(&members["users"]).is_empty());

    // A cursor carries a display name back: one with a NUL is not a cursor this API made.
    let first = data(&app, PAGE, json!({ "first": 1 })).await;
    let cursor = first["users"]["pageInfo"]["endCursor"]
        .as_str()
        .expect("a cursor");
    let decoded = URL_SAFE_NO_PAD.decode(cursor).expect("base64");
    let text = String::from_utf8(decoded).expect("JSON text");
    let forged = text.replacen("\"s\":\"", "\"s\":\"\\u0000", 1);
    assert_ne!(forged, text, "the cursor holds a text key: {text}");
    let forged = URL_SAFE_NO_PAD.encode(forged);
    let body = gql(&app, Role::Viewer, PAGE, json!({ "after": forged })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");

    assert_eq!(app.metrics.sql_errors(), 0, "no statement failed");
    db.close().await.ok();
    app.finish().await;
}

const USER: &str = "query($id: ID!) { user(id: $id) {
    id userPrincipalName displayName accountEnabled userType signInDataAvailable removedAt
    lastActivityAt
    provider { name }
    licenses { assignedDirectly inheritedFromGroupIds state error disabledPlans
               sku { skuPartNumber displayName } }
} }";

async fn one_user_shows_how_each_license_came(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let directory = directory(&db).await;
    let alice = data(&app, USER, json!({ "id": directory.alice.to_string() })).await;
    assert_eq!(alice["user"]["provider"]["name"], "Contoso");
    assert_eq!(alice["user"]["signInDataAvailable"], true);
    assert_eq!(
        alice["user"]["licenses"],
        json!([{
            "assignedDirectly": true, "inheritedFromGroupIds": [], "state": "Active",
            "error": null, "disabledPlans": [],
            "sku": { "skuPartNumber": "SPE_E5", "displayName": "Microsoft 365 E5" },
        }])
    );
    let gina = data(&app, USER, json!({ "id": directory.gina.to_string() })).await;
    assert_eq!(gina["user"]["signInDataAvailable"], false);
    assert_eq!(gina["user"]["lastActivityAt"], Value::Null);
    assert_eq!(gina["user"]["licenses"][0]["assignedDirectly"], true);
    assert_eq!(
        gina["user"]["licenses"][0]["inheritedFromGroupIds"],
        json!(["all-staff"])
    );
    // Removed users stay readable by id, with the date they left.
    let erin = data(&app, USER, json!({ "id": directory.erin.to_string() })).await;
    assert!(erin["user"]["removedAt"].is_string());
    let missing = data(&app, USER, json!({ "id": "999999" })).await;
    assert_eq!(missing["user"], Value::Null);
    let anonymous = app
        .graphql_with_header(None, "{ users { totalCount } }")
        .await;
    assert_eq!(error_code(&anonymous.1), "UNAUTHENTICATED");
    db.close().await.ok();
    app.finish().await;
}

/// A page shows each user's licenses as the user read alone shows them, whether its selection
/// asks how each license came (read with the page) or only for the SKUs (read without it), and
/// also when it asks through a fragment; each way costs the page the same statements.
async fn a_page_shows_the_licenses_of_each_user_alone(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    directory(&db).await;
    let details = "assignedDirectly inheritedFromGroupIds state error disabledPlans";
    let sku = "sku { skuPartNumber displayName }";
    let pages = [
        format!(
            "{{ users(first: 50, filter: {{ includeRemoved: true }}) {{ nodes {{ id licenses {{ {details} {sku} }} }} }} }}"
        ),
        format!(
            "{{ users(first: 50, filter: {{ includeRemoved: true }}) {{ nodes {{ id licenses {{ ...how {sku} }} }} }} }} fragment how on LicenseAssignment {{ {details} }}"
        ),
        format!(
            "{{ users(first: 50, filter: {{ includeRemoved: true }}) {{ nodes {{ id licenses {{ {sku} }} }} }} }}"
        ),
    ];
    let mut statements = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        let before = app.metrics.sql_statements();
        let listed = data(&app, page, json!({})).await;
        statements.push(app.metrics.sql_statements() - before);
        let nodes = listed["users"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(nodes.len() >= 5, "{listed}");
        for node in nodes {
            let alone = data(&app, USER, json!({ "id": node["id"] })).await;
            let mut expected = alone["user"]["licenses"].clone();
            if index == 2 {
                for license in expected.as_array_mut().into_iter().flatten() {
                    *license = json!({ "sku": license["sku"] });
                }
            }
            assert_eq!(
                node["licenses"], expected,
                "page {index}, user {}",
                node["id"]
            );
        }
    }
    // Each page reads its licenses once, however it asks for them.
    assert_eq!(statements, [statements[2]; 3], "statements per page");
    db.close().await.ok();
    app.finish().await;
}

/// A page whose selection shows only names reads less of each user than one that shows more,
/// and answers the same: the same users, cursors and names in both orders by name, and the
/// other fields the same whether asked directly or through a fragment, at the same statements.
async fn a_page_of_names_answers_as_a_full_one(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    directory(&db).await;
    let page = |order: &str, node: &str, fragment: &str| {
        format!(
            "{{ users(first: 3, orderBy: {{ field: {order} }}) {{ pageInfo {{ endCursor }} \
             edges {{ cursor node {{ {node} }} }} }} }} {fragment}"
        )
    };
    let names = "id userPrincipalName displayName";
    let more = "mail accountEnabled userType lastSignInAt lastActivityAt signInDataAvailable";
    let fragment = format!("fragment more on DirectoryUser {{ {more} }}");
    for order in ["DISPLAY_NAME", "USER_PRINCIPAL_NAME"] {
        let mut answers = Vec::new();
        let mut statements = Vec::new();
        for query in [
            page(order, names, ""),
            page(order, &format!("{names} {more}"), ""),
            page(order, &format!("{names} ...more"), &fragment),
        ] {
            let before = app.metrics.sql_statements();
            answers.push(data(&app, &query, json!({})).await);
            statements.push(app.metrics.sql_statements() - before);
        }
        let [short, long, through_fragment] = [&answers[0], &answers[1], &answers[2]];
        assert_eq!(long, through_fragment, "{order}");
        assert_eq!(statements[1], statements[2], "{order}: statements");
        assert_eq!(statements[0], statements[1], "{order}: statements");
        assert_eq!(
            short["users"]["pageInfo"], long["users"]["pageInfo"],
            "{order}"
        );
        let edges = |answer: &Value| {
            answer["users"]["edges"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        let (short_edges, long_edges) = (edges(short), edges(long));
        assert_eq!(short_edges.len(), 3, "{short}");
        assert_eq!(short_edges.len(), long_edges.len(), "{order}");
        for (short, long) in short_edges.iter().zip(&long_edges) {
            assert_eq!(short["cursor"], long["cursor"], "{order}");
            for field in names.split(' ') {
                assert_eq!(
                    short["node"][field], long["node"][field],
                    "{order}: {field}"
                );
            }
            let alone = data(
                &app,
                &format!("query($id: ID!) {{ user(id: $id) {{ {more} }} }}"),
                json!({ "id": long["node"]["id"] }),
            )
            .await;
            for field in more.split(' ') {
                assert_eq!(
                    long["node"][field], alone["user"][field],
                    "{order}: {field}"
                );
            }
        }
    }
    db.close().await.ok();
    app.finish().await;
}

/// A page whose licenses show only their SKUs' names reads only those of each SKU, and answers
/// as a page that asks more of them; fields beyond the names, asked directly, through a
/// fragment or inline, answer as `licenseSkus` does, each way at the same statements.
async fn a_page_of_sku_names_answers_as_a_full_one(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    directory(&db).await;
    let names = "id skuId skuPartNumber displayName";
    let more = "capabilityStatus subscribed enabledUnits consumedUnits availableUnits lastSyncedAt";
    let page = |sku: &str, fragment: &str| {
        format!(
            "{{ users(first: 50, filter: {{ includeRemoved: true }}) {{ nodes {{ id \
             licenses {{ sku {{ {sku} }} }} }} }} }} {fragment}"
        )
    };
    let queries = [
        page(names, ""),
        page(&format!("{names} {more}"), ""),
        page(
            &format!("{names} ...more"),
            &format!("fragment more on LicenseSku {{ {more} }}"),
        ),
        page(&format!("{names} ... on LicenseSku {{ {more} }}"), ""),
    ];
    let mut answers = Vec::new();
    let mut statements = Vec::new();
    for query in &queries {
        let before = app.metrics.sql_statements();
        answers.push(data(&app, query, json!({})).await);
        statements.push(app.metrics.sql_statements() - before);
    }
    assert_eq!(statements, [statements[0]; 4], "statements per page");
    assert_eq!(answers[1], answers[2]);
    assert_eq!(answers[1], answers[3]);
    let listed = data(
        &app,
        &format!("{{ licenseSkus {{ {names} {more} }} }}"),
        json!({}),
    )
    .await;
    let listed = listed["licenseSkus"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let skus = |answer: &Value| -> Vec<Value> {
        answer["users"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|node| node["licenses"].as_array().cloned().unwrap_or_default())
            .map(|license| license["sku"].clone())
            .collect()
    };
    let (short, long) = (skus(&answers[0]), skus(&answers[1]));
    assert!(short.len() >= 4, "{}", answers[0]);
    assert_eq!(short.len(), long.len());
    for (short, long) in short.iter().zip(&long) {
        let expected = listed
            .iter()
            .find(|sku| sku["id"] == long["id"])
            .unwrap_or_else(|| panic!("{long} among {listed:?}"));
        assert_eq!(long, expected);
        let named: Value = names
            .split(' ')
            .map(|field| (field.to_owned(), expected[field].clone()))
            .collect::<serde_json::Map<_, _>>()
            .into();
        assert_eq!(short, &named);
    }
    db.close().await.ok();
    app.finish().await;
}

engine_tests!(
    hostile_filter_texts_are_refused_by_name,
    every_filter_narrows_the_list,
    every_order_puts_missing_values_last,
    after_and_before_bound_a_window,
    cursors_survive_a_concurrent_sync,
    empty_and_last_pages_say_so,
    page_arguments_are_checked,
    one_user_shows_how_each_license_came,
    a_page_shows_the_licenses_of_each_user_alone,
    a_page_of_names_answers_as_a_full_one,
    a_page_of_sku_names_answers_as_a_full_one,
);
