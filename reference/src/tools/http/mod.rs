//! The HTTP tools backend (CONTRACT §4): `GET {base}/tools` lists, `POST {base}/invoke` runs.
//!
//! Headers: the server's `MINI_AGENT_TOOL_HTTP_HEADERS` merged with the request's
//! `tool_http_headers` — names compared case-insensitively, the request wins, and the request's
//! names go on the wire with the casing it gave ([`wire`] exists for that). Both routes carry them.
//! The server's own headers (the operator's tools-server token) go **only** to the tools server the
//! operator named in `MINI_AGENT_TOOL_HTTP_DEFAULT_BASE`, never to a URL a request names.
//!
//! `/invoke` is posted exactly once per call, unless the answer is 429: then up to `retries_429`
//! more times, waiting what `Retry-After` says (seconds or an HTTP date), each wait capped. Every
//! failure — refused, reset, timed out, non-2xx, oversized — is a result with `ok:false`, never an
//! error of the run.

pub(crate) mod wire;

use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use crate::env::Env;
use crate::tools::ToolBackend;
use crate::tools::call::ToolCall;
use crate::tools::result::ToolResult;
use crate::transport::retry::{self, Attempt, Jitter, RetryPolicy, Verdict};
use crate::transport::retry_after;

/// Characters of an error body quoted in `HTTP <status>: <body>`.
pub(crate) const ERROR_BODY_CHARS: usize = 256;

/// Server-side settings of the HTTP tools backend.
#[derive(Debug, Clone)]
pub struct HttpToolSettings {
    /// `MINI_AGENT_TOOL_HTTP_HEADERS`, in the order given.
    pub default_headers: Vec<(String, String)>,
    /// `MINI_AGENT_TOOL_HTTP_DEFAULT_BASE`: the one tools server `default_headers` are for (same
    /// scheme, host and port, and a path under its path).
    pub default_base: Option<Url>,
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
            default_base: None,
            retries_429: 1,
            retry_wait_cap: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_body: 8 * 1024 * 1024,
        }
    }
}

impl HttpToolSettings {
    /// `MINI_AGENT_TOOL_HTTP_HEADERS` (a JSON object; invalid → a startup problem, because a
    /// silently dropped `Authorization` only shows up later as 401s), `MINI_AGENT_TOOL_HTTP_RETRIES`,
    /// `MINI_AGENT_TOOL_HTTP_RETRY_CAP_SEC`, `MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC`.
    pub fn from_env(env: &Env) -> Self {
        let d = Self::default();
        let default_headers = match env.get("MINI_AGENT_TOOL_HTTP_HEADERS") {
            None => Vec::new(),
            Some(raw) => parse_header_object(&raw).unwrap_or_else(|why| {
                env.problem(format!("MINI_AGENT_TOOL_HTTP_HEADERS {why}; fix it or unset it"));
                Vec::new()
            }),
        };
        let default_base = env.get("MINI_AGENT_TOOL_HTTP_DEFAULT_BASE").and_then(|raw| {
            Url::parse(raw.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https")).or_else(|| {
                env.problem(format!("MINI_AGENT_TOOL_HTTP_DEFAULT_BASE must be an http(s) URL, got {raw:?}"));
                None
            })
        });
        if !default_headers.is_empty() && default_base.is_none() {
            env.problem(
                "MINI_AGENT_TOOL_HTTP_HEADERS is set but MINI_AGENT_TOOL_HTTP_DEFAULT_BASE is not: set it to the \
                 tools server these headers are for (they are never sent to a URL a request names)"
                    .to_owned(),
            );
        }
        Self {
            default_headers,
            default_base,
            retries_429: env.parse("MINI_AGENT_TOOL_HTTP_RETRIES", d.retries_429, "a number of retries (0 or more)"),
            retry_wait_cap: env.secs("MINI_AGENT_TOOL_HTTP_RETRY_CAP_SEC", d.retry_wait_cap),
            timeout: env.secs("MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC", d.timeout),
            ..d
        }
    }

    /// The 429 policy: `retries_429` more POSTs, waiting what `Retry-After` says or 100 ms doubling,
    /// never more than the cap.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.retries_429,
            base: Duration::from_millis(100),
            max_backoff: self.retry_wait_cap,
            jitter: Jitter::None,
            retry_after_cap: self.retry_wait_cap,
        }
    }
}

