//! One deployment's health as this process sees it: failures in the last minute, the cooldown they
//! started, recent latencies, and the requests and tokens of the current minute — plus what Redis
//! last said about it when replicas share their view ([`Shared`]).
//!
//! Pure bookkeeping: every method takes the time (`now` on tokio's clock, so tests run whole
//! cooldowns under `tokio::time::pause()`; the minute on the wall clock, so replicas agree on
//! which minute it is). It decides nothing about routing (see [`super::strategy`]) and does no I/O.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Failures are counted over this window (`allowed_fails` per minute).
pub(crate) const FAIL_WINDOW: Duration = Duration::from_secs(60);
/// Latency samples kept per deployment (LiteLLM keeps the last ten too).
pub(crate) const LATENCY_SAMPLES: usize = 10;

/// What a failed attempt was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Failure {
    /// A 429: cooldown at once, for at least its `Retry-After`.
    RateLimited { retry_after: Option<Duration> },
    /// A 5xx, 408, timeout, transport error or unusable answer: counted against `allowed_fails`.
    Failed,
}

/// The cooldown rules in force for one deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CooldownRules {
    pub allowed_fails: u32,
    pub cooldown_time: Duration,
}

/// What Redis said about a deployment at the last routing decision.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Shared {
    /// Cooling in another replica's view until then.
    pub cooldown_until: Option<Instant>,
    /// The minute (unix seconds / 60) the usage is from, and the usage of every replica.
    pub minute: u64,
    pub rpm_used: u64,
    pub tpm_used: u64,
}

/// One deployment's local view.
#[derive(Debug, Default)]
pub(crate) struct Health {
    cooldown_until: Option<Instant>,
    fails: VecDeque<Instant>,
    latencies: VecDeque<(Instant, f64)>,
    minute: u64,
    rpm_used: u64,
    tpm_used: u64,
    pub shared: Option<Shared>,
}

impl Health {
    /// When the cooldown ends, if the deployment is cooling at `now` (here or, per Redis, elsewhere).
    pub(crate) fn cooling_until(&self, now: Instant) -> Option<Instant> {
        let shared = self.shared.and_then(|s| s.cooldown_until);
        [self.cooldown_until, shared].into_iter().flatten().filter(|until| *until > now).max()
    }

    pub(crate) fn available(&self, now: Instant) -> bool {
        self.cooling_until(now).is_none()
    }

    /// Records a failure at `now`; returns the cooldown it started, if it started one.
    pub(crate) fn fail(&mut self, now: Instant, failure: Failure, rules: CooldownRules) -> Option<Duration> {
        while self.fails.front().is_some_and(|t| now.duration_since(*t) >= FAIL_WINDOW) {
            self.fails.pop_front();
        }
        self.fails.push_back(now);
        let length = match failure {
            Failure::RateLimited { retry_after } => rules.cooldown_time.max(retry_after.unwrap_or_default()),
            Failure::Failed if self.fails.len() >= rules.allowed_fails.max(1) as usize => rules.cooldown_time,
            Failure::Failed => return None,
        };
        self.start_cooldown(now, length);
        Some(length)
    }

    /// Cools the deployment until `now + length` (never shortening a longer cooldown).
    pub(crate) fn start_cooldown(&mut self, now: Instant, length: Duration) {
        let until = now + length;
        if self.cooldown_until.is_none_or(|u| u < until) {
            self.cooldown_until = Some(until);
        }
        // A cooldown is a fresh start: the failures that caused it do not count against the next.
        self.fails.clear();
    }

    /// Records a success that took `latency`.
    pub(crate) fn succeed(&mut self, now: Instant, latency: Duration) {
        if self.latencies.len() == LATENCY_SAMPLES {
            self.latencies.pop_front();
        }
        self.latencies.push_back((now, latency.as_secs_f64() * 1e3));
    }

    /// Mean latency in ms of the samples younger than `ttl`; `None` without any.
    pub(crate) fn latency_ms(&self, now: Instant, ttl: Duration) -> Option<f64> {
        let fresh = self.latencies.iter().filter(|(at, _)| now.duration_since(*at) < ttl).map(|(_, ms)| *ms);
        let (n, sum) = fresh.fold((0u32, 0.0), |(n, s), ms| (n + 1, s + ms));
        (n > 0).then(|| sum / f64::from(n))
    }

    /// Counts a request sent in `minute`.
    pub(crate) fn count_request(&mut self, minute: u64) {
        self.roll(minute);
        self.rpm_used += 1;
    }

    /// Counts tokens used in `minute`.
    pub(crate) fn count_tokens(&mut self, minute: u64, tokens: u64) {
        self.roll(minute);
        self.tpm_used += tokens;
    }

