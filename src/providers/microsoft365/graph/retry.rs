//! Retries of transient failures (429, 500, 502, 503, 504, connection errors, timeouts; see
//! `RawResponse::is_retryable_status`) with `backon`: exponential backoff with jitter, replaced
//! by the server's `Retry-After` when it sends one (Graph: "Backing off requests using the
//! Retry-After delay is the fastest way to recover"), bounded by attempts, by a cap on any
//! single wait and by a total time budget.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use backon::{ExponentialBuilder, Retryable};

use super::error::GraphError;

/// Retry limits. The defaults follow the Graph SDKs' policy, shortened so a sync fails within
/// minutes rather than half an hour; tests shrink them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in total, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// First backoff delay when the server gives no Retry-After; doubles per retry, plus jitter.
    pub base_delay: Duration,
    /// Cap on any single wait, Retry-After included (observed Retry-After values reach 315 s).
    pub max_wait: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub total_budget: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 6,
            base_delay: Duration::from_secs(2),
            max_wait: Duration::from_secs(60),
            total_budget: Duration::from_secs(300),
        }
    }
}

impl RetryConfig {
    /// For requests someone is waiting on (the connection test): a few seconds of retries, and
    /// no waiting out a throttle that lasts longer than that.
    pub fn interactive() -> Self {
        RetryConfig {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            total_budget: Duration::from_secs(10),
            ..RetryConfig::default()
        }
    }
}

/// Whether and how a failed attempt may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryHint {
    /// Permanent: return the error now.
    Never,
    /// Transient without guidance: exponential backoff.
    Backoff,
    /// Transient; the server said when (`Retry-After`).
    After(Duration),
}

/// A failed attempt: the error to report if no retry follows, and whether one may.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: GraphError,
    pub retry: RetryHint,
}

impl Failure {
    pub fn permanent(error: GraphError) -> Self {
        Failure {
            error,
            retry: RetryHint::Never,
        }
    }

    pub fn transient(error: GraphError, retry_after: Option<Duration>) -> Self {
        Failure {
            error,
            retry: retry_after.map_or(RetryHint::Backoff, RetryHint::After),
        }
    }
}

impl From<GraphError> for Failure {
    fn from(error: GraphError) -> Self {
        Failure::permanent(error)
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or the limits are reached; returns the
/// last error then. `what` names the request in logs.
pub(crate) async fn run<T, F, Fut>(
    config: &RetryConfig,
    what: &str,
    attempt: F,
) -> Result<T, GraphError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let started = Instant::now();
    let mut retries = 0u32;
    let backoff = ExponentialBuilder::default()
        .with_min_delay(config.base_delay)
        .with_max_delay(config.max_wait)
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(config.max_attempts.saturating_sub(1) as usize);
    attempt
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|f: &Failure| f.retry != RetryHint::Never)
        // `adjust` sees the backoff's next delay (None once attempts are used up) and may
        // replace it by Retry-After, cap it, or stop when the time budget would be exceeded.
        .adjust(|f: &Failure, backoff: Option<Duration>| {
            next_wait(config, what, f, backoff?, started.elapsed())
        })
        .notify(|f: &Failure, wait: Duration| {
            retries += 1;
            tracing::warn!(
                what,
                retry = retries,
                code = %f.error.code(),
                status = f.error.status(),
                request_id = f.error.request_id(),
                wait_ms = wait.as_millis() as u64,
                error = %f.error,
                "Microsoft request failed; retrying"
            );
        })
        .await
        .map_err(|f| f.error)
}

/// The wait before the next attempt, or None to give up.
fn next_wait(
    config: &RetryConfig,
    what: &str,
    f: &Failure,
    backoff: Duration,
    elapsed: Duration,
) -> Option<Duration> {
    let wanted = match f.retry {
        RetryHint::Never => return None,
        RetryHint::Backoff => backoff,
        RetryHint::After(d) => d,
    };
    let wait = if wanted > config.max_wait {
        tracing::warn!(
            what,
            wanted_ms = wanted.as_millis() as u64,
            cap_ms = config.max_wait.as_millis() as u64,
            request_id = f.error.request_id(),
            "wait capped at the configured maximum"
        );
        config.max_wait
    } else {
        wanted
    };
    if elapsed + wait > config.total_budget {
        tracing::warn!(
            what,
            elapsed_ms = elapsed.as_millis() as u64,
            budget_ms = config.total_budget.as_millis() as u64,
            request_id = f.error.request_id(),
            "retry time budget exhausted; giving up"
        );
        return None;
    }
    Some(wait)
}

