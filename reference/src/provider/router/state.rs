//! [`Router`]: the router file's deployments with their live health — what one server knows about
//! each deployment (in flight, cooling, failures, latency, usage), merged with what Redis says
//! when replicas share it — and the one place a deployment is chosen ([`Router::pick`]).
//!
//! Each deployment's figures sit behind its own std mutex, held for a few field updates and never
//! across an `.await`; in-flight counts are atomics. A decision copies the group's figures onto the
//! stack and asks [`super::strategy::pick`], so choosing among ten deployments allocates nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::time::Instant;

use super::config::RouterConfig;
use super::health::{CooldownRules, Failure, Health, Shared};
use super::shared::{Report, SharedHealth};
use super::strategy::{self, Candidate, MAX_TIER};
use crate::telemetry::metrics::Metrics;

/// One deployment's live state.
#[derive(Debug)]
struct Slot {
    in_flight: AtomicU32,
    health: Mutex<Health>,
    rules: CooldownRules,
    /// Whether a route could be built for it (an unknown provider or a missing key leaves it out).
    usable: bool,
}

/// The deployments and their health.
#[derive(Debug)]
pub struct Router {
    config: RouterConfig,
    slots: Box<[Slot]>,
    shared: OnceLock<SharedHealth>,
    metrics: OnceLock<Metrics>,
}

/// The minute (unix seconds / 60) on the wall clock: replicas agree on it, and so does Redis.
pub(crate) fn minute_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 60)
}

/// Time until the next minute starts (when per-minute limits reset).
fn until_next_minute() -> Duration {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Duration::from_secs(60) - Duration::from_millis((now.as_millis() % 60_000) as u64)
}

impl Router {
    /// The live router over `config`; `usable(i)` says whether deployment `i` can be called.
    pub fn new(config: RouterConfig, usable: impl Fn(usize) -> bool) -> Self {
        let s = &config.settings;
        let slots = config
            .deployments()
            .iter()
            .enumerate()
            .map(|(i, d)| Slot {
                in_flight: AtomicU32::new(0),
                health: Mutex::new(Health::default()),
                rules: CooldownRules {
                    allowed_fails: s.allowed_fails,
                    cooldown_time: d.cooldown_time.unwrap_or(s.cooldown_time),
                },
                usable: usable(i),
            })
            .collect();
        Self { config, slots, shared: OnceLock::new(), metrics: OnceLock::new() }
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The first deployment of group `g` that can be called, if any can.
    pub fn first_usable(&self, g: usize) -> Option<usize> {
        self.members(g).iter().copied().find(|&d| self.slots[d].usable)
    }

    /// Shares cooldowns and usage with other replicas through Redis (set once, at startup).
    pub fn share(&self, shared: SharedHealth) {
        let _ = self.shared.set(shared);
    }

    /// Counts attempts and cooldowns in `metrics` (set once, at startup).
    pub fn count_in(&self, metrics: Metrics) {
        let _ = self.metrics.set(metrics);
    }

    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.get()
    }

    fn health(&self, d: usize) -> MutexGuard<'_, Health> {
        self.slots[d].health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The deployments of group `g`.
    fn members(&self, g: usize) -> &[usize] {
        &self.config.groups()[g].deployments
    }

    /// Updates the group's view from Redis: one round trip, when replicas share it. Redis down
    /// leaves the local view (the link logs it).
    pub async fn refresh(&self, g: usize) {
        let Some(shared) = self.shared.get() else { return };
        let members = self.members(g);
        let ids: Vec<&str> = members.iter().map(|&d| self.config.deployments()[d].id.as_str()).collect();
        let Ok((minute, seen)) = shared.read(&ids).await else { return };
        let now = Instant::now();
        for (&d, s) in members.iter().zip(seen) {
            let cooldown_until = s.cooling_for.map(|left| now + left);
            self.health(d).shared = Some(Shared { cooldown_until, minute, rpm_used: s.rpm_used, tpm_used: s.tpm_used });
        }
    }

