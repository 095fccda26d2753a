//! Opening the database (SQLite or PostgreSQL), applying migrations, and the few statement
//! pieces that differ by engine.

use std::io;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait, PgFunc};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};

use crate::data_dir;

/// SQLite keeps one writer at a time whatever the pool size; the extra connections let reads
/// (GraphQL, readiness probes) proceed while a sync writes, which WAL allows. Each connection
/// runs its statements on a thread of its own, so the pool follows the cores: two per core, at
/// least four. On a 2-core machine eight connections (eight threads competing with tokio's two)
/// made every page wait longer: Q1 at 32 clients, three alternating runs each, p50 2.9–3.3 ms
/// with eight against 2.5 ms with four, at the same throughput within the runs' spread.
fn sqlite_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    u32::try_from(2 * cores).unwrap_or(u32::MAX).clamp(4, 16)
}
const SQLITE_STATEMENT_CACHE: usize = 6;
/// Rows a SQLite worker thread may hand over before it waits for the reader. With sqlx's default
/// of 50, a page of 101 users and its ~140 licenses each filled the buffer, and every time worker
/// and reader slept and woke each other; under 32 concurrent pages that cost ~15% of throughput.
const SQLITE_ROW_BUFFER: usize = 512;
const POSTGRES_POOL_SIZE: u32 = 16;
/// 8,192 pages of 4 KiB: a WAL of at most about 32 MiB on disk.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 8_192;
/// The sync writer's page cache, in KiB. It counts in the server's memory, and past a
/// directory of 100,000 users no cache of a size worth keeping holds the index leaves a sync
/// touches: a 300,000-user first sync ran at the same rate with 16 MiB as with 32 MiB
/// (12,032 against 11,379–11,922 users/s) at 40 MB less peak RSS (130 against 168–171 MB).
const SYNC_WRITER_CACHE_KIB: u32 = 16 * 1024;
/// After this long without a sync write, the writer's connection and its cache are released.
const SYNC_WRITER_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A sync's page write holds the write lock for a moment; readers and a second writer wait for it
/// rather than failing with SQLITE_BUSY.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// A pooled connection idle this long is pinged before it is handed out; busier ones are not.
/// sqlx pings on every acquire by default and again on every release, and sea-orm takes a
/// connection per statement, so a page of users with licenses and SKUs (three statements) made
/// nine round trips where three carry queries: on PostgreSQL each is a wake-up of the backend,
/// on SQLite one of the connection's worker thread. sqlx still pings every connection on
/// release, so one that broke while in use is never handed out again (`tests/database.rs`); this
/// ping catches the ones a server restart or a firewall dropped while they sat idle.
const POOL_PING_AFTER_IDLE: Duration = Duration::from_secs(30);
/// Any constant works, as long as every process of this product uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x6c69_6365_6e73_6573; // "licenses"

/// The embedded default: a SQLite file in the data folder, created on first use.
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("license-manager.db").display()
    )
}

/// Connects with the settings each engine needs. On SQLite: WAL with `synchronous=NORMAL`
/// (durable across application crashes; a power loss may lose the last commits, which the next
/// sync restores), a busy timeout, foreign keys on, and a pool of several connections.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = base_options(url);
    if is_sqlite(url) {
        prepare_sqlite_file(url)?;
        options
            .max_connections(sqlite_pool_size())
            .min_connections(1)
            .map_sqlx_sqlite_opts(sqlite_options);
    } else {
        options.max_connections(POSTGRES_POOL_SIZE);
    }
    Database::connect(options).await
}

/// The connection a sync writes its pages through. On SQLite it is a pool of one connection of
/// its own with a large page cache: a user insert updates five indexes at random leaves, and with
/// SQLite's default 2 MiB cache a 100,000-user sync spilled dirty pages to the WAL in the middle
/// of each transaction and re-read evicted leaves from the file at the next one. The pool's
/// connections are handed out in turn, so a large cache on each of them would be filled on each
/// of them; here only the writer holds one, and it is given back once the connection has been
/// idle a while. SQLite has a single writer anyway.
///
/// `None` where the shared pool should be used: PostgreSQL, and an in-memory SQLite database,
/// which a second pool would not see.
pub async fn connect_sync_writer(url: &str) -> Result<Option<DatabaseConnection>, DbErr> {
    if !is_sqlite(url) || is_in_memory(url) {
        return Ok(None);
    }
    let mut options = base_options(url);
    options
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(SYNC_WRITER_IDLE_TIMEOUT)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite_options(sqlite).pragma("cache_size", format!("-{SYNC_WRITER_CACHE_KIB}"))
        });
    Database::connect(options).await.map(Some)
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// SQLite creates a database file with the process's umask, 0644 as a rule, and its `-wal` and
/// `-shm` files with the mode of the database file: the directory's personal data readable by
/// every local user. So a database the URL asks to create (`mode=rwc`, as the default URL does)
/// is created here first, 0600, and all three files are the owner's only. An existing file keeps
/// its mode, with a warning when others may read it.
fn prepare_sqlite_file(url: &str) -> Result<(), DbErr> {
    if is_in_memory(url) {
        return Ok(());
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| DbErr::Custom(format!("the SQLite URL: {error}")))?;
    let path = options.get_filename();
    let creates = url
        .split_once('?')
        .is_some_and(|(_, params)| params.split('&').any(|param| param == "mode=rwc"));
    let created = match creates.then(|| data_dir::create_private_file(path)) {
        Some(Ok(created)) => created,
        // A missing folder: SQLite says so when it opens the file.
        Some(Err(error)) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Some(Err(error)) => {
            return Err(DbErr::Custom(format!(
                "cannot create the database file {}: {error}",
                path.display()
            )));
        }
        None => false,
    };
    if !created && data_dir::open_to_others(path).unwrap_or(false) {
        tracing::warn!(
            path = %path.display(),
            "the database file is readable by other users; run chmod 600 on it and on its -wal \
             and -shm files"
        );
    }
    Ok(())
}

