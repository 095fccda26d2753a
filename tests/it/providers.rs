//! Configuring Microsoft 365 providers through the API, as a Settings page or a script does.

use crate::common;

use chrono::{Duration, Utc};
use common::{Engine, TestApp, error_code};
use license_manager::auth::Role;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

const SECRET: &str = "Qx8~vN2pL.dR7sT-Wk4yZb9cFh3mJ6gA1eU5oIq0";
const SECRET_HINT: &str = "oIq0";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "535fb089-9ff3-47b6-9bfb-4f1264799865";

const CREATE: &str = "mutation($input: CreateMicrosoftProviderInput!) {
    createMicrosoftProvider(input: $input) {
        id name tenantId clientId cloud clientSecretHint clientSecretExpiresAt
        clientSecretStatus syncIntervalMinutes enabled userCount
    }
}";

fn create_input(name: &str, tenant: &str) -> Value {
    json!({ "input": {
        "name": name, "tenantId": tenant, "clientId": CLIENT,
        "clientSecret": format!("  {SECRET}\n"), "syncIntervalMinutes": 60,
    }})
}

async fn graphql(app: &TestApp, role: Role, query: &str, variables: Value) -> Value {
    let token = app.token(role, "settings-page");
    let response = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON")
}

async fn create(app: &TestApp, name: &str, tenant: &str) -> Value {
    let body = graphql(app, Role::Admin, CREATE, create_input(name, tenant)).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["createMicrosoftProvider"].clone()
}

async fn an_admin_creates_a_provider_and_sees_only_the_secret_hint(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let provider = create(&app, "Contoso", TENANT).await;
    assert_eq!(
        provider,
        json!({
            "id": provider["id"], "name": "Contoso", "tenantId": TENANT, "clientId": CLIENT,
            "cloud": "GLOBAL", "clientSecretHint": SECRET_HINT,
            "clientSecretExpiresAt": null, "clientSecretStatus": "UNKNOWN",
            "syncIntervalMinutes": 60, "enabled": true, "userCount": 0,
        })
    );
    let listed = app
        .query(Role::Viewer, "{ providers { name clientSecretHint } }")
        .await;
    assert_eq!(
        listed["providers"],
        json!([{ "name": "Contoso", "clientSecretHint": SECRET_HINT }])
    );
    app.finish().await;
}

async fn viewers_cannot_change_providers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let body = graphql(&app, Role::Viewer, CREATE, create_input("Contoso", TENANT)).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    assert_eq!(
        app.query(Role::Admin, "{ providers { id } }").await["providers"],
        json!([])
    );
    app.finish().await;
}

