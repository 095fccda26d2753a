//! Request log and statistics: per route and status, throttling, retries that came before
//! their Retry-After elapsed, tokens issued, peak concurrency.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::server::SimState;
use crate::tenant::AssignedLicense;

/// One served request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLogEntry {
    /// Milliseconds since the server started.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The route pattern, e.g. `/{tenant}/oauth2/v2.0/token`.
    pub route: String,
    pub status: u16,
    pub duration_ms: f64,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

/// One assignLicense call that changed the tenant, in the order they were applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedWrite {
    pub at: DateTime<Utc>,
    pub user_id: Uuid,
    pub add_licenses: Vec<AssignedLicense>,
    pub remove_licenses: Vec<Uuid>,
    /// The client's `client-request-id`, when it sent one.
    pub client_request_id: Option<String>,
}

/// A point-in-time copy of the statistics.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub total_requests: u64,
    /// "METHOD route" → status → count.
    pub by_route: BTreeMap<String, BTreeMap<u16, u64>>,
    /// 429 answers injected.
    pub throttled: u64,
    /// 503/504 answers injected.
    pub unavailable: u64,
    /// 500/502/504 answers injected (`FaultOptions::server_error_rate`), JSON or HTML.
    pub server_errors: u64,
    /// Those of `server_errors` answered with the gateway's HTML page instead of Graph's JSON.
    pub html_errors: u64,
    /// 500 answers for the configured failing page.
    pub failed_pages: u64,
    /// Users listed a second time in a /users listing (`FaultOptions::repeat_users`).
    pub repeated_users: u64,
    /// Intermittent non-premium 403 answers injected.
    pub non_premium_injected: u64,
    /// Requests a client sent after it was answered 429 and before that answer's Retry-After
    /// elapsed. Requests already on their way when the 429 went out do not count: the client
    /// could not have known.
    pub early_retries: u64,
    pub tokens_issued: u64,
    pub token_errors: u64,
    pub peak_concurrency: u64,
    pub in_flight: u64,
    /// assignLicense calls by outcome: `applied`, `unauthenticated`, `forbidden`, `throttled`
    /// (write limit), `injectedThrottle`, `injectedUnavailable`, `userNotFound`, `badRequest`,
    /// `unknownSku`, `notHeld`, `inheritedFromGroup`, `noUsageLocation`, `noSeats`,
    /// `mutuallyExclusive`.
    pub license_writes: BTreeMap<String, u64>,
    /// 429s answered because a write limit was reached (not injected).
    pub write_limited: u64,
}

impl Stats {
    /// Count of answers with `status` on routes whose key contains `route` (e.g. "/v1.0/users").
    pub fn count(&self, route: &str, status: u16) -> u64 {
        self.by_route
            .iter()
            .filter(|(k, _)| k.ends_with(route))
            .filter_map(|(_, m)| m.get(&status))
            .sum()
    }
}

#[derive(Default)]
struct Inner {
    total: u64,
    by_route: BTreeMap<String, BTreeMap<u16, u64>>,
    log: VecDeque<RequestLogEntry>,
    /// Per client (app id or raw token): its last 429's wait.
    retry_windows: HashMap<String, RetryWindow>,
    license_writes: BTreeMap<String, u64>,
    applied_writes: Vec<AppliedWrite>,
}

/// From when a 429 was answered to when its Retry-After allows the client back.
#[derive(Clone, Copy)]
struct RetryWindow {
    told_at: Instant,
    until: Instant,
}

/// When a request reached the simulator, before any injected latency: the moment the client
/// sent it, as far as the simulator can tell.
#[derive(Clone, Copy)]
pub(crate) struct Arrival(pub Instant);

pub(crate) struct StatsCollector {
    inner: Mutex<Inner>,
    log_capacity: usize,
    started: Instant,
    in_flight: AtomicU64,
    peak: AtomicU64,
    pub throttled: AtomicU64,
    pub unavailable: AtomicU64,
    pub server_errors: AtomicU64,
    pub html_errors: AtomicU64,
    pub failed_pages: AtomicU64,
    pub repeated_users: AtomicU64,
    pub non_premium_injected: AtomicU64,
    pub early_retries: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub token_errors: AtomicU64,
    pub write_limited: AtomicU64,
}

