//! What every request handler shares, built by the application at start.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use super::{CorsOrigins, ServerLimits};
use crate::api::Api;
use crate::auth::Authenticator;
use crate::domain::api_tokens::ApiTokenVerifier;
use crate::metrics::Metrics;
use crate::providers::registry::ProviderRegistry;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Checks the JWTs requests present: the server's own, an identity provider's.
    pub auth: Authenticator,
    /// Looks up the API tokens requests present.
    pub api_tokens: Arc<ApiTokenVerifier>,
    pub api: Api,
    pub metrics: Arc<Metrics>,
    pub limits: ServerLimits,
    /// The kinds of provider, whose setup guides `/docs/{slug}` serves.
    pub registry: Arc<ProviderRegistry>,
    /// The other origins whose pages may call the API (`LM_CORS_ORIGINS`).
    pub cors: CorsOrigins,
}
