//! Builds provider clients from stored configuration, and keeps them while the configuration is
//! unchanged so that a tenant's access token is reused across syncs and connection tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::microsoft365::Microsoft365;
use super::{LicenseProvider, ProviderError, RetryPolicy};
use crate::providers::microsoft365::graph::{
    ClientConfig, Cloud, Credentials, EndpointOverrides, GraphClient, RetryConfig,
};

/// What it takes to reach one Microsoft 365 tenant.
pub struct MicrosoftTenant {
    pub provider_id: i64,
    /// Changes whenever the provider is updated; a new version gets a new client.
    pub version: DateTime<Utc>,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub cloud: Cloud,
}

/// A client built for one version of a provider's configuration.
type CachedClient = (DateTime<Utc>, Arc<dyn LicenseProvider>);

pub struct ProviderRegistry {
    http: reqwest::Client,
    overrides: EndpointOverrides,
    config: ClientConfig,
    clients: Mutex<HashMap<i64, CachedClient>>,
}

impl ProviderRegistry {
    /// Clients for the Microsoft endpoints `overrides` names, whose reads retry as `retry` says.
    pub fn new(overrides: EndpointOverrides, retry: RetryPolicy) -> Result<Self, ProviderError> {
        let defaults = ClientConfig::default();
        let config = ClientConfig {
            retry: RetryConfig {
                base_delay: retry.first_wait,
                total_budget: retry.budget,
                ..defaults.retry
            },
            ..defaults
        };
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("license-manager/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ProviderError {
                code: "INTERNAL",
                message: format!("cannot build the HTTP client: {error}"),
                hint: "check the server's TLS set-up".into(),
                kind: super::ProviderErrorKind::Other,
            })?;
        Ok(Self {
            http,
            overrides,
            config,
            clients: Mutex::new(HashMap::new()),
        })
    }

    pub fn microsoft(
        &self,
        tenant: MicrosoftTenant,
    ) -> Result<Arc<dyn LicenseProvider>, ProviderError> {
        if let Some(client) = self.cached(tenant.provider_id, tenant.version) {
            return Ok(client);
        }
        let credentials = Credentials::new(
            tenant.tenant_id,
            tenant.client_id,
            tenant.client_secret,
            tenant.cloud,
        );
        let graph = GraphClient::with_http_client(
            self.http.clone(),
            credentials,
            &self.overrides,
            self.config.clone(),
        )?;
        let client: Arc<dyn LicenseProvider> = Arc::new(Microsoft365::new(graph));
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(tenant.provider_id, (tenant.version, client.clone()));
        }
        Ok(client)
    }

    fn cached(&self, provider_id: i64, version: DateTime<Utc>) -> Option<Arc<dyn LicenseProvider>> {
        let clients = self.clients.lock().ok()?;
        clients
            .get(&provider_id)
            .filter(|(cached_version, _)| *cached_version == version)
            .map(|(_, client)| client.clone())
    }
}
