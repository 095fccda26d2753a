//! Graph throttles an application per tenant, not per request: after a 429, every request of
//! the client waits out the Retry-After, not only the one being retried. Graph: "all requests
//! accrue against your usage limits", so a request sent meanwhile would only be throttled too.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Default)]
pub(crate) struct ThrottleGate {
    open_at: Mutex<Option<Instant>>,
}

impl ThrottleGate {
    /// Returns once the last Retry-After the client was given has passed.
    pub async fn wait(&self) {
        while let Some(open_at) = self.open_at() {
            if open_at <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(open_at).await;
        }
    }

    /// Holds every request of the client for `wait` from now (or longer, if it already was).
    pub fn hold(&self, wait: Duration) {
        let open_at = Instant::now() + wait;
        let mut current = self.open_at.lock().unwrap_or_else(PoisonError::into_inner);
        if current.is_none_or(|at| at < open_at) {
            *current = Some(open_at);
        }
    }

    /// How long requests are still held, if they are.
    pub fn remaining(&self) -> Option<Duration> {
        self.open_at()
            .map(|open_at| open_at.saturating_duration_since(Instant::now()))
            .filter(|left| !left.is_zero())
    }

    fn open_at(&self) -> Option<Instant> {
        *self.open_at.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_hold_delays_every_later_request_and_only_grows() {
        let gate = ThrottleGate::default();
        let start = Instant::now();
        gate.wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "an open gate lets requests through"
        );

        assert_eq!(gate.remaining(), None);
        gate.hold(Duration::from_secs(2));
        gate.hold(Duration::from_secs(1));
        assert_eq!(gate.remaining(), Some(Duration::from_secs(2)));
        gate.wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "the longer hold wins"
        );
        gate.wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "and is over once passed"
        );
        assert_eq!(gate.remaining(), None);
    }
}
