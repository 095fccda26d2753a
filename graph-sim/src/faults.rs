//! Fault injection: latency, 429 throttling with Retry-After, 503/504, 500/502/504 with Graph's
//! JSON or a gateway's HTML page, a page that always fails, intermittent non-premium 403, users
//! listed twice. Random choices come from a seeded
//! RNG so a run with the same seed and the same (sequential) request order fails the same way.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::errors::{GraphError, GraphErrorKind, gateway_page};
use crate::server::SimState;
use crate::stats::Arrival;

/// Fault settings; changeable at runtime through `SimHandle::set_faults` or `PUT /_sim/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultOptions {
    /// Added to every request (token endpoint, Graph reads and writes).
    #[serde(with = "millis")]
    pub latency: Duration,
    /// Fraction (0..=1) of Graph reads answered 429.
    pub throttle_rate: f64,
    /// Retry-After of injected 429s (reads and writes), in seconds; fractional values are sent
    /// as e.g. `2.128`.
    pub retry_after_secs: f64,
    /// Fraction (0..=1) of Graph reads answered 503 or 504 without Retry-After.
    pub unavailable_rate: f64,
    /// Fraction (0..=1) of Graph writes (assignLicense) answered 429 before they apply, as if
    /// the service were loaded: Graph may throttle below its documented limits.
    pub write_throttle_rate: f64,
    /// Fraction (0..=1) of Graph writes answered 503 or 504 without Retry-After, before they
    /// apply.
    pub write_unavailable_rate: f64,
    /// Fraction (0..=1) of Graph reads answered 500, 502 or 504, as Microsoft's Dev Proxy
    /// injects them to test Graph clients: half with Graph's JSON error, half with the HTML page
    /// of the gateway in front of Graph (no JSON, no `request-id`).
    pub server_error_rate: f64,
    /// 1-based page number of GET /v1.0/users that always fails with 500.
    pub fail_users_page: Option<u32>,
    /// Fraction (0..=1) of signInActivity requests on a premium tenant answered with the
    /// non-premium 403, as reported intermittently in the field.
    pub non_premium_rate: f64,
    /// GET /v1.0/users lists some users twice, the earlier time in an older state: each page
    /// after the first starts with a user of the previous page, and each page lists one of its
    /// own users again at its end (see `users::relist`). Each later page of a users/delta round
    /// starts with the last change of the page before, again. Graph gives no promise that a
    /// listing names each object once while the directory changes under it.
    pub repeat_users: bool,
}

impl Default for FaultOptions {
    fn default() -> Self {
        FaultOptions {
            latency: Duration::ZERO,
            throttle_rate: 0.0,
            retry_after_secs: 1.0,
            unavailable_rate: 0.0,
            write_throttle_rate: 0.0,
            write_unavailable_rate: 0.0,
            server_error_rate: 0.0,
            fail_users_page: None,
            non_premium_rate: 0.0,
            repeat_users: false,
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Formats Retry-After: integer seconds when whole, else a decimal (Graph has sent both).
pub fn format_retry_after(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}", secs as u64)
    } else {
        format!("{secs}")
    }
}

/// The key that Retry-After tracking uses: the app id behind the bearer token when known,
/// else the raw token, else "anonymous".
fn client_key(state: &SimState, headers: &HeaderMap) -> String {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return "anonymous".into();
    }
    match state.tokens().client_of(token) {
        Some(client) => format!("app:{client}"),
        None => format!("token:{token}"),
    }
}

enum Decision {
    Pass,
    Throttle,
    Unavailable(StatusCode),
    /// 500, 502 or 504; `html`: from the gateway rather than from Graph.
    ServerError {
        status: StatusCode,
        html: bool,
    },
}

/// Resource units Graph would charge (identity limits: users 2, subscribedSkus 3, other 1;
/// $select −1, $top < 20 −1; minimum 1), sent as `x-ms-resource-unit`.
fn resource_units(path: &str, query: Option<&str>) -> u32 {
    let mut cost: i32 = if path.ends_with("/users") {
        2
    } else if path.ends_with("/subscribedSkus") {
        3
    } else {
        1
    };
    let query = query.unwrap_or("");
    let has = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .any(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(name))
    };
    if has("select") {
        cost -= 1;
    }
    let small_top = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case("top"))
        .and_then(|(_, v)| v.parse::<u32>().ok())
        .is_some_and(|t| t < 20);
    if small_top {
        cost -= 1;
    }
    cost.max(1) as u32
}

