//! Parallel completions: many chat requests at once, every result a dict with `scillm_router`
//! metadata (CONTRACT §5) — the library API behind `miniagent batch`.
//!
//! Each request is an OpenAI chat body plus routing fields (`model` an alias or `provider/model`;
//! optional `custom_llm_provider`, `api_base`, `api_key`, `max_retries`, `extra_headers`,
//! `response_mode`). At most `concurrency` are in flight (one under `SCILLM_DETERMINISTIC_SEED`);
//! results come back in input order (or as they finish, each carrying its `index`). A result is
//! never null: a failed request is a dict with `error` and `scillm_router.error_type:
//! "provider_error"`. `stream: true` requests are streamed from the provider and aggregated.
//!
//! `error_type` (as the Python original classifies): `provider_error` when the call failed;
//! `empty_content` when the content is empty or null; `invalid_json` for any other content that
//! does not parse as JSON, whether or not JSON was asked for — the content is kept as is; otherwise
//! `ok`. `json_valid` is reported whenever the content is non-empty.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use futures::{Stream, StreamExt};
use serde_json::{Map, Value, json};

use crate::provider::chat::first_choice;
use crate::provider::chat::{ChatRequest, Completion};
use crate::provider::client::Providers;
use crate::provider::error::ProviderError;
use crate::provider::kind::ProviderKind;
use crate::provider::route::{Overrides, Route};
use crate::provider::router::fault_of;
use crate::provider::stream::aggregate;
use crate::secret::Secret;
use crate::transport::retry::RetryStats;

/// Characters of an exception message kept in `scillm_router.exception`.
pub(crate) const EXCEPTION_CHARS: usize = 200;

/// What to do when there are more requests than `max_requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Refuse the whole batch before any call.
    Hard,
    /// Run the first `max_requests`, drop the rest.
    Soft,
}

#[derive(Debug, Clone)]
pub struct ParallelOptions {
    pub concurrency: usize,
    /// Results in input order (else as they finish).
    pub ordered: bool,
    pub max_requests: Option<usize>,
    pub budget: Budget,
}

impl Default for ParallelOptions {
    fn default() -> Self {
        Self { concurrency: 8, ordered: true, max_requests: None, budget: Budget::Hard }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParallelError {
    #[error(
        "{requests} requests exceed max_requests={max} (hard budget): nothing was sent; raise the budget or use a soft budget to truncate"
    )]
    OverBudget { requests: usize, max: usize },
}

/// Fields that route a request and are never sent upstream.
const ROUTING_FIELDS: [&str; 8] = [
    "model",
    "messages",
    "custom_llm_provider",
    "api_base",
    "api_key",
    "max_retries",
    "extra_headers",
    "response_mode",
];

/// Runs every request and collects the results.
pub async fn complete_all(
    providers: &Providers,
    requests: Vec<Value>,
    options: &ParallelOptions,
) -> Result<Vec<Value>, ParallelError> {
    Ok(stream_all(providers, requests, options)?.collect().await)
}

/// Runs every request, yielding results as the order option allows.
pub(crate) fn stream_all<'a>(
    providers: &'a Providers,
    requests: Vec<Value>,
    options: &ParallelOptions,
) -> Result<impl Stream<Item = Value> + 'a, ParallelError> {
    stream_requests(providers, requests.into_iter().map(Ok).collect(), options)
}

/// Like [`stream_all`], where some requests are already known to be unusable (`Err(why)`, e.g. a
/// malformed line of a batch file): those become error results without a call, in their place.
pub(crate) fn stream_requests<'a>(
    providers: &'a Providers,
    mut requests: Vec<Result<Value, String>>,
    options: &ParallelOptions,
) -> Result<impl Stream<Item = Value> + 'a, ParallelError> {
    if let Some(max) = options.max_requests
        && requests.len() > max
    {
        match options.budget {
            Budget::Hard => return Err(ParallelError::OverBudget { requests: requests.len(), max }),
            Budget::Soft => requests.truncate(max),
        }
    }
    let concurrency = if providers.settings().deterministic_seed.is_some() { 1 } else { options.concurrency.max(1) };
    let retry_meta = providers.settings().retry_meta;
    let work = futures::stream::iter(requests.into_iter().enumerate())
        .map(move |(i, r)| async move {
            let result = match r {
                Ok(request) => one(providers, i, request).await,
                Err(why) => error_result(i, None, None, &why, Instant::now(), None, retry_meta),
            };
            (i, result)
        })
        // Always run unordered: `buffered` would hold a finished request's slot until every earlier
        // one is done, so one slow request would starve the rest of the concurrency.
        .buffer_unordered(concurrency);
    Ok(if options.ordered { in_order(work).boxed() } else { work.map(|(_, r)| r).boxed() })
}

