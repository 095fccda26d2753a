//! Every path of a license, and Graph's "None" read as no error.
//!
//! - `license_assignments.sources`: the paths by which the license reaches the user (directly,
//!   through each group), each with its own state, error and disabled plans, as JSON. NULL when
//!   the row's other columns say it all (one path, or several in the same state) — nearly every
//!   row, so a sync writes no more than before. Rows written before this column read as such.
//! - `state` and `error` become unbounded text on PostgreSQL: a value the product does not know
//!   is kept as sent, whatever its length (SQLite does not enforce lengths).
//! - `error` values `"None"` and blanks, which Graph sends for "no error" and earlier versions
//!   stored as they came, become NULL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::json_binary_null;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LicenseAssignments {
    Table,
    Sources,
}

async fn execute(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LicenseAssignments::Table)
                    .add_column(json_binary_null(LicenseAssignments::Sources))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            execute(
                manager,
                "ALTER TABLE license_assignments ALTER COLUMN state TYPE text, \
                 ALTER COLUMN error TYPE text",
            )
            .await?;
        }
        execute(
            manager,
            "UPDATE license_assignments SET error = NULL \
             WHERE LOWER(TRIM(error)) IN ('none', '')",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            execute(
                manager,
                "ALTER TABLE license_assignments \
                 ALTER COLUMN state TYPE varchar(32) USING LEFT(state, 32), \
                 ALTER COLUMN error TYPE varchar(64) USING LEFT(error, 64)",
            )
            .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(LicenseAssignments::Table)
                    .drop_column(LicenseAssignments::Sources)
                    .to_owned(),
            )
            .await
    }
}
