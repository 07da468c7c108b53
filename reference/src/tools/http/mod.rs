//! The HTTP tools backend (CONTRACT §4): `GET {base}/tools` lists, `POST {base}/invoke` runs.
//!
//! Headers: the server's `MINI_AGENT_TOOL_HTTP_HEADERS` merged with the request's
//! `tool_http_headers` — names compared case-insensitively, the request wins, and the request's
//! names go on the wire with the casing it gave ([`wire`] exists for that). Both routes carry them.
//!
//! `/invoke` is posted exactly once per call, unless the answer is 429: then up to `retries_429`
//! more times, waiting what `Retry-After` says (seconds or an HTTP date), each wait capped. Every
//! failure — refused, reset, timed out, non-2xx, oversized — is a result with `ok:false`, never an
//! error of the run.

pub mod wire;

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use url::Url;

use super::{ToolBackend, ToolCall, failure};

/// Characters of an error body quoted in `HTTP <status>: <body>`.
pub const ERROR_BODY_CHARS: usize = 256;

/// Server-side settings of the HTTP tools backend.
#[derive(Debug, Clone)]
pub struct HttpToolSettings {
    /// `MINI_AGENT_TOOL_HTTP_HEADERS`, in the order given.
    pub default_headers: Vec<(String, String)>,
    /// Extra POSTs after a 429 (`MINI_AGENT_TOOL_HTTP_RETRIES`, default 1).
    pub retries_429: u32,
    /// Longest wait before a retry (`MINI_AGENT_TOOL_HTTP_RETRY_CAP_SEC`, default 1 s).
    pub retry_wait_cap: Duration,
    /// Connect timeout (5 s) and whole-exchange timeout (`MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC`, 30 s).
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Largest accepted answer (8 MiB).
    pub max_body: usize,
}

impl Default for HttpToolSettings {
    fn default() -> Self {
        Self {
            default_headers: Vec::new(),
            retries_429: 1,
            retry_wait_cap: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_body: 8 * 1024 * 1024,
        }
    }
}

/// One run's view of a tools server.
#[derive(Debug, Clone)]
pub struct HttpTools {
    base: Url,
    headers: Vec<(String, String)>,
    settings: HttpToolSettings,
}

/// Merges default and request headers: case-insensitive names, the request wins and keeps its casing.
pub fn merge_headers(defaults: &[(String, String)], request: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        defaults.iter().filter(|(k, _)| !request.iter().any(|(r, _)| r.eq_ignore_ascii_case(k))).cloned().collect();
    out.extend(request.iter().cloned());
    out
}

