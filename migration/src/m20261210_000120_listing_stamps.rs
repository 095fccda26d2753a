//! Which sync run last listed each user, and what that run counted it as. A full sync keeps
//! who it has seen, created and updated on the rows themselves rather than in the process, so
//! its memory stays flat however large the directory, and the users a complete listing missed
//! are found by one statement at its end.
//!
//! On PostgreSQL the table keeps room on each page: stamping an unchanged user rewrites its row,
//! and with free space on the page the new version stays there (a HOT update), without a new
//! entry in each of the table's indexes. The setting applies to pages written from now on.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DirectoryUsers {
    Table,
    ListedInRun,
    ListedAs,
}

/// Percent of each heap page filled by inserts: a user row is ~300 bytes, so 15 % leaves room
/// for the new versions of four of a page's ~25 rows, which page pruning reclaims at the next
/// visit.
const POSTGRES_FILLFACTOR: u32 = 85;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(DirectoryUsers::Table)
                    .add_column(
                        ColumnDef::new(DirectoryUsers::ListedInRun)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DirectoryUsers::Table)
                    .add_column(
                        ColumnDef::new(DirectoryUsers::ListedAs)
                            .small_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE directory_users SET (fillfactor = {POSTGRES_FILLFACTOR})"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE directory_users RESET (fillfactor)")
                .await?;
        }
        for column in [DirectoryUsers::ListedAs, DirectoryUsers::ListedInRun] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DirectoryUsers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