async fn invalid_input_names_every_bad_field(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let body = graphql(
        &app,
        Role::Admin,
        CREATE,
        json!({ "input": {
            "name": "  ", "tenantId": "not a tenant", "clientId": "1234",
            "clientSecret": "   ", "syncIntervalMinutes": 1,
        }}),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let fields: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .expect("a list of fields")
        .iter()
        .map(|field| field["field"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "tenantId",
            "clientId",
            "clientSecret",
            "syncIntervalMinutes"
        ]
    );
    assert_eq!(
        app.query(Role::Admin, "{ providers { id } }").await["providers"],
        json!([])
    );
    app.finish().await;
}

async fn control_characters_are_refused_in_every_field(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // PostgreSQL text cannot hold a NUL: the name answered INTERNAL.
    let body = graphql(
        &app,
        Role::Admin,
        CREATE,
        json!({ "input": {
            "name": "Contoso\u{0}", "tenantId": format!("{TENANT}\u{0}"),
            "clientId": format!("\u{0}{CLIENT}"), "clientSecret": format!("{SECRET}\u{0}x"),
        }}),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let fields: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .expect("a list of fields")
        .iter()
        .map(|field| field["field"].as_str().expect("a name"))
        .collect();
    assert_eq!(fields, ["name", "tenantId", "clientId", "clientSecret"]);

    let provider = create(&app, "Contoso", TENANT).await;
    let rename = "mutation($id: ID!, $name: String!) {
        updateMicrosoftProvider(id: $id, input: { name: $name }) { name } }";
    for name in ["Contoso\u{0}", "Con\ttoso", "Contoso\nFabrikam"] {
        let variables = json!({ "id": provider["id"], "name": name });
        let body = graphql(&app, Role::Admin, rename, variables).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{name:?}: {body}");
    }
    let listed = app.query(Role::Viewer, "{ providers { name } }").await;
    assert_eq!(listed["providers"], json!([{ "name": "Contoso" }]));
    assert_eq!(app.metrics.sql_errors(), 0, "no statement failed");
    app.finish().await;
}

async fn the_same_tenant_and_client_twice_is_a_conflict(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    create(&app, "Contoso", TENANT).await;
    // Same tenant, typed in upper case: still the same tenant.
    let body = graphql(
        &app,
        Role::Admin,
        CREATE,
        create_input("Contoso again", &TENANT.to_uppercase()),
    )
    .await;
    assert_eq!(error_code(&body), "CONFLICT");
    app.finish().await;
}

async fn updates_rename_rotate_and_clear(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let id = create(&app, "Contoso", "contoso.onmicrosoft.com").await["id"].clone();
    let expiry = (Utc::now() + Duration::days(10)).to_rfc3339();
    let body = graphql(
        &app,
        Role::Admin,
        "mutation($id: ID!, $input: UpdateMicrosoftProviderInput!) {
            updateMicrosoftProvider(id: $id, input: $input) {
                name cloud clientSecretHint clientSecretStatus syncIntervalMinutes
            }
        }",
        json!({ "id": id, "input": {
            "name": "Contoso EU", "clientSecret": "new-secret-value-000000000WXYZ",
            "cloud": "US_GOV", "clientSecretExpiresAt": expiry, "syncIntervalMinutes": null,
        }}),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["updateMicrosoftProvider"],
        json!({
            "name": "Contoso EU", "cloud": "US_GOV", "clientSecretHint": "WXYZ",
            "clientSecretStatus": "EXPIRING_SOON", "syncIntervalMinutes": null,
        })
    );

    let missing = graphql(
        &app,
        Role::Admin,
        "mutation { updateMicrosoftProvider(id: \"999999\", input: { name: \"x\" }) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
    app.finish().await;
}

/// The audit log, newest first, as an admin reads it.
async fn audit_events(app: &TestApp) -> Vec<Value> {
    let events = app
        .query(
            Role::Admin,
            "{ auditEvents(first: 50) { edges { node {
                subject role action targetType targetId outcome detail } } } }",
        )
        .await;
    events["auditEvents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

async fn a_secret_pasted_into_the_wrong_field_is_never_echoed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let body = graphql(
        &app,
        Role::Admin,
        CREATE,
        json!({ "input": {
            "name": "Contoso", "tenantId": SECRET, "clientId": SECRET, "clientSecret": SECRET,
        }}),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("clientId") && message.contains("GUID"),
        "{message}"
    );
    assert!(!body.to_string().contains(SECRET), "echoed: {body}");
    let body = graphql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { deleteProvider(id: $id) }",
        json!({ "id": SECRET }),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(!body.to_string().contains(SECRET), "echoed: {body}");

    let events = audit_events(&app).await;
    assert_eq!(events[0]["action"], "provider.create");
    assert_eq!(events[0]["outcome"], "FAILED");
    assert!(
        !events
            .iter()
            .any(|event| event.to_string().contains(SECRET)),
        "the audit log holds the secret: {events:?}"
    );
    app.finish().await;
}

async fn a_refused_mutation_is_audited_without_its_input(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let provider = create(&app, "Contoso", TENANT).await;
    let body = graphql(&app, Role::Viewer, CREATE, create_input("Fabrikam", TENANT)).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let body = graphql(
        &app,
        Role::Viewer,
        "mutation($id: ID!) { deleteProvider(id: $id) }",
        json!({ "id": provider["id"] }),
    )
    .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    // A query refused for the role is the caller's answer only.
    let body = graphql(
        &app,
        Role::Viewer,
        "{ auditEvents { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&body), "FORBIDDEN");

    let events = audit_events(&app).await;
    let refused: Vec<&Value> = events
        .iter()
        .filter(|event| event["outcome"] == "FORBIDDEN")
        .collect();
    assert_eq!(refused.len(), 2, "{events:?}");
    for (event, action) in refused.iter().zip(["provider.delete", "provider.create"]) {
        assert_eq!(event["action"], action);
        assert_eq!(event["subject"], "settings-page");
        assert_eq!(event["role"], "viewer");
        assert_eq!(event["targetType"], "provider");
        assert_eq!(event["targetId"], Value::Null, "no input, not even the id");
        assert_eq!(event["detail"]["code"], "FORBIDDEN");
        let why = event["detail"]["message"].as_str().unwrap_or_default();
        assert!(why.contains("admin role"), "{why}");
        let text = event.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains("Fabrikam"),
            "{text}"
        );
    }
    app.finish().await;
}

