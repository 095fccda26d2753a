//! License providers: where licenses come from. A provider turns its service's data into the
//! plain records of `records`, which the sync engine writes; the engine sees only the
//! `LicenseProvider` trait, never a wire format.

pub mod microsoft365;
pub mod records;
pub mod registry;

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use records::{SignInRecord, SkuRecord, SubscriptionRecord, UserChange, UserRecord};

/// Why sign-in dates cannot be read, which decides what the admin must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInGap {
    /// The app lacks a permission (for Microsoft 365: AuditLog.Read.All).
    MissingPermission,
    /// The tenant lacks a licence (for Microsoft 365: Entra ID P1/P2).
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

/// A provider failure with a stable code and a hint an admin can act on.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub code: &'static str,
    pub message: String,
    pub hint: String,
    pub kind: ProviderErrorKind,
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