/// Re-sequences `(index, result)` pairs: each result is yielded as soon as every earlier one has
/// been, so ordered output still streams.
fn in_order(results: impl Stream<Item = (usize, Value)>) -> impl Stream<Item = Value> {
    let state = (Box::pin(results), std::collections::BTreeMap::<usize, Value>::new(), 0usize);
    futures::stream::unfold(state, |(mut results, mut pending, next)| async move {
        loop {
            if let Some(ready) = pending.remove(&next) {
                return Some((ready, (results, pending, next + 1)));
            }
            let (i, r) = results.next().await?;
            pending.insert(i, r);
        }
    })
}

/// One request to one result dict.
pub async fn one(providers: &Providers, index: usize, request: Value) -> Value {
    let started = Instant::now();
    let retry_meta = providers.settings().retry_meta;
    let fail = |model: Option<&str>, provider: Option<&str>, why: &str, stats: Option<&RetryStats>| {
        error_result(index, model, provider, why, started, stats, retry_meta)
    };
    let Value::Object(mut req) = request else {
        return fail(None, None, &format!("request {index} is not a JSON object"), None);
    };
    let model = req.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
    let schema_first = req.pointer_type("response_format") == Some("json_schema")
        || req.get("response_mode").and_then(Value::as_str) == Some("schema_first");
    let Some(Value::Array(messages)) = req.remove("messages") else {
        return fail(Some(&model), None, &format!("request {index} has no `messages` list"), None);
    };
    let overrides = overrides(&req);
    let target = match providers.target(&model, &overrides) {
        Ok(t) => t,
        Err(e) => return fail(Some(&model), None, &e.to_string(), None),
    };
    let chat = chat_request(messages, req);
    // The provider of the last route tried: the one that answered, or the last that failed.
    let mut provider: Option<ProviderKind> = None;
    let attempt = |route: Arc<Route>| {
        provider = Some(route.kind);
        let chat = &chat;
        async move {
            let (result, stats) = call(providers, &route, chat).await;
            result.map(|raw| (raw, stats.clone())).map_err(|error| Failed { error, stats })
        }
    };
    let routed = providers.call(&target, &overrides, attempt, |f: &Failed| fault_of(&f.error)).await;
    let provider = provider.map(ProviderKind::name);
    match routed.result {
        Err(Failed { error, stats }) => fail(Some(&model), provider, &error.to_string(), stats.as_ref()),
        Ok((mut raw, stats)) => {
            let tokens = raw.pointer("/usage/total_tokens").and_then(Value::as_u64);
            routed.ticket.add_tokens(tokens.unwrap_or(0));
            let mut meta = classify(&raw, schema_first);
            meta.insert("provider".into(), json!(provider));
            if let Some(id) = routed.ticket.deployment() {
                meta.insert("deployment".into(), json!(id));
                meta.insert("attempts".into(), json!(routed.ticket.attempts));
            }
            meta.insert("model".into(), json!(model));
            meta.insert("index".into(), json!(index));
            meta.insert("timing_ms".into(), json!(started.elapsed().as_secs_f64() * 1e3));
            if retry_meta && let Some(s) = &stats {
                meta.insert("retries".into(), retries_meta(s));
            }
            // The content is kept whatever it is: a JSON request answered with prose keeps the prose.
            if let Some(obj) = raw.as_object_mut() {
                obj.insert("scillm_router".into(), Value::Object(meta));
            }
            raw
        }
    }
}

