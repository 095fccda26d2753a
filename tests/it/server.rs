//! The server as an operator meets it: migrations on an empty database, health and readiness,
//! GraphiQL, the database's own guarantees, and a restart that keeps data and keys.

use crate::common;

use chrono::Utc;
use common::{Engine, TestApp, TestDatabase};
use license_manager::auth::Role;
use license_manager::entities::{directory_users, providers, sync_runs};
use reqwest::StatusCode;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    Set, Statement,
};
use serde_json::{Value, json};

const TABLES: [&str; 8] = [
    "audit_events",
    "directory_users",
    "license_assignments",
    "license_skus",
    "license_snapshots",
    "providers",
    "subscriptions",
    "sync_runs",
];

async fn table_names(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("table list")
        .iter()
        .map(|row| row.try_get::<String>("", "name").expect("name column"))
        .collect()
}

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

fn provider(name: &str, tenant: &str) -> providers::ActiveModel {
    let now = Utc::now();
    providers::ActiveModel {
        kind: Set("microsoft365".into()),
        name: Set(name.into()),
        config: Set(
            json!({ "tenantId": tenant, "clientId": CLIENT_ID, "cloud": "GLOBAL" }).to_string(),
        ),
        account_key: Set(format!("{tenant}:{CLIENT_ID}")),
        client_secret_sealed: Set(vec![1, 2, 3]),
        client_secret_key_id: Set("k1".into()),
        client_secret_hint: Set("abcd".into()),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

fn user(provider_id: i64, external_id: &str) -> directory_users::ActiveModel {
    let now = Utc::now();
    directory_users::ActiveModel {
        provider_id: Set(provider_id),
        external_id: Set(external_id.into()),
        user_principal_name: Set(format!("{external_id}@contoso.com")),
        search_text: Set(external_id.into()),
        account_enabled: Set(true),
        first_seen_at: Set(now),
        last_seen_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

fn queued_run(provider_id: i64) -> sync_runs::ActiveModel {
    sync_runs::ActiveModel {
        provider_id: Set(provider_id),
        trigger: Set("manual".into()),
        mode: Set("FULL".into()),
        status: Set("QUEUED".into()),
        warnings: Set(json!([])),
        attempt: Set(0),
        cancel_requested: Set(false),
        queued_at: Set(Utc::now()),
        ..Default::default()
    }
}

async fn migrations_create_every_table_on_an_empty_database(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let tables = table_names(&db).await;
    for table in TABLES {
        assert!(
            tables.iter().any(|name| name == table),
            "{table} missing from {tables:?}"
        );
    }
    assert!(tables.iter().any(|name| name == "seaql_migrations"));
    assert_eq!(
        license_manager::db::pending_migrations(&db)
            .await
            .expect("state"),
        0
    );
    // Applying them again (every start does) changes nothing.
    license_manager::db::migrate(&db).await.expect("idempotent");
    assert_eq!(table_names(&db).await, tables);
    db.close().await.ok();
    app.finish().await;
}

async fn deleting_a_provider_removes_its_synced_data(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let kept = provider("kept", "kept.onmicrosoft.com")
        .insert(&db)
        .await
        .expect("insert");
    let gone = provider("gone", "gone.onmicrosoft.com")
        .insert(&db)
        .await
        .expect("insert");
    user(kept.id, "a").insert(&db).await.expect("insert");
    user(gone.id, "b").insert(&db).await.expect("insert");
    queued_run(gone.id).insert(&db).await.expect("insert");

    providers::Entity::delete_by_id(gone.id)
        .exec(&db)
        .await
        .expect("delete");

    assert_eq!(
        directory_users::Entity::find()
            .count(&db)
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        sync_runs::Entity::find().count(&db).await.expect("count"),
        0
    );
    db.close().await.ok();
    app.finish().await;
}

async fn the_schema_refuses_duplicates(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let first = provider("one", "contoso.onmicrosoft.com")
        .insert(&db)
        .await
        .expect("insert");
    assert!(
        provider("two", "contoso.onmicrosoft.com")
            .insert(&db)
            .await
            .is_err(),
        "same tenant and client twice"
    );
    user(first.id, "same-object")
        .insert(&db)
        .await
        .expect("insert");
    assert!(
        user(first.id, "same-object").insert(&db).await.is_err(),
        "same Graph object twice in one provider"
    );
    queued_run(first.id).insert(&db).await.expect("insert");
    assert!(
        queued_run(first.id).insert(&db).await.is_err(),
        "a second active sync of one provider"
    );
    db.close().await.ok();
    app.finish().await;
}

async fn health_and_readiness_answer(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.expect("JSON"),
        json!({ "status": "ready" })
    );
    app.finish().await;
}

async fn a_restart_keeps_data_and_the_generated_signing_key(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.token(Role::Viewer, "returning-user");
    let key_file = app.data_path().join(license_manager::app::JWT_SECRET_FILE);
    let key_before = std::fs::read(&key_file).expect("key file written on first start");
    let db = app.database.connect().await;
    provider("Contoso", "contoso.onmicrosoft.com")
        .insert(&db)
        .await
        .expect("insert");
    db.close().await.ok();

    let (data_dir, database) = app.stop().await;
    let app = TestApp::start(data_dir, database).await;

    assert_eq!(std::fs::read(&key_file).expect("key file"), key_before);
    let (status, body) = app
        .graphql_with_header(
            Some(&format!("Bearer {token}")),
            "{ viewer { subject } providers { name tenantId cloud userCount clientSecretHint } }",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!({
            "viewer": { "subject": "returning-user" },
            "providers": [{
                "name": "Contoso", "tenantId": "contoso.onmicrosoft.com", "cloud": "GLOBAL",
                "userCount": 0, "clientSecretHint": "abcd"
            }]
        })
    );
    app.finish().await;
}

async fn providers_count_only_current_users(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = provider("Contoso", "contoso.onmicrosoft.com")
        .insert(&db)
        .await
        .expect("insert");
    let fabrikam = provider("Fabrikam", "fabrikam.onmicrosoft.com")
        .insert(&db)
        .await
        .expect("insert");
    for id in ["a", "b", "c"] {
        user(contoso.id, id).insert(&db).await.expect("insert");
    }
    let mut removed = user(contoso.id, "left");
    removed.removed_at = Set(Some(Utc::now()));
    removed.insert(&db).await.expect("insert");
    user(fabrikam.id, "z").insert(&db).await.expect("insert");
    db.close().await.ok();

    let data = app
        .query(Role::Viewer, "{ providers { name kind userCount } }")
        .await;
    assert_eq!(
        data["providers"],
        json!([
            { "name": "Contoso", "kind": "MICROSOFT_365", "userCount": 3 },
            { "name": "Fabrikam", "kind": "MICROSOFT_365", "userCount": 1 },
        ])
    );
    app.finish().await;
}

async fn metrics_are_served_in_prometheus_format(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.query(Role::Viewer, "{ providers { id } }").await;
    let response = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert!(value("license_manager_sql_statements_total ") > 0);
    assert_eq!(value("license_manager_sync_runs{status=\"RUNNING\"} "), 0);
    assert!(text.contains("# TYPE license_manager_sql_statements_total counter"));
    app.finish().await;
}

engine_tests!(
    metrics_are_served_in_prometheus_format,
    migrations_create_every_table_on_an_empty_database,
    deleting_a_provider_removes_its_synced_data,
    the_schema_refuses_duplicates,
    health_and_readiness_answer,
    a_restart_keeps_data_and_the_generated_signing_key,
    providers_count_only_current_users,
);

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let db = app.database.connect().await;
    // A plain connection reports the file's journal mode, which the server set persistently.
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .expect("pragma")
        .expect("a row");
    assert_eq!(
        row.try_get::<String>("", "journal_mode").expect("text"),
        "wal"
    );
    db.close().await.ok();
    app.finish().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_behind_this_binary() {
    let data_dir = tempfile::tempdir().expect("temporary folder");
    let database = TestDatabase::create(Engine::Sqlite, data_dir.path()).await;
    let app = TestApp::start(data_dir, database).await;
    let db = app.database.connect().await;
    db.execute_unprepared("DELETE FROM seaql_migrations")
        .await
        .expect("forget migrations");
    db.close().await.ok();

    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("answered");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.json::<Value>().await.expect("JSON")["status"],
        "unavailable"
    );
    app.finish().await;
}

#[tokio::test]
async fn graphiql_loads_without_a_token_and_explains_the_header() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let response = app
        .http
        .get(app.url("/graphql"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/html")
    );
    let page = response.text().await.expect("HTML");
    assert!(page.contains("GraphiQL"));
    assert!(
        page.contains("defaultHeaders"),
        "the Headers tab is pre-filled"
    );
    assert!(page.contains("license-manager token --role admin"));
    assert!(page.contains("Authorization: Bearer"));

    // Everything the page loads comes from this server, so it works without internet access.
    let assets: Vec<&str> = page
        .split(['"', '\''])
        .filter(|part| part.starts_with("/graphiql/"))
        .collect();
    assert_eq!(assets.len(), 4, "{assets:?}");
    assert!(!page.contains("https://"), "no third-party script or style");
    for asset in assets {
        let response = app.http.get(app.url(asset)).send().await.expect("answered");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(
            response.bytes().await.expect("body").len() > 1_000,
            "{asset}"
        );
    }
    let missing = app
        .http
        .get(app.url("/graphiql/0.0.0/graphiql.min.js"))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}