/// A JSON object of string header values, in the order written. Names must be HTTP tokens and
/// values must not contain CR/LF (either would let a setting forge extra headers).
pub(crate) fn parse_header_object(raw: &str) -> Result<Vec<(String, String)>, String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| format!("is not valid JSON ({e})"))?;
    let map = value.as_object().ok_or("must be a JSON object of header names to string values")?;
    let mut out = Vec::with_capacity(map.len());
    for (name, v) in map {
        let v = v.as_str().ok_or_else(|| format!("header `{name}` must have a string value"))?;
        if !is_header_name(name) {
            return Err(format!("has `{name}`, which is not a valid header name"));
        }
        if !is_header_value(v) {
            return Err(format!("header `{name}` has a value with CR, LF or NUL"));
        }
        out.push((name.clone(), v.to_owned()));
    }
    Ok(out)
}

/// RFC 9110 `token`: what a header name may be.
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A value without CR, LF or NUL (which would split the request into forged headers).
pub(crate) fn is_header_value(value: &str) -> bool {
    !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// One run's view of a tools server.
#[derive(Debug, Clone)]
pub struct HttpTools {
    base: Url,
    headers: Vec<(String, String)>,
    settings: HttpToolSettings,
    /// The checked addresses to connect to (empty: resolve the host).
    addrs: Vec<std::net::SocketAddr>,
}

/// Merges default and request headers: case-insensitive names, the request wins and keeps its casing.
pub(crate) fn merge_headers(defaults: &[(String, String)], request: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        defaults.iter().filter(|(k, _)| !request.iter().any(|(r, _)| r.eq_ignore_ascii_case(k))).cloned().collect();
    out.extend(request.iter().cloned());
    out
}

/// Whether `base` is the operator's tools server: same scheme, host and port, and a path at or
/// under its path.
fn is_default_base(base: &Url, default: Option<&Url>) -> bool {
    let Some(d) = default else { return false };
    let dir = |u: &Url| {
        let p = u.path().trim_end_matches('/');
        format!("{p}/")
    };
    base.scheme() == d.scheme()
        && base.host_str() == d.host_str()
        && base.port_or_known_default() == d.port_or_known_default()
        && dir(base).starts_with(&dir(d))
}

impl HttpTools {
    /// A backend for the tools server at `base` (validated as http(s) by the request's validation).
    pub fn new(base: &Url, request_headers: &[(String, String)], settings: HttpToolSettings) -> Self {
        Self::pinned(base, request_headers, settings, Vec::new())
    }

    /// The same, connecting only to `addrs` (what the outbound policy checked).
    pub fn pinned(
        base: &Url,
        request_headers: &[(String, String)],
        settings: HttpToolSettings,
        addrs: Vec<std::net::SocketAddr>,
    ) -> Self {
        let mut base = base.clone();
        // `{base}/tools` must not lose the base's last path segment: make the path end in `/`.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let ours: &[(String, String)] =
            if is_default_base(&base, settings.default_base.as_ref()) { &settings.default_headers } else { &[] };
        let headers = merge_headers(ours, request_headers);
        Self { base, headers, settings, addrs }
    }

    fn url(&self, route: &str) -> Url {
        self.base.join(route).unwrap_or_else(|_| self.base.clone())
    }

    fn limits(&self) -> wire::Limits {
        wire::Limits {
            connect_timeout: self.settings.connect_timeout,
            timeout: self.settings.timeout,
            max_body: self.settings.max_body,
            addrs: self.addrs.clone(),
        }
    }

    /// The headers of a call, with the current span's W3C trace context when spans are exported.
    fn traced_headers(&self) -> std::borrow::Cow<'_, [(String, String)]> {
        let trace = crate::telemetry::otel::outgoing_headers();
        if trace.is_empty() {
            return std::borrow::Cow::Borrowed(&self.headers);
        }
        std::borrow::Cow::Owned(merge_headers(&self.headers, &trace))
    }

    /// POSTs one call, again only after a 429.
    async fn post_invoke(&self, body: &[u8]) -> Result<wire::Response, wire::WireError> {
        let url = self.url("invoke");
        let limits = self.limits();
        let headers = self.traced_headers();
        let attempt = |_| wire::send("POST", &url, &headers, Some(body), &limits);
        retry::drive(&self.settings.retry_policy(), attempt, classify).await.0
    }
}

