//! What every request handler shares, built by the application at start.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use super::ServerLimits;
use crate::api::Api;
use crate::auth::Authenticator;
use crate::metrics::Metrics;
use crate::providers::registry::ProviderRegistry;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Checks the token of every request.
    pub auth: Authenticator,
    pub api: Api,
    pub metrics: Arc<Metrics>,
    pub limits: ServerLimits,
    /// The kinds of provider, whose setup guides `/docs/{slug}` serves.
    pub registry: Arc<ProviderRegistry>,
}
