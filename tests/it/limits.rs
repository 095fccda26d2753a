//! Abusive documents are refused with an error that names the limit, and the server keeps
//! serving the next caller.

use crate::common;

use common::fixtures::{self, gql};
use common::{Engine, TestApp, error_code};
use license_manager::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn still_serving(app: &TestApp) {
    let viewer = app.query(Role::Viewer, "{ viewer { subject } }").await;
    assert_eq!(viewer["viewer"]["subject"], "test");
}

fn limit_of(body: &Value) -> &str {
    body["errors"][0]["extensions"]["limit"]
        .as_str()
        .unwrap_or_else(|| panic!("an error naming its limit: {body}"))
}

async fn over_complex_and_over_deep_documents_name_their_limit(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // 500 users × 500 holders of each of their SKUs: far beyond the budget.
    let wide = "{ users(first: 500) { nodes { licenses { sku {
        holders(first: 500) { nodes { userPrincipalName } } } } } } }";
    let body = gql(&app, Role::Viewer, wide, json!({})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(limit_of(&body), "maxComplexity");
    assert_eq!(body["errors"][0]["extensions"]["max"], 50_000);
    let message = body["errors"][0]["message"].as_str().expect("a message");
    assert!(message.contains("50000"), "{message}");
    still_serving(&app).await;

    // The same shape with small pages fits.
    let narrow = "{ users(first: 10) { nodes { licenses { sku {
        holders(first: 10) { nodes { userPrincipalName } } } } } } }";
    let fits = gql(&app, Role::Viewer, narrow, json!({})).await;
    assert!(fits.get("errors").is_none(), "{fits}");

    // Deep but cheap: a provider's last run's provider's last run…, 16 levels down.
    let deep = format!(
        "{{ users(first: 1) {{ nodes {{ {} id {} }} }} }}",
        "provider { lastSyncRun { ".repeat(7),
        "} } ".repeat(7)
    );
    let body = gql(&app, Role::Viewer, &deep, json!({})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(limit_of(&body), "maxDepth");
    still_serving(&app).await;

    // Flat to the parser, but 20,000 fragments each spreading the next: followed to its end,
    // the chain would overflow the stack of whatever walks it.
    let mut chain = String::from("{ ...F0 }");
    for n in 0..20_000 {
        chain.push_str(&format!(" fragment F{n} on Query {{ ...F{} }}", n + 1));
    }
    chain.push_str(" fragment F20000 on Query { viewer { subject } }");
    let body = gql(&app, Role::Viewer, &chain, json!({})).await;
    assert_eq!(limit_of(&body), "maxDepth", "{body}");
    still_serving(&app).await;
    app.finish().await;
}

/// What GraphiQL, codegen and IDE plugins send to learn the schema.
const INTROSPECTION: &str = include_str!("../contract/introspection.graphql");

async fn schema_tools_introspect_but_an_introspection_fan_out_is_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let body = gql(&app, Role::Viewer, INTROSPECTION, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let schema = &body["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    // The deepest part a tool reads: a field's type through its non-null and list wrappers.
    let types = schema["types"].as_array().expect("a list of types");
    let query = types
        .iter()
        .find(|ty| ty["name"] == "Query")
        .expect("the Query type");
    let providers = query["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|field| field["name"] == "providers"))
        .expect("Query.providers");
    let unwrapped = &providers["type"]["ofType"]["ofType"]["ofType"];
    assert_eq!(unwrapped["name"], "Provider", "[Provider!]!: {providers}");

    // Introspection that fans out at every level is as deep as it looks.
    let fan_out = format!(
        "{{ __type(name: \"Query\") {{ {} name {} }} }}",
        "fields { type { ".repeat(7),
        "} } ".repeat(7)
    );
    let body = gql(&app, Role::Viewer, &fan_out, json!({})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(limit_of(&body), "maxDepth");
    assert_eq!(body["errors"][0]["extensions"]["max"], 12);
    still_serving(&app).await;
    app.finish().await;
}

/// SQL statements the server ran for one GraphQL request, and its answer.
async fn statements(app: &TestApp, role: Role, query: &str) -> (u64, Value) {
    let before = app.metrics.sql_statements();
    let body = gql(app, role, query, json!({})).await;
    (app.metrics.sql_statements() - before, body)
}

async fn a_count_bomb_is_refused_before_anything_runs(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    for name in ["adele", "alex", "megan"] {
        fixtures::NewUser::named(name).insert(&db, contoso).await;
    }

    // 15,000 counts, each with its own search, in one viewer request.
    let aliases: String = (0..15_000)
        .map(|n| format!("u{n}: users(first: 1, filter: {{ search: \"x{n}\" }}) {{ totalCount }} "))
        .collect();
    let (ran, body) = statements(&app, Role::Viewer, &format!("{{ {aliases} }}")).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(limit_of(&body), "maxRootFields");
    assert_eq!(body["errors"][0]["extensions"]["max"], 50);
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(ran, 0, "a refused request runs no statement");
    still_serving(&app).await;

    // A connection in each item of a page is priced for every item, as each may count or scan:
    // the holders (and their count) of each license of 100 users are refused, of 20 they fit.
    let nested = |users: usize| {
        format!(
            "{{ users(first: {users}) {{ nodes {{ licenses {{ sku {{
                holders(first: 1) {{ totalCount }} }} }} }} }} }}"
        )
    };
    let body = gql(&app, Role::Viewer, &nested(100), json!({})).await;
    assert_eq!(limit_of(&body), "maxComplexity", "{body}");
    let body = gql(&app, Role::Viewer, &nested(20), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");

    // Aliases of one connection's count share one COUNT.
    let (once, body) = statements(&app, Role::Viewer, "{ users { totalCount } }").await;
    assert_eq!(body["data"]["users"]["totalCount"], 3, "{body}");
    let (aliased, body) = statements(
        &app,
        Role::Viewer,
        "{ users { a: totalCount b: totalCount c: totalCount } }",
    )
    .await;
    assert_eq!(body["data"]["users"]["c"], 3, "{body}");
    assert_eq!(aliased, once, "three aliases of one count ran one COUNT");
    app.finish().await;
}