/// Graph's 429: Retry-After, the throttle scope and reason headers, the documented body.
/// `scope` is e.g. `Tenant_Application/Write`.
pub(crate) fn throttled(state: &SimState, scope: &str, information: &str, secs: f64) -> GraphError {
    let (app, tenant) = state.app_and_tenant();
    let mut err = GraphError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Please retry again later.",
    )
    .with_header("retry-after", format_retry_after(secs))
    .with_header("x-ms-throttle-scope", format!("{scope}/{app}/{tenant}"))
    .with_header("x-ms-throttle-information", information);
    err.kind = GraphErrorKind::Throttled;
    err
}

/// The injected faults' rates for one request: reads and writes have their own.
struct Rates {
    throttle: f64,
    unavailable: f64,
    server_error: f64,
}

impl Rates {
    fn of(faults: &FaultOptions, write: bool) -> Rates {
        if write {
            Rates {
                throttle: faults.write_throttle_rate,
                unavailable: faults.write_unavailable_rate,
                server_error: 0.0,
            }
        } else {
            Rates {
                throttle: faults.throttle_rate,
                unavailable: faults.unavailable_rate,
                server_error: faults.server_error_rate,
            }
        }
    }
}

/// Middleware on the Graph routes: early-retry accounting, then 429 / 5xx injection.
pub(crate) async fn inject(
    State(state): State<Arc<SimState>>,
    req: Request,
    next: Next,
) -> Response {
    let client = client_key(&state, req.headers());
    let sent_at = req
        .extensions()
        .get::<Arrival>()
        .map_or_else(Instant::now, |arrival| arrival.0);
    state.stats.check_early_retry(&client, sent_at);
    let faults = state.faults();
    let write = req.method() != Method::GET;
    let rates = Rates::of(&faults, write);
    let decision = {
        let mut rng = state.fault_rng();
        let r = rng.next_f64();
        if r < rates.throttle {
            Decision::Throttle
        } else if r < rates.throttle + rates.unavailable {
            if rng.chance(0.5) {
                Decision::Unavailable(StatusCode::SERVICE_UNAVAILABLE)
            } else {
                Decision::Unavailable(StatusCode::GATEWAY_TIMEOUT)
            }
        } else if r < rates.throttle + rates.unavailable + rates.server_error {
            let status = match rng.below(3) {
                0 => StatusCode::INTERNAL_SERVER_ERROR,
                1 => StatusCode::BAD_GATEWAY,
                _ => StatusCode::GATEWAY_TIMEOUT,
            };
            Decision::ServerError {
                status,
                html: rng.chance(0.5),
            }
        } else {
            Decision::Pass
        }
    };
    match decision {
        Decision::Throttle => {
            let secs = faults.retry_after_secs.max(0.0);
            state
                .stats
                .note_throttled(&client, Duration::from_secs_f64(secs));
            let err = if write {
                state.stats.note_license_write("injectedThrottle");
                throttled(
                    &state,
                    "Tenant_Application/Write",
                    "WriteLimitExceeded",
                    secs,
                )
            } else {
                throttled(
                    &state,
                    "Tenant_Application/Read",
                    "ResourceUnitLimitExceeded",
                    secs,
                )
            };
            err.into_response()
        }
        Decision::Unavailable(status) => {
            state.stats.unavailable.fetch_add(1, Ordering::Relaxed);
            if write {
                state.stats.note_license_write("injectedUnavailable");
            }
            let err = if status == StatusCode::SERVICE_UNAVAILABLE {
                GraphError::new(
                    status,
                    "serviceNotAvailable",
                    "The service is temporarily unavailable for maintenance or is overloaded. You may repeat the request after a delay.",
                )
            } else {
                GraphError::gateway_timeout()
            };
            err.into_response()
        }
        Decision::ServerError { status, html } => {
            state.stats.server_errors.fetch_add(1, Ordering::Relaxed);
            if html {
                state.stats.html_errors.fetch_add(1, Ordering::Relaxed);
                return gateway_page(status);
            }
            match status {
                StatusCode::INTERNAL_SERVER_ERROR => GraphError::internal(),
                StatusCode::BAD_GATEWAY => GraphError::bad_gateway(),
                _ => GraphError::gateway_timeout(),
            }
            .into_response()
        }
        Decision::Pass => {
            let ru = resource_units(req.uri().path(), req.uri().query());
            let mut resp = next.run(req).await;
            resp.headers_mut()
                .insert("x-ms-resource-unit", HeaderValue::from(ru));
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_format() {
        assert_eq!(format_retry_after(10.0), "10");
        assert_eq!(format_retry_after(2.128), "2.128");
    }

    #[test]
    fn ru_costs() {
        assert_eq!(resource_units("/v1.0/users", None), 2);
        assert_eq!(
            resource_units("/v1.0/users", Some("$select=id&$top=999")),
            1
        );
        assert_eq!(resource_units("/v1.0/subscribedSkus", None), 3);
        assert_eq!(resource_units("/v1.0/users/delta", Some("$select=id")), 1);
    }
}
