//! The routing driver: one request to a group, as attempts on its deployments — retries on other
//! deployments, cooldowns, then fallbacks — whatever the call is (a chat completion, a proxied
//! request, a stream's head, an embedding). The caller passes the attempt and how to read its
//! error; the driver knows nothing of HTTP.
//!
//! Attempts, at most `1 + num_retries + fallbacks` of them:
//! 1. up to `1 + num_retries` in the requested group, each on an available deployment not tried yet
//!    when there is one (else one tried before that is still available);
//! 2. then, when the group has nothing left, one attempt in each fallback group in order —
//!    `context_window_fallbacks` after a context-length 400, `content_policy_fallbacks` after a
//!    refusal, else `fallbacks` (the group's entry, or `default_fallbacks`).
//!
//! A client error (another 4xx) ends it at once. Each attempt is one call of the caller's attempt,
//! which may itself retry on the same deployment (the deployment's `max_retries`, through the one
//! retry driver): upstream requests are at most `(1 + num_retries + fallbacks) · (1 + max_retries)`.
//! With nothing attempted because everything was cooling, the answer is
//! [`ProviderError::CoolingDown`] (429, `Retry-After` the soonest end).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

use super::health::Failure;
use super::state::Router;
use crate::provider::error::ProviderError;
use crate::telemetry::otel::TARGET;

/// What an attempt's error means for routing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The deployment failed (5xx, 408, 429, timeout, unreachable, an unusable answer).
    Failed(Failure),
    /// A provider 400 that says the context is too long.
    ContextWindow,
    /// A content-policy refusal.
    ContentPolicy,
    /// The client's own error: passed back at once.
    Client,
}

/// Which fallbacks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Generic,
    ContextWindow,
    ContentPolicy,
}

/// Who served a request, and how many attempts it took. While it lives the deployment counts the
/// request as in flight (a stream holds it until its last event).
#[derive(Debug)]
pub struct Ticket {
    served: Option<(Arc<Router>, usize)>,
    /// Router-level attempts made (1 for a model that is no group).
    pub attempts: u32,
    tokens: std::sync::atomic::AtomicU64,
}

impl Ticket {
    /// A request that was not routed (a `provider/model` name): one attempt, no deployment.
    pub fn direct() -> Self {
        Self { served: None, attempts: 1, tokens: 0.into() }
    }

    /// The id of the deployment that served, if a group's deployment did.
    pub fn deployment(&self) -> Option<&str> {
        self.served.as_ref().map(|(r, d)| r.config().deployments()[*d].id.as_str())
    }

    /// Adds the tokens the answer used (for per-minute usage).
    pub fn add_tokens(&self, tokens: u64) {
        self.tokens.fetch_add(tokens, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some((router, d)) = &self.served {
            router.end(*d);
            router.used(*d, self.tokens.load(std::sync::atomic::Ordering::Relaxed));
        }
    }
}

/// A routed call's result and its ticket.
#[derive(Debug)]
pub struct Routed<T, E> {
    pub result: Result<T, E>,
    pub ticket: Ticket,
}

/// The state of one routed request.
struct Run<E> {
    tried: Vec<usize>,
    attempts: u32,
    last: Option<E>,
}

/// What one attempt ended in.
enum Step<T, E> {
    Done(T, Ticket),
    Client(E),
    Failed,
    Fallback(Kind),
}

/// Routes one request to group `g`: `attempt(d)` calls deployment `d`; `verdict` reads its error.
pub async fn drive<T, E, F, Fut>(router: &Arc<Router>, g: usize, mut attempt: F, verdict: impl Fn(&E) -> Verdict) -> Routed<T, E>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: From<ProviderError>,
{
    let mut run = Run { tried: Vec::with_capacity(4), attempts: 0, last: None };
    let mut kind = Kind::Generic;
    router.refresh(g).await;
    for _ in 0..=router.config().settings.num_retries {
        let Some(d) = router.pick(g, &run.tried) else { break };
        match one(router, g, d, &mut run, &mut attempt, &verdict).await {
            Step::Done(value, ticket) => return Routed { result: Ok(value), ticket },
            Step::Client(e) => return Routed { result: Err(e), ticket: spent(&run) },
            Step::Failed => {}
            Step::Fallback(k) => {
                kind = k;
                break;
            }
        }
    }
    let fallbacks = fallbacks(router, g, kind);
    for &fb in &fallbacks {
        router.refresh(fb).await;
        let Some(d) = router.pick(fb, &run.tried) else { continue };
        match one(router, fb, d, &mut run, &mut attempt, &verdict).await {
            Step::Done(value, ticket) => return Routed { result: Ok(value), ticket },
            Step::Client(e) => return Routed { result: Err(e), ticket: spent(&run) },
            Step::Failed | Step::Fallback(_) => {}
        }
    }
    let ticket = spent(&run);
    let result = match run.last.take() {
        Some(e) => Err(e),
        None => {
            let groups: Vec<usize> = std::iter::once(g).chain(fallbacks).collect();
            let model = router.config().groups()[g].name.clone();
            Err(E::from(ProviderError::CoolingDown { model, retry_after: router.soonest(&groups) }))
        }
    };
    Routed { result, ticket }
}

/// The ticket of a request no deployment served.
fn spent<E>(run: &Run<E>) -> Ticket {
    Ticket { served: None, attempts: run.attempts, tokens: 0.into() }
}

/// The fallback groups that apply to group `g` after a failure of `kind`, in order.
fn fallbacks(router: &Router, g: usize, kind: Kind) -> Vec<usize> {
    let config = router.config();
    let s = &config.settings;
    let name = &config.groups()[g].name;
    let names = match kind {
        Kind::ContextWindow => s.context_window_fallbacks.get(name),
        Kind::ContentPolicy => s.content_policy_fallbacks.get(name),
        Kind::Generic => s.fallbacks.get(name).or(Some(&s.default_fallbacks)),
    };
    names.into_iter().flatten().filter_map(|n| config.group(n).map(|(i, _)| i)).filter(|fb| *fb != g).collect()
}

/// One attempt on deployment `d` of group `g`, in its own span, recorded in the router.
async fn one<T, E, F, Fut>(
    router: &Arc<Router>,
    g: usize,
    d: usize,
    run: &mut Run<E>,
    attempt: &mut F,
    verdict: &impl Fn(&E) -> Verdict,
) -> Step<T, E>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run.attempts += 1;
    run.tried.push(d);
    let span = tracing::debug_span!(
        target: TARGET,
        "route attempt",
        otel.name = "route attempt",
        otel.status_code = Empty,
        miniagent.group = %router.config().groups()[g].name,
        miniagent.deployment = %router.config().deployments()[d].id,
        miniagent.attempt = run.attempts,
        error.type = Empty,
    );
    router.begin(d);
    let started = Instant::now();
    let outcome = attempt(d).instrument(span.clone()).await;
    let e = match outcome {
        Ok(value) => {
            router.succeeded(d, started.elapsed());
            let ticket = Ticket { served: Some((router.clone(), d)), attempts: run.attempts, tokens: 0.into() };
            return Step::Done(value, ticket);
        }
        Err(e) => e,
    };
    router.end(d);
    let v = verdict(&e);
    span.record("otel.status_code", "ERROR");
    span.record("error.type", label(v));
    match v {
        Verdict::Failed(failure) => {
            router.failed(d, failure).await;
            run.last = Some(e);
            Step::Failed
        }
        Verdict::Client => {
            router.client_error(d, "client_error");
            Step::Client(e)
        }
        Verdict::ContextWindow | Verdict::ContentPolicy => {
            router.client_error(d, label(v));
            run.last = Some(e);
            Step::Fallback(if v == Verdict::ContextWindow { Kind::ContextWindow } else { Kind::ContentPolicy })
        }
    }
}

