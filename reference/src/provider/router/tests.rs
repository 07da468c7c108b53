//! The driver against scripted deployments, under paused time: retries go to other deployments,
//! cooldowns start and end, fallbacks of each kind apply, a client error ends at once — and, as
//! properties, no attempt ever reaches a deployment in cooldown and no request makes more than
//! `1 + num_retries + fallbacks` attempts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;

use super::{Fault, Router, RouterConfig, drive, fault_of};
use crate::provider::error::ProviderError;
use crate::provider::kind::ProviderKind;

/// What a scripted deployment answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Ok,
    Status(u16),
    RateLimited(u64),
    ContextTooLong,
    Refused,
}

impl Answer {
    fn outcome(self) -> Result<(), ProviderError> {
        let upstream = |status, body: &str, retry_after| ProviderError::Upstream {
            provider: ProviderKind::OpenAi,
            status,
            body: body.to_owned(),
            retry_after,
        };
        match self {
            Self::Ok => Ok(()),
            Self::Status(s) => Err(upstream(s, "scripted", None)),
            Self::RateLimited(secs) => Err(upstream(429, "slow down", Some(Duration::from_secs(secs)))),
            Self::ContextTooLong => Err(upstream(400, "This model's maximum context length is 10 tokens", None)),
            Self::Refused => Err(upstream(400, "content_policy_violation", None)),
        }
    }
}

fn router(yaml: &str) -> Arc<Router> {
    let config = RouterConfig::parse(yaml, "t.yaml", false, |_| None).expect("a valid router file");
    Arc::new(Router::new(config, |_| true))
}

/// Deployment ids in the order they were called, and what each answers.
struct Script {
    calls: Mutex<Vec<String>>,
    answers: HashMap<String, Answer>,
}

impl Script {
    fn new(answers: &[(&str, Answer)]) -> Self {
        Self { calls: Mutex::default(), answers: answers.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect() }
    }

    /// One request to `group`: the result, the deployment that served and the attempts.
    async fn send(&self, r: &Arc<Router>, group: &str) -> (Result<(), ProviderError>, Option<String>, u32) {
        let g = r.config().group(group).expect("the group").0;
        let attempt = |d: usize| {
            let id = r.config().deployments()[d].id.clone();
            self.calls.lock().expect("calls").push(id.clone());
            std::future::ready(self.answers.get(&id).copied().unwrap_or(Answer::Ok).outcome())
        };
        let routed = drive(r, g, attempt, fault_of).await;
        (routed.result, routed.ticket.deployment().map(str::to_owned), routed.ticket.attempts)
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().expect("calls"))
    }
}

const THREE: &str = "model_list:
  - {model_name: g, litellm_params: {model: openai/a, order: 1}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: openai/b, order: 2}, model_info: {id: b}}
  - {model_name: g, litellm_params: {model: openai/c, order: 2}, model_info: {id: c}}
  - {model_name: big, litellm_params: {model: openai/big}, model_info: {id: big}}
  - {model_name: safe, litellm_params: {model: openai/safe}, model_info: {id: safe}}
  - {model_name: backup, litellm_params: {model: openai/backup}, model_info: {id: backup}}
router_settings:
  num_retries: 2
  allowed_fails: 2
  cooldown_time: 5
  fallbacks: [{g: [backup]}]
  context_window_fallbacks: [{g: [big]}]
  content_policy_fallbacks: [{g: [safe]}]
";

