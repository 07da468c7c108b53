//! The retry schedule of provider calls, as pure functions, and the statistics a retried call
//! reports.
//!
//! Backoff before retry *n* (1-based) is `min(base · 2^(n-1), max)` plus 5–15 % jitter; a
//! `Retry-After` from a 429 or 503 replaces the computed wait (capped at [`MAX_RETRY_AFTER`]).
//! Jitter is random, or — under `SCILLM_DETERMINISTIC_SEED` — a function of the seed and the retry
//! number only, so a run is reproducible however many requests run beside it.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Longest `Retry-After` honoured; a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Jitter bounds, as fractions of the backoff.
pub const JITTER_MIN: f64 = 0.05;
pub const JITTER_MAX: f64 = 0.15;

/// Where jitter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    Random,
    Seeded(u64),
}

/// How a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub max_backoff: Duration,
    pub jitter: Jitter,
}

impl RetryPolicy {
    /// No retries.
    pub const NONE: RetryPolicy =
        RetryPolicy { max_retries: 0, base: Duration::ZERO, max_backoff: Duration::ZERO, jitter: Jitter::Random };

    /// The backoff before retry `n` (1-based), without jitter.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(31));
        self.base.saturating_mul(factor).min(self.max_backoff)
    }

    /// The jitter fraction for retry `n`, in `[JITTER_MIN, JITTER_MAX]`.
    pub fn jitter_fraction(&self, n: u32) -> f64 {
        match self.jitter {
            Jitter::Random => rand::rng().random_range(JITTER_MIN..=JITTER_MAX),
            Jitter::Seeded(seed) => {
                let mut rng =
                    rand::rngs::StdRng::seed_from_u64(seed ^ u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                rng.random_range(JITTER_MIN..=JITTER_MAX)
            }
        }
    }

    /// The wait before retry `n`: the server's `Retry-After` when it gave one, else the jittered
    /// backoff.
    pub fn wait(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(ra) => ra.min(MAX_RETRY_AFTER),
            None => {
                let b = self.backoff(n);
                b + b.mul_f64(self.jitter_fraction(n))
            }
        }
    }
}

/// Whether an answer status is worth another try: 429 and 5xx.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// What a retried call reports (`CODEX_AGENT_ENABLE_METRICS=1`). `attempts` counts the retries
/// made after the first try (500 → 500 → 200 is `attempts: 2`); `statuses` lists every try's HTTP
/// status (`null` for a transport failure); `retry_sequence` the waits in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RetryStats {
    pub attempts: u32,
    pub failures: u32,
    pub total_sleep_ms: f64,
    pub final_status: Option<u16>,
    pub first_failure_status: Option<u16>,
    pub retry_sequence: Vec<f64>,
    pub statuses: Vec<Option<u16>>,
    pub last_retry_after_s: Option<f64>,
}

impl RetryStats {
    /// Records one try's outcome.
    pub fn record_try(&mut self, status: Option<u16>, failed: bool) {
        self.statuses.push(status);
        self.final_status = status;
        if failed {
            self.failures += 1;
            if self.first_failure_status.is_none() {
                self.first_failure_status = status;
            }
        }
    }

    /// Records a wait before a retry.
    pub fn record_wait(&mut self, wait: Duration, retry_after: Option<Duration>) {
        self.attempts += 1;
        let ms = wait.as_secs_f64() * 1e3;
        self.total_sleep_ms += ms;
        self.retry_sequence.push(ms);
        if let Some(ra) = retry_after {
            self.last_retry_after_s = Some(ra.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(max_retries: u32, base_ms: u64, max_ms: u64, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base: Duration::from_millis(base_ms),
            max_backoff: Duration::from_millis(max_ms),
            jitter,
        }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let p = policy(5, 120, 1500, Jitter::Seeded(1));
        let ms: Vec<u128> = (1..=6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(ms, [120, 240, 480, 960, 1500, 1500]);
    }

    #[test]
    fn seeded_jitter_is_reproducible_and_differs_by_seed() {
        let a: Vec<Duration> = (1..=4).map(|n| policy(4, 120, 1500, Jitter::Seeded(42)).wait(n, None)).collect();
        let b: Vec<Duration> = (1..=4).map(|n| policy(4, 120, 1500, Jitter::Seeded(42)).wait(n, None)).collect();
        let c: Vec<Duration> = (1..=4).map(|n| policy(4, 120, 1500, Jitter::Seeded(43)).wait(n, None)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn retry_after_replaces_the_backoff_within_a_cap() {
        let p = policy(2, 120, 1500, Jitter::Random);
        assert_eq!(p.wait(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(p.wait(1, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
    }

    proptest! {
        #[test]
        fn waits_stay_within_bounds(base in 0u64..2000, max in 0u64..5000, n in 1u32..40, seed in any::<u64>()) {
            let p = policy(n, base, max, Jitter::Seeded(seed));
            let b = p.backoff(n);
            prop_assert!(b <= Duration::from_millis(max));
            prop_assert!(b <= Duration::from_millis(base).saturating_mul(2u32.saturating_pow(n - 1)));
            let w = p.wait(n, None);
            prop_assert!(w >= b + b.mul_f64(JITTER_MIN) - Duration::from_nanos(1));
            prop_assert!(w <= b + b.mul_f64(JITTER_MAX) + Duration::from_nanos(1));
        }
    }
}
