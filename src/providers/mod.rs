//! License providers: where licenses come from. A provider turns its service's data into the
//! plain records of `records`, which the sync engine writes; the engine sees only the
//! `LicenseProvider` trait, never a wire format.
//!
//! Each kind of provider lives in a folder of its own (`microsoft365/`) and plugs into the
//! `registry` by its name: the engine, storage and API never name a kind's service.

pub mod microsoft365;
pub mod records;
pub mod registry;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::codes::Code;
use records::{SignInRecord, SkuRecord, SubscriptionRecord, UserChange, UserRecord};

/// `providers.sign_in_data_status` when the last sync could read sign-in activity; otherwise
/// it holds the [`SignInGap`] that kept it from them.
pub const SIGN_IN_AVAILABLE: &str = "AVAILABLE";

/// Why sign-in dates cannot be read, which decides what the admin must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInGap {
    /// The provider's credentials lack a permission.
    MissingPermission,
    /// The account at the service lacks the plan or licence that offers sign-in dates.
    NotPremium,
}

impl SignInGap {
    /// Stored in `providers.sign_in_data_status`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInGap::MissingPermission => "MISSING_PERMISSION",
            SignInGap::NotPremium => "NOT_PREMIUM",
        }
    }
}

/// How a provider's client repeats a read that failed for a reason that passes (throttling, an
/// outage of the service or its gateway, a reset connection, a timeout). It waits as the service
/// asks when it says, else `first_wait`, doubled at each retry with a random part; a read whose
/// retries would go past `budget` fails, and the sync with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_wait: Duration,
    pub budget: Duration,
}

impl Default for RetryPolicy {
    /// Minutes of patience: a sync outlives an outage of that length, and fails within minutes
    /// of a longer one rather than hanging for half an hour.
    fn default() -> Self {
        Self {
            first_wait: Duration::from_secs(2),
            budget: Duration::from_secs(300),
        }
    }
}

/// A provider failure with a stable code and a hint an admin can act on, in the words of the
/// provider's own set-up (its kind writes them: the engine passes them on as they are).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub code: Code,
    pub message: String,
    pub hint: String,
    pub kind: ProviderErrorKind,
}

impl ProviderError {
    /// A failure the engine has no special course for: the run fails with its code and hint.
    pub fn other(code: Code, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.into(),
            kind: ProviderErrorKind::Other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The stored delta link is no longer valid: run a full sync.
    DeltaExpired,
    /// Sign-in activity is refused; everything else still works.
    SignInUnavailable(SignInGap),
    Other,
}

/// The pages of a listing, each a batch of records.
pub type Pages<T> = BoxStream<'static, Result<T, ProviderError>>;

/// One page of an incremental round; the last one carries the link for the next round.
#[derive(Clone, Debug, Default)]
pub struct ChangePage {
    pub changes: Vec<UserChange>,
    pub next_round: Option<String>,
}

/// One named check of a connection test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionCheck {
    pub name: &'static str,
    pub ok: bool,
    pub code: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

/// A permission a kind's credentials need at its service, and what for. Frontends list these
/// from the API rather than copying them, so they stay in step with what the kind reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    pub name: &'static str,
    pub reason: &'static str,
    /// False for a permission that only adds something (or replaces others): syncs work
    /// without it.
    pub required: bool,
}

/// A kind's setup guide, served by the binary at `/docs/{slug}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guide {
    /// One path segment: lowercase letters, digits and dashes.
    pub slug: &'static str,
    pub title: &'static str,
    pub markdown: &'static str,
}

impl Guide {
    /// Where the binary serves the guide.
    pub fn path(&self) -> String {
        format!("/docs/{}", self.slug)
    }
}

/// What an admin needs to set up a provider of a kind: its name for people, the permissions to
/// grant at the service, and the guide that walks through it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindSetup {
    pub display_name: &'static str,
    pub permissions: Vec<Permission>,
    pub guide: Option<Guide>,
}

pub trait LicenseProvider: Send + Sync {
    /// Every user, page by page, with sign-in dates when `with_sign_in`.
    fn users(&self, with_sign_in: bool) -> Pages<Vec<UserRecord>>;
    /// The SKUs the tenant subscribes to, with seat counts.
    fn skus(&self) -> BoxFuture<'_, Result<Vec<SkuRecord>, ProviderError>>;
    fn subscriptions(&self) -> BoxFuture<'_, Result<Vec<SubscriptionRecord>, ProviderError>>;
    /// A link from which the next incremental round reports changes made from now on.
    fn start_changes(&self) -> BoxFuture<'_, Result<String, ProviderError>>;
    /// The changes since `link` was issued.
    fn changes_since(&self, link: String) -> Pages<ChangePage>;
    /// Sign-in dates only, to refresh them between full listings.
    fn sign_ins(&self) -> Pages<Vec<SignInRecord>>;
    /// Each check of what a sync needs; one failure does not hide the others.
    fn test_connection(&self) -> BoxFuture<'_, Vec<ConnectionCheck>>;
}

