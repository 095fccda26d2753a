//! Fewer indexes on `directory_users`, because each one is paid on every synced user.
//!
//! Measured on a 100,000-user first sync: a user insert updates every index, and an index keyed
//! by a name or a date takes it at a random leaf, so each commit rewrote hundreds of pages per
//! index — SQLite spent most of the sync writing those pages to its WAL. The provider-first order
//! indexes of m20261127_000010 duplicated the all-provider ones: with one provider (the usual
//! case) the all-provider index walk with a `provider_id` filter reads the same rows, and with a
//! few providers it reads a few times more. `mail` had an index that no query used (search goes
//! through `search_text`). PostgreSQL keeps descending indexes for the nullable orders, now on the
//! all-provider keys, because an ascending index walked backwards puts users without a value
//! first and the API puts them last.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "directory_users";

/// Dropped here, re-created by `down` with their columns.
const REDUNDANT: [(&str, &[&str]); 5] = [
    (
        "ix_directory_users_provider_display_name",
        &["provider_id", "display_name", "id"],
    ),
    (
        "ix_directory_users_provider_upn",
        &["provider_id", "user_principal_name", "id"],
    ),
    (
        "ix_directory_users_provider_last_sign_in",
        &["provider_id", "last_sign_in_at", "id"],
    ),
    (
        "ix_directory_users_provider_created",
        &["provider_id", "created_date_time", "id"],
    ),
    ("ix_directory_users_mail", &["mail"]),
];

/// PostgreSQL only: (old provider-first descending index, new all-provider one, column).
const POSTGRES_DESCENDING: [(&str, &str, &str); 3] = [
    (
        "ix_directory_users_provider_display_name_desc",
        "ix_directory_users_display_name_desc",
        "display_name",
    ),
    (
        "ix_directory_users_provider_last_sign_in_desc",
        "ix_directory_users_last_sign_in_desc",
        "last_sign_in_at",
    ),
    (
        "ix_directory_users_provider_created_desc",
        "ix_directory_users_created_desc",
        "created_date_time",
    ),
];

fn create(name: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(Alias::new(TABLE));
    for column in columns {
        statement.col(Alias::new(*column));
    }
    statement.to_owned()
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(Alias::new(TABLE)).to_owned()
}

async fn execute(manager: &SchemaManager<'_>, sql: String) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

fn descending(name: &str, key: &str) -> String {
    format!("CREATE INDEX {name} ON {TABLE} ({key} DESC NULLS LAST, id DESC)")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in REDUNDANT {
            manager.drop_index(drop(name)).await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            for (old, new, column) in POSTGRES_DESCENDING {
                execute(manager, format!("DROP INDEX IF EXISTS {old}")).await?;
                execute(manager, descending(new, column)).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for (old, new, column) in POSTGRES_DESCENDING {
                execute(manager, format!("DROP INDEX IF EXISTS {new}")).await?;
                execute(manager, descending(old, &format!("provider_id, {column}"))).await?;
            }
        }
        for (name, columns) in REDUNDANT {
            manager.create_index(create(name, columns)).await?;
        }
        Ok(())
    }
}
