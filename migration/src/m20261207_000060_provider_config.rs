//! A provider's configuration belongs to its kind: `providers` keeps it as JSON text in `config`
//! (for Microsoft 365: `{"tenantId":…,"clientId":…,"cloud":…}`) beside the sealed secret, and
//! loses the Microsoft columns `tenant_id`, `client_id` and `cloud`.
//!
//! `account_key` names the account a provider reads, as its kind says: unique per kind (it
//! replaces the unique index on tenant and client), and the text the sealed secret is bound to.
//! For Microsoft 365 it is `tenant_id:client_id`, the very binding the secrets were sealed with,
//! so every stored secret still opens. Nothing else of a row changes: the delta link, sign-in
//! status and sync history stay as they were.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn execute(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for sql in statements {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

/// The JSON text of the configuration of a row, from its old columns.
fn config_from_columns(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "json_build_object('tenantId', tenant_id, 'clientId', client_id, 'cloud', cloud)::text"
        }
        _ => "json_object('tenantId', tenant_id, 'clientId', client_id, 'cloud', cloud)",
    }
}

/// A field of the stored configuration, as text.
fn config_field(backend: DbBackend, field: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("(config::json ->> '{field}')"),
        _ => format!("json_extract(config, '$.{field}')"),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let fill = format!(
            "UPDATE providers SET config = {}, account_key = tenant_id || ':' || client_id",
            config_from_columns(backend)
        );
        execute(
            manager,
            &[
                // SQLite adds a NOT NULL column only with a default; every row gets its value next.
                "ALTER TABLE providers ADD COLUMN config TEXT NOT NULL DEFAULT '{}'",
                "ALTER TABLE providers ADD COLUMN account_key VARCHAR(400) NOT NULL DEFAULT ''",
                &fill,
                "DROP INDEX ux_providers_tenant_client",
                "CREATE UNIQUE INDEX ux_providers_kind_account ON providers (kind, account_key)",
                // SQLite drops a column only once no index names it.
                "ALTER TABLE providers DROP COLUMN tenant_id",
                "ALTER TABLE providers DROP COLUMN client_id",
                "ALTER TABLE providers DROP COLUMN cloud",
            ],
        )
        .await?;
        if backend == DbBackend::Postgres {
            execute(
                manager,
                &["ALTER TABLE providers ALTER COLUMN config DROP DEFAULT, \
                   ALTER COLUMN account_key DROP DEFAULT"],
            )
            .await?;
        }
        Ok(())
    }

    /// Back to the Microsoft columns; a provider of another kind has no place there and goes,
    /// with everything synced from it.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let fill = format!(
            "UPDATE providers SET tenant_id = {}, client_id = {}, cloud = {}",
            config_field(backend, "tenantId"),
            config_field(backend, "clientId"),
            config_field(backend, "cloud"),
        );
        execute(
            manager,
            &[
                "DELETE FROM providers WHERE kind <> 'microsoft365'",
                "ALTER TABLE providers ADD COLUMN tenant_id VARCHAR(255) NOT NULL DEFAULT ''",
                "ALTER TABLE providers ADD COLUMN client_id VARCHAR(64) NOT NULL DEFAULT ''",
                "ALTER TABLE providers ADD COLUMN cloud VARCHAR(16) NOT NULL DEFAULT 'GLOBAL'",
                &fill,
                "DROP INDEX ux_providers_kind_account",
                "CREATE UNIQUE INDEX ux_providers_tenant_client ON providers (tenant_id, client_id)",
                "ALTER TABLE providers DROP COLUMN config",
                "ALTER TABLE providers DROP COLUMN account_key",
            ],
        )
        .await
    }
}
