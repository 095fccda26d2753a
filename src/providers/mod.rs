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
use records::{
    GroupRecord, LicenseRecord, SignInDates, SignInRecord, SkuRecord, SubscriptionRecord,
    UserChange, UserRecord,
};

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
    /// The check is of something optional (syncs work without it): when it does not pass, it
    /// warns rather than fails the test.
    pub warning: bool,
    pub code: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl ConnectionCheck {
    /// Whether the check stands in the way of syncs: it did not pass and is no mere warning.
    pub fn failed(&self) -> bool {
        !self.ok && !self.warning
    }
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
    /// The groups of `ids` (group ids as in [`records::LicenseSource`]) that the service has,
    /// each once; an id it does not have (any more) is left out. For reclaim plans, which name
    /// the groups a license comes through. A kind that cannot read groups answers
    /// GROUPS_UNAVAILABLE, the default.
    fn groups<'a>(
        &'a self,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<GroupRecord>, ProviderError>> {
        let _ = ids;
        Box::pin(async {
            Err(ProviderError::other(
                Code::GroupsUnavailable,
                "this kind of provider cannot read groups",
                "Look the groups up by id in the provider's own console.",
            ))
        })
    }

    /// What changes licenses at the service, for a kind that can; by default none.
    fn license_writer(&self) -> Option<&dyn LicenseWriter> {
        None
    }
}

/// Whether a provider may change licenses now, and if not, why (what an admin reads where
/// reclaim is off).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteAccess {
    pub allowed: bool,
    /// Why not: INSUFFICIENT_PRIVILEGES, LICENSE_WRITE_UNSUPPORTED, or the failure that kept the
    /// provider from finding out (a refused secret, an unreachable service).
    pub code: Option<Code>,
    pub message: String,
    pub hint: Option<String>,
}

impl WriteAccess {
    /// The answer for a kind that cannot change licenses.
    pub fn unsupported() -> Self {
        Self {
            allowed: false,
            code: Some(Code::LicenseWriteUnsupported),
            message: "this kind of provider cannot change licenses".into(),
            hint: Some("Remove such licenses at the provider's own console.".into()),
        }
    }
}

/// One user as a change of its licenses must re-check it first, as the service has it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseState {
    pub external_id: String,
    pub account_enabled: bool,
    /// The latest sign-in dates.
    pub sign_in: SignInDates,
    /// Each license held: how it is held (directly, through which groups), each path's state
    /// and error, and the disabled plans (to restore on undo).
    pub licenses: Vec<LicenseRecord>,
}

impl LicenseState {
    /// The license of `sku_id` (any case), when the user holds it.
    pub fn license(&self, sku_id: &str) -> Option<&LicenseRecord> {
        self.licenses
            .iter()
            .find(|license| license.sku_id.eq_ignore_ascii_case(sku_id))
    }
}

/// A change the service applied, or found already done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseChanged {
    Removed,
    Added,
    /// The user did not hold the license (any more): its seat is free, nothing changed. Also
    /// what a removal repeated after a lost answer reports.
    AlreadyRemoved,
}

impl LicenseChanged {
    pub fn code(self) -> Code {
        match self {
            Self::Removed => Code::Removed,
            Self::Added => Code::Added,
            Self::AlreadyRemoved => Code::AlreadyRemoved,
        }
    }
}

/// Why a license could not be read or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFailure {
    /// Held only through groups: only the groups can take it away.
    InheritedFromGroup,
    UserNotFound,
    /// No seat left to add it (on undo: the seat went to someone else).
    CountViolation,
    /// A direct assignment needs the user's usage location.
    UsageLocationMissing,
    /// The provider's credentials may not change licenses.
    InsufficientPrivileges,
    /// The service kept throttling past the client's retries; try again after `retry_after`
    /// (what it last asked for, when it said).
    Throttled {
        retry_after: Option<Duration>,
    },
    /// The service kept failing or could not be reached past the client's retries.
    Unavailable,
    /// This kind of provider cannot change licenses.
    Unsupported,
    /// Any other refusal or failure, by its code (LICENSE_WRITE_REFUSED, a refused secret, …).
    Other(Code),
}

impl WriteFailure {
    pub fn code(self) -> Code {
        match self {
            Self::InheritedFromGroup => Code::InheritedFromGroup,
            Self::UserNotFound => Code::UserNotFound,
            Self::CountViolation => Code::CountViolation,
            Self::UsageLocationMissing => Code::UsageLocationMissing,
            Self::InsufficientPrivileges => Code::InsufficientPrivileges,
            Self::Throttled { .. } => Code::Throttled,
            Self::Unavailable => Code::ProviderUnavailable,
            Self::Unsupported => Code::LicenseWriteUnsupported,
            Self::Other(code) => code,
        }
    }

    /// Whether the same call may succeed later unchanged: the caller tries it again then.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable)
    }
}

/// A license read or change that did not succeed, with the provider's message and a hint in
/// the words of its set-up.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}: {message}", failure.code())]
pub struct LicenseWriteError {
    pub failure: WriteFailure,
    pub message: String,
    pub hint: String,
}

impl LicenseWriteError {
    pub fn unsupported() -> Self {
        let access = WriteAccess::unsupported();
        Self {
            failure: WriteFailure::Unsupported,
            message: access.message,
            hint: access.hint.unwrap_or_default(),
        }
    }

    pub fn code(&self) -> Code {
        self.failure.code()
    }
}

/// Changes users' licenses at the service: what reclaim and its undo call, one user and one
/// SKU at a time. Every id is the service's own (`external_id`, `sku_id` of the records).
///
/// Calls are safe to repeat: a removal repeated after a lost answer reports
/// [`LicenseChanged::AlreadyRemoved`], an addition repeated sets the same license again. A
/// client retries throttling and outages within its retry policy (honouring the service's
/// waits) before it reports them as retryable failures.
pub trait LicenseWriter: Send + Sync {
    /// Whether the credentials may change licenses, judged without changing anything.
    fn write_access(&self) -> BoxFuture<'_, WriteAccess>;

    /// The user as it stands now; None when the directory does not have it (any more).
    fn license_state<'a>(
        &'a self,
        user_external_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<LicenseState>, LicenseWriteError>>;

    /// Removes the user's own assignment of the SKU (group assignments stay; see
    /// [`WriteFailure::InheritedFromGroup`]).
    fn remove_license<'a>(
        &'a self,
        user_external_id: &'a str,
        sku_external_id: &'a str,
    ) -> BoxFuture<'a, Result<LicenseChanged, LicenseWriteError>>;

    /// Assigns the SKU to the user directly with these plans switched off (or sets the plans,
    /// when the user already holds it directly).
    fn add_license<'a>(
        &'a self,
        user_external_id: &'a str,
        sku_external_id: &'a str,
        disabled_plans: &'a [String],
    ) -> BoxFuture<'a, Result<LicenseChanged, LicenseWriteError>>;
}

/// What a provider answers about writing licenses, whether its kind can or not.
pub async fn write_access(provider: &dyn LicenseProvider) -> WriteAccess {
    match provider.license_writer() {
        Some(writer) => writer.write_access().await,
        None => WriteAccess::unsupported(),
    }
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
