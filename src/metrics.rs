//! Process metrics that must cost next to nothing on the hot path: plain atomics, read by tests
//! today and by `GET /metrics` later.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::DatabaseConnection;

/// Counters of one server (one database pool). Tests start several servers in one process, so
/// these live in the application's state, not in a global.
#[derive(Debug, Default)]
pub struct Metrics {
    sql_statements: AtomicU64,
    sql_errors: AtomicU64,
    connections_open: AtomicU64,
    connections_refused: AtomicU64,
}

impl Metrics {
    /// SQL statements sent to the database since the start, failed ones included.
    pub fn sql_statements(&self) -> u64 {
        self.sql_statements.load(Ordering::Relaxed)
    }

    pub fn sql_errors(&self) -> u64 {
        self.sql_errors.load(Ordering::Relaxed)
    }

    /// Client connections open now, websockets included.
    pub fn connections_open(&self) -> u64 {
        self.connections_open.load(Ordering::Relaxed)
    }

    /// Connections turned away since the start because the cap was reached.
    pub fn connections_refused(&self) -> u64 {
        self.connections_refused.load(Ordering::Relaxed)
    }

    pub(crate) fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    fn statement(&self, failed: bool) {
        self.sql_statements.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.sql_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Counts every statement `db` (and each clone made from it afterwards) executes. Call it before
/// cloning the connection: clones share the pool but copy the callback slot.
pub fn count_statements(db: &mut DatabaseConnection, metrics: Arc<Metrics>) {
    db.set_metric_callback(move |info| metrics.statement(info.failed));
}