    /// The deployment of group `g` to try next: an available one not yet `tried` when there is one,
    /// else an available one tried before; `None` when every one is cooling (or at its limits).
    pub fn pick(&self, g: usize, tried: &[usize]) -> Option<usize> {
        let now = Instant::now();
        let minute = minute_now();
        let mut fresh = [Candidate::EMPTY; MAX_TIER];
        let mut again = [Candidate::EMPTY; MAX_TIER];
        let (mut n_fresh, mut n_again) = (0, 0);
        for &d in self.members(g).iter().take(MAX_TIER) {
            let Some(c) = self.candidate(d, now, minute) else { continue };
            if tried.contains(&d) {
                again[n_again] = c;
                n_again += 1;
            } else {
                fresh[n_fresh] = c;
                n_fresh += 1;
            }
        }
        let strategy = &self.config.settings.strategy;
        let mut rng = rand::rng();
        strategy::pick(strategy, &fresh[..n_fresh], &mut rng)
            .or_else(|| strategy::pick(strategy, &again[..n_again], &mut rng))
    }

    /// Deployment `d` as a candidate, when it is usable and not cooling.
    fn candidate(&self, d: usize, now: Instant, minute: u64) -> Option<Candidate> {
        let slot = &self.slots[d];
        if !slot.usable {
            return None;
        }
        let health = self.health(d);
        if !health.available(now) {
            return None;
        }
        let deployment = &self.config.deployments()[d];
        let (rpm_used, tpm_used) = health.usage(minute);
        let latency_ms = match self.config.settings.strategy {
            super::settings::Strategy::LatencyBased { ttl, .. } => health.latency_ms(now, ttl),
            _ => None,
        };
        Some(Candidate {
            slot: d,
            order: deployment.order.unwrap_or(u32::MAX),
            weight: deployment.weight,
            rpm: deployment.rpm,
            tpm: deployment.tpm,
            in_flight: slot.in_flight.load(Ordering::Relaxed),
            latency_ms,
            rpm_used,
            tpm_used,
        })
    }

    /// How long until one of `groups`' deployments may take a request again: the soonest cooldown
    /// end, or the next minute when they are at their per-minute limits.
    pub fn soonest(&self, groups: &[usize]) -> Duration {
        let now = Instant::now();
        groups
            .iter()
            .flat_map(|&g| self.members(g))
            .filter_map(|&d| self.health(d).cooling_until(now))
            .min()
            .map_or_else(until_next_minute, |until| until - now)
    }

    /// An attempt on `d` starts: one more in flight, one more request this minute.
    pub fn begin(&self, d: usize) {
        self.slots[d].in_flight.fetch_add(1, Ordering::Relaxed);
        self.health(d).count_request(minute_now());
    }

