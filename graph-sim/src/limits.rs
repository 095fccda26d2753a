//! Graph's write limits for identity objects: every POST/PATCH/PUT/DELETE costs one write,
//! counted per application and tenant (3,000 per 2 min 30 s) and per tenant across all apps
//! (18,000 per 5 min), apart from the resource units reads are charged. Past a limit the write
//! is answered 429 with the Retry-After after which it would be admitted.
//!
//! Windows slide: a write is admitted while fewer than `requests` writes were admitted in the
//! last `window_secs`. Refused writes are not counted, so a client that waits as told gets
//! through. Time is tokio's, so a test running on paused time sees the windows pass with it.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// At most `requests` writes per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limit {
    pub requests: u32,
    pub window_secs: f64,
}

/// The write limits in force; None = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WriteLimits {
    /// One app in one tenant (Graph: 3,000 writes per 150 s).
    pub per_app_and_tenant: Option<Limit>,
    /// All apps in one tenant (Graph: 18,000 writes per 300 s). The simulator has one app, so
    /// this binds only when set below the other.
    pub per_tenant: Option<Limit>,
}

impl Default for WriteLimits {
    fn default() -> Self {
        WriteLimits {
            per_app_and_tenant: Some(Limit {
                requests: 3_000,
                window_secs: 150.0,
            }),
            per_tenant: Some(Limit {
                requests: 18_000,
                window_secs: 300.0,
            }),
        }
    }
}

impl WriteLimits {
    pub fn unlimited() -> Self {
        WriteLimits {
            per_app_and_tenant: None,
            per_tenant: None,
        }
    }
}

/// Which limit refused a write: the `x-ms-throttle-scope` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    TenantApplication,
    Tenant,
}

impl Scope {
    pub fn header_prefix(self) -> &'static str {
        match self {
            Scope::TenantApplication => "Tenant_Application",
            Scope::Tenant => "Tenant",
        }
    }
}

/// A refused write: which limit, and how long until it would be admitted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused {
    pub scope: Scope,
    pub retry_after: Duration,
}

#[derive(Default)]
struct Window {
    admitted: VecDeque<Instant>,
}

impl Window {
    /// How long until one more write fits (zero when it fits now).
    fn wait(&mut self, limit: Limit, now: Instant) -> Duration {
        let span = Duration::from_secs_f64(limit.window_secs.max(0.0));
        while self.admitted.front().is_some_and(|t| *t + span <= now) {
            self.admitted.pop_front();
        }
        if (self.admitted.len() as u64) < u64::from(limit.requests) {
            return Duration::ZERO;
        }
        // The write that frees a slot is the one `requests` places from the end.
        let index = self.admitted.len() - limit.requests as usize;
        self.admitted.get(index).map_or(Duration::ZERO, |t| {
            (*t + span).saturating_duration_since(now)
        })
    }
}

/// The sliding windows of the simulated app in its tenant.
#[derive(Default)]
pub(crate) struct WriteLimiter {
    pub limits: WriteLimits,
    app_and_tenant: Window,
    tenant: Window,
}

impl WriteLimiter {
    pub fn new(limits: WriteLimits) -> Self {
        WriteLimiter {
            limits,
            ..Default::default()
        }
    }

    /// Admits one write now, or says which limit refuses it and for how long.
    pub fn admit(&mut self) -> Result<(), Refused> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&mut self, now: Instant) -> Result<(), Refused> {
        let mut refused: Option<Refused> = None;
        let checks = [
            (
                self.limits.per_app_and_tenant,
                &mut self.app_and_tenant,
                Scope::TenantApplication,
            ),
            (self.limits.per_tenant, &mut self.tenant, Scope::Tenant),
        ];
        let mut windows = Vec::with_capacity(2);
        for (limit, window, scope) in checks {
            let Some(limit) = limit else { continue };
            let wait = window.wait(limit, now);
            if !wait.is_zero() && refused.is_none_or(|r| wait > r.retry_after) {
                refused = Some(Refused {
                    scope,
                    retry_after: wait,
                });
            }
            windows.push(window);
        }
        if let Some(r) = refused {
            return Err(r);
        }
        for window in windows {
            window.admitted.push_back(now);
        }
        Ok(())
    }
}

/// Retry-After in whole seconds, rounded up, at least 1 (a client told 0 would retry at once).
pub(crate) fn retry_after_secs(wait: Duration) -> f64 {
    wait.as_secs_f64().ceil().max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(app: (u32, f64), tenant: Option<(u32, f64)>) -> WriteLimits {
        let limit = |(requests, window_secs)| Limit {
            requests,
            window_secs,
        };
        WriteLimits {
            per_app_and_tenant: Some(limit(app)),
            per_tenant: tenant.map(limit),
        }
    }

    #[test]
    fn admits_up_to_the_limit_then_says_when() {
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        let mut l = WriteLimiter::new(limits((2, 10.0), None));
        assert!(l.admit_at(at(0)).is_ok());
        assert!(l.admit_at(at(3)).is_ok());
        let refused = l.admit_at(at(3)).unwrap_err();
        assert_eq!(refused.scope, Scope::TenantApplication);
        assert_eq!(refused.retry_after, Duration::from_secs(7));
        assert!(
            l.admit_at(at(10)).is_ok(),
            "the first write left the window"
        );
        assert!(
            l.admit_at(at(10)).is_err(),
            "refused writes were not counted"
        );
    }

    #[test]
    fn the_tenant_limit_binds_when_lower() {
        let t0 = Instant::now();
        let mut l = WriteLimiter::new(limits((5, 10.0), Some((1, 60.0))));
        assert!(l.admit_at(t0).is_ok());
        let refused = l.admit_at(t0).unwrap_err();
        assert_eq!(refused.scope, Scope::Tenant);
        assert_eq!(retry_after_secs(refused.retry_after), 60.0);
    }
}
