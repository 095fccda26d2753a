//! The Microsoft 365 kind of provider: one tenant read through Microsoft Graph with an Entra ID
//! app registration's client credentials.
//!
//! - `graph/`: the Graph client (tokens, paging, delta, retries, throttling, errors);
//! - `config`: what an admin enters (tenant, client, cloud), checked and stored as JSON;
//! - `provider`: the `LicenseProvider` the engine reads, `mapping` turning Graph's objects into
//!   records, `checks` the connection test, `errors` the hints of Graph's failures;
//! - `writer`: the `LicenseWriter` reclaim calls (assignLicense), and whether the app's token
//!   allows it;
//! - `catalog` and `overlap`: Microsoft's table of SKUs and service plans, which names SKUs and
//!   tells which SKU already includes another;
//! - `setup`: the permissions an admin grants, and the setup guide.

pub mod catalog;
mod checks;
pub mod config;
mod errors;
pub mod graph;
mod mapping;
pub mod overlap;
mod provider;
mod setup;
mod writer;

use crate::codes::Code;
use std::sync::Arc;

use secrecy::SecretString;

pub use config::{ClientId, Config, TenantId};
pub use graph::{Cloud, EndpointOverrides};
use provider::Microsoft365;

use super::registry::{ProviderKind, Shared};
use super::{Catalogue, KindSetup, LicenseProvider, ProductName, ProviderError};
use graph::{ClientConfig, Credentials, GraphClient, RetryConfig};

/// Stored in `providers.kind`.
pub const KIND: &str = "microsoft365";

/// Builds Graph clients, all reaching Microsoft where `overrides` says (a proxy, or graph-sim).
pub struct Microsoft365Kind {
    overrides: EndpointOverrides,
}

impl Microsoft365Kind {
    pub fn new(overrides: EndpointOverrides) -> Self {
        Self { overrides }
    }
}

impl ProviderKind for Microsoft365Kind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn connect(
        &self,
        shared: &Shared,
        config: &serde_json::Value,
        secret: SecretString,
    ) -> Result<Arc<dyn LicenseProvider>, ProviderError> {
        let config = Config::from_stored(config).map_err(|error| {
            ProviderError::other(
                Code::Internal,
                format!("the stored Microsoft 365 configuration cannot be read: {error}"),
                "delete the provider and connect the tenant again",
            )
        })?;
        let credentials =
            Credentials::new(config.tenant_id, config.client_id, secret, config.cloud);
        let defaults = ClientConfig::default();
        let client_config = ClientConfig {
            retry: RetryConfig {
                base_delay: shared.retry.first_wait,
                total_budget: shared.retry.budget,
                ..defaults.retry
            },
            ..defaults
        };
        let graph = GraphClient::with_http_client(
            shared.http.clone(),
            credentials,
            &self.overrides,
            client_config,
        )?;
        Ok(Arc::new(Microsoft365::new(graph)))
    }

    fn catalogue(&self) -> Arc<dyn Catalogue> {
        Arc::new(MicrosoftCatalogue)
    }

    fn setup(&self) -> KindSetup {
        setup::setup()
    }
}

/// Microsoft's licensing table, as the engine and the reports consult it.
struct MicrosoftCatalogue;

impl Catalogue for MicrosoftCatalogue {
    fn product(&self, sku_id: &str) -> Option<ProductName> {
        catalog::product(sku_id).map(|product| ProductName {
            part_number: product.sku_part_number.to_owned(),
            name: product.name.to_owned(),
        })
    }

    fn contains(&self, outer: &str, inner: &str) -> bool {
        overlap::contains(outer, inner)
    }
}