async fn deleting_a_provider_leaves_an_audit_trail(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let id = create(&app, "Contoso", TENANT).await["id"].clone();
    let body = graphql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { deleteProvider(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(body["data"]["deleteProvider"], id);
    let data = app
        .query(
            Role::Admin,
            &format!("{{ provider(id: {id}) {{ id }} providers {{ id }} }}"),
        )
        .await;
    assert_eq!(data, json!({ "provider": null, "providers": [] }));

    // A failed attempt is recorded too.
    let again = graphql(
        &app,
        Role::Admin,
        "mutation($id: ID!) { deleteProvider(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(error_code(&again), "NOT_FOUND");

    let events = audit_events(&app).await;
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|event| {
            (
                event["action"].as_str().unwrap_or_default().to_owned(),
                event["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("provider.delete".to_owned(), "FAILED".to_owned()),
            ("provider.delete".to_owned(), "SUCCEEDED".to_owned()),
            ("provider.create".to_owned(), "SUCCEEDED".to_owned()),
        ]
    );
    assert!(
        events
            .iter()
            .all(|event| event["subject"] == "settings-page")
    );
    assert!(
        !events
            .iter()
            .any(|event| event.to_string().contains(SECRET))
    );

    let denied = graphql(
        &app,
        Role::Viewer,
        "{ auditEvents { edges { cursor } } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    app.finish().await;
}

async fn the_secret_is_stored_sealed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    create(&app, "Contoso", TENANT).await;
    let db = app.database.connect().await;
    // Every column of every row of the providers and audit tables, as text.
    let dump = match engine {
        Engine::Postgres => {
            "SELECT CAST(p.* AS text) AS row_text FROM providers p UNION ALL SELECT CAST(a.* AS text) FROM audit_events a"
        }
        Engine::Sqlite => {
            "SELECT quote(client_secret_sealed) || name || config || account_key || client_secret_hint AS row_text FROM providers UNION ALL SELECT coalesce(detail, '') FROM audit_events"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), dump))
        .await
        .expect("dump");
    assert!(!rows.is_empty());
    for row in rows {
        let text: String = row.try_get("", "row_text").expect("text");
        assert!(!text.contains(SECRET), "plaintext secret stored: {text}");
    }
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint");
        let file =
            std::fs::read(app.data_path().join("license-manager.db")).expect("database file");
        assert!(
            !file
                .windows(SECRET.len())
                .any(|window| window == SECRET.as_bytes()),
            "plaintext secret in the database file"
        );
    }
    db.close().await.ok();
    app.finish().await;
}

/// What the contract gives a default may be sent as null or bound to an unset variable, as a
/// form does with a field left empty: the default applies.
async fn null_or_unset_means_the_default(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut input = create_input("Fabrikam", TENANT);
    input["input"]["cloud"] = Value::Null;
    let body = graphql(&app, Role::Admin, CREATE, input).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["createMicrosoftProvider"]["cloud"], "GLOBAL");
    let provider = body["data"]["createMicrosoftProvider"]["id"].clone();

    let start = "mutation($provider: ID!, $mode: SyncMode) {
        startSync(providerId: $provider, mode: $mode) { id mode }
        }";
    let unset = graphql(&app, Role::Admin, start, json!({ "provider": provider })).await;
    assert_eq!(unset["data"]["startSync"]["mode"], "AUTO", "{unset}");
    let run = unset["data"]["startSync"]["id"].clone();
    let cancel = "mutation($run: ID!) { cancelSync(id: $run) { status } }";
    let cancelled = graphql(&app, Role::Admin, cancel, json!({ "run": run })).await;
    assert_eq!(
        cancelled["data"]["cancelSync"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let null = json!({ "provider": provider, "mode": null });
    let null = graphql(&app, Role::Admin, start, null).await;
    assert_eq!(null["data"]["startSync"]["mode"], "AUTO", "{null}");

    let users = "query($removed: Boolean, $direction: OrderDirection) {
        users(filter: { includeRemoved: $removed },
              orderBy: { field: DISPLAY_NAME, direction: $direction }) { totalCount }
        }";
    for variables in [json!({}), json!({ "removed": null, "direction": null })] {
        let listed = graphql(&app, Role::Viewer, users, variables).await;
        assert_eq!(listed["data"]["users"]["totalCount"], 0, "{listed}");
    }
    app.finish().await;
}

/// A server started with another secret key (replaced, or another host's) shows which
/// providers it cannot use, until their secret is entered again.
async fn a_secret_sealed_with_another_key_is_flagged_until_entered_again(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let id = create(&app, "Contoso", TENANT).await["id"].clone();
    let readable = "{ providers { clientSecretReadable } }";
    let flags = |data: Value| data["providers"][0]["clientSecretReadable"].clone();
    assert_eq!(flags(app.query(Role::Viewer, readable).await), true);

    let (data_dir, database) = app.stop().await;
    std::fs::remove_file(
        data_dir
            .path()
            .join(license_manager::crypto::SECRET_KEY_FILE),
    )
    .expect("the generated key removed");
    let app = TestApp::start(data_dir, database).await;
    assert_eq!(flags(app.query(Role::Viewer, readable).await), false);

    let body = graphql(
        &app,
        Role::Admin,
        "mutation($id: ID!, $input: UpdateMicrosoftProviderInput!) {
            updateMicrosoftProvider(id: $id, input: $input) { clientSecretReadable }
        }",
        json!({ "id": id, "input": { "clientSecret": "entered-again-0000000000ABCD" } }),
    )
    .await;
    assert_eq!(
        body["data"]["updateMicrosoftProvider"]["clientSecretReadable"], true,
        "{body}"
    );
    app.finish().await;
}

