//! The retry driver: a [`RetryPolicy`] (how many retries, how long to wait), a classifier (what an
//! attempt's outcome means) and the attempt itself. Every retrying caller goes through [`drive`].
//!
//! Wait before retry *n* (1-based): what the server's `Retry-After` asked for, capped at the
//! policy's `retry_after_cap`; otherwise `min(base · 2^(n-1), max_backoff)` plus jitter. Jitter is
//! none, random 5–15 %, or — under `SCILLM_DETERMINISTIC_SEED` — a function of the seed and the
//! retry number only, so a run is reproducible however many requests run beside it.
//!
//! The driver sleeps with `tokio::time`, so a test under `tokio::time::pause()` runs a whole retry
//! schedule in no real time.

use std::future::Future;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Jitter bounds, as fractions of the backoff.
pub(crate) const JITTER_MIN: f64 = 0.05;
pub(crate) const JITTER_MAX: f64 = 0.15;

/// Where jitter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the backoff (tools servers and CLIs: nothing to de-synchronise).
    None,
    Random,
    Seeded(u64),
}

impl Jitter {
    /// Seeded under `SCILLM_DETERMINISTIC_SEED`, random otherwise.
    pub fn from_seed(seed: Option<u64>) -> Self {
        seed.map_or(Self::Random, Self::Seeded)
    }
}

/// How a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub max_backoff: Duration,
    pub jitter: Jitter,
    /// The longest `Retry-After` honoured; a server asking for more gets this.
    pub retry_after_cap: Duration,
}

impl RetryPolicy {
    /// No retries.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_retries: 0,
        base: Duration::ZERO,
        max_backoff: Duration::ZERO,
        jitter: Jitter::None,
        retry_after_cap: Duration::ZERO,
    };

    /// The backoff before retry `n` (1-based), without jitter.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(31));
        self.base.saturating_mul(factor).min(self.max_backoff)
    }

    /// The jitter fraction for retry `n`: 0, or within `[JITTER_MIN, JITTER_MAX]`.
    pub fn jitter_fraction(&self, n: u32) -> f64 {
        match self.jitter {
            Jitter::None => 0.0,
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
            Some(ra) => ra.min(self.retry_after_cap),
            None => {
                let b = self.backoff(n);
                b + b.mul_f64(self.jitter_fraction(n))
            }
        }
    }
}

/// What one attempt's outcome means to the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A success: return it.
    Done,
    /// A failure worth another try (after `retry_after` when the server said so).
    Retry { retry_after: Option<Duration> },
    /// A failure another try would not fix: return it.
    GiveUp,
}

/// The classifier's reading of an attempt: its HTTP status (for the statistics) and the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub status: Option<u16>,
    pub verdict: Verdict,
}

/// Runs `attempt(n)` (n = 0 for the first try) until `classify` says done or give up, or the
/// policy's retries are spent; returns the last outcome as it was, with the statistics.
pub(crate) async fn drive<T, F, Fut>(
    policy: &RetryPolicy,
    mut attempt: F,
    classify: impl Fn(&T) -> Attempt,
) -> (T, RetryStats)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = T>,
{
    let mut stats = RetryStats::default();
    let mut retries = 0;
    loop {
        let outcome = attempt(retries).await;
        let Attempt { status, verdict } = classify(&outcome);
        stats.record_try(status, verdict != Verdict::Done);
        let Verdict::Retry { retry_after } = verdict else { return (outcome, stats) };
        if retries >= policy.max_retries {
            return (outcome, stats);
        }
        retries += 1;
        let wait = policy.wait(retries, retry_after);
        stats.record_wait(wait, retry_after);
        tracing::debug!(retry = retries, wait_ms = wait.as_millis() as u64, status, "retrying");
        tokio::time::sleep(wait).await;
    }
}