    /// An attempt on `d` is over (its answer read, or failed).
    pub fn end(&self, d: usize) {
        self.slots[d].in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn succeeded(&self, d: usize, latency: Duration) {
        self.health(d).succeed(Instant::now(), latency);
        self.count(d, "ok");
    }

    /// Records a failure of `d` here and, when shared, in Redis (awaited, bounded: the next decision
    /// of any replica must see it); starts the cooldown either view calls for.
    pub async fn failed(&self, d: usize, failure: Failure) {
        let rules = self.slots[d].rules;
        let started = self.health(d).fail(Instant::now(), failure, rules);
        self.count(d, if matches!(failure, Failure::RateLimited { .. }) { "rate_limited" } else { "failure" });
        let mut cooled = started.is_some();
        if let Some(shared) = self.shared.get() {
            let cooldown_ms = match failure {
                Failure::RateLimited { retry_after } => rules.cooldown_time.max(retry_after.unwrap_or_default()),
                Failure::Failed => Duration::ZERO,
            };
            let report = Report { requests: 1, tokens: 0, failed: true, cooldown_ms: cooldown_ms.as_millis() as u64 };
            let id = &self.config.deployments()[d].id;
            if let Ok(Some(length)) = shared.write(id, report, rules.allowed_fails, rules.cooldown_time).await
                && started.is_none()
            {
                self.health(d).start_cooldown(Instant::now(), length);
                cooled = true;
            }
        }
        if cooled {
            let id = &self.config.deployments()[d].id;
            tracing::warn!(deployment = %id, "deployment cooling down after failures");
            if let Some(m) = self.metrics.get() {
                m.deployment_cooldown(id);
            }
        }
    }

    /// An attempt answered with a client error (passed back, no cooldown).
    pub fn client_error(&self, d: usize, outcome: &'static str) {
        self.count(d, outcome);
    }

    /// Tokens `d` used for an answer; with Redis, the request and its tokens are written there off
    /// the request's path (a spawned task: the answer does not wait for it).
    pub fn used(self: &std::sync::Arc<Self>, d: usize, tokens: u64) {
        if tokens > 0 {
            self.health(d).count_tokens(minute_now(), tokens);
        }
        if self.shared.get().is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let router = self.clone();
        runtime.spawn(async move {
            if let Some(shared) = router.shared.get() {
                let report = Report { requests: 1, tokens, failed: false, cooldown_ms: 0 };
                let (id, rules) = (&router.config.deployments()[d].id, router.slots[d].rules);
                let _ = shared.write(id, report, rules.allowed_fails, rules.cooldown_time).await;
            }
        });
    }

    fn count(&self, d: usize, outcome: &'static str) {
        if let Some(m) = self.metrics.get() {
            m.deployment_request(&self.config.deployments()[d].id, outcome);
        }
    }

    /// Sets `miniagent_deployment_available` for every deployment (at each scrape).
    pub fn refresh_gauges(&self) {
        let Some(m) = self.metrics.get() else { return };
        let now = Instant::now();
        for (d, deployment) in self.config.deployments().iter().enumerate() {
            m.deployment_available(&deployment.id, self.slots[d].usable && self.health(d).available(now));
        }
    }

    /// What `GET /v1/deployments` lists: every deployment's figures, never a key or credentials.
    pub fn statuses(&self, provider_of: impl Fn(usize) -> Option<&'static str>) -> Vec<DeploymentStatus> {
        let now = Instant::now();
        let minute = minute_now();
        let ttl = match self.config.settings.strategy {
            super::settings::Strategy::LatencyBased { ttl, .. } => ttl,
            _ => Duration::from_secs(3600),
        };
        self.config
            .deployments()
            .iter()
            .enumerate()
            .map(|(d, dep)| {
                let health = self.health(d);
                let cooling = health.cooling_until(now).map(|until| (until - now).as_millis() as u64);
                let (rpm_used, tpm_used) = health.usage(minute);
                DeploymentStatus {
                    id: dep.id.clone(),
                    group: dep.group.clone(),
                    model: dep.model.clone(),
                    provider: provider_of(d),
                    api_base: dep.api_base.as_deref().map(without_credentials),
                    available: self.slots[d].usable && cooling.is_none(),
                    cooldown_remaining_ms: cooling.unwrap_or(0),
                    in_flight: self.slots[d].in_flight.load(Ordering::Relaxed),
                    rpm_used,
                    tpm_used,
                    rpm: dep.rpm,
                    tpm: dep.tpm,
                    weight: dep.weight,
                    order: dep.order,
                    latency_ms: health.latency_ms(now, ttl),
                }
            })
            .collect()
    }
}

/// One row of `GET /v1/deployments`.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentStatus {
    pub id: String,
    pub group: String,
    pub model: String,
    /// `None` when no route could be built for it (unknown provider, missing key).
    pub provider: Option<&'static str>,
    /// The base without user, password or query.
    pub api_base: Option<String>,
    pub available: bool,
    pub cooldown_remaining_ms: u64,
    pub in_flight: u32,
    pub rpm_used: u64,
    pub tpm_used: u64,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub weight: Option<f64>,
    pub order: Option<u32>,
    /// Mean recent latency.
    pub latency_ms: Option<f64>,
}

/// `base` without what may be a credential: user info and query.
fn without_credentials(base: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_are_shown_without_credentials() {
        assert_eq!(without_credentials("https://u:p@h.example/v1?key=s"), "https://h.example/v1");
        assert_eq!(without_credentials("not a url"), "(not a URL)");
    }
}