/// A viewer's document of many mutations is refused whole and recorded once: the audit log grows
/// by one row per refused request, not by one per field the request names.
async fn a_refused_request_of_many_mutations_is_audited_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let provider = create(&app, "Contoso", TENANT).await;
    let fields: String = (0..10)
        .map(|n| format!("d{n}: deleteProvider(id: $id) "))
        .collect();
    let flood = format!("mutation($id: ID!) {{ {fields} }}");
    let refused_rows = |events: &[Value]| {
        events
            .iter()
            .filter(|event| event["outcome"] == "FORBIDDEN")
            .count()
    };
    for request in 1..=2 {
        let body = graphql(&app, Role::Viewer, &flood, json!({ "id": provider["id"] })).await;
        let errors = body["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 10, "every field is refused: {body}");
        assert!(
            errors
                .iter()
                .all(|error| error["extensions"]["code"] == "FORBIDDEN"),
            "{body}"
        );
        assert_eq!(refused_rows(&audit_events(&app).await), request);
    }
    let listed = app.query(Role::Viewer, "{ providers { name } }").await;
    assert_eq!(listed["providers"], json!([{ "name": "Contoso" }]));
    app.finish().await;
}

const FILTERED_EVENTS: &str = "query($filter: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $filter, first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { subject action outcome }
    }
}";

/// `(subject, action, outcome)` of the events a filter keeps, and whether more follow.
async fn filtered(app: &TestApp, variables: Value) -> (Vec<(String, String, String)>, Value) {
    let body = graphql(app, Role::Admin, FILTERED_EVENTS, variables).await;
    assert!(body.get("errors").is_none(), "{body}");
    let connection = &body["data"]["auditEvents"];
    let text = |value: &Value| value.as_str().expect("a text").to_owned();
    let events = connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            (
                text(&node["subject"]),
                text(&node["action"]),
                text(&node["outcome"]),
            )
        })
        .collect();
    (events, connection["pageInfo"].clone())
}

