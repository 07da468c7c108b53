//! Helpers shared by case bodies (and the probes): expected statuses, the façade's `detail`
//! messages and OpenAI's error shape, an envelope's tool messages, minimal request bodies (a
//! scripted loop run among them), unique markers, secrets that must not come back.
//!
//! Its own file rather than `cases/mod.rs`, so case files never import from the module that lists
//! them.

use serde_json::{Value, json};

use crate::failure::{CaseResult, Failure, excerpt};
use crate::fakes::provider::script_marker;
use crate::transport::Reply;

/// The contents of an envelope's tool messages, in order.
pub fn tool_contents(env: &Value) -> Vec<String> {
    env["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A minimal `/agent/run` body on the dummy model.
pub fn run_body(backend: &str, text: &str) -> Value {
    json!({"model": "dummy", "tool_backend": backend, "messages": [{"role": "user", "content": text}]})
}

/// An `/agent/run` body for a loop run on the `local` backend whose model plays `script` (the
/// provider fake's), tools offered; `extra` fields are merged in.
pub fn loop_body(script: &Value, extra: &Value) -> Value {
    let mut b = json!({
        "model": "openai/fake-loop",
        "tool_backend": "local",
        "use_tools": true,
        "messages": [{"role": "user", "content": format!("task {}", script_marker(script))}],
    });
    if let (Some(b), Some(extra)) = (b.as_object_mut(), extra.as_object()) {
        b.extend(extra.clone());
    }
    b
}

/// Fails unless the reply has `status`.
pub fn expect_status(reply: &Reply, status: u16, what: &str) -> CaseResult {
    if reply.status == status {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{what}: expected HTTP {status}, got {}: {}",
            reply.status,
            excerpt(&reply.text())
        )))
    }
}

/// The `detail` string of a façade error, or a failure saying what the body was instead.
pub fn detail(reply: &Reply) -> Result<String, Failure> {
    let body = reply.json()?;
    match body.get("detail") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(Failure::failed(format!(
            "HTTP {}: expected {{\"detail\": \"<human-readable message>\"}}, got {}",
            reply.status,
            excerpt(&body.to_string())
        ))),
    }
}

/// A 4xx whose `detail` mentions every needle (case-insensitive).
pub fn expect_detail(reply: &Reply, status: Option<u16>, needles: &[&str], what: &str) -> CaseResult {
    match status {
        Some(s) => expect_status(reply, s, what)?,
        None if (400..500).contains(&reply.status) => {}
        None => {
            return Err(Failure::failed(format!(
                "{what}: expected a 4xx, got {}: {}",
                reply.status,
                excerpt(&reply.text())
            )));
        }
    }
    let d = detail(reply)?;
    let lower = d.to_lowercase();
    for n in needles {
        if !lower.contains(&n.to_lowercase()) {
            return Err(Failure::failed(format!("{what}: detail should mention `{n}`, got: {d}")));
        }
    }
    Ok(())
}

/// Fails when the reply (body or headers) carries any of `secrets`.
pub fn expect_not_echoed(reply: &Reply, secrets: &[&str], what: &str) -> CaseResult {
    let headers: String =
        reply.headers.iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or_default())).collect();
    match secrets.iter().find(|s| reply.text().contains(*s) || headers.contains(*s)) {
        Some(s) => {
            Err(Failure::failed(format!("{what}: the reply carries the secret `{s}`: {}", excerpt(&reply.text()))))
        }
        None => Ok(()),
    }
}

/// A marker unique to this process and call, without a dependency on an RNG.
pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}-{}-{}", nanos, std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The events of an event stream, in order: `(event name, data)`. Comments (`: keep-alive`) and
/// events without data are left out; a multi-line `data` is joined with `\n`.
pub fn sse_events(reply: &Reply) -> Vec<(Option<String>, String)> {
    let text = reply.text().replace("\r\n", "\n");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let (mut name, mut data) = (None, Vec::new());
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event:") {
                name = Some(n.trim().to_owned());
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push(d.strip_prefix(' ').unwrap_or(d).to_owned());
            }
        }
        if !data.is_empty() {
            out.push((name, data.join("\n")));
        }
    }
    out
}

/// An OpenAI-shaped error with `status`: `{"error":{"message","type","param","code"}}` with a
/// non-empty message. Returns the error object.
pub fn openai_error(reply: &Reply, status: u16, what: &str) -> Result<Value, Failure> {
    expect_status(reply, status, what)?;
    let body = reply.json()?;
    let error = body.get("error").and_then(Value::as_object).ok_or_else(|| {
        Failure::failed(format!("{what}: expected OpenAI's {{\"error\": {{…}}}} shape, got {}", excerpt(&reply.text())))
    })?;
    for key in ["message", "type", "param", "code"] {
        if !error.contains_key(key) {
            return Err(Failure::failed(format!("{what}: error.{key} is missing: {body}")));
        }
    }
    match error.get("message").and_then(Value::as_str) {
        Some(m) if !m.trim().is_empty() => Ok(Value::Object(error.clone())),
        _ => Err(Failure::failed(format!("{what}: error.message must be a non-empty string: {body}"))),
    }
}
