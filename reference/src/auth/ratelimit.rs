//! Requests per minute per key: a sliding window — at most `rpm` requests in any 60 seconds — so
//! there is no window edge where twice the limit gets through. A refusal says when the oldest
//! counted request leaves the window (`Retry-After`).
//!
//! Per process here; with `MINI_AGENT_REDIS_URL` the same window lives in Redis so replicas share
//! it (see the `redis` backend).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The window every `rpm` counts over.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// Where the counters live.
#[derive(Debug, Default)]
pub struct LocalWindows {
    hits: Mutex<HashMap<String, VecDeque<f64>>>,
}

impl LocalWindows {
    /// Counts a request of `key` at `now` (unix seconds); `Err(wait)` when it would be request
    /// `rpm + 1` within the window.
    pub fn hit_at(&self, key: &str, rpm: u32, now: f64) -> Result<(), Duration> {
        let mut all = self.hits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let log = all.entry(key.to_owned()).or_default();
        let window = WINDOW.as_secs_f64();
        while log.front().is_some_and(|t| *t <= now - window) {
            log.pop_front();
        }
        if log.len() >= rpm as usize {
            let oldest = log.front().copied().unwrap_or(now);
            return Err(Duration::from_secs_f64((oldest + window - now).max(0.0)));
        }
        log.push_back(now);
        Ok(())
    }

    pub fn hit(&self, key: &str, rpm: u32) -> Result<(), Duration> {
        self.hit_at(key, rpm, unix_now())
    }
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// `Retry-After` in whole seconds, rounded up and at least 1 (clients sleep on it).
#[cfg(test)]
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_rpm_in_any_minute_and_the_wait_is_until_the_oldest_leaves() {
        let w = LocalWindows::default();
        assert!(w.hit_at("a", 2, 100.0).is_ok());
        assert!(w.hit_at("a", 2, 110.0).is_ok());
        assert_eq!(w.hit_at("a", 2, 130.0), Err(Duration::from_secs(30)));
        assert!(w.hit_at("b", 2, 130.0).is_ok(), "keys are counted apart");
        assert!(w.hit_at("a", 2, 160.5).is_ok(), "the first request has left the window");
        assert!(w.hit_at("a", 2, 165.0).is_err());
        assert_eq!(retry_after_secs(Duration::from_millis(200)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs_f64(4.2)), 5);
    }

    #[test]
    fn the_window_runs_on_the_wall_clock() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        assert!((unix_now() - now).abs() < 5.0, "unix_now() = {} for {now}", unix_now());
        let w = LocalWindows::default();
        assert!(w.hit("a", 1).is_ok());
        std::thread::sleep(Duration::from_millis(50));
        let wait = w.hit("a", 1).expect_err("the second request within a minute of rpm 1");
        assert!(
            wait <= Duration::from_millis(59_950) && wait > Duration::from_secs(50),
            "the wait counts down from the first request: {wait:?}"
        );
    }
}