async fn audit_events_are_filtered_by_action_outcome_and_subject(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let provider = create(&app, "Contoso", TENANT).await;
    let conflict = graphql(&app, Role::Admin, CREATE, create_input("Contoso", TENANT)).await;
    assert_eq!(error_code(&conflict), "CONFLICT");
    let delete = "mutation($id: ID!) { deleteProvider(id: $id) }";
    let refused = graphql(&app, Role::Viewer, delete, json!({ "id": provider["id"] })).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let deleted = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(app.token(Role::Admin, "other-admin"))
        .json(&json!({ "query": delete, "variables": { "id": provider["id"] } }))
        .send()
        .await
        .expect("answered");
    assert_eq!(deleted.status(), StatusCode::OK);

    let event = |subject: &str, action: &str, outcome: &str| {
        (subject.to_owned(), action.to_owned(), outcome.to_owned())
    };
    let (all, _) = filtered(&app, json!({})).await;
    assert_eq!(all.len(), 4, "{all:?}");
    let (creates, _) = filtered(&app, json!({ "filter": { "action": "provider.create" } })).await;
    assert_eq!(
        creates,
        [
            event("settings-page", "provider.create", "FAILED"),
            event("settings-page", "provider.create", "SUCCEEDED"),
        ],
        "newest first"
    );
    let (failed, _) = filtered(
        &app,
        json!({ "filter": { "action": "provider.create", "outcome": "FAILED" } }),
    )
    .await;
    assert_eq!(
        failed,
        [event("settings-page", "provider.create", "FAILED")]
    );
    let (forbidden, _) = filtered(&app, json!({ "filter": { "outcome": "FORBIDDEN" } })).await;
    assert_eq!(
        forbidden,
        [event("settings-page", "provider.delete", "FORBIDDEN")]
    );
    let (other, _) = filtered(&app, json!({ "filter": { "subject": " other-admin " } })).await;
    assert_eq!(
        other,
        [event("other-admin", "provider.delete", "SUCCEEDED")]
    );
    let (blank, _) = filtered(&app, json!({ "filter": { "action": "", "subject": null } })).await;
    assert_eq!(blank, all, "a blank text filters nothing");

    // Pages of a filtered listing hold only its events.
    let (first, page) = filtered(
        &app,
        json!({ "filter": { "action": "provider.create" }, "first": 1 }),
    )
    .await;
    assert_eq!(first, creates[..1]);
    assert_eq!(page["hasNextPage"], true);
    let (second, page) = filtered(
        &app,
        json!({ "filter": { "action": "provider.create" }, "first": 1,
                "after": page["endCursor"] }),
    )
    .await;
    assert_eq!(second, creates[1..]);
    assert_eq!(page["hasNextPage"], false);

    let long = "a".repeat(300);
    for (bad, field) in [
        (json!({ "action": "provider\u{0}create" }), "action"),
        (json!({ "subject": long }), "subject"),
    ] {
        let body = graphql(&app, Role::Admin, FILTERED_EVENTS, json!({ "filter": bad })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["fields"][0]["field"], field);
    }
    let body = graphql(&app, Role::Viewer, FILTERED_EVENTS, json!({ "filter": {} })).await;
    assert_eq!(
        error_code(&body),
        "FORBIDDEN",
        "admins only, filtered or not"
    );
    app.finish().await;
}

engine_tests!(
    audit_events_are_filtered_by_action_outcome_and_subject,
    a_refused_request_of_many_mutations_is_audited_once,
    a_refused_mutation_is_audited_without_its_input,
    a_secret_pasted_into_the_wrong_field_is_never_echoed,
    control_characters_are_refused_in_every_field,
    an_admin_creates_a_provider_and_sees_only_the_secret_hint,
    viewers_cannot_change_providers,
    invalid_input_names_every_bad_field,
    the_same_tenant_and_client_twice_is_a_conflict,
    updates_rename_rotate_and_clear,
    deleting_a_provider_leaves_an_audit_trail,
    the_secret_is_stored_sealed,
    null_or_unset_means_the_default,
    a_secret_sealed_with_another_key_is_flagged_until_entered_again,
);