impl StatsCollector {
    pub fn new(log_capacity: usize) -> Self {
        StatsCollector {
            inner: Mutex::new(Inner::default()),
            log_capacity,
            started: Instant::now(),
            in_flight: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            html_errors: AtomicU64::new(0),
            failed_pages: AtomicU64::new(0),
            repeated_users: AtomicU64::new(0),
            non_premium_injected: AtomicU64::new(0),
            early_retries: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
            token_errors: AtomicU64::new(0),
            write_limited: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the counters inconsistent enough to
        // matter, so recover from poisoning instead of failing every later request.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> Stats {
        let inner = self.lock();
        Stats {
            total_requests: inner.total,
            by_route: inner.by_route.clone(),
            throttled: self.throttled.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            html_errors: self.html_errors.load(Ordering::Relaxed),
            failed_pages: self.failed_pages.load(Ordering::Relaxed),
            repeated_users: self.repeated_users.load(Ordering::Relaxed),
            non_premium_injected: self.non_premium_injected.load(Ordering::Relaxed),
            early_retries: self.early_retries.load(Ordering::Relaxed),
            tokens_issued: self.tokens_issued.load(Ordering::Relaxed),
            token_errors: self.token_errors.load(Ordering::Relaxed),
            peak_concurrency: self.peak.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            license_writes: inner.license_writes.clone(),
            write_limited: self.write_limited.load(Ordering::Relaxed),
        }
    }

    /// Counts one assignLicense call under `outcome`.
    pub fn note_license_write(&self, outcome: &str) {
        *self
            .lock()
            .license_writes
            .entry(outcome.to_string())
            .or_insert(0) += 1;
    }

    /// Records a write that changed the tenant (and counts it as `applied`).
    pub fn note_applied(&self, write: AppliedWrite) {
        let mut inner = self.lock();
        *inner
            .license_writes
            .entry("applied".to_string())
            .or_insert(0) += 1;
        inner.applied_writes.push(write);
    }

    pub fn applied_writes(&self) -> Vec<AppliedWrite> {
        self.lock().applied_writes.clone()
    }

    pub fn log(&self) -> Vec<RequestLogEntry> {
        self.lock().log.iter().cloned().collect()
    }

    pub fn reset(&self) {
        let mut inner = self.lock();
        *inner = Inner::default();
        for a in [
            &self.throttled,
            &self.unavailable,
            &self.server_errors,
            &self.html_errors,
            &self.failed_pages,
            &self.repeated_users,
            &self.non_premium_injected,
            &self.early_retries,
            &self.tokens_issued,
            &self.token_errors,
            &self.write_limited,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.peak
            .store(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Records that `client` was told to wait `wait` before retrying.
    pub fn note_throttled(&self, client: &str, wait: Duration) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        let told_at = Instant::now();
        let mut window = RetryWindow {
            told_at,
            until: told_at + wait,
        };
        let mut inner = self.lock();
        // A 429 inside an earlier window extends it: a request sent in the earlier one stays early
        // when its check comes after the later 429.
        if let Some(earlier) = inner
            .retry_windows
            .get(client)
            .filter(|w| w.until > told_at)
        {
            window.told_at = earlier.told_at;
            window.until = window.until.max(earlier.until);
        }
        inner.retry_windows.insert(client.to_string(), window);
    }

    /// Counts the request, sent at `sent_at`, as an early retry if `client` sent it inside its
    /// Retry-After window.
    pub fn check_early_retry(&self, client: &str, sent_at: Instant) {
        let mut inner = self.lock();
        if let Some(window) = inner.retry_windows.get(client).copied() {
            if window.told_at <= sent_at && sent_at < window.until {
                self.early_retries.fetch_add(1, Ordering::Relaxed);
            } else if Instant::now() >= window.until {
                inner.retry_windows.remove(client);
            }
        }
    }

    fn begin(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn end(&self, entry: RequestLogEntry) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let mut inner = self.lock();
        inner.total += 1;
        *inner
            .by_route
            .entry(format!("{} {}", entry.method, entry.route))
            .or_default()
            .entry(entry.status)
            .or_insert(0) += 1;
        if self.log_capacity > 0 {
            if inner.log.len() >= self.log_capacity {
                inner.log.pop_front();
            }
            inner.log.push_back(entry);
        }
    }
}

/// Outermost middleware of the simulated services: counts concurrency, applies the fixed
/// latency (inside the concurrency window, as a slow service would), and logs the answer.
pub(crate) async fn track(
    State(state): State<Arc<SimState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let stats = &state.stats;
    stats.begin();
    let start = Instant::now();
    req.extensions_mut().insert(Arrival(start));
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_string(), |m| m.as_str().to_string());
    let latency = state.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let resp = next.run(req).await;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let entry = RequestLogEntry {
        at_ms: start.duration_since(stats.started).as_millis() as u64,
        method,
        path,
        query,
        route,
        status: resp.status().as_u16(),
        duration_ms: start.elapsed().as_secs_f64() * 1000.0,
        request_id: header("request-id"),
        client_request_id: header("client-request-id"),
    };
    tracing::debug!(
        method = %entry.method,
        path = %entry.path,
        status = entry.status,
        ms = entry.duration_ms,
        "request"
    );
    stats.end(entry);
    resp
}
