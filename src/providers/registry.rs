//! The kinds of provider this process knows, by the name stored in `providers.kind`, and the
//! clients built from stored configurations, kept while a configuration is unchanged so that an
//! access token is reused across syncs and connection tests.
//!
//! A kind plugs in with one line: `ProviderRegistry::new(…)?.with_kind(SomeKind::new(…))`. The
//! shipped kinds are registered by [`ProviderRegistry::standard`]; a test suite may add its own.

use crate::codes::Code;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::microsoft365::{EndpointOverrides, Microsoft365Kind};
use super::{
    Catalogue, Connection, Guide, KindSetup, LicenseProvider, NoCatalogue, ProviderError,
    RetryPolicy,
};

/// What every kind's clients share.
#[derive(Clone, Debug)]
pub struct Shared {
    /// One connection pool for every provider.
    pub http: reqwest::Client,
    pub retry: RetryPolicy,
}

/// A kind of provider: reads its configuration, builds clients, names its products.
pub trait ProviderKind: Send + Sync {
    /// Stored in `providers.kind`; never changes once a provider of the kind exists.
    fn name(&self) -> &'static str;

    /// A client for the account `config` (as stored) names, signing in with `secret`. Fails
    /// when the configuration is not one of this kind.
    fn connect(
        &self,
        shared: &Shared,
        config: &serde_json::Value,
        secret: SecretString,
    ) -> Result<Arc<dyn LicenseProvider>, ProviderError>;

    /// What the kind knows of its products; by default nothing.
    fn catalogue(&self) -> Arc<dyn Catalogue> {
        Arc::new(NoCatalogue)
    }

    /// How an admin sets up a provider of the kind; by default its stored name, with no
    /// permissions listed and no guide.
    fn setup(&self) -> KindSetup {
        KindSetup {
            display_name: self.name(),
            permissions: Vec::new(),
            guide: None,
        }
    }
}

/// One stored provider, with its secret opened: what it takes to build its client.
pub struct StoredProvider<'a> {
    pub id: i64,
    pub kind: &'a str,
    /// Changes whenever the provider is updated; a new version gets a new client.
    pub version: DateTime<Utc>,
    pub config: &'a serde_json::Value,
    pub secret: SecretString,
}

/// A client built for one version of a provider's configuration.
type CachedConnection = (DateTime<Utc>, Connection);

pub struct ProviderRegistry {
    shared: Shared,
    kinds: HashMap<&'static str, Arc<dyn ProviderKind>>,
    connections: Mutex<HashMap<i64, CachedConnection>>,
}

impl ProviderRegistry {
    /// A registry of no kinds, whose clients' reads retry as `retry` says.
    pub fn new(retry: RetryPolicy) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            // A service that does not even accept the connection within this is down for the
            // sync's purpose; the retry policy decides what happens next.
            .connect_timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("license-manager/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                ProviderError::other(
                    Code::Internal,
                    format!("cannot build the HTTP client: {error}"),
                    "check the server's TLS set-up",
                )
            })?;
        Ok(Self {
            shared: Shared { http, retry },
            kinds: HashMap::new(),
            connections: Mutex::new(HashMap::new()),
        })
    }

    /// The kinds this build ships.
    pub fn standard(
        microsoft365: EndpointOverrides,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        Ok(Self::new(retry)?.with_kind(Microsoft365Kind::new(microsoft365)))
    }

    /// Adds a kind; one of the same name is replaced.
    pub fn with_kind(mut self, kind: impl ProviderKind + 'static) -> Self {
        self.kinds.insert(kind.name(), Arc::new(kind));
        self
    }

    /// Adds a kind already shared.
    pub fn with_shared_kind(mut self, kind: Arc<dyn ProviderKind>) -> Self {
        self.kinds.insert(kind.name(), kind);
        self
    }

    /// The catalogue of a kind; an unknown kind's is empty.
    pub fn catalogue(&self, kind: &str) -> Arc<dyn Catalogue> {
        self.kinds.get(kind).map_or_else(
            || Arc::new(NoCatalogue) as Arc<dyn Catalogue>,
            |kind| kind.catalogue(),
        )
    }

    /// Every kind's name (as stored in `providers.kind`) and setup, by name.
    pub fn kinds(&self) -> Vec<(&'static str, KindSetup)> {
        let mut kinds: Vec<_> = self
            .kinds
            .iter()
            .map(|(name, kind)| (*name, kind.setup()))
            .collect();
        kinds.sort_by_key(|(name, _)| *name);
        kinds
    }

    /// The setup guide whose slug is `slug`, of whichever kind has it.
    pub fn guide(&self, slug: &str) -> Option<Guide> {
        self.kinds
            .values()
            .filter_map(|kind| kind.setup().guide)
            .find(|guide| guide.slug == slug)
    }

    /// The client of a stored provider: the cached one while its version is unchanged.
    pub fn connect(&self, provider: StoredProvider<'_>) -> Result<Connection, ProviderError> {
        if let Some(connection) = self.cached(provider.id, provider.version) {
            return Ok(connection);
        }
        let kind = self.kinds.get(provider.kind).ok_or_else(|| {
            ProviderError::other(
                Code::Internal,
                format!("this server knows no provider kind {:?}", provider.kind),
                "run a version of the server that supports this kind of provider",
            )
        })?;
        let connection = Connection {
            client: kind.connect(&self.shared, provider.config, provider.secret)?,
            catalogue: kind.catalogue(),
        };
        if let Ok(mut connections) = self.connections.lock() {
            connections.insert(provider.id, (provider.version, connection.clone()));
        }
        Ok(connection)
    }

    fn cached(&self, provider_id: i64, version: DateTime<Utc>) -> Option<Connection> {
        let connections = self.connections.lock().ok()?;
        connections
            .get(&provider_id)
            .filter(|(cached_version, _)| *cached_version == version)
            .map(|(_, connection)| connection.clone())
    }
}
