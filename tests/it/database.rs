//! The connection pool as the product configures it (`db::connect`), on each engine.

use crate::common;

use std::time::Duration;

use common::{Engine, TestDatabase};
use license_manager::db;
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// Far longer than a rollback takes; only a lock that is never released reaches it.
const LOCK_WAIT_LIMIT: Duration = Duration::from_secs(30);

async fn probe_table(db: &DatabaseConnection) {
    db.execute_unprepared("CREATE TABLE lock_probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        .await
        .expect("probe table created");
    db.execute_unprepared("INSERT INTO lock_probe (id, n) VALUES (1, 0)")
        .await
        .expect("probe row inserted");
}

/// A write transaction dropped without commit or rollback (a request cancelled by its client, a
/// sync stopped mid-page) gives its locks back at once, not when its connection happens to be
/// used again: otherwise every other writer would wait. sqlx queues the `ROLLBACK` on drop and
/// sends it when the connection goes back to the pool.
async fn an_abandoned_write_releases_its_lock(engine: Engine) {
    let data_dir = tempfile::tempdir().expect("temporary folder");
    let database = TestDatabase::create(engine, data_dir.path()).await;
    let pool = db::connect(&database.url).await.expect("pool opened");
    probe_table(&pool).await;

    let abandoned = db::begin_write(&pool).await.expect("transaction begun");
    abandoned
        .execute_unprepared("UPDATE lock_probe SET n = 1 WHERE id = 1")
        .await
        .expect("row locked");
    drop(abandoned);

    // Another process (a second pool) writes the same row.
    let other = db::connect(&database.url)
        .await
        .expect("second pool opened");
    let write = async {
        let transaction = db::begin_write(&other).await?;
        transaction
            .execute_unprepared("UPDATE lock_probe SET n = n + 10 WHERE id = 1")
            .await?;
        transaction.commit().await
    };
    tokio::time::timeout(LOCK_WAIT_LIMIT, write)
        .await
        .expect("the abandoned transaction's lock was released")
        .expect("the second writer committed");

    let row = pool
        .query_one_raw(sea_orm::Statement::from_string(
            pool.get_database_backend(),
            "SELECT n FROM lock_probe WHERE id = 1",
        ))
        .await
        .expect("probe read")
        .expect("probe row");
    let n: i32 = row.try_get("", "n").expect("n is an integer");
    assert_eq!(
        n, 10,
        "the abandoned update was rolled back, the second one kept"
    );

    other.close().await.ok();
    pool.close().await.ok();
    database.drop_database().await;
}

engine_tests!(an_abandoned_write_releases_its_lock);

async fn select_one(pool: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    pool.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// When PostgreSQL drops every connection (a restart, a failover, an administrator), the
/// statements that meet a dead connection fail, and each such connection leaves the pool: the
/// server recovers on its own instead of failing forever on connections that look idle. This is
/// sqlx's ping when a connection goes back to the pool; skipping it (tried to save a round trip
/// per statement) kept dead connections in the pool for good.
#[tokio::test]
#[cfg_attr(
    not(lm_postgres_tests),
    ignore = "PostgreSQL suite skipped: TEST_DATABASE_URL is not set"
)]
async fn the_pool_recovers_when_postgresql_drops_its_connections() {
    let data_dir = tempfile::tempdir().expect("temporary folder");
    let database = TestDatabase::create(Engine::Postgres, data_dir.path()).await;
    let pool = db::connect(&database.url).await.expect("pool opened");
    // Open several connections, so that several dead ones sit in the pool.
    let busy: Vec<_> = (0..8)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.execute_unprepared("SELECT pg_sleep(0.2)")
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for statement in busy {
        statement.await.expect("joined").expect("warm-up statement");
    }

    let admin = database.connect().await;
    admin
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .expect("backends terminated");
    admin.close().await.ok();

    let mut failed = 0;
    let mut last_error = None;
    let mut succeeded_in_a_row = 0;
    for _ in 0..200 {
        match select_one(&pool).await {
            Ok(()) => succeeded_in_a_row += 1,
            Err(error) => {
                failed += 1;
                succeeded_in_a_row = 0;
                last_error = Some(error);
            }
        }
        if succeeded_in_a_row == 20 {
            break;
        }
    }
    assert_eq!(
        succeeded_in_a_row, 20,
        "the pool did not recover: {failed} statements failed, the last with {last_error:?}"
    );
    pool.close().await.ok();
    database.drop_database().await;
}