    fn roll(&mut self, minute: u64) {
        if self.minute != minute {
            self.minute = minute;
            self.rpm_used = 0;
            self.tpm_used = 0;
        }
    }

    /// Requests and tokens of `minute`: Redis's figures for every replica when it answered this
    /// minute, else this process's own (plus what it counted since the snapshot).
    pub(crate) fn usage(&self, minute: u64) -> (u64, u64) {
        let local = if self.minute == minute { (self.rpm_used, self.tpm_used) } else { (0, 0) };
        match self.shared {
            Some(s) if s.minute == minute => (s.rpm_used.max(local.0), s.tpm_used.max(local.1)),
            _ => local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: CooldownRules = CooldownRules { allowed_fails: 3, cooldown_time: Duration::from_secs(5) };

    #[tokio::test(start_paused = true)]
    async fn allowed_fails_within_a_minute_start_a_cooldown_that_ends() {
        let mut h = Health::default();
        let t0 = Instant::now();
        assert_eq!(h.fail(t0, Failure::Failed, RULES), None);
        assert_eq!(h.fail(t0 + Duration::from_secs(1), Failure::Failed, RULES), None);
        assert!(h.available(t0 + Duration::from_secs(1)));
        let third = t0 + Duration::from_secs(2);
        assert_eq!(h.fail(third, Failure::Failed, RULES), Some(Duration::from_secs(5)));
        assert!(!h.available(third));
        assert_eq!(h.cooling_until(third + Duration::from_secs(4)), Some(third + Duration::from_secs(5)));
        assert!(h.available(third + Duration::from_secs(5)), "the cooldown ends on time");
        assert_eq!(h.fail(third + Duration::from_secs(6), Failure::Failed, RULES), None, "failures start over");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_older_than_a_minute_do_not_count() {
        let mut h = Health::default();
        let t0 = Instant::now();
        h.fail(t0, Failure::Failed, RULES);
        h.fail(t0 + Duration::from_secs(30), Failure::Failed, RULES);
        assert_eq!(h.fail(t0 + Duration::from_secs(61), Failure::Failed, RULES), None);
        assert_eq!(h.fail(t0 + Duration::from_secs(62), Failure::Failed, RULES), Some(RULES.cooldown_time));
    }

    #[tokio::test(start_paused = true)]
    async fn one_429_cools_for_the_longer_of_cooldown_time_and_retry_after() {
        let t0 = Instant::now();
        let cases = [(None, 5), (Some(2), 5), (Some(9), 9)];
        for (retry_after, secs) in cases {
            let mut h = Health::default();
            let failure = Failure::RateLimited { retry_after: retry_after.map(Duration::from_secs) };
            assert_eq!(h.fail(t0, failure, RULES), Some(Duration::from_secs(secs)), "{retry_after:?}");
            assert!(!h.available(t0 + Duration::from_secs(secs) - Duration::from_millis(1)));
            assert!(h.available(t0 + Duration::from_secs(secs)));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn another_replicas_cooldown_counts_too() {
        let t0 = Instant::now();
        let shared = Shared { cooldown_until: Some(t0 + Duration::from_secs(3)), ..Shared::default() };
        let h = Health { shared: Some(shared), ..Health::default() };
        assert_eq!(h.cooling_until(t0), Some(t0 + Duration::from_secs(3)));
        assert!(h.available(t0 + Duration::from_secs(3)));
    }

    #[tokio::test(start_paused = true)]
    async fn latency_is_the_mean_of_fresh_samples() {
        let t0 = Instant::now();
        let mut h = Health::default();
        assert_eq!(h.latency_ms(t0, Duration::from_secs(60)), None);
        for ms in [10, 20, 30] {
            h.succeed(t0, Duration::from_millis(ms));
        }
        assert_eq!(h.latency_ms(t0, Duration::from_secs(60)), Some(20.0));
        assert_eq!(h.latency_ms(t0 + Duration::from_secs(60), Duration::from_secs(60)), None, "past the ttl");
        for _ in 0..20 {
            h.succeed(t0, Duration::from_millis(1));
        }
        assert_eq!(h.latency_ms(t0, Duration::from_secs(60)), Some(1.0), "only the last samples count");
    }

    #[test]
    fn usage_rolls_over_each_minute_and_prefers_the_shared_figures() {
        let mut h = Health::default();
        h.count_request(100);
        h.count_tokens(100, 40);
        assert_eq!(h.usage(100), (1, 40));
        assert_eq!(h.usage(101), (0, 0));
        h.shared = Some(Shared { minute: 100, rpm_used: 7, tpm_used: 300, ..Shared::default() });
        assert_eq!(h.usage(100), (7, 300));
        h.count_request(101);
        assert_eq!(h.usage(101), (1, 0), "a snapshot of another minute is not used");
    }
}