/// What a kind knows of its products without asking its service: the names of SKUs its users may
/// hold after the subscription ended, and which SKU already gives everything another gives.
pub trait Catalogue: Send + Sync {
    /// The part number and friendly name of a SKU, when the catalogue knows it.
    fn product(&self, sku_id: &str) -> Option<ProductName>;
    /// Whether SKU `outer` includes everything SKU `inner` gives. In doubt, false: a missed
    /// overlap costs a finding, a false one would have an admin remove a license someone needs.
    fn contains(&self, outer: &str, inner: &str) -> bool;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductName {
    pub part_number: String,
    pub name: String,
}

/// The catalogue of a kind that has none: SKUs keep the names their provider reports, and no SKU
/// contains another.
pub struct NoCatalogue;

impl Catalogue for NoCatalogue {
    fn product(&self, _sku_id: &str) -> Option<ProductName> {
        None
    }

    fn contains(&self, _outer: &str, _inner: &str) -> bool {
        false
    }
}

/// A provider's client with its kind's catalogue: what a sync needs of a provider.
#[derive(Clone)]
pub struct Connection {
    pub client: Arc<dyn LicenseProvider>,
    pub catalogue: Arc<dyn Catalogue>,
}

/// A provider's configuration as its kind checked it, ready to be stored: the kind's name, the
/// configuration (`providers.config`), and the account it names at the service
/// (`providers.account_key`): two providers of one kind never name the same account, and the
/// sealed secret is bound to it, so a secret copied onto another account's row does not open.
#[derive(Clone, Debug, PartialEq)]
pub struct KindConfig {
    pub kind: &'static str,
    pub account_key: String,
    pub config: serde_json::Value,
}

/// Top-level fields of a stored configuration to replace, built by a kind from typed values and
/// carrying that kind's reading of a whole stored configuration: a patch applies only to a
/// provider of its kind, and the patched configuration is read back before it is stored, so a
/// configuration its kind cannot read never reaches the database.
#[derive(Clone, Debug)]
pub struct ConfigPatch {
    kind: &'static str,
    fields: serde_json::Map<String, serde_json::Value>,
    read: fn(&serde_json::Value) -> Option<KindConfig>,
}

/// Why a patch was not applied; never quotes a value, stored or submitted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("names a provider of kind {stored}, not {patch}")]
    OtherKind { stored: String, patch: &'static str },
    #[error("would leave a configuration that is not a valid {0} configuration")]
    Unreadable(&'static str),
    /// The sealed secret is bound to the account; a patch that moved it would orphan the secret.
    #[error("would change the account the client secret is bound to")]
    AccountChanged,
}

impl ConfigPatch {
    /// An empty patch for providers of `kind`, whose stored configurations `read` reads.
    pub fn new(kind: &'static str, read: fn(&serde_json::Value) -> Option<KindConfig>) -> Self {
        Self {
            kind,
            fields: serde_json::Map::new(),
            read,
        }
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    #[must_use]
    pub fn set(mut self, field: &str, value: impl Into<serde_json::Value>) -> Self {
        self.fields.insert(field.to_owned(), value.into());
        self
    }

    /// The names of the fields the patch replaces, for the audit trail.
    pub fn field_names(&self) -> Vec<String> {
        self.fields.keys().cloned().collect()
    }

    /// `stored` (of a provider of kind `kind` naming `account_key`) with the patch applied, as the
    /// patch's kind reads it.
    pub fn apply(
        self,
        kind: &str,
        account_key: &str,
        stored: &serde_json::Value,
    ) -> Result<KindConfig, PatchError> {
        if kind != self.kind {
            return Err(PatchError::OtherKind {
                stored: kind.to_owned(),
                patch: self.kind,
            });
        }
        let mut config = stored.clone();
        let Some(fields) = config.as_object_mut() else {
            return Err(PatchError::Unreadable(self.kind));
        };
        fields.extend(self.fields);
        let patched = (self.read)(&config).ok_or(PatchError::Unreadable(self.kind))?;
        if patched.account_key != account_key {
            return Err(PatchError::AccountChanged);
        }
        Ok(patched)
    }
}
