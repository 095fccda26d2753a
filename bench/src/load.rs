//! The load generator: a fixed number of clients (one HTTP/1.1 connection each, reused) POST
//! one GraphQL request over and over.
//!
//! Two disciplines:
//! - closed loop: each client sends its next request as soon as the previous one is answered;
//!   it measures capacity (requests/s at that concurrency);
//! - open loop: requests are due on a fixed schedule (client i sends its k-th request at
//!   (i + k·clients) / rate), and latency counts from the time a request was *due*, not when it
//!   went out. A stalled server therefore shows up in the percentiles instead of silently
//!   thinning the samples (no coordinated omission).

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Latencies are recorded in microseconds, up to a minute, with 3 significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;

/// One GraphQL request, serialized once and sent many times.
#[derive(Clone)]
pub struct Target {
    http: reqwest::Client,
    url: String,
    /// None for a peer that refuses a bearer token it was not configured for.
    authorization: Option<String>,
    /// Cheap to clone per request.
    body: Bytes,
}

impl Target {
    pub fn new(
        http: reqwest::Client,
        url: String,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> anyhow::Result<Self> {
        let body =
            serde_json::to_vec(&serde_json::json!({ "query": query, "variables": variables }))
                .context("cannot encode the request")?;
        Ok(Self {
            http,
            url,
            authorization: token.map(|token| format!("Bearer {token}")),
            body: Bytes::from(body),
        })
    }

    /// Sends the request once and classifies the answer.
    async fn send(&self) -> Answer {
        let mut request = self.http.post(&self.url);
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        let response = request
            .header("content-type", "application/json")
            .body(self.body.clone())
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => return Answer::Failed(format!("no answer: {e}")),
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return Answer::Failed(format!("body not read: {e}")),
        };
        if status != reqwest::StatusCode::OK {
            return Answer::Failed(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
        }
        // Only the top-level `errors` key is looked at; the rest is skipped without allocating,
        // so the generator takes as little CPU from the server as possible.
        #[derive(Deserialize)]
        struct Envelope {
            errors: Option<IgnoredAny>,
        }
        match serde_json::from_slice::<Envelope>(&bytes) {
            Ok(Envelope { errors: None }) => Answer::Ok,
            Ok(Envelope { errors: Some(_) }) => {
                Answer::GraphqlError(String::from_utf8_lossy(&bytes).chars().take(500).collect())
            }
            Err(e) => Answer::Failed(format!("200 without a GraphQL body: {e}")),
        }
    }
}

enum Answer {
    Ok,
    /// Non-200, no answer, or a body that is not GraphQL.
    Failed(String),
    GraphqlError(String),
}

/// What one phase measured.
pub struct Outcome {
    pub histogram: Histogram<u64>,
    pub requests: u64,
    pub failed: u64,
    pub graphql_errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            requests: 0,
            failed: 0,
            graphql_errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
        }
    }

    fn record(&mut self, latency: Duration, answer: Answer) {
        self.requests += 1;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
        let error = match answer {
            Answer::Ok => return,
            Answer::Failed(e) => {
                self.failed += 1;
                e
            }
            Answer::GraphqlError(e) => {
                self.graphql_errors += 1;
                e
            }
        };
        self.first_error.get_or_insert(error);
    }

    pub fn merge(&mut self, other: Outcome) {
        // Same bounds on both sides, so adding cannot fail.
        self.histogram.add(&other.histogram).ok();
        self.requests += other.requests;
        self.failed += other.failed;
        self.graphql_errors += other.graphql_errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn mean_us(&self) -> f64 {
        self.histogram.mean()
    }

    pub fn percentile_us(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64
    }

    /// A percentile in milliseconds.
    pub fn percentile_ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// How the clients pace their requests.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Back to back.
    Closed,
    /// This many requests per second in total, on a fixed schedule.
    Open { rate: f64 },
}

/// Runs `clients` clients for `duration` and merges what they measured.
pub async fn run(target: &Target, clients: usize, pace: Pace, duration: Duration) -> Outcome {
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let target = target.clone();
            tokio::spawn(client(target, i, clients, pace, start, duration))
        })
        .collect();
    let mut total = Outcome::new();
    for task in tasks {
        match task.await {
            Ok(outcome) => total.merge(outcome),
            Err(e) => {
                total.failed += 1;
                total
                    .first_error
                    .get_or_insert(format!("load client failed: {e}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// Sends the request `count` times from one client, each once the previous one is answered: a
/// fixed amount of work, for figures counted per request rather than timed.
pub async fn sequential(target: &Target, count: usize) -> Outcome {
    let start = Instant::now();
    let mut outcome = Outcome::new();
    for _ in 0..count {
        let sent = Instant::now();
        let answer = target.send().await;
        outcome.record(sent.elapsed(), answer);
    }
    outcome.elapsed = start.elapsed();
    outcome
}

async fn client(
    target: Target,
    index: usize,
    clients: usize,
    pace: Pace,
    start: Instant,
    duration: Duration,
) -> Outcome {
    let mut outcome = Outcome::new();
    let end = start + duration;
    for k in 0u64.. {
        let due = match pace {
            Pace::Closed => Instant::now(),
            Pace::Open { rate } => {
                let slot = index as f64 + k as f64 * clients as f64;
                start + Duration::from_secs_f64(slot / rate)
            }
        };
        if due >= end {
            break;
        }
        // Late requests go out at once; their wait is part of their latency.
        tokio::time::sleep_until(due.into()).await;
        let answer = target.send().await;
        outcome.record(due.elapsed(), answer);
    }
    outcome
}
