use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::api::loaders::ProviderUserCounts;
use crate::domain::providers::{self as domain, Cloud, ProviderKind as DomainKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ProviderKind {
    Microsoft365,
}

/// The Microsoft cloud a tenant lives in; it picks the sign-in authority and the Graph root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum MicrosoftCloud {
    Global,
    UsGov,
    UsGovDod,
    China,
}

impl From<Cloud> for MicrosoftCloud {
    fn from(cloud: Cloud) -> Self {
        match cloud {
            Cloud::Global => MicrosoftCloud::Global,
            Cloud::UsGov => MicrosoftCloud::UsGov,
            Cloud::UsGovDod => MicrosoftCloud::UsGovDod,
            Cloud::China => MicrosoftCloud::China,
        }
    }
}

/// A source of licenses: one Microsoft 365 tenant, read through one app registration.
pub struct Provider(domain::Provider);

impl From<domain::Provider> for Provider {
    fn from(provider: domain::Provider) -> Self {
        Self(provider)
    }
}

#[Object]
impl Provider {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn kind(&self) -> ProviderKind {
        match self.0.kind {
            DomainKind::Microsoft365 => ProviderKind::Microsoft365,
        }
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The Directory (tenant) ID or a verified domain of the tenant.
    async fn tenant_id(&self) -> &str {
        &self.0.tenant_id
    }

    /// The Application (client) ID of the app registration.
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }

    async fn cloud(&self) -> MicrosoftCloud {
        self.0.cloud.into()
    }

    /// The last four characters of the client secret; the secret itself is never returned.
    async fn client_secret_hint(&self) -> &str {
        &self.0.client_secret_hint
    }

    async fn client_secret_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.client_secret_expires_at
    }

    /// Minutes between scheduled syncs; null when syncs are only started by hand.
    async fn sync_interval_minutes(&self) -> Option<i32> {
        self.0.sync_interval_minutes
    }

    /// Users currently in the directory (removed users are not counted).
    async fn user_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let loader = ctx.data::<DataLoader<ProviderUserCounts>>()?;
        let count = loader
            .load_one(self.0.id)
            .await
            .map_err(|error| crate::api::errors::graphql_error(&error))?;
        Ok(count.unwrap_or(0))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
