//! Schema changes applied to a database that an earlier schema created and filled: what an
//! upgrade meets in the field.

use crate::common;

use common::fixtures::LegacyProvider;
use common::{Engine, Options, TestApp, TestDatabase, error_code};
use graph_sim::SimServer;
use license_manager::auth::Role;
use license_manager::crypto::SecretKeyring;
use license_manager::providers::microsoft365::graph::{
    ClientConfig, Cloud, Credentials, GraphClient, SecretString,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// The last migration before providers kept their configuration as a kind's JSON.
const BEFORE_PROVIDER_CONFIG: &str = "m20261129_000050_license_sources";

/// Migrates `db` up to and including the migration named `last`.
async fn migrate_up_to(db: &DatabaseConnection, last: &str) {
    let steps = Migrator::migrations()
        .iter()
        .position(|migration| migration.name() == last)
        .expect("the migration exists") as u32
        + 1;
    Migrator::up(db, Some(steps))
        .await
        .expect("the earlier schema is created");
}

/// How many migrations follow the one named `last`: what `down` takes to return to it.
fn newer_than(last: &str) -> u32 {
    let all = Migrator::migrations();
    let position = all
        .iter()
        .position(|migration| migration.name() == last)
        .expect("the migration exists");
    (all.len() - position - 1) as u32
}

/// A provider of the earlier schema whose secret `keyring` seals as that version did.
fn sealed_provider<'a>(
    keyring: &SecretKeyring,
    name: &'a str,
    tenant_id: String,
    client_id: String,
    secret: &str,
) -> LegacyProvider<'a> {
    let context = format!("provider-client-secret:{tenant_id}:{client_id}");
    LegacyProvider {
        tenant_id,
        client_id,
        secret: keyring
            .seal(&SecretString::from(secret.to_owned()), &context)
            .expect("sealed"),
        sign_in: Some("AVAILABLE"),
        ..LegacyProvider::named(name)
    }
}

/// A delta link the simulated tenant issued, as a full sync of the earlier version kept it.
async fn delta_link(sim: &SimServer) -> String {
    let overrides = license_manager::providers::microsoft365::EndpointOverrides {
        login_url: Some(sim.base_url().to_owned()),
        graph_url: Some(sim.base_url().to_owned()),
    };
    let credentials = Credentials::new(
        sim.tenant_id().to_string(),
        sim.client_id().to_string(),
        SecretString::from(sim.client_secret()),
        Cloud::Global,
    );
    GraphClient::new(credentials, &overrides, ClientConfig::default())
        .expect("a client")
        .latest_delta_link()
        .await
        .expect("a delta link")
}

async fn stored_links(db: &DatabaseConnection) -> Vec<(String, Option<String>)> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT name, delta_link FROM providers ORDER BY id",
    ))
    .await
    .expect("providers read")
    .iter()
    .map(|row| {
        (
            row.try_get("", "name").expect("name"),
            row.try_get("", "delta_link").expect("delta link"),
        )
    })
    .collect()
}

/// Providers of the schema before kind configurations keep their tenant, app, cloud, delta link
/// and secret: after the upgrade they show as before, resume incremental syncs from the stored
/// link, and their sealed secrets still sign in.
async fn providers_survive_the_move_to_kind_configuration(engine: Engine) {
    let sim = common::graph::tenant(30, 22).await;
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let database = TestDatabase::create(engine, data_dir.path()).await;
    let db = database.connect().await;
    migrate_up_to(&db, BEFORE_PROVIDER_CONFIG).await;
    // The key file the server finds in its data folder when it starts.
    let keyring = SecretKeyring::load(None, data_dir.path()).expect("keyring");
    let link = delta_link(&sim).await;
    let simulated = LegacyProvider {
        delta_link: Some(link.clone()),
        ..sealed_provider(
            &keyring,
            "Contoso",
            sim.tenant_id().to_string(),
            sim.client_id().to_string(),
            &sim.client_secret(),
        )
    };
    let national = LegacyProvider {
        cloud: "US_GOV",
        ..sealed_provider(
            &keyring,
            "Fabrikam US",
            "fabrikam.onmicrosoft.us".into(),
            "535fb089-9ff3-47b6-9bfb-4f1264799865".into(),
            "Qx8~vN2pL.dR7sT-Wk4yZb9cFh3mJ6gA1eU5oIq0",
        )
    };
    simulated.insert(&db).await;
    national.insert(&db).await;
    let before = stored_links(&db).await;
    db.close().await.ok();

    let app = TestApp::start_with(data_dir, database, Options::with_graph(sim.base_url())).await;
    let shown = app
        .query(
            Role::Admin,
            "{ providers { id name kind tenantId clientId cloud clientSecretReadable } }",
        )
        .await;
    let providers = shown["providers"].as_array().expect("a list");
    let id = providers[0]["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        shown,
        json!({ "providers": [
            { "id": id, "name": "Contoso", "kind": "MICROSOFT_365",
              "tenantId": simulated.tenant_id, "clientId": simulated.client_id,
              "cloud": "GLOBAL", "clientSecretReadable": true },
            { "id": providers[1]["id"], "name": "Fabrikam US", "kind": "MICROSOFT_365",
              "tenantId": national.tenant_id, "clientId": national.client_id,
              "cloud": "US_GOV", "clientSecretReadable": true },
        ]})
    );
    let db = app.database.connect().await;
    assert_eq!(
        stored_links(&db).await,
        before,
        "delta links are kept as they were"
    );
    db.close().await.ok();

    // The kept link and the kept secret: an incremental round, not a full listing.
    let run = app.sync(&id, "DELTA").await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(run["effectiveMode"], "DELTA", "{run}");
    let tested = app
        .admin(
            "mutation($id: ID!) { testProviderConnection(id: $id) { ok } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        tested["data"]["testProviderConnection"]["ok"], true,
        "{tested}"
    );

    // The national tenant's secret opens too: its test reaches the sign-in, which the
    // simulator refuses for a tenant it does not hold.
    let tested = app
        .admin(
            "mutation($id: ID!) { testProviderConnection(id: $id) { ok checks { name ok code } } }",
            json!({ "id": providers[1]["id"] }),
        )
        .await;
    let checks = &tested["data"]["testProviderConnection"]["checks"];
    assert_eq!(checks[0]["name"], "token", "{tested}");
    assert_ne!(checks[0]["code"], "INTERNAL", "{tested}");

    // Tenant and app still name one provider only.
    let again = app
        .admin(
            "mutation($input: CreateMicrosoftProviderInput!) {
                createMicrosoftProvider(input: $input) { id } }",
            json!({ "input": {
                "name": "Contoso again", "tenantId": simulated.tenant_id,
                "clientId": simulated.client_id, "clientSecret": sim.client_secret(),
            }}),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT");
    app.finish().await;
}