/// Parses `Retry-After`: whole or fractional seconds (Graph has sent `10` and `2.128`), or an
/// HTTP-date (RFC 9110). A date in the past means "now"; garbage means "no guidance".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(u32::MAX as f64)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use crate::codes::Code;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::providers::microsoft365::graph::error::ErrorKind;

    fn small() -> RetryConfig {
        RetryConfig {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_wait: Duration::from_millis(20),
            total_budget: Duration::from_secs(5),
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after(" 2.128 ", now),
            Some(Duration::from_millis(2128))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn waits_are_capped_and_budgeted() {
        let cfg = small();
        let f = Failure::transient(
            GraphError::new(ErrorKind::Throttled, "x"),
            Some(Duration::from_secs(315)),
        );
        assert_eq!(
            next_wait(&cfg, "t", &f, Duration::from_millis(1), Duration::ZERO),
            Some(cfg.max_wait)
        );
        assert_eq!(
            next_wait(
                &cfg,
                "t",
                &f,
                Duration::from_millis(1),
                Duration::from_secs(5)
            ),
            None
        );
        let f = Failure::transient(GraphError::new(ErrorKind::Unavailable, "x"), None);
        assert_eq!(
            next_wait(&cfg, "t", &f, Duration::from_millis(3), Duration::ZERO),
            Some(Duration::from_millis(3))
        );
    }

    /// A failed attempt as the client makes it from an answer of `status` with `body`.
    fn answered(status: u16, body: &str, retry_after: Option<Duration>) -> Failure {
        use crate::providers::microsoft365::graph::response::{
            Api, GraphErrorInfo, RawResponse, classify_graph,
        };
        let mut raw = RawResponse::fake(status, body);
        raw.retry_after = retry_after;
        let error = classify_graph(Api::Organization, raw.status, &GraphErrorInfo::parse(&raw));
        raw.into_failure(error)
    }

    const GATEWAY_PAGE: &str = "<html><head><title>502 Bad Gateway</title></head></html>";

    /// Runs `run` over attempts that fail with `failures` in turn, then succeed; returns the
    /// outcome and when each attempt started, counted from the first.
    async fn attempts(
        config: &RetryConfig,
        failures: Vec<Failure>,
    ) -> (Result<(), GraphError>, Vec<Duration>) {
        let start = Instant::now();
        let failures = std::sync::Mutex::new(failures.into_iter());
        let times = std::sync::Mutex::new(Vec::new());
        let result = run(config, "t", || async {
            times.lock().expect("times").push(start.elapsed());
            match failures.lock().expect("failures").next() {
                Some(failure) => Err(failure),
                None => Ok(()),
            }
        })
        .await;
        (result, times.into_inner().expect("times"))
    }

    #[tokio::test(start_paused = true)]
    async fn transient_answers_of_graph_and_its_gateway_are_retried() {
        for status in [429, 500, 502, 503, 504] {
            for body in ["", GATEWAY_PAGE, r#"{"error":{"code":"x","message":"m"}}"#] {
                let failures = vec![answered(status, body, None), answered(status, body, None)];
                let (result, times) = attempts(&small(), failures).await;
                assert!(result.is_ok(), "{status} {body:?}: {result:?}");
                assert_eq!(times.len(), 3, "{status} {body:?}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn other_client_errors_are_never_retried() {
        for status in [400, 401, 403, 404, 409, 410, 501] {
            let (result, times) = attempts(&small(), vec![answered(status, "", None)]).await;
            assert_eq!(result.unwrap_err().status(), Some(status));
            assert_eq!(times.len(), 1, "{status} is answered at once");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_wins_over_the_backoff_for_every_retried_status() {
        let config = RetryConfig {
            base_delay: Duration::from_secs(1),
            ..RetryConfig::default()
        };
        for status in [429, 500, 502, 503, 504] {
            let wait = Duration::from_secs(7);
            let (result, times) = attempts(&config, vec![answered(status, "", Some(wait))]).await;
            assert!(result.is_ok());
            assert_eq!(times, [Duration::ZERO, wait], "{status}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_with_jitter_until_the_budget_is_spent() {
        let config = RetryConfig {
            max_attempts: 20,
            base_delay: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
            total_budget: Duration::from_millis(14_500),
        };
        let failures = (0..20).map(|_| answered(502, GATEWAY_PAGE, None)).collect();
        let (result, times) = attempts(&config, failures).await;
        let error = result.expect_err("the gateway never recovers");
        assert_eq!(error.code(), Code::ProviderUnavailable);
        assert_eq!(
            error.message(),
            "HTTP 502 Bad Gateway with an HTML page from the gateway"
        );
        for (n, gap) in times.windows(2).map(|w| w[1] - w[0]).enumerate() {
            let base = config.base_delay * 2u32.pow(n as u32);
            assert!(
                gap >= base && gap <= base * 2,
                "wait {n} is {gap:?}, not within [{base:?}, {:?}]",
                base * 2
            );
        }
        // Three waits of 1–2 s, 2–4 s and 4–8 s end by 14 s, within the budget; a fourth
        // (8–16 s more, after at least 7 s) would end past it, so no attempt is made.
        assert_eq!(times.len(), 4, "{times:?}");
        assert!(*times.last().expect("attempts") <= config.total_budget);
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_permanent_errors_stop() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = run(&small(), "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure::transient(
                GraphError::new(ErrorKind::Unavailable, "down"),
                None,
            ))
        })
        .await;
        assert_eq!(r.unwrap_err().code(), Code::ProviderUnavailable);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        calls.store(0, Ordering::SeqCst);
        let r: Result<(), _> = run(&small(), "t", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure::permanent(GraphError::new(
                ErrorKind::Internal,
                "bad",
            )))
        })
        .await;
        assert_eq!(r.unwrap_err().code(), Code::Internal);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
