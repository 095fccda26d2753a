use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::Provider;
use crate::domain::sync_runs::{self, Notice, RunStatus, SyncMode};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
#[graphql(name = "SyncMode")]
pub enum ApiSyncMode {
    /// Incremental when possible, full when needed (no delta link yet, or the last full sync is old).
    #[default]
    Auto,
    /// Read every user, SKU and subscription.
    Full,
    /// Read only what changed since the last sync; a full sync when there is no delta link to
    /// start from (before the first full sync, or after the cloud changed).
    Delta,
}

impl From<SyncMode> for ApiSyncMode {
    fn from(mode: SyncMode) -> Self {
        match mode {
            SyncMode::Auto => ApiSyncMode::Auto,
            SyncMode::Full => ApiSyncMode::Full,
            SyncMode::Delta => ApiSyncMode::Delta,
        }
    }
}

impl From<ApiSyncMode> for SyncMode {
    fn from(mode: ApiSyncMode) -> Self {
        match mode {
            ApiSyncMode::Auto => SyncMode::Auto,
            ApiSyncMode::Full => SyncMode::Full,
            ApiSyncMode::Delta => SyncMode::Delta,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(name = "SyncStatus")]
pub enum ApiSyncStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl From<RunStatus> for ApiSyncStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Queued => ApiSyncStatus::Queued,
            RunStatus::Running => ApiSyncStatus::Running,
            RunStatus::Succeeded => ApiSyncStatus::Succeeded,
            RunStatus::Failed => ApiSyncStatus::Failed,
            RunStatus::Cancelled => ApiSyncStatus::Cancelled,
        }
    }
}

/// A problem found by a sync, with what an admin can do about it.
#[derive(SimpleObject)]
#[graphql(name = "SyncWarning")]
pub struct SyncWarning {
    /// Stable code, e.g. SIGN_IN_ACTIVITY_UNAVAILABLE.
    pub code: String,
    pub message: String,
    pub hint: String,
}

/// Why a sync failed or was cancelled.
#[derive(SimpleObject)]
#[graphql(name = "SyncError")]
pub struct SyncError {
    /// Stable code, e.g. INVALID_CLIENT_SECRET, INTERRUPTED, CANCELLED.
    pub code: String,
    pub message: String,
    pub hint: String,
}

impl From<Notice> for SyncWarning {
    fn from(notice: Notice) -> Self {
        Self {
            code: notice.code,
            message: notice.message,
            hint: notice.hint,
        }
    }
}

impl From<Notice> for SyncError {
    fn from(notice: Notice) -> Self {
        Self {
            code: notice.code,
            message: notice.message,
            hint: notice.hint,
        }
    }
}

/// One sync of one provider, with its live progress and outcome.
pub struct SyncRun(sync_runs::SyncRun);

impl From<sync_runs::SyncRun> for SyncRun {
    fn from(run: sync_runs::SyncRun) -> Self {
        Self(run)
    }
}

#[Object]
impl SyncRun {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn provider(&self, ctx: &Context<'_>) -> Result<Provider> {
        Provider::of(ctx, self.0.provider_id).await
    }

    /// The mode asked for.
    async fn mode(&self) -> ApiSyncMode {
        self.0.mode.into()
    }

    /// The mode actually run: AUTO resolves to FULL or DELTA, and an expired delta token falls
    /// back to FULL. Null until the run starts.
    async fn effective_mode(&self) -> Option<ApiSyncMode> {
        self.0.effective_mode.map(Into::into)
    }

    /// `manual` (startSync), `schedule` or `cli`.
    async fn trigger(&self) -> &str {
        &self.0.trigger
    }

    async fn status(&self) -> ApiSyncStatus {
        self.0.status.into()
    }

    async fn queued_at(&self) -> DateTime<Utc> {
        self.0.queued_at
    }

    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }

    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }

    async fn pages_fetched(&self) -> i64 {
        self.0.pages_fetched
    }

    async fn users_seen(&self) -> i64 {
        self.0.users_seen
    }

    async fn users_created(&self) -> i64 {
        self.0.users_created
    }

    async fn users_updated(&self) -> i64 {
        self.0.users_updated
    }

    async fn users_removed(&self) -> i64 {
        self.0.users_removed
    }

    async fn skus_synced(&self) -> i64 {
        self.0.skus_synced
    }

    async fn warnings(&self) -> Vec<SyncWarning> {
        self.0.warnings.iter().cloned().map(Into::into).collect()
    }

    async fn error(&self) -> Option<SyncError> {
        self.0.error.clone().map(Into::into)
    }
}
