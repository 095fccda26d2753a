use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::api::context::{database, keyring, registry};
use crate::api::errors::graphql_error;
use crate::api::loaders::{LatestSyncRuns, ProviderUserCounts, load};
use crate::api::types::{LicenseSku, SyncRun};
use crate::domain::licenses::LicenseSku as DomainSku;
use crate::domain::providers::{self as domain, NewProvider, ProviderChanges, SecretStatus};
use crate::error::Error;
use crate::providers::microsoft365::{self, Cloud};
use crate::providers::{self as kinds, WriteAccess};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ProviderKind {
    Microsoft365,
}

impl ProviderKind {
    /// The value of a kind stored as `name`; none for a kind this API does not show.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            microsoft365::KIND => Some(ProviderKind::Microsoft365),
            _ => None,
        }
    }
}

/// The Microsoft cloud a tenant lives in; it picks the sign-in authority and the Graph root.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
pub enum MicrosoftCloud {
    #[default]
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

impl From<MicrosoftCloud> for Cloud {
    fn from(cloud: MicrosoftCloud) -> Self {
        match cloud {
            MicrosoftCloud::Global => Cloud::Global,
            MicrosoftCloud::UsGov => Cloud::UsGov,
            MicrosoftCloud::UsGovDod => Cloud::UsGovDod,
            MicrosoftCloud::China => Cloud::China,
        }
    }
}

/// Whether the client secret needs attention, judged on the expiry the admin entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(name = "ClientSecretStatus")]
pub enum ApiSecretStatus {
    /// No expiry date was entered.
    Unknown,
    Valid,
    /// Expires within 30 days: create a new secret under Certificates & secrets.
    ExpiringSoon,
    /// Expired: syncs fail until a new secret is entered.
    Expired,
}

impl From<SecretStatus> for ApiSecretStatus {
    fn from(status: SecretStatus) -> Self {
        match status {
            SecretStatus::Unknown => ApiSecretStatus::Unknown,
            SecretStatus::Valid => ApiSecretStatus::Valid,
            SecretStatus::ExpiringSoon => ApiSecretStatus::ExpiringSoon,
            SecretStatus::Expired => ApiSecretStatus::Expired,
        }
    }
}

/// Whether a provider's licenses may be changed (by reclaim and its undo), and why not.
#[derive(SimpleObject)]
pub struct LicenseWriteAccess {
    pub allowed: bool,
    /// Why not, as a stable code: INSUFFICIENT_PRIVILEGES (the permission is not granted),
    /// LICENSE_WRITE_UNSUPPORTED (the kind cannot), or the failure that kept the server from
    /// finding out (e.g. INVALID_CLIENT_SECRET).
    pub code: Option<String>,
    pub message: String,
    /// What to do, in the words of the setup guide.
    pub hint: Option<String>,
}

impl From<WriteAccess> for LicenseWriteAccess {
    fn from(access: WriteAccess) -> Self {
        Self {
            allowed: access.allowed,
            code: access.code.map(Into::into),
            message: access.message,
            hint: access.hint,
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

impl Provider {
    /// The provider a row (user, SKU, sync run) belongs to, through the request's loader, so
    /// that a list of rows costs one statement for all their providers.
    pub async fn of(ctx: &Context<'_>, id: i64) -> Result<Self> {
        let provider: Option<domain::Provider> = load(ctx, id).await?;
        provider
            .map(Self)
            .ok_or_else(|| graphql_error(&Error::NotFound("the provider was deleted".into())))
    }
}

impl Provider {
    /// The configuration of a Microsoft 365 provider; the fields that show it have no value for
    /// a provider of another kind.
    fn microsoft(&self) -> Result<microsoft365::Config> {
        if self.0.kind != microsoft365::KIND {
            return Err(self.unnamed(&self.0.kind));
        }
        microsoft365::Config::from_stored(&self.0.config).map_err(|error| {
            graphql_error(&Error::Corrupt(format!(
                "provider {}: configuration: {error}",
                self.0.id
            )))
        })
    }

    fn unnamed(&self, kind: &str) -> async_graphql::Error {
        graphql_error(&Error::Corrupt(format!(
            "provider {} is of kind {kind:?}, which this API does not show",
            self.0.id
        )))
    }
}

#[Object]
impl Provider {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn kind(&self) -> Result<ProviderKind> {
        ProviderKind::from_name(&self.0.kind).ok_or_else(|| self.unnamed(&self.0.kind))
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The Directory (tenant) ID or a verified domain of the tenant.
    async fn tenant_id(&self) -> Result<String> {
        Ok(self.microsoft()?.tenant_id.into())
    }

    /// The Application (client) ID of the app registration.
    async fn client_id(&self) -> Result<String> {
        Ok(self.microsoft()?.client_id.into())
    }

    async fn cloud(&self) -> Result<MicrosoftCloud> {
        Ok(self.microsoft()?.cloud.into())
    }

    /// The last four characters of the client secret; the secret itself is never returned.
    async fn client_secret_hint(&self) -> &str {
        &self.0.client_secret_hint
    }

    async fn client_secret_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.client_secret_expires_at
    }

    async fn client_secret_status(&self) -> ApiSecretStatus {
        self.0.secret_status(Utc::now()).into()
    }

    /// False when the server answering cannot open the stored client secret: it was sealed with
    /// a key this server does not have (LM_SECRET_KEY changed without the old key listed after
    /// the new one, or differs between hosts). Connection tests then fail here, as do syncs on
    /// any process with the same keys: restore the key, or enter the secret again.
    async fn client_secret_readable(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(keyring(ctx)?.has_key(&self.0.client_secret_key_id))
    }

    /// Scheduled syncs run only for enabled providers.
    async fn enabled(&self) -> bool {
        self.0.enabled
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
            .map_err(|error| graphql_error(&error))?;
        Ok(count.unwrap_or(0))
    }

    /// The newest sync run, whatever its status; null before the first sync.
    async fn last_sync_run(&self, ctx: &Context<'_>) -> Result<Option<SyncRun>> {
        let loader = ctx.data::<DataLoader<LatestSyncRuns>>()?;
        let run = loader
            .load_one(self.0.id)
            .await
            .map_err(|error| graphql_error(&error))?;
        Ok(run.map(SyncRun::from))
    }

    /// The provider's license SKUs, by friendly name.
    #[graphql(complexity = "crate::api::limits::SKUS_PER_LIST * child_complexity")]
    async fn license_skus(&self, ctx: &Context<'_>) -> Result<Vec<LicenseSku>> {
        let skus: Option<Vec<DomainSku>> = load(ctx, self.0.id).await?;
        Ok(skus
            .unwrap_or_default()
            .into_iter()
            .map(LicenseSku::from)
            .collect())
    }

    /// Whether reclaim may change this provider's licenses: judged from the permissions the
    /// service granted the current access token (fetched if none is cached), without changing
    /// anything. `testProviderConnection` reports the same as its `licenseWrite` check.
    async fn license_write(&self, ctx: &Context<'_>) -> Result<LicenseWriteAccess> {
        let connection =
            domain::connect(database(ctx)?, keyring(ctx)?, registry(ctx)?, self.0.id).await;
        let access = match connection {
            Ok(connection) => kinds::write_access(connection.client.as_ref()).await,
            Err(error) => WriteAccess {
                allowed: false,
                code: Some(error.code()),
                message: format!("not checked: {error}"),
                hint: None,
            },
        };
        Ok(access.into())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(InputObject)]
pub struct CreateMicrosoftProviderInput {
    pub name: String,
    /// The Directory (tenant) ID, or a verified domain such as contoso.onmicrosoft.com.
    pub tenant_id: String,
    /// The Application (client) ID of the app registration.
    pub client_id: String,
    /// The secret's Value (not its Secret ID). Write-only: no query returns it.
    pub client_secret: String,
    /// The cloud the tenant lives in. Null, like absent, means GLOBAL.
    #[graphql(default_with = "Some(MicrosoftCloud::default())")]
    pub cloud: Option<MicrosoftCloud>,
    /// When the secret expires, as shown under Certificates & secrets.
    pub client_secret_expires_at: Option<DateTime<Utc>>,
    /// Minutes between scheduled syncs (15 to 10080); null for manual syncs only.
    pub sync_interval_minutes: Option<i32>,
}

impl From<CreateMicrosoftProviderInput> for NewProvider {
    fn from(input: CreateMicrosoftProviderInput) -> Self {
        let cloud = input.cloud.unwrap_or_default().into();
        Self {
            name: input.name,
            config: microsoft365::Config::parse(&input.tenant_id, &input.client_id, cloud),
            client_secret: SecretString::from(input.client_secret),
            client_secret_expires_at: input.client_secret_expires_at,
            sync_interval_minutes: input.sync_interval_minutes,
        }
    }
}

/// Only the fields given change; `null` clears the expiry or the sync interval.
#[derive(InputObject)]
pub struct UpdateMicrosoftProviderInput {
    pub name: Option<String>,
    /// A new secret's Value, to rotate it. Write-only.
    pub client_secret: Option<String>,
    pub cloud: Option<MicrosoftCloud>,
    pub client_secret_expires_at: MaybeUndefined<DateTime<Utc>>,
    pub sync_interval_minutes: MaybeUndefined<i32>,
    pub enabled: Option<bool>,
}

fn change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

impl From<UpdateMicrosoftProviderInput> for ProviderChanges {
    fn from(input: UpdateMicrosoftProviderInput) -> Self {
        Self {
            kind: microsoft365::KIND,
            name: input.name,
            client_secret: input.client_secret.map(SecretString::from),
            config: input
                .cloud
                .map(|cloud| microsoft365::Config::cloud_patch(cloud.into())),
            client_secret_expires_at: change(input.client_secret_expires_at),
            sync_interval_minutes: change(input.sync_interval_minutes),
            enabled: input.enabled,
        }
    }
}