/// A failed call and the retry statistics of its last attempt.
struct Failed {
    error: ProviderError,
    stats: Option<RetryStats>,
}

impl From<ProviderError> for Failed {
    fn from(error: ProviderError) -> Self {
        Self { error, stats: None }
    }
}

/// The per-request routing overrides.
fn overrides(req: &Map<String, Value>) -> Overrides {
    Overrides {
        custom_llm_provider: req.get("custom_llm_provider").and_then(Value::as_str).map(str::to_owned),
        api_base: req.get("api_base").and_then(Value::as_str).map(str::to_owned),
        api_key: req.get("api_key").and_then(Value::as_str).map(Secret::new),
        max_retries: req.get("max_retries").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()),
    }
}

/// The request for the provider: what is left after the routing fields is the provider's
/// business, moved rather than copied.
fn chat_request(messages: Vec<Value>, mut req: Map<String, Value>) -> ChatRequest<'static> {
    let extra_headers = req
        .get("extra_headers")
        .and_then(Value::as_object)
        .map(|h| h.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    req.retain(|k, _| !ROUTING_FIELDS.contains(&k.as_str()));
    ChatRequest { messages: messages.into_iter().map(Cow::Owned).collect(), tools: None, extra: req, extra_headers }
}

/// The call, streamed and aggregated when the request asks for a stream.
async fn call(
    providers: &Providers,
    route: &Route,
    chat: &ChatRequest<'_>,
) -> (Result<Value, ProviderError>, Option<RetryStats>) {
    if chat.extra.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        (collect_stream(providers, route, chat).await, None)
    } else {
        let (r, s) = providers.complete_route_with_stats(route, chat).await;
        (r.map(Completion::into_raw), Some(s))
    }
}

/// `scillm_router`'s classification of an answer: `empty_content` for empty or null content,
/// `invalid_json` for any other content that does not parse as JSON, else `ok`.
fn classify(raw: &Value, schema_first: bool) -> Map<String, Value> {
    let content =
        first_choice(raw).and_then(|c| c.get("message")?.get("content")).and_then(Value::as_str).unwrap_or_default();
    let mut meta = Map::new();
    let json_valid = (!content.trim().is_empty()).then(|| serde_json::from_str::<Value>(content).is_ok());
    let error_type = match json_valid {
        None => "empty_content",
        Some(false) => "invalid_json",
        Some(true) => "ok",
    };
    meta.insert("error_type".into(), json!(error_type));
    if let Some(valid) = json_valid {
        meta.insert("json_valid".into(), json!(valid));
    }
    if schema_first {
        meta.insert("schema_mode".into(), json!("schema_first"));
    }
    meta
}

async fn collect_stream(providers: &Providers, route: &Route, chat: &ChatRequest<'_>) -> Result<Value, ProviderError> {
    let mut stream = providers.stream_route(route, chat).await?;
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk?);
    }
    Ok(aggregate(&chunks))
}

fn retries_meta(s: &RetryStats) -> Value {
    json!({"attempts": s.attempts, "total_sleep_ms": s.total_sleep_ms, "last_retry_after_s": s.last_retry_after_s})
}

fn error_result(
    index: usize,
    model: Option<&str>,
    provider: Option<&str>,
    why: &str,
    started: Instant,
    stats: Option<&RetryStats>,
    retry_meta: bool,
) -> Value {
    let exception: String = why.chars().take(EXCEPTION_CHARS).collect();
    let mut meta = json!({
        "error_type": "provider_error",
        "provider": provider,
        "model": model,
        "index": index,
        "timing_ms": started.elapsed().as_secs_f64() * 1e3,
        "exception": exception,
    });
    if retry_meta && let Some(s) = stats {
        meta["retries"] = retries_meta(s);
    }
    json!({
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null}, "finish_reason": "error"}],
        "error": {"message": why, "type": "provider_error"},
        "scillm_router": meta,
    })
}

trait PointerType {
    fn pointer_type(&self, key: &str) -> Option<&str>;
}

impl PointerType for Map<String, Value> {
    /// `self[key].type` as a string.
    fn pointer_type(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| v.get("type")).and_then(Value::as_str)
    }
}