fn base_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(true)
        .sqlx_logging_level(tracing::log::LevelFilter::Trace)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE);
    options
}

fn sqlite_options(sqlite: SqliteConnectOptions) -> SqliteConnectOptions {
    sqlite
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        .row_buffer_size(SQLITE_ROW_BUFFER)
        // Each cached statement holds SQLite's compiled program, and a sync's batched INSERTs
        // (one text per row count) are megabytes each: 24 per connection made the server's peak
        // RSS during a 100,000-user sync vary from 125 to 170 MB with the batch sizes it met.
        // Re-preparing costs little next to running one.
        .statement_cache_capacity(SQLITE_STATEMENT_CACHE)
        // A sync's commit dirties thousands of index pages; checkpointing them into the database
        // file every 1,000 WAL pages (the default) copied the same hot pages again and again.
        // The WAL may grow to this size before it is reused.
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
}

/// Applies every pending migration. On PostgreSQL the run holds a transaction-scoped advisory
/// lock, so replicas starting together migrate once instead of racing on `CREATE TABLE`.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let transaction = db.begin().await?;
    transaction
        .execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    Migrator::up(&transaction, None).await?;
    transaction.commit().await
}

/// How many migrations this binary knows that the database has not applied.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<usize, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.len())
}

/// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`): a deferred transaction that reads first and writes later fails at once with
/// SQLITE_BUSY_SNAPSHOT if another connection committed in between (a sync's heartbeat does),
/// whereas waiting for the lock up front honours the busy timeout. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// The tables a sync fills whose planner statistics are stale: never gathered, or describing
/// fewer than half the pages the table has now. A resync of a tenant already stored rewrites its
/// rows in place and leaves them current.
const STALE_SYNC_TABLES: &str = "SELECT c.relname::text FROM pg_class c \
     WHERE c.oid IN ('directory_users'::regclass, 'license_assignments'::regclass) \
     AND (c.reltuples < 0 \
          OR pg_relation_size(c.oid) > 2 * c.relpages::bigint * current_setting('block_size')::bigint)";

/// Refreshes the planner's statistics of the tables a sync fills, where the table has outgrown
/// them. PostgreSQL plans a freshly filled table from stale statistics (seven rows, say) and may
/// pick an index that makes each page's lookup scan the whole provider; autovacuum analyzes too
/// late during a first sync. An ANALYZE of 100,000 users keeps a core busy for a quarter of a
/// second, which readers of the API feel while a sync runs, so current statistics are left be.
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let stale = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            STALE_SYNC_TABLES,
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    if !stale.is_empty() {
        db.execute_unprepared(&format!("ANALYZE {}", stale.join(", ")))
            .await?;
    }
    Ok(())
}

/// `column IN (values)`, written for the engine. On PostgreSQL it is `column = ANY($1)` with one
/// array parameter: the statement text is the same for any number of values, so it is prepared
/// once and, after five executions, runs a cached generic plan (an index scan). A list of
/// parameters is instead planned anew at every execution (0.13 ms for a page of 100 user ids),
/// or — once PostgreSQL settles on a generic plan made while the table was small — scanned
/// sequentially: measured at 0.25 s per sync page at 20,000 users. SQLite plans `IN` lists once
/// per prepared statement.
pub fn one_of<V>(backend: DbBackend, column: impl ColumnTrait, values: Vec<V>) -> Expr
where
    V: Into<sea_orm::Value>
        + sea_orm::sea_query::ValueType
        + sea_orm::sea_query::postgres_array::NotU8,
{
    match backend {
        DbBackend::Postgres => Expr::col(column.as_column_ref())
            .eq(PgFunc::any(Expr::val(sea_orm::Value::from(values)))),
        _ => column.is_in(values),
    }
}