async fn one_connection_test_per_request(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    let tests = |count: usize| {
        let aliases: String = (0..count)
            .map(|n| format!("t{n}: testProviderConnection(id: {contoso}) {{ ok }} "))
            .collect();
        format!("mutation {{ {aliases} }}")
    };

    let (ran, body) = statements(&app, Role::Admin, &tests(300)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(limit_of(&body), "maxRootFields");
    assert_eq!(ran, 0, "a refused request runs no statement");

    let (ran, body) = statements(&app, Role::Admin, &tests(2)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(limit_of(&body), "maxConnectionTests");
    assert_eq!(body["errors"][0]["extensions"]["max"], 1);
    assert_eq!(ran, 0, "neither test ran, so neither called Microsoft");
    still_serving(&app).await;
    app.finish().await;
}

/// The status and JSON body of an answer that must be an error in the one shape of every route:
/// `{"errors": [{"message", "extensions": {"code"}}]}`.
async fn refusal(response: reqwest::Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("a body");
    assert!(
        content_type.starts_with("application/json"),
        "{status} {content_type}: {text}"
    );
    let body: Value = serde_json::from_str(&text).expect("a JSON body");
    let code = error_code(&body).to_owned();
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{body}");
    assert!(
        !message.contains("Error(") && !message.contains("InvalidRequest"),
        "no Rust debug text: {message}"
    );
    (status, code, body)
}

async fn malformed_requests_are_answered_in_one_shape(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.token(Role::Viewer, "test");
    let post = |body: String, content_type: &'static str| {
        app.http
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let nested = format!(
        r#"{{"query": "{{ viewer {{ subject }} }}", "variables": {{"a": {}{}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let bodies = [
        (
            "bad JSON",
            r#"{"query": "{ viewer { subject } }""#.to_owned(),
        ),
        (
            "a batch",
            r#"[{"query": "{ viewer { subject } }"}]"#.to_owned(),
        ),
        ("nesting past the JSON recursion limit", nested),
        (
            "JSON of the wrong shape",
            r#"{"query": {"clientSecret": "s3cr3t-pasted"}}"#.to_owned(),
        ),
    ];
    for (what, body) in bodies {
        let response = post(body, "application/json").await.expect("answered");
        let (status, code, body) = refusal(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(code, "BAD_REQUEST", "{what}: {body}");
        assert!(
            !body.to_string().contains("s3cr3t"),
            "{what}: echoed: {body}"
        );
    }
    // GraphQL over HTTP reads JSON bodies only: another type is refused before it is read.
    let response = post(
        r#"{"query": "{ viewer { subject } }"}"#.into(),
        "text/plain",
    )
    .await
    .expect("answered");
    let (status, code, _) = refusal(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
    );

    let padding = " ".repeat(2 * 1024 * 1024);
    let query = format!("{{ viewer {{ subject }} }}{padding}");
    let response = post(json!({ "query": query }).to_string(), "application/json")
        .await
        .expect("answered");
    let (status, code, _) = refusal(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code, "PAYLOAD_TOO_LARGE");

    // The other routes answer their errors in the same shape.
    let response = app
        .http
        .get(app.url("/nowhere"))
        .send()
        .await
        .expect("answered");
    let (status, code, _) = refusal(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    let response = app
        .http
        .put(app.url("/graphql"))
        .send()
        .await
        .expect("answered");
    let (status, code, _) = refusal(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(code, "METHOD_NOT_ALLOWED");
    for path in [
        "/export/users.csv?colour=red",
        "/export/skus.csv?providerId=x",
    ] {
        let response = app
            .http
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answered");
        let (status, code, _) = refusal(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(code, "BAD_USER_INPUT", "{path}");
    }
    let response = app
        .http
        .get(app.url("/export/users.csv"))
        .send()
        .await
        .expect("answered");
    let (status, code, _) = refusal(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
    still_serving(&app).await;
    app.finish().await;
}

/// Thirty fragments each spreading the next twice, below one field: a few hundred bytes that
/// expand to a billion selections. Refused before validation would walk them, which no request
/// timeout can interrupt (it is CPU, not waiting).
async fn a_fragment_bomb_below_a_field_is_refused_before_validation(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut bomb = String::from("{ viewer { ...F0 } }");
    for level in 0..30 {
        let next = level + 1;
        bomb.push_str(&format!(
            " fragment F{level} on Viewer {{ ...F{next} ...F{next} }}"
        ));
    }
    bomb.push_str(" fragment F30 on Viewer { subject }");
    let (ran, body) = statements(&app, Role::Viewer, &bomb).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(limit_of(&body), "maxSelections", "{body}");
    assert_eq!(ran, 0, "a refused request runs no statement");
    still_serving(&app).await;
    app.finish().await;
}

engine_tests!(
    a_fragment_bomb_below_a_field_is_refused_before_validation,
    over_complex_and_over_deep_documents_name_their_limit,
    schema_tools_introspect_but_an_introspection_fan_out_is_refused,
    a_count_bomb_is_refused_before_anything_runs,
    one_connection_test_per_request,
    malformed_requests_are_answered_in_one_shape,
);
