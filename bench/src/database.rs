//! A fresh database per engine and run: a SQLite file in a temporary data folder, or a
//! PostgreSQL database of its own, dropped afterwards.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::cli::Engine;

pub struct BenchDatabase {
    pub url: String,
    /// SQLite: the database file; PostgreSQL: the server's admin URL and the database name.
    location: Location,
}

enum Location {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// Whether a PostgreSQL server answers at `admin_url` (within a few seconds).
pub async fn postgres_reachable(admin_url: &str) -> bool {
    connect(admin_url).await.is_ok()
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .connect_timeout(Duration::from_secs(3))
        .max_connections(1)
        .sqlx_logging(false);
    Database::connect(options).await
}

impl BenchDatabase {
    /// `tag` tells apart the databases one run makes for its scenarios (empty for the main one).
    pub async fn create(
        engine: Engine,
        tag: &str,
        data_dir: &Path,
        admin_url: &str,
    ) -> anyhow::Result<Self> {
        match engine {
            Engine::Sqlite => {
                let file = data_dir.join("license-manager.db");
                Ok(Self {
                    url: format!("sqlite://{}?mode=rwc", file.display()),
                    location: Location::Sqlite(file),
                })
            }
            Engine::Postgres => {
                // The pid keeps two concurrent benches apart.
                let name = format!("lm_bench_{}{tag}", std::process::id());
                let admin = connect(admin_url)
                    .await
                    .with_context(|| format!("cannot reach PostgreSQL at {admin_url}"))?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .context("cannot create the benchmark database")?;
                admin.close().await.ok();
                Ok(Self {
                    url: with_database(admin_url, &name)?,
                    location: Location::Postgres {
                        admin_url: admin_url.to_owned(),
                        name,
                    },
                })
            }
        }
    }

    /// Bytes on disk: SQLite's file plus its WAL, or `pg_database_size`.
    pub async fn size(&self) -> anyhow::Result<u64> {
        match &self.location {
            Location::Sqlite(file) => {
                let wal = PathBuf::from(format!("{}-wal", file.display()));
                let main = std::fs::metadata(file)
                    .with_context(|| format!("cannot stat {}", file.display()))?
                    .len();
                Ok(main + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0))
            }
            Location::Postgres { .. } => {
                let db = connect(&self.url).await?;
                let row = db
                    .query_one_raw(Statement::from_string(
                        db.get_database_backend(),
                        "SELECT pg_database_size(current_database()) AS size",
                    ))
                    .await?
                    .context("pg_database_size returned no row")?;
                let size: i64 = row.try_get("", "size")?;
                db.close().await.ok();
                Ok(u64::try_from(size).unwrap_or_default())
            }
        }
    }

    /// The single integer a statement of the bench's own (a count) returns.
    pub async fn scalar(&self, sql: &str) -> anyhow::Result<i64> {
        let db = connect(&self.url).await?;
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .with_context(|| format!("{sql} failed"))?
            .with_context(|| format!("{sql} returned no row"))?;
        let value: i64 = row.try_get_by_index(0)?;
        db.close().await.ok();
        Ok(value)
    }

    /// Runs statements of the bench's own (seeding, ANALYZE) beside the server, in order.
    pub async fn execute(&self, statements: &[&str]) -> anyhow::Result<()> {
        let db = connect(&self.url).await?;
        for sql in statements {
            db.execute_unprepared(sql)
                .await
                .with_context(|| format!("{sql} failed"))?;
        }
        db.close().await.ok();
        Ok(())
    }

    /// Drops the database once its figures are taken; a failure is reported, not an error of
    /// the run.
    pub async fn discard(self) {
        if let Err(e) = self.drop_database().await {
            eprintln!("bench: {e:#}");
        }
    }

    /// Drops a PostgreSQL database (the SQLite file goes with its temporary folder).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        if let Location::Postgres { admin_url, name } = self.location {
            let admin = connect(&admin_url).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .with_context(|| format!("cannot drop {name}"))?;
        }
        Ok(())
    }
}

/// `admin_url` with its path replaced by `/name`.
fn with_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(admin_url).context("the PostgreSQL URL is not a URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// The server's data folder (keys, SQLite file), removed when dropped.
pub struct DataDir(PathBuf);

impl DataDir {
    /// `tag` as for [`BenchDatabase::create`].
    pub fn create(engine: Engine, tag: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "lm-bench-{}-{}{tag}",
            std::process::id(),
            engine.name()
        ));
        // A leftover of an earlier run with the same pid would skew the database size.
        std::fs::remove_dir_all(&path).ok();
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}
