//! Batch loaders: each turns the per-row lookups of one request into one SQL statement.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::DatabaseConnection;

use crate::domain::providers;
use crate::domain::sync_runs::{self, SyncRun};
use crate::error::Error;

pub struct ProviderUserCounts {
    db: DatabaseConnection,
}

impl ProviderUserCounts {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl Loader<i64> for ProviderUserCounts {
    type Value = i64;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, Self::Error> {
        providers::current_user_counts(&self.db, keys)
            .await
            .map_err(Arc::new)
    }
}

pub struct LatestSyncRuns {
    db: DatabaseConnection,
}

impl LatestSyncRuns {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl Loader<i64> for LatestSyncRuns {
    type Value = SyncRun;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, SyncRun>, Self::Error> {
        sync_runs::latest_per_provider(&self.db, keys)
            .await
            .map_err(Arc::new)
    }
}