impl HttpTools {
    /// A backend for `base_url`; the URL must be http(s).
    pub fn new(
        base_url: &str,
        request_headers: &[(String, String)],
        settings: HttpToolSettings,
    ) -> Result<Self, String> {
        let mut base =
            Url::parse(base_url.trim()).map_err(|e| format!("tool_http_base_url `{base_url}` is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("tool_http_base_url `{base_url}` must be http:// or https://"));
        }
        // `{base}/tools` must not lose the base's last path segment: make the path end in `/`.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let headers = merge_headers(&settings.default_headers, request_headers);
        Ok(Self { base, headers, settings })
    }

    fn url(&self, route: &str) -> Url {
        self.base.join(route).unwrap_or_else(|_| self.base.clone())
    }

    fn limits(&self) -> wire::Limits {
        wire::Limits {
            connect_timeout: self.settings.connect_timeout,
            timeout: self.settings.timeout,
            max_body: self.settings.max_body,
        }
    }

    /// POSTs one call, retrying only on 429.
    async fn post_invoke(&self, body: &[u8]) -> Result<wire::Response, wire::WireError> {
        let url = self.url("invoke");
        let mut attempt = 0;
        loop {
            let response = wire::send("POST", &url, &self.headers, Some(body), &self.limits()).await?;
            if response.status != 429 || attempt >= self.settings.retries_429 {
                return Ok(response);
            }
            attempt += 1;
            let wait =
                retry_wait(response.header("retry-after"), attempt, self.settings.retry_wait_cap, SystemTime::now());
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "tools server answered 429; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// A `Retry-After` value: seconds, or an HTTP date (a past date means now).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .or_else(|| httpdate::parse_http_date(v).ok().map(|at| at.duration_since(now).unwrap_or(Duration::ZERO)))
}

/// How long to wait before retry `attempt` (1-based): `Retry-After` in seconds or as an HTTP date,
/// else 100 ms doubling; never more than `cap`.
pub fn retry_wait(retry_after: Option<&str>, attempt: u32, cap: Duration, now: SystemTime) -> Duration {
    let asked = retry_after.and_then(|v| parse_retry_after(v, now));
    let fallback = Duration::from_millis(100u64.saturating_mul(1 << attempt.saturating_sub(1).min(10)));
    asked.unwrap_or(fallback).min(cap)
}

/// `HTTP <status>: <first 256 chars of body>`.
fn http_error(status: u16, body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body).chars().take(ERROR_BODY_CHARS).collect();
    format!("HTTP {status}: {text}")
}

/// Tool definitions as OpenAI functions: items already in that shape pass; `{name, description,
/// parameters|input_schema}` items are wrapped.
fn normalise_tools(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|t| {
            if t.get("function").is_some() {
                return Some(t.clone());
            }
            let name = t.get("name")?.as_str()?;
            let parameters = t
                .get("parameters")
                .or_else(|| t.get("input_schema"))
                .or_else(|| t.get("inputSchema"))
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            Some(json!({"type": "function", "function": {
                "name": name, "description": t.get("description").cloned().unwrap_or(json!("")), "parameters": parameters
            }}))
        })
        .collect()
}

impl ToolBackend for HttpTools {
    async fn list(&self) -> Result<Vec<Value>, String> {
        let response = wire::send("GET", &self.url("tools"), &self.headers, None, &self.limits())
            .await
            .map_err(|e| format!("GET {}: {e}", self.url("tools")))?;
        if !(200..300).contains(&response.status) {
            return Err(http_error(response.status, &response.body));
        }
        // A non-JSON list is "no tools", not an error (CONTRACT §4).
        let tools = match serde_json::from_slice::<Value>(&response.body) {
            Ok(Value::Array(items)) => normalise_tools(&items),
            Ok(Value::Object(map)) => {
                map.get("tools").and_then(Value::as_array).map(|i| normalise_tools(i)).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        Ok(tools)
    }

    async fn invoke(&self, call: &ToolCall) -> Value {
        let started = std::time::Instant::now();
        let body = json!({"name": call.name, "arguments": call.arguments_raw}).to_string();
        let mut result = match self.post_invoke(body.as_bytes()).await {
            Err(e) => failure(&call.name, format!("tools server: {e}")),
            Ok(r) if !(200..300).contains(&r.status) => failure(&call.name, http_error(r.status, &r.body)),
            Ok(r) => reply_to_result(&call.name, &r.body),
        };
        result["t_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
        result
    }
}

/// A 2xx answer as a result: a JSON object's string `text`, `result` or `answer` (an explicit
/// `ok:false` is a failure with its `error`), else the JSON text; non-JSON → the raw text.
fn reply_to_result(name: &str, body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            if map.get("ok") == Some(&Value::Bool(false)) {
                let error = map.get("error").map_or_else(
                    || Value::Object(map.clone()).to_string(),
                    |e| match e {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                );
                return failure(name, error);
            }
            let text = ["text", "result", "answer"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str))
                .map(str::to_owned);
            json!({"ok": true, "name": name, "result": text.unwrap_or_else(|| Value::Object(map).to_string())})
        }
        Ok(other) => json!({"ok": true, "name": name, "result": other.to_string()}),
        Err(_) => json!({"ok": true, "name": name, "result": String::from_utf8_lossy(body)}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn request_headers_win_case_insensitively_and_keep_their_casing() {
        let merged =
            merge_headers(&pairs(&[("authorization", "env"), ("X-Env", "1")]), &pairs(&[("AUTHORIZATION", "req")]));
        assert_eq!(merged, pairs(&[("X-Env", "1"), ("AUTHORIZATION", "req")]));
    }

    #[test]
    fn retry_after_seconds_date_and_cap() {
        let cap = Duration::from_secs(1);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_wait(Some("0.25"), 1, cap, now), Duration::from_millis(250));
        assert_eq!(retry_wait(Some("30"), 1, cap, now), cap);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(1) / 2 + Duration::from_millis(500));
        assert_eq!(retry_wait(Some(&date), 1, Duration::from_secs(5), now), Duration::from_secs(1));
        assert_eq!(
            retry_wait(Some("Wed, 21 Oct 2015 07:28:00 GMT"), 1, cap, now),
            Duration::ZERO,
            "a past date means now"
        );
        assert_eq!(retry_wait(None, 1, cap, now), Duration::from_millis(100));
        assert_eq!(retry_wait(Some("soon"), 3, cap, now), Duration::from_millis(400));
    }

    #[test]
    fn replies_become_results() {
        assert_eq!(reply_to_result("t", br#"{"text":"hi","result":"no"}"#)["result"], "hi");
        assert_eq!(reply_to_result("t", br#"{"value":1}"#)["result"], r#"{"value":1}"#);
        assert_eq!(reply_to_result("t", b"plain words")["result"], "plain words");
        assert_eq!(reply_to_result("t", br#"{"ok":false,"error":"nope"}"#)["error"], "nope");
    }

    #[test]
    fn tool_lists_are_normalised() {
        let t = normalise_tools(&[json!({"name": "echo", "inputSchema": {"type": "object"}}), json!({"nope": 1})]);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0]["function"]["name"], "echo");
    }

    #[test]
    fn the_base_keeps_its_path() {
        let t = HttpTools::new("http://127.0.0.1:1/api/v2", &[], HttpToolSettings::default()).expect("valid");
        assert_eq!(t.url("tools").as_str(), "http://127.0.0.1:1/api/v2/tools");
        assert!(HttpTools::new("ftp://x", &[], HttpToolSettings::default()).is_err());
    }
}