/// Down and up again: the Microsoft columns come back filled, and the providers survive the
/// round trip.
async fn the_provider_configuration_migration_can_be_reverted(engine: Engine) {
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let database = TestDatabase::create(engine, data_dir.path()).await;
    let db = database.connect().await;
    migrate_up_to(&db, BEFORE_PROVIDER_CONFIG).await;
    let old = LegacyProvider {
        cloud: "CHINA",
        delta_link: Some("https://example.test/delta?token=1".into()),
        ..LegacyProvider::named("Contoso")
    };
    old.insert(&db).await;
    Migrator::up(&db, None)
        .await
        .expect("migrated to the latest");
    Migrator::down(&db, Some(newer_than(BEFORE_PROVIDER_CONFIG)))
        .await
        .expect("reverted");
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT tenant_id, client_id, cloud, delta_link FROM providers",
        ))
        .await
        .expect("read")
        .expect("the provider is kept");
    let columns: Vec<Option<String>> = ["tenant_id", "client_id", "cloud", "delta_link"]
        .iter()
        .map(|column| row.try_get("", column).expect("a text column"))
        .collect();
    assert_eq!(
        columns,
        [
            Some(old.tenant_id.clone()),
            Some(old.client_id.clone()),
            Some("CHINA".into()),
            old.delta_link.clone()
        ]
    );
    Migrator::up(&db, None).await.expect("migrated again");
    let config: String = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT config FROM providers",
        ))
        .await
        .expect("read")
        .expect("the provider is kept")
        .try_get("", "config")
        .expect("text");
    let config: Value = serde_json::from_str(&config).expect("JSON");
    assert_eq!(
        config,
        json!({ "tenantId": old.tenant_id, "clientId": old.client_id, "cloud": "CHINA" })
    );
    db.close().await.ok();
    database.drop_database().await;
}

/// The last migration before API tokens.
const BEFORE_API_TOKENS: &str = "m20261207_000060_provider_config";

/// A database of the schema before API tokens gains their table on start, keeps its providers,
/// and serves a token at once; the migration reverts and applies again.
async fn api_tokens_arrive_on_an_existing_database(engine: Engine) {
    let data_dir = tempfile::tempdir().expect("temporary data folder");
    let database = TestDatabase::create(engine, data_dir.path()).await;
    let db = database.connect().await;
    migrate_up_to(&db, BEFORE_API_TOKENS).await;
    db.close().await.ok();

    let app = TestApp::start(data_dir, database).await;
    let created = app
        .admin(
            "mutation { createApiToken(input: { name: \"upgraded\", role: VIEWER }) { token } }",
            json!({}),
        )
        .await;
    let token = created["data"]["createApiToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let (status, body) = app
        .graphql_with_header(Some(&format!("Bearer {token}")), "{ viewer { role } }")
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    let db = app.database.connect().await;
    Migrator::down(&db, Some(newer_than(BEFORE_API_TOKENS)))
        .await
        .expect("reverted");
    let gone = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM api_tokens",
        ))
        .await;
    assert!(gone.is_err(), "the table is dropped");
    Migrator::up(&db, None).await.expect("migrated again");
    db.close().await.ok();
    app.finish().await;
}

engine_tests!(
    providers_survive_the_move_to_kind_configuration,
    the_provider_configuration_migration_can_be_reverted,
    api_tokens_arrive_on_an_existing_database,
);
