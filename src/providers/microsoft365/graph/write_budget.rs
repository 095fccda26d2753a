//! Graph's write limit for identity objects: 3,000 writes per 2½ minutes for an application in a
//! tenant (every assignLicense counts). A client paces its own writes to stay inside it rather
//! than learning the limit from 429s: Graph keeps counting while it throttles, so running into
//! the limit costs more than waiting for room. A tenth of the limit is left for the app's other
//! writers (another replica, an admin's script with the same registration).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Writes a client sends per [`WINDOW`] at most.
pub(crate) const WRITES_PER_WINDOW: usize = 2_700;
pub(crate) const WINDOW: Duration = Duration::from_secs(150);

/// The writes of the last window, oldest first: a sliding window, as Graph's limit is stated.
pub(crate) struct WriteBudget {
    limit: usize,
    window: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl Default for WriteBudget {
    fn default() -> Self {
        Self::new(WRITES_PER_WINDOW, WINDOW)
    }
}

impl WriteBudget {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Returns once one more write fits in the window, counting it as sent.
    pub async fn acquire(&self) {
        while let Some(wait) = self.try_acquire() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Counts a write when it fits; else how long until the oldest one leaves the window.
    fn try_acquire(&self) -> Option<Duration> {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        while sent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.window)
        {
            sent.pop_front();
        }
        if sent.len() < self.limit {
            sent.push_back(now);
            return None;
        }
        let oldest = sent.front().copied().unwrap_or(now);
        Some(self.window.saturating_sub(now.duration_since(oldest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn writes_within_the_limit_go_at_once_and_the_next_waits_for_the_oldest_to_leave() {
        let budget = WriteBudget::new(3, Duration::from_secs(10));
        let start = Instant::now();
        for _ in 0..3 {
            budget.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the first three fit");
        tokio::time::advance(Duration::from_secs(4)).await;
        budget.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(10),
            "the fourth waits until the first is 10 s old"
        );
        budget.acquire().await;
        budget.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(10),
            "the others left too"
        );
        budget.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(20),
            "the seventh waits for the fourth"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn writers_at_once_share_the_budget() {
        let budget = std::sync::Arc::new(WriteBudget::new(2, Duration::from_secs(5)));
        let start = Instant::now();
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let budget = budget.clone();
                tokio::spawn(async move {
                    budget.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        let mut at = Vec::new();
        for writer in writers {
            at.push(writer.await.expect("a writer").duration_since(start));
        }
        at.sort();
        assert_eq!(
            at,
            [0, 0, 5, 5].map(Duration::from_secs),
            "two in each window of 5 s"
        );
    }
}