fn label(v: Verdict) -> &'static str {
    match v {
        Verdict::Failed(Failure::RateLimited { .. }) => "rate_limited",
        Verdict::Failed(Failure::Failed) => "failure",
        Verdict::ContextWindow => "context_window",
        Verdict::ContentPolicy => "content_policy",
        Verdict::Client => "client_error",
    }
}

/// How a provider's error status reads: 5xx, 408 and 429 are the deployment's failures; a 4xx whose
/// message says the context is too long, or that content policy refused it, has its own fallbacks;
/// any other 4xx is the client's.
pub fn verdict_of_status(status: u16, message: &str, retry_after: Option<Duration>) -> Verdict {
    match status {
        429 => Verdict::Failed(Failure::RateLimited { retry_after }),
        408 | 500.. => Verdict::Failed(Failure::Failed),
        _ if says_context_too_long(message) => Verdict::ContextWindow,
        _ if says_content_policy(message) => Verdict::ContentPolicy,
        _ => Verdict::Client,
    }
}

/// How a [`ProviderError`] reads.
pub fn verdict_of(e: &ProviderError) -> Verdict {
    match e {
        ProviderError::Upstream { status, body, retry_after, .. } => verdict_of_status(*status, body, *retry_after),
        ProviderError::Transport { .. } | ProviderError::Timeout { .. } | ProviderError::InvalidResponse { .. } => {
            Verdict::Failed(Failure::Failed)
        }
        ProviderError::InvalidModel(_)
        | ProviderError::Disabled { .. }
        | ProviderError::NotConfigured { .. }
        | ProviderError::CoolingDown { .. } => Verdict::Client,
    }
}

/// The phrasings providers use for a prompt over the model's context (OpenAI's
/// `context_length_exceeded`, Anthropic's "prompt is too long", vLLM's "maximum context length").
fn says_context_too_long(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["context_length_exceeded", "maximum context length", "context length", "context window", "prompt is too long"]
        .iter()
        .any(|needle| m.contains(needle))
}

/// The phrasings of a content-policy refusal (OpenAI's `content_policy_violation`, Azure's
/// `content_filter`).
fn says_content_policy(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["content_policy_violation", "content_filter", "content policy", "content management policy", "safety system"]
        .iter()
        .any(|needle| m.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages_read_as_the_contract_says() {
        let ra = Some(Duration::from_secs(3));
        let cases = [
            (500, "boom", Verdict::Failed(Failure::Failed)),
            (503, "", Verdict::Failed(Failure::Failed)),
            (408, "", Verdict::Failed(Failure::Failed)),
            (429, "slow down", Verdict::Failed(Failure::RateLimited { retry_after: ra })),
            (400, "This model's maximum context length is 8192 tokens", Verdict::ContextWindow),
            (400, r#"{"code":"context_length_exceeded"}"#, Verdict::ContextWindow),
            (400, "Your request was rejected by our safety system", Verdict::ContentPolicy),
            (400, r#"{"code":"content_policy_violation"}"#, Verdict::ContentPolicy),
            (400, "messages must be a list", Verdict::Client),
            (401, "bad key", Verdict::Client),
            (409, "conflict", Verdict::Client),
            (404, "no such model", Verdict::Client),
        ];
        for (status, message, want) in cases {
            assert_eq!(verdict_of_status(status, message, ra), want, "{status} {message}");
        }
        let timeout = ProviderError::Timeout { provider: crate::provider::ProviderKind::OpenAi };
        assert_eq!(verdict_of(&timeout), Verdict::Failed(Failure::Failed));
        assert_eq!(verdict_of(&ProviderError::InvalidModel("x".into())), Verdict::Client);
    }
}