#[tokio::test(start_paused = true)]
async fn a_failing_deployment_is_skipped_then_cooled_then_used_again() {
    let r = router(THREE);
    let script = Script::new(&[("a", Answer::Status(500))]);
    let (result, served, attempts) = script.send(&r, "g").await;
    assert!(result.is_ok());
    assert_eq!((script.take().len(), attempts), (2, 2), "a failed, then one of b and c");
    assert!(matches!(served.as_deref(), Some("b" | "c")));
    assert!(script.send(&r, "g").await.0.is_ok());
    assert_eq!(script.take()[0], "a", "one failure is allowed: a (order 1) is tried again");
    for _ in 0..20 {
        assert!(script.send(&r, "g").await.0.is_ok());
        assert!(!script.take().contains(&"a".to_owned()), "a is cooling after its second failure");
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(script.send(&r, "g").await.0.is_ok());
    assert_eq!(script.take()[0], "a", "the cooldown has ended");
}

#[tokio::test(start_paused = true)]
async fn every_kind_of_fallback_applies_to_its_own_failure() {
    let cases = [
        (Answer::Status(503), Some("backup"), 4),
        (Answer::ContextTooLong, Some("big"), 2),
        (Answer::Refused, Some("safe"), 2),
        (Answer::Status(400), None, 1),
    ];
    for (answer, served_by, want_attempts) in cases {
        let r = router(THREE);
        let script = Script::new(&[("a", answer), ("b", answer), ("c", answer)]);
        let (result, served, attempts) = script.send(&r, "g").await;
        assert_eq!((served.as_deref(), attempts), (served_by, want_attempts), "{answer:?}: {:?}", script.take());
        assert_eq!(result.is_ok(), served_by.is_some());
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_cools_for_its_retry_after_and_all_cooling_is_a_429_until_the_soonest_end() {
    let r = router(
        "model_list:
  - {model_name: g, litellm_params: {model: openai/a}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: openai/b}, model_info: {id: b}}
router_settings: {cooldown_time: 2}
",
    );
    let script = Script::new(&[("a", Answer::RateLimited(9)), ("b", Answer::RateLimited(4))]);
    let (result, _, attempts) = script.send(&r, "g").await;
    assert_eq!(attempts, 2);
    assert!(matches!(result, Err(ProviderError::Upstream { status: 429, .. })), "the last attempt's error");
    let started = Instant::now();
    let (result, _, attempts) = script.send(&r, "g").await;
    assert_eq!(attempts, 0, "nothing is sent to a cooling deployment");
    match result {
        Err(ProviderError::CoolingDown { retry_after, .. }) => assert_eq!(retry_after, Duration::from_secs(4)),
        other => panic!("{other:?}"),
    }
    tokio::time::advance(Duration::from_secs(4)).await;
    let script = Script::new(&[]);
    let (_, served, _) = script.send(&r, "g").await;
    assert_eq!((served.as_deref(), started.elapsed()), (Some("b"), Duration::from_secs(4)));
    assert_eq!(fault_of(&ProviderError::InvalidModel("m".into())), Fault::Client);
}

/// Whether `d` is cooling at `now` by the contract's rules, worked out apart from the router.
#[derive(Default)]
struct Model {
    until: HashMap<String, Instant>,
    fails: HashMap<String, Vec<Instant>>,
}

impl Model {
    fn cooling(&self, d: &str, now: Instant) -> bool {
        self.until.get(d).is_some_and(|u| *u > now)
    }

    fn record(&mut self, d: &str, answer: Answer, now: Instant, allowed: usize, cooldown: Duration) {
        let cool = |until: &mut HashMap<String, Instant>, len: Duration| {
            let end = until.entry(d.to_owned()).or_insert(now);
            *end = (*end).max(now + len);
        };
        match answer {
            Answer::RateLimited(secs) => {
                cool(&mut self.until, cooldown.max(Duration::from_secs(secs)));
                self.fails.remove(d);
            }
            Answer::Status(s) if s >= 500 => {
                let fails = self.fails.entry(d.to_owned()).or_default();
                fails.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
                fails.push(now);
                if fails.len() >= allowed.max(1) {
                    cool(&mut self.until, cooldown);
                    self.fails.remove(d);
                }
            }
            _ => {}
        }
    }
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        4 => Just(Answer::Ok),
        3 => Just(Answer::Status(500)),
        1 => Just(Answer::Status(400)),
        1 => (0u64..8).prop_map(Answer::RateLimited),
        1 => Just(Answer::ContextTooLong),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_attempt_reaches_a_cooling_deployment_and_attempts_stay_bounded(
        num_retries in 0u32..4,
        allowed in 1u32..4,
        cooldown_secs in 1u64..10,
        requests in prop::collection::vec((prop::collection::vec(answer(), 5), 0u64..4_000), 1..40),
    ) {
        let yaml = format!("model_list:
  - {{model_name: g, litellm_params: {{model: openai/a}}, model_info: {{id: a}}}}
  - {{model_name: g, litellm_params: {{model: openai/b}}, model_info: {{id: b}}}}
  - {{model_name: g, litellm_params: {{model: openai/c}}, model_info: {{id: c}}}}
  - {{model_name: f1, litellm_params: {{model: openai/f1}}, model_info: {{id: f1}}}}
  - {{model_name: f2, litellm_params: {{model: openai/f2}}, model_info: {{id: f2}}}}
router_settings: {{num_retries: {num_retries}, allowed_fails: {allowed}, cooldown_time: {cooldown_secs}, fallbacks: [{{g: [f1, f2]}}]}}
");
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let violations = rt.block_on(async {
            let r = router(&yaml);
            let ids = ["a", "b", "c", "f1", "f2"];
            let model = Mutex::new(Model::default());
            let mut violations = Vec::new();
            for (answers, gap_ms) in requests {
                tokio::time::advance(Duration::from_millis(gap_ms)).await;
                let calls = Mutex::new(0u32);
                let attempt = |d: usize| {
                    let id = ids[d];
                    let answer = answers[d];
                    let now = Instant::now();
                    let mut m = model.lock().expect("model");
                    if m.cooling(id, now) {
                        violations.push(format!("{id} was called while cooling"));
                    }
                    m.record(id, answer, now, allowed as usize, Duration::from_secs(cooldown_secs));
                    *calls.lock().expect("calls") += 1;
                    std::future::ready(answer.outcome())
                };
                let routed = drive(&r, 0, attempt, fault_of).await;
                let calls = *calls.lock().expect("calls");
                if calls > 1 + num_retries + 2 || calls != routed.ticket.attempts {
                    violations.push(format!("{calls} calls, {} counted, bound {}", routed.ticket.attempts, 3 + num_retries));
                }
            }
            violations
        });
        prop_assert!(violations.is_empty(), "{violations:?}");
    }
}
