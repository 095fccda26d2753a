//! Tenant-level resources: organization, subscribed SKUs, commerce subscriptions.

use super::client::GraphClient;
use super::error::{ErrorKind, GraphError};
use super::models::{CommerceSubscription, Organization, SubscribedSku};
use super::paging::{PageRequest, collect_all};
use super::response::Api;

#[derive(serde::Deserialize)]
struct Collection<T> {
    #[serde(default)]
    value: Vec<T>,
}

impl GraphClient {
    /// The tenant's id, display name and verified domains (the connection test shows them).
    pub async fn organization(&self) -> Result<Organization, GraphError> {
        let url = self.url("organization?$select=id,displayName,verifiedDomains");
        let orgs: Collection<Organization> = self.get_json(Api::Organization, &url).await?;
        orgs.value.into_iter().next().ok_or_else(|| {
            GraphError::new(
                ErrorKind::Internal,
                "Graph returned no organization for this tenant",
            )
        })
    }

    /// Every SKU the tenant subscribes to, with seat counts (one page in practice; any
    /// nextLink is still followed).
    pub async fn subscribed_skus(&self) -> Result<Vec<SubscribedSku>, GraphError> {
        let request = PageRequest {
            api: Api::SubscribedSkus,
            minimal: false,
        };
        collect_all(self, request, self.url("subscribedSkus")).await
    }

    /// Every commerce subscription (`/directory/subscriptions`), across its pages.
    pub async fn subscriptions(&self) -> Result<Vec<CommerceSubscription>, GraphError> {
        let request = PageRequest {
            api: Api::Subscriptions,
            minimal: false,
        };
        collect_all(self, request, self.url("directory/subscriptions")).await
    }
}
