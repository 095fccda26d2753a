//! What one client may hold of a serving process: its time and its connections. The settings
//! (`config`) fill these in; docs/security.md says why each default is what it is.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::time::Duration;

use crate::api::{DocumentCache, SubscriptionLimits};

/// A duration that is not zero, written as `--ttl` takes them (`10s`, `2m`): a zero timeout
/// would refuse everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timeout(Duration);

impl Timeout {
    pub const HEADER_READ: Self = Self(Duration::from_secs(10));
    /// Below the header-read timeout, which closes an idle connection too (see `http::serve`).
    pub const KEEP_ALIVE: Self = Self(Duration::from_secs(5));
    pub const REQUEST: Self = Self(Duration::from_secs(30));
    pub const WEBSOCKET_INIT: Self = Self(Duration::from_secs(10));
    /// How often a websocket opened with an API token looks it up again, so that a revocation
    /// ends the subscriptions it runs, not only its next operation.
    pub const API_TOKEN_RECHECK: Self = Self(Duration::from_secs(15));

    pub fn new(duration: Duration) -> Result<Self, String> {
        if duration.is_zero() {
            return Err("a timeout must be longer than zero".into());
        }
        Ok(Self(duration))
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for Timeout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::new(humantime::parse_duration(text).map_err(|error| error.to_string())?)
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

const fn nonzero(count: usize) -> NonZeroUsize {
    match NonZeroUsize::new(count) {
        Some(count) => count,
        None => panic!("a limit of zero"),
    }
}

/// How the server holds its connections (see `http::serve`).
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Timeout,
    pub keep_alive_timeout: Timeout,
    pub max_connections: NonZeroUsize,
}

impl ConnectionLimits {
    /// Well under the 20,000 files a host commonly lets a service open, with room for the
    /// database pool and the data folder, and far above what a team's dashboards hold.
    pub const MAX_CONNECTIONS: NonZeroUsize = nonzero(1024);
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Timeout::HEADER_READ,
            keep_alive_timeout: Timeout::KEEP_ALIVE,
            max_connections: Self::MAX_CONNECTIONS,
        }
    }
}

/// Every limit of a serving process.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    pub connections: ConnectionLimits,
    pub request_timeout: Timeout,
    pub websocket_init_timeout: Timeout,
    /// Fixed in production ([`Timeout::API_TOKEN_RECHECK`]); tests shorten it.
    pub api_token_recheck: Timeout,
    pub subscriptions: SubscriptionLimits,
    /// Parsed GraphQL documents kept by their text; 0 keeps none.
    pub document_cache: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            connections: ConnectionLimits::default(),
            request_timeout: Timeout::REQUEST,
            websocket_init_timeout: Timeout::WEBSOCKET_INIT,
            api_token_recheck: Timeout::API_TOKEN_RECHECK,
            subscriptions: SubscriptionLimits::default(),
            document_cache: DocumentCache::ENTRIES,
        }
    }
}
