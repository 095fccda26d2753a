//! PostgreSQL: drops the foreign key and the index on `license_assignments.provider_id`.
//!
//! A sync inserts about 1.4 assignments per user, and PostgreSQL checked three foreign keys and
//! updated four indexes for each; in a profile of a 100,000-user first sync the key checks cost
//! as much as the index inserts. This key adds nothing: an assignment goes with its user (and
//! with its SKU), both of which cascade from the provider. Nor does any read need the index: the
//! report reads assignments by a range of user ids, where the provider is one more condition on
//! rows the user index already found. The column stays: exports and that condition use it.
//! SQLite keeps both, as it cannot drop a foreign key without rebuilding the table, and its sync
//! is not held back by them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const FOREIGN_KEY: &str = "license_assignments_provider_id_fkey";
const INDEX: &str = "ix_license_assignments_provider";

async fn execute(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            execute(
                manager,
                &format!("ALTER TABLE license_assignments DROP CONSTRAINT IF EXISTS {FOREIGN_KEY}"),
            )
            .await?;
            execute(manager, &format!("DROP INDEX IF EXISTS {INDEX}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            execute(
                manager,
                &format!("CREATE INDEX {INDEX} ON license_assignments (provider_id)"),
            )
            .await?;
            execute(
                manager,
                &format!(
                    "ALTER TABLE license_assignments ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY \
                     (provider_id) REFERENCES providers (id) ON DELETE CASCADE"
                ),
            )
            .await?;
        }
        Ok(())
    }
}
