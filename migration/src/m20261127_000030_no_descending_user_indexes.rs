//! PostgreSQL: drops the descending copies of the nullable order indexes.
//!
//! A page of users is now read as two range scans — users with a value for the sort key, then
//! those without — and each walks the ascending index either way, so the `DESC NULLS LAST`
//! indexes of m20261127_000020 serve no query. Each cost every synced user an insert at a random
//! leaf: three of the eleven indexes PostgreSQL maintained on `directory_users`. SQLite never had
//! them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, column), re-created by `down`.
const DESCENDING: [(&str, &str); 3] = [
    ("ix_directory_users_display_name_desc", "display_name"),
    ("ix_directory_users_last_sign_in_desc", "last_sign_in_at"),
    ("ix_directory_users_created_desc", "created_date_time"),
];

async fn execute(manager: &SchemaManager<'_>, sql: String) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for (name, _) in DESCENDING {
                execute(manager, format!("DROP INDEX IF EXISTS {name}")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for (name, column) in DESCENDING {
                execute(
                    manager,
                    format!(
                        "CREATE INDEX {name} ON directory_users ({column} DESC NULLS LAST, id DESC)"
                    ),
                )
                .await?;
            }
        }
        Ok(())
    }
}