/// Only a 429 is worth another POST: anything else may have run the tool already.
fn classify(outcome: &Result<wire::Response, wire::WireError>) -> Attempt {
    match outcome {
        Ok(r) if r.status == 429 => Attempt {
            status: Some(429),
            verdict: Verdict::Retry {
                retry_after: r.header("retry-after").and_then(|v| retry_after::parse(v, std::time::SystemTime::now())),
            },
        },
        Ok(r) => Attempt { status: Some(r.status), verdict: Verdict::Done },
        Err(_) => Attempt { status: None, verdict: Verdict::GiveUp },
    }
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
        let response = wire::send("GET", &self.url("tools"), &self.traced_headers(), None, &self.limits())
            .await
            .map_err(|e| format!("GET {}: {e}", crate::outbound::redacted(&self.url("tools"))))?;
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

    async fn invoke(&self, call: &ToolCall) -> ToolResult {
        let started = std::time::Instant::now();
        let body = json!({"name": call.name, "arguments": call.arguments_raw}).to_string();
        let mut result = match self.post_invoke(body.as_bytes()).await {
            Err(e) => ToolResult::failure(&call.name, format!("tools server: {e}")),
            Ok(r) if !(200..300).contains(&r.status) => ToolResult::failure(&call.name, http_error(r.status, &r.body)),
            Ok(r) => reply_to_result(&call.name, &r.body),
        };
        result.t_ms = Some(started.elapsed().as_secs_f64() * 1e3);
        result
    }
}

