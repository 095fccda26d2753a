//! Indexes for listing one provider's users in each order the API offers (`UserOrder`), so a
//! page is an index walk from the cursor instead of a scan and sort of the whole directory.
//! The initial schema's indexes serve the same orders across all providers.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "directory_users";

/// (index name, columns): provider first, then the sort key, then the id tie-break.
const INDEXES: [(&str, [&str; 3]); 4] = [
    (
        "ix_directory_users_provider_display_name",
        ["provider_id", "display_name", "id"],
    ),
    (
        "ix_directory_users_provider_upn",
        ["provider_id", "user_principal_name", "id"],
    ),
    (
        "ix_directory_users_provider_last_sign_in",
        ["provider_id", "last_sign_in_at", "id"],
    ),
    (
        "ix_directory_users_provider_created",
        ["provider_id", "created_date_time", "id"],
    ),
];

/// PostgreSQL walks an ascending index backwards as DESC NULLS FIRST, but the API puts users
/// without a value last in both directions (DESC NULLS LAST), so descending orders of the
/// nullable keys need indexes of their own there. SQLite serves both from the ascending index
/// (and has no NULLS LAST in CREATE INDEX).
const POSTGRES_DESCENDING: [(&str, &str); 3] = [
    (
        "ix_directory_users_provider_display_name_desc",
        "display_name",
    ),
    (
        "ix_directory_users_provider_last_sign_in_desc",
        "last_sign_in_at",
    ),
    (
        "ix_directory_users_provider_created_desc",
        "created_date_time",
    ),
];

/// Ordering by creation date across providers had no index at all.
const CREATED: (&str, [&str; 2]) = ("ix_directory_users_created", ["created_date_time", "id"]);

fn index(name: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(Alias::new(TABLE));
    for column in columns {
        statement.col(Alias::new(*column));
    }
    statement.to_owned()
}

fn names() -> impl Iterator<Item = &'static str> {
    INDEXES
        .iter()
        .map(|(name, _)| *name)
        .chain(std::iter::once(CREATED.0))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in INDEXES {
            manager.create_index(index(name, &columns)).await?;
        }
        manager.create_index(index(CREATED.0, &CREATED.1)).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for (name, column) in POSTGRES_DESCENDING {
                let sql = format!(
                    "CREATE INDEX {name} ON {TABLE} (provider_id, {column} DESC NULLS LAST, id DESC)"
                );
                manager.get_connection().execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for (name, _) in POSTGRES_DESCENDING {
                manager
                    .get_connection()
                    .execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                    .await?;
            }
        }
        for name in names() {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(TABLE)).to_owned())
                .await?;
        }
        Ok(())
    }
}
