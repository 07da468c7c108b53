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

/// Whose fault an attempt's error is, as routing reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
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

    /// A request that made no attempt (its group has no deployment that can be called).
    pub fn unattempted() -> Self {
        Self { served: None, attempts: 0, tokens: 0.into() }
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

/// Routes one request to group `g`: `attempt(d)` calls deployment `d`; `fault` reads its error.
pub async fn drive<T, E, F, Fut>(
    router: &Arc<Router>,
    g: usize,
    mut attempt: F,
    fault: impl Fn(&E) -> Fault,
) -> Routed<T, E>
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
        match one(router, g, d, &mut run, &mut attempt, &fault).await {
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
        match one(router, fb, d, &mut run, &mut attempt, &fault).await {
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
    fault: &impl Fn(&E) -> Fault,
) -> Step<T, E>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run.attempts += 1;
    run.tried.push(d);
    let span = if crate::telemetry::otel::traced() {
        tracing::debug_span!(
            target: TARGET,
            "route attempt",
            otel.name = "route attempt",
            otel.status_code = Empty,
            miniagent.group = %router.config().groups()[g].name,
            miniagent.deployment = %router.config().deployments()[d].id,
            miniagent.attempt = run.attempts,
            error.type = Empty,
        )
    } else {
        tracing::Span::none()
    };
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
    let v = fault(&e);
    span.record("otel.status_code", "ERROR");
    span.record("error.type", label(v));
    match v {
        Fault::Failed(failure) => {
            router.failed(d, failure).await;
            run.last = Some(e);
            Step::Failed
        }
        Fault::Client => {
            router.client_error(d, "client_error");
            Step::Client(e)
        }
        Fault::ContextWindow | Fault::ContentPolicy => {
            router.client_error(d, label(v));
            run.last = Some(e);
            Step::Fallback(if v == Fault::ContextWindow { Kind::ContextWindow } else { Kind::ContentPolicy })
        }
    }
}

fn label(v: Fault) -> &'static str {
    match v {
        Fault::Failed(Failure::RateLimited { .. }) => "rate_limited",
        Fault::Failed(Failure::Failed) => "failure",
        Fault::ContextWindow => "context_window",
        Fault::ContentPolicy => "content_policy",
        Fault::Client => "client_error",
    }
}

/// How a provider's error status reads: 5xx, 408 and 429 are the deployment's failures; a 4xx whose
/// message says the context is too long, or that content policy refused it, has its own fallbacks;
/// any other 4xx is the client's.
pub(crate) fn fault_of_status(status: u16, message: &str, retry_after: Option<Duration>) -> Fault {
    match status {
        429 => Fault::Failed(Failure::RateLimited { retry_after }),
        408 | 500.. => Fault::Failed(Failure::Failed),
        _ if says_context_too_long(message) => Fault::ContextWindow,
        _ if says_content_policy(message) => Fault::ContentPolicy,
        _ => Fault::Client,
    }
}

/// How a [`ProviderError`] reads.
pub fn fault_of(e: &ProviderError) -> Fault {
    match e {
        ProviderError::Upstream { status, body, retry_after, .. } => fault_of_status(*status, body, *retry_after),
        ProviderError::Transport { .. } | ProviderError::Timeout { .. } | ProviderError::InvalidResponse { .. } => {
            Fault::Failed(Failure::Failed)
        }
        ProviderError::InvalidModel(_)
        | ProviderError::Disabled { .. }
        | ProviderError::NotConfigured { .. }
        | ProviderError::CoolingDown { .. } => Fault::Client,
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
            (500, "boom", Fault::Failed(Failure::Failed)),
            (503, "", Fault::Failed(Failure::Failed)),
            (408, "", Fault::Failed(Failure::Failed)),
            (429, "slow down", Fault::Failed(Failure::RateLimited { retry_after: ra })),
            (400, "This model's maximum context length is 8192 tokens", Fault::ContextWindow),
            (400, r#"{"code":"context_length_exceeded"}"#, Fault::ContextWindow),
            (400, "Your request was rejected by our safety system", Fault::ContentPolicy),
            (400, r#"{"code":"content_policy_violation"}"#, Fault::ContentPolicy),
            (400, "messages must be a list", Fault::Client),
            (401, "bad key", Fault::Client),
            (409, "conflict", Fault::Client),
            (404, "no such model", Fault::Client),
        ];
        for (status, message, want) in cases {
            assert_eq!(fault_of_status(status, message, ra), want, "{status} {message}");
        }
        let timeout = ProviderError::Timeout { provider: crate::provider::kind::ProviderKind::OpenAi };
        assert_eq!(fault_of(&timeout), Fault::Failed(Failure::Failed));
        assert_eq!(fault_of(&ProviderError::InvalidModel("x".into())), Fault::Client);
    }
}