/// A 2xx answer as a result: a JSON object's string `text`, `result` or `answer` (an explicit
/// `ok:false` is a failure with its `error`), else the JSON text; non-JSON → the raw text.
fn reply_to_result(name: &str, body: &[u8]) -> ToolResult {
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
                return ToolResult::failure(name, error);
            }
            let text = ["text", "result", "answer"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str))
                .map(str::to_owned);
            ToolResult::success(name, text.unwrap_or_else(|| Value::Object(map).to_string()))
        }
        Ok(other) => ToolResult::success(name, other.to_string()),
        Err(_) => ToolResult::success(name, String::from_utf8_lossy(body)),
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
    fn the_429_policy_waits_what_retry_after_says_within_the_cap() {
        let settings = HttpToolSettings { retry_wait_cap: Duration::from_secs(1), ..HttpToolSettings::default() };
        let p = settings.retry_policy();
        assert_eq!(p.wait(1, Some(Duration::from_millis(250))), Duration::from_millis(250));
        assert_eq!(p.wait(1, Some(Duration::from_secs(30))), Duration::from_secs(1));
        assert_eq!(p.wait(1, None), Duration::from_millis(100));
        assert_eq!(p.wait(3, None), Duration::from_millis(400));
    }

    #[test]
    fn settings_come_from_the_environment() {
        let vars = [
            ("MINI_AGENT_TOOL_HTTP_HEADERS", r#"{"Authorization":"Bearer t","X-B":"2"}"#),
            ("MINI_AGENT_TOOL_HTTP_DEFAULT_BASE", "http://tools.internal:9000/api"),
            ("MINI_AGENT_TOOL_HTTP_RETRIES", "3"),
            ("MINI_AGENT_TOOL_HTTP_RETRY_CAP_SEC", "2.5"),
            ("MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC", "7"),
        ];
        let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        let env = Env::new(&lookup);
        let s = HttpToolSettings::from_env(&env);
        assert_eq!(s.default_headers, pairs(&[("Authorization", "Bearer t"), ("X-B", "2")]));
        assert_eq!(
            (s.retries_429, s.retry_wait_cap, s.timeout),
            (3, Duration::from_millis(2500), Duration::from_secs(7))
        );
        assert!(env.into_problems().is_empty());
        let lookup = |k: &str| (k == "MINI_AGENT_TOOL_HTTP_HEADERS").then(|| "[1]".to_owned());
        let env = Env::new(&lookup);
        assert!(HttpToolSettings::from_env(&env).default_headers.is_empty());
        assert_eq!(env.into_problems().len(), 1, "invalid headers stop the server from starting");
        let lookup = |k: &str| (k == "MINI_AGENT_TOOL_HTTP_HEADERS").then(|| r#"{"A":"b"}"#.to_owned());
        let env = Env::new(&lookup);
        HttpToolSettings::from_env(&env);
        let problems = env.into_problems();
        assert!(problems[0].contains("MINI_AGENT_TOOL_HTTP_DEFAULT_BASE"), "headers need their server: {problems:?}");
    }

    #[test]
    fn the_servers_own_headers_go_only_to_its_own_tools_server() {
        let settings = HttpToolSettings {
            default_headers: pairs(&[("Authorization", "Bearer operator-token")]),
            default_base: Some(Url::parse("http://tools.internal:9000/api").expect("url")),
            ..HttpToolSettings::default()
        };
        let carried = |base: &str| {
            let t = HttpTools::new(&Url::parse(base).expect("url"), &[], settings.clone());
            t.headers.iter().any(|(_, v)| v == "Bearer operator-token")
        };
        assert!(carried("http://tools.internal:9000/api") && carried("http://tools.internal:9000/api/v2/"));
        for elsewhere in [
            "http://attacker.example:9000/api",
            "http://tools.internal:9001/api",
            "https://tools.internal:9000/api",
            "http://tools.internal:9000/apix",
            "http://tools.internal:9000/",
        ] {
            assert!(!carried(elsewhere), "the operator's token must not go to {elsewhere}");
        }
    }

    #[test]
    fn header_values_never_carry_cr_lf_or_nul() {
        for bad in ["a\rb", "a\nb", "a\0b"] {
            assert!(!is_header_value(bad), "{bad:?}");
        }
        assert!(is_header_value("Bearer abc\t=+/"));
        assert!(!is_header_name("") && !is_header_name("a:b") && is_header_name("X-Custom_1.~"));
    }

    #[test]
    fn header_objects_parse_or_say_why_not() {
        assert_eq!(parse_header_object(r#"{"Authorization":"Bearer x","X-A":"1"}"#).map(|h| h.len()), Ok(2));
        for bad in [r#"{"A": 1}"#, "[1]", "not json", r#"{"A":"x\r\nB: y"}"#, r#"{"bad name":"v"}"#] {
            assert!(parse_header_object(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies_become_results() {
        let result = |body: &[u8]| reply_to_result("t", body).result;
        assert_eq!(result(br#"{"text":"hi","result":"no"}"#).as_deref(), Some("hi"));
        assert_eq!(result(br#"{"value":1}"#).as_deref(), Some(r#"{"value":1}"#));
        assert_eq!(result(b"plain words").as_deref(), Some("plain words"));
        assert_eq!(reply_to_result("t", br#"{"ok":false,"error":"nope"}"#).error.as_deref(), Some("nope"));
    }

    #[test]
    fn tool_lists_are_normalised() {
        let t = normalise_tools(&[json!({"name": "echo", "inputSchema": {"type": "object"}}), json!({"nope": 1})]);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0]["function"]["name"], "echo");
    }

    #[test]
    fn the_base_keeps_its_path() {
        let base = Url::parse("http://127.0.0.1:1/api/v2").expect("url");
        let t = HttpTools::new(&base, &[], HttpToolSettings::default());
        assert_eq!(t.url("tools").as_str(), "http://127.0.0.1:1/api/v2/tools");
    }
}
