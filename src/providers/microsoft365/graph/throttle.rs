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
    /// Returns once the last Retry-After the client was given has passed; or at once, with how
    /// long it still holds, when that is more than `limit` (a caller that cannot wait so long).
    pub async fn wait_within(&self, limit: Duration) -> Result<(), Duration> {
        while let Some(open_at) = self.open_at() {
            let left = open_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            if left > limit {
                return Err(left);
            }
            tokio::time::sleep_until(open_at).await;
        }
        Ok(())
    }

    /// Holds every request of the client for `wait` from now (or longer, if it already was).
    pub fn hold(&self, wait: Duration) {
        let open_at = Instant::now() + wait;
        let mut current = self.open_at.lock().unwrap_or_else(PoisonError::into_inner);
        if current.is_none_or(|at| at < open_at) {
            *current = Some(open_at);
        }
    }

    fn open_at(&self) -> Option<Instant> {
        *self.open_at.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Duration = Duration::MAX;

    #[tokio::test(start_paused = true)]
    async fn a_hold_delays_every_later_request_and_only_grows() {
        let gate = ThrottleGate::default();
        let start = Instant::now();
        assert_eq!(gate.wait_within(Duration::ZERO).await, Ok(()));
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "an open gate lets requests through"
        );

        gate.hold(Duration::from_secs(2));
        gate.hold(Duration::from_secs(1));
        assert_eq!(
            gate.wait_within(Duration::from_secs(1)).await,
            Err(Duration::from_secs(2)),
            "a caller that cannot wait so long learns how long it is held, at once"
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(gate.wait_within(ANY).await, Ok(()));
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "the longer hold wins"
        );
        assert_eq!(gate.wait_within(Duration::ZERO).await, Ok(()));
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "and is over once passed"
        );
    }
}
