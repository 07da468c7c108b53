//! The load the scale suite sends through the balancer: `POST /agent/run` with the dummy model and
//! the echo backend (no provider, no tools: what is measured is the balancing, not a model), a
//! fixed number of requests at a fixed concurrency, each with its own W3C `traceparent`.
//!
//! Every request ends as an [`Outcome`] — a transport error included — so "lost" is counted, never
//! hidden by an early return.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use super::nginx;

/// The span id the suite's client spans have: the parent of every request span.
pub const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// What one request got.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The status, `None` when no response came (connection refused or cut, timeout).
    pub status: Option<u16>,
    /// nginx's `X-Upstream`: the replicas tried, in order (empty when nginx did not set it).
    pub upstream: String,
    pub retry_after: Option<String>,
    /// The trace id the request carried.
    pub trace_id: String,
    /// Why there was no (good) response, for the failure message.
    pub error: Option<String>,
}

impl Outcome {
    /// A 200 with an envelope.
    pub fn ok(&self) -> bool {
        self.status == Some(200) && self.error.is_none()
    }

    /// The replica that answered (`127.0.0.1:PORT`).
    pub fn answered_by(&self) -> &str {
        nginx::answered_by(&self.upstream)
    }

    /// Whether nginx tried more than one replica.
    pub fn retried(&self) -> bool {
        nginx::retried(&self.upstream)
    }
}

/// A batch of requests.
#[derive(Debug, Clone)]
pub struct Load {
    /// `http://127.0.0.1:PORT` of the balancer.
    pub url: String,
    pub key: &'static str,
    pub requests: usize,
    pub concurrency: usize,
    /// The high half of every trace id of the batch; the low half is the request's index.
    pub trace_prefix: u64,
}

/// The client: bounded, so a request that nginx holds forever is an `Outcome`, not a hang.
pub fn client() -> reqwest::Client {
    crate::http_client_builder().timeout(Duration::from_secs(30)).build().unwrap_or_default()
}

/// Sends the batch; `done` counts finished requests as they finish (for a kill mid-load). The
/// outcomes are in request order.
pub async fn send(client: &reqwest::Client, load: &Load, done: Arc<AtomicUsize>) -> Vec<Outcome> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(load.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..load.requests {
        let (client, load, done, semaphore) = (client.clone(), load.clone(), done.clone(), semaphore.clone());
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let outcome = one(&client, &load, i).await;
            done.fetch_add(1, Ordering::SeqCst);
            (i, outcome)
        });
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; load.requests];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, outcome)) = joined {
            outcomes[i] = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| Outcome {
                status: None,
                upstream: String::new(),
                retry_after: None,
                trace_id: String::new(),
                error: Some("the request's task panicked".to_owned()),
            })
        })
        .collect()
}

async fn one(client: &reqwest::Client, load: &Load, i: usize) -> Outcome {
    let trace_id = format!("{:016x}{:016x}", load.trace_prefix, i as u64 + 1);
    let body = json!({"model": "dummy", "tool_backend": "echo",
                      "messages": [{"role": "user", "content": format!("scale request {i}")}]});
    let sent = client
        .post(format!("{}/agent/run", load.url))
        .bearer_auth(load.key)
        .header("traceparent", format!("00-{trace_id}-{CLIENT_SPAN}-01"))
        .json(&body)
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        Err(e) => {
            return Outcome {
                status: None,
                upstream: String::new(),
                retry_after: None,
                trace_id,
                error: Some(e.to_string()),
            };
        }
    };
    let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (upstream, retry_after) = (header("x-upstream").unwrap_or_default(), header("retry-after"));
    let status = res.status().as_u16();
    // The body is read whole: a response cut in the middle is a lost request too.
    let text = match res.text().await {
        Ok(text) => text,
        Err(e) => return Outcome { status: None, upstream, retry_after, trace_id, error: Some(format!("body: {e}")) },
    };
    let error = if status != 200 {
        Some(text.chars().take(300).collect())
    } else if !text.contains("\"final_answer\"") {
        Some(format!("no envelope: {text}"))
    } else {
        None
    };
    let status = Some(status);
    Outcome { status, upstream, retry_after, trace_id, error }
}