/// Whether an HTTP status is worth another try: 429 and 5xx.
pub(crate) fn retryable_status(status: u16) -> bool {
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
    fn record_try(&mut self, status: Option<u16>, failed: bool) {
        self.statuses.push(status);
        self.final_status = status;
        if failed {
            self.failures += 1;
            if self.first_failure_status.is_none() {
                self.first_failure_status = status;
            }
        }
    }

    fn record_wait(&mut self, wait: Duration, retry_after: Option<Duration>) {
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
    use std::cell::Cell;

    fn policy(max_retries: u32, base_ms: u64, max_ms: u64, jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base: Duration::from_millis(base_ms),
            max_backoff: Duration::from_millis(max_ms),
            jitter,
            retry_after_cap: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let p = policy(5, 120, 1500, Jitter::Seeded(1));
        let ms: Vec<u128> = (1..=6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(ms, [120, 240, 480, 960, 1500, 1500]);
        assert_eq!(policy(1, 100, 1000, Jitter::None).wait(3, None), Duration::from_millis(400));
    }

    #[test]
    fn seeded_jitter_is_reproducible_and_differs_by_seed() {
        let waits =
            |seed| (1..=4).map(|n| policy(4, 120, 1500, Jitter::Seeded(seed)).wait(n, None)).collect::<Vec<_>>();
        assert_eq!(waits(42), waits(42));
        assert_ne!(waits(42), waits(43));
    }

    #[test]
    fn every_retry_gets_its_own_seeded_jitter_whatever_the_seed() {
        for seed in [0, 42, u64::MAX] {
            let p = policy(4, 100, 1000, Jitter::Seeded(seed));
            let fractions: Vec<f64> = (1..=4).map(|n| p.jitter_fraction(n)).collect();
            for (i, a) in fractions.iter().enumerate() {
                assert!((JITTER_MIN..=JITTER_MAX).contains(a), "seed {seed}: {fractions:?}");
                assert!(fractions[i + 1..].iter().all(|b| b != a), "seed {seed}: {fractions:?}");
            }
        }
    }

    #[test]
    fn retry_after_replaces_the_backoff_within_its_cap() {
        let p = policy(2, 120, 1500, Jitter::Random);
        assert_eq!(p.wait(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(p.wait(1, Some(Duration::from_secs(3600))), Duration::from_secs(60));
    }

    /// A script of outcomes: `Some(status)` is an HTTP answer, `None` a transport failure.
    fn classify(outcome: &Option<u16>) -> Attempt {
        match *outcome {
            Some(200) => Attempt { status: Some(200), verdict: Verdict::Done },
            Some(s) if retryable_status(s) => {
                Attempt { status: Some(s), verdict: Verdict::Retry { retry_after: None } }
            }
            Some(s) => Attempt { status: Some(s), verdict: Verdict::GiveUp },
            None => Attempt { status: None, verdict: Verdict::Retry { retry_after: Some(Duration::from_secs(2)) } },
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_driver_retries_what_the_classifier_allows_and_counts_it() {
        let script = [Some(500), None, Some(200)];
        let started = tokio::time::Instant::now();
        let (outcome, stats) =
            drive(&policy(5, 100, 1000, Jitter::None), |n| async move { script[n as usize] }, classify).await;
        assert_eq!(outcome, Some(200));
        assert_eq!((stats.attempts, stats.failures, stats.statuses.clone()), (2, 2, vec![Some(500), None, Some(200)]));
        assert_eq!(stats.retry_sequence, [100.0, 2000.0], "backoff, then the Retry-After");
        assert_eq!(stats.total_sleep_ms, 2100.0, "the waits add up");
        assert_eq!(started.elapsed(), Duration::from_millis(2100), "slept on tokio's clock");
        let tries = Cell::new(0);
        let (outcome, stats) = drive(
            &policy(5, 100, 1000, Jitter::None),
            |_| {
                tries.set(tries.get() + 1);
                async { Some(404) }
            },
            classify,
        )
        .await;
        assert_eq!((outcome, tries.get(), stats.attempts), (Some(404), 1, 0), "a 404 is not retried");
    }

    proptest! {
        #[test]
        fn waits_stay_within_bounds(base in 0u64..2000, max in 0u64..5000, n in 1u32..40, seed in any::<u64>()) {
            let p = policy(n, base, max, Jitter::Seeded(seed));
            let b = p.backoff(n);
            prop_assert!(b <= Duration::from_millis(max));
            prop_assert!(b <= Duration::from_millis(base).saturating_mul(2u32.saturating_pow(n - 1)));
            let w = p.wait(n, None);
            prop_assert!(w >= (b + b.mul_f64(JITTER_MIN)).saturating_sub(Duration::from_nanos(1)));
            prop_assert!(w <= b + b.mul_f64(JITTER_MAX) + Duration::from_nanos(1));
        }

        #[test]
        fn the_driver_never_exceeds_its_retries(statuses in prop::collection::vec(prop_oneof![Just(200u16), Just(429), Just(500), Just(400)], 1..10), max in 0u32..5) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (_, stats) = rt.block_on(drive(&policy(max, 10, 100, Jitter::None), |n| {
                let s = statuses.get(n as usize).copied().unwrap_or(200);
                async move { Some(s) }
            }, classify));
            prop_assert!(stats.attempts <= max);
            prop_assert_eq!(stats.statuses.len() as u32, stats.attempts + 1);
        }
    }
}
