//! Wire types of `POST /agent/run`: the request as JSON, and its validation into a [`RunSpec`].
//!
//! Validation happens in two steps, matching the two error classes of the contract: deserializing
//! (a missing field, a wrong type — 422 naming the field path) and meaning (an unknown backend, a
//! backend missing its URL — 400). Unknown fields are ignored: clients of the original send extras.
//!
//! Does not run anything and knows nothing of HTTP: a [`RunSpec`] is inert data handed to
//! [`crate::agent`], and a refusal is a [`RequestError`] whose class the HTTP boundary maps to a
//! status.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not JSON at all (400).
    #[error("request body is not valid JSON: {0}")]
    Malformed(String),
    /// JSON of the wrong shape: a missing field, a wrong type, a value out of range (422).
    #[error("{field}: {message}")]
    Schema { field: String, message: String },
    /// Well-formed but meaningless: an unknown backend, a backend missing its URL (400).
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// More JSON values than a parsed route accepts (413).
    #[error(
        "the body holds more than {0} JSON values (numbers, strings, …); this route parses every one, so split the request"
    )]
    TooComplex(usize),
}

impl RequestError {
    pub fn schema(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Schema { field: field.into(), message: message.into() }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }

    /// The request field that was wrong (`body` for the body as a whole).
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Malformed(_) | Self::TooComplex(_) => None,
            Self::Schema { field, .. } | Self::Invalid { field, .. } => Some(field),
        }
    }
}

/// The request body as sent. Every optional field accepts `null` as "not given".
#[derive(Debug, Deserialize)]
pub(crate) struct AgentRunRequest {
    pub messages: Vec<Value>,
    pub model: String,
    pub tool_backend: Option<String>,
    pub tool_http_base_url: Option<String>,
    pub tool_http_headers: Option<BTreeMap<String, String>>,
    pub use_tools: Option<bool>,
    pub auto_run_code_on_code_block: Option<bool>,
    pub max_iterations: Option<i64>,
    pub max_total_seconds: Option<f64>,
    pub escalate_on_budget_exceeded: Option<bool>,
    pub escalate_model: Option<String>,
    pub enable_repair: Option<bool>,
    pub tool_concurrency: Option<i64>,
    pub max_tools_per_iter: Option<i64>,
    pub tool_mcp_url: Option<String>,
}

/// The names of the backends, as requests spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Local,
    Http,
    Echo,
    Router,
    Mcp,
}

impl BackendKind {
    pub const ALL: [BackendKind; 5] = [Self::Local, Self::Http, Self::Echo, Self::Router, Self::Mcp];

    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Http => "http",
            Self::Echo => "echo",
            Self::Router => "router",
            Self::Mcp => "mcp",
        }
    }

    /// Case and surrounding spaces are forgiven (`" Echo "` is `echo`); anything else is refused, so a
    /// typo never silently runs another backend.
    pub fn parse(raw: &str) -> Option<Self> {
        let wanted = raw.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|b| b.name() == wanted)
    }
}

/// A tools server a run talks to: its URL and the request's headers for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolServer {
    pub url: Url,
    /// The request's `tool_http_headers`, names as the request wrote them.
    pub headers: Vec<(String, String)>,
}

/// Where tools come from (and whether there is an agent loop at all), with what each needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The agent loop with in-process tools.
    Local,
    /// The agent loop with an HTTP tools server (`/tools` + `/invoke`).
    Http(ToolServer),
    /// One model call, no tools.
    Echo,
    /// One model call through the router, no tools.
    Router,
    /// The agent loop with an MCP server.
    Mcp(ToolServer),
}

impl Backend {
    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Local => BackendKind::Local,
            Self::Http(_) => BackendKind::Http,
            Self::Echo => BackendKind::Echo,
            Self::Router => BackendKind::Router,
            Self::Mcp(_) => BackendKind::Mcp,
        }
    }
}

/// Where a run escalates to: the budget-stop call and the calls after a "budget exceeded" reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub model: String,
}

/// A validated run: every default applied, every range checked.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub messages: Vec<Value>,
    pub model: String,
    pub backend: Backend,
    pub use_tools: bool,
    pub auto_run_code_on_code_block: bool,
    pub max_iterations: u32,
    pub max_total_seconds: Option<f64>,
    /// Set when `escalate_on_budget_exceeded` is on and `escalate_model` names a model.
    pub escalation: Option<Escalation>,
    pub enable_repair: bool,
    pub tool_concurrency: usize,
    pub max_tools_per_iter: usize,
}

pub(crate) const DEFAULT_MAX_ITERATIONS: u32 = 3;
pub(crate) const DEFAULT_MAX_TOOLS_PER_ITER: usize = 4;
pub(crate) const MAX_TOOL_CONCURRENCY: i64 = 16;

/// How far a request may push the server: numbers past these are a 422 naming the field, so a
/// client cannot make the server loop for a day or panic on a duration of 1e308 seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunLimits {
    /// `MINI_AGENT_MAX_ITERATIONS_CAP` (50): the largest `max_iterations`.
    pub max_iterations: u32,
    /// The largest `max_total_seconds` (a day).
    pub max_total_seconds: f64,
    /// The largest `max_tools_per_iter`.
    pub max_tools_per_iter: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self { max_iterations: 50, max_total_seconds: 86_400.0, max_tools_per_iter: 64 }
    }
}

impl RunLimits {
    pub fn from_env(env: &crate::env::Env) -> Self {
        let d = Self::default();
        let max_iterations =
            env.parse_where("MINI_AGENT_MAX_ITERATIONS_CAP", d.max_iterations, "an integer ≥ 1", |n| *n >= 1);
        Self { max_iterations, ..d }
    }
}

impl RunSpec {
    /// A `local` run of `model` with every default: what the OpenAI shim runs.
    pub fn local_defaults(model: String, messages: Vec<Value>) -> Self {
        Self {
            messages,
            model,
            backend: Backend::Local,
            use_tools: false,
            auto_run_code_on_code_block: false,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            max_total_seconds: None,
            escalation: None,
            enable_repair: true,
            tool_concurrency: 1,
            max_tools_per_iter: DEFAULT_MAX_TOOLS_PER_ITER,
        }
    }

    /// Parses and validates a request body within `limits`.
    pub fn from_slice(body: &[u8], limits: &RunLimits) -> Result<Self, RequestError> {
        Self::validate(decode(body)?, limits)
    }

    fn validate(req: AgentRunRequest, limits: &RunLimits) -> Result<Self, RequestError> {
        validate_messages(&req.messages)?;
        if req.model.trim().is_empty() {
            return Err(RequestError::schema("model", "must not be empty"));
        }
        let backend = backend(&req)?;
        let cap = i64::from(limits.max_iterations);
        let iterations_rule = format!("an integer from 1 to {cap} (the server's MINI_AGENT_MAX_ITERATIONS_CAP)");
        let max_iterations = int_in("max_iterations", req.max_iterations, 1, cap, &iterations_rule)?
            .map_or(DEFAULT_MAX_ITERATIONS.min(limits.max_iterations), |n| n as u32);
        if let Some(s) = req.max_total_seconds
            && !(s.is_finite() && s > 0.0 && s <= limits.max_total_seconds)
        {
            let rule = format!("must be a number of seconds > 0 and at most {}", limits.max_total_seconds);
            return Err(RequestError::schema("max_total_seconds", format!("{rule}, got {s}")));
        }
        let concurrency_rule = format!("an integer from 1 to {MAX_TOOL_CONCURRENCY}");
        let tool_concurrency =
            int_in("tool_concurrency", req.tool_concurrency, 1, MAX_TOOL_CONCURRENCY, &concurrency_rule)?
                .map_or(1, |n| n as usize);
        let tools_cap = limits.max_tools_per_iter as i64;
        let tools_rule = format!("an integer from 1 to {tools_cap}");
        let max_tools_per_iter = int_in("max_tools_per_iter", req.max_tools_per_iter, 1, tools_cap, &tools_rule)?
            .map_or(DEFAULT_MAX_TOOLS_PER_ITER, |n| n as usize);
        // The HTTP and MCP backends exist to offer tools: there they are on unless explicitly off.
        let use_tools = match backend {
            Backend::Http(_) | Backend::Mcp(_) => req.use_tools.unwrap_or(true),
            _ => req.use_tools.unwrap_or(false),
        };
        let escalation = match (req.escalate_on_budget_exceeded, non_empty(req.escalate_model)) {
            (Some(true), Some(model)) => Some(Escalation { model }),
            _ => None,
        };
        Ok(Self {
            messages: req.messages,
            model: req.model,
            backend,
            use_tools,
            auto_run_code_on_code_block: req.auto_run_code_on_code_block.unwrap_or(false),
            max_iterations,
            max_total_seconds: req.max_total_seconds,
            escalation,
            enable_repair: req.enable_repair.unwrap_or(true),
            tool_concurrency,
            max_tools_per_iter,
        })
    }

    /// Whether any message carries an `image_url` content part (for the trace's request class).
    pub fn has_images(&self) -> bool {
        self.messages.iter().any(|m| {
            m.get("content")
                .and_then(Value::as_array)
                .is_some_and(|parts| parts.iter().any(|p| p.get("type").and_then(Value::as_str) == Some("image_url")))
        })
    }
}

/// Every message is an object with a string `role`.
fn validate_messages(messages: &[Value]) -> Result<(), RequestError> {
    for (i, m) in messages.iter().enumerate() {
        match m.get("role") {
            Some(Value::String(_)) => {}
            _ if !m.is_object() => {
                return Err(RequestError::schema(
                    format!("messages[{i}]"),
                    format!("expected a message object, got {}", json_kind(m)),
                ));
            }
            _ => return Err(RequestError::schema(format!("messages[{i}].role"), "missing or not a string")),
        }
    }
    Ok(())
}

/// `value` when it is within `min..=max`; a 422 naming `field` and the `rule` otherwise.
fn int_in(field: &str, value: Option<i64>, min: i64, max: i64, rule: &str) -> Result<Option<i64>, RequestError> {
    match value {
        Some(n) if !(min..=max).contains(&n) => Err(RequestError::schema(field, format!("must be {rule}, got {n}"))),
        other => Ok(other),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|u| !u.trim().is_empty())
}

/// The backend the request names, with the tools server it needs.
fn backend(req: &AgentRunRequest) -> Result<Backend, RequestError> {
    let kind = match req.tool_backend.as_deref() {
        None => BackendKind::Local,
        Some(raw) => BackendKind::parse(raw).ok_or_else(|| {
            let valid: Vec<&str> = BackendKind::ALL.iter().map(|b| b.name()).collect();
            RequestError::invalid(
                "tool_backend",
                format!("unknown tool_backend `{raw}`: valid backends are {}", valid.join(", ")),
            )
        })?,
    };
    let headers = tool_headers(req.tool_http_headers.as_ref())?;
    Ok(match kind {
        BackendKind::Local => Backend::Local,
        BackendKind::Echo => Backend::Echo,
        BackendKind::Router => Backend::Router,
        BackendKind::Http => Backend::Http(ToolServer {
            url: tool_url("tool_http_base_url", req.tool_http_base_url.as_deref(), "http")?,
            headers,
        }),
        BackendKind::Mcp => {
            Backend::Mcp(ToolServer { url: tool_url("tool_mcp_url", req.tool_mcp_url.as_deref(), "mcp")?, headers })
        }
    })
}

/// The request's tools-server headers: names must be HTTP tokens and values must not contain
/// CR/LF/NUL (either would let a request forge extra headers).
fn tool_headers(headers: Option<&BTreeMap<String, String>>) -> Result<Vec<(String, String)>, RequestError> {
    let mut out = Vec::new();
    for (name, value) in headers.into_iter().flatten() {
        if name.is_empty() || name.bytes().any(|b| !is_token_byte(b)) {
            return Err(RequestError::invalid(
                "tool_http_headers",
                format!("`{name}` is not a valid HTTP header name"),
            ));
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(RequestError::invalid(
                "tool_http_headers",
                format!("the value of header `{name}` contains CR, LF or NUL, which would split the request"),
            ));
        }
        out.push((name.clone(), value.clone()));
    }
    Ok(out)
}

/// The URL of a tools server: present, parseable, http(s).
fn tool_url(field: &str, raw: Option<&str>, backend: &str) -> Result<Url, RequestError> {
    let Some(raw) = raw.filter(|u| !u.trim().is_empty()) else {
        return Err(RequestError::invalid(field, format!("{field} required for tool_backend={backend}")));
    };
    let url = Url::parse(raw.trim())
        .map_err(|e| RequestError::invalid(field, format!("{field} `{raw}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(RequestError::invalid(field, format!("{field} `{raw}` must be http:// or https://")));
    }
    Ok(url)
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Decodes a JSON body into `T` in one pass, sorting failures into the contract's classes: not JSON
/// at all → 400; JSON of the wrong shape → 422 naming the field path (`messages[0].role`).
pub(crate) fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::Malformed("the body is empty; send a JSON object".to_owned()));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied().unwrap_or(b' ');
    if first != b'{' {
        // serde would happily read `[…]` into a struct as a tuple; the contract wants an object.
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => RequestError::schema("body", format!("expected a JSON object, got {}", kind_of_first_byte(first))),
            Err(e) => RequestError::Malformed(e.to_string()),
        });
    }
    if !crate::json_budget::within(body, crate::json_budget::MAX_JSON_VALUES) {
        return Err(RequestError::TooComplex(crate::json_budget::MAX_JSON_VALUES));
    }
    // The plain decoder first: tracking the path costs every request (callgrind: ≈ 13 k
    // instructions of an `/agent/run`), and only a failure needs it — decoded again to name it.
    let mut de = serde_json::Deserializer::from_slice(body);
    if let Ok(value) = T::deserialize(&mut de)
        && de.end().is_ok()
    {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // A number too large for any type (`1e999`) is valid JSON grammar that serde reports as a
        // syntax error: it is the field's value that is wrong, so it is named like a wrong type.
        let out_of_range = inner.to_string().starts_with("number out of range") && path != ".";
        match inner.classify() {
            serde_json::error::Category::Data => {
                RequestError::schema(if path == "." { "body".to_owned() } else { path }, inner.to_string())
            }
            _ if out_of_range => {
                RequestError::schema(path, "the number is out of range (larger than any value allowed)")
            }
            _ => RequestError::Malformed(inner.to_string()),
        }
    })?;
    de.end().map_err(|e| RequestError::Malformed(e.to_string()))?;
    Ok(value)
}

fn kind_of_first_byte(b: u8) -> &'static str {
    match b {
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn ok(body: Value) -> RunSpec {
        RunSpec::from_slice(body.to_string().as_bytes(), &RunLimits::default()).expect("valid request")
    }

    fn status(e: &RequestError) -> u16 {
        match e {
            RequestError::Schema { .. } => 422,
            RequestError::Malformed(_) | RequestError::Invalid { .. } => 400,
            RequestError::TooComplex(_) => 413,
        }
    }

    fn err(body: Value) -> (u16, String) {
        let e = RunSpec::from_slice(body.to_string().as_bytes(), &RunLimits::default()).expect_err("invalid request");
        (status(&e), e.to_string())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = ok(json!({"model": "dummy", "messages": [], "extra_field": 1}));
        assert_eq!(s.backend, Backend::Local);
        assert!(s.escalation.is_none());
        assert_eq!((s.max_iterations, s.tool_concurrency, s.max_tools_per_iter), (3, 1, 4));
        assert!(!s.use_tools && s.enable_repair && !s.auto_run_code_on_code_block);
        let s = ok(json!({"model": "m", "messages": [], "tool_backend": "http", "tool_http_base_url": "http://x"}));
        assert!(s.use_tools, "http offers tools unless told not to");
        let s = ok(
            json!({"model": "m", "messages": [], "tool_backend": " HTTP ", "tool_http_base_url": "http://x", "use_tools": false}),
        );
        assert!(!s.use_tools);
        for secs in [0.5, 86_400.0] {
            let s = ok(json!({"model": "m", "messages": [], "max_total_seconds": secs}));
            assert_eq!(s.max_total_seconds, Some(secs), "within (0, a day]");
        }
    }

    #[rstest]
    #[case(json!([1]), 422, "body: expected a JSON object, got an array")]
    #[case(json!("x"), 422, "body: expected a JSON object, got a string")]
    #[case(json!(true), 422, "body: expected a JSON object, got a boolean")]
    #[case(json!(false), 422, "body: expected a JSON object, got a boolean")]
    #[case(json!(null), 422, "body: expected a JSON object, got null")]
    #[case(json!(-1.5), 422, "body: expected a JSON object, got a number")]
    #[case(json!({"messages": []}), 422, "missing field `model`")]
    #[case(json!({"model": "m"}), 422, "missing field `messages`")]
    #[case(json!({"model": 5, "messages": []}), 422, "model: invalid type: integer `5`, expected a string")]
    #[case(json!({"model": "m", "messages": "hi"}), 422, "messages: invalid type: string")]
    #[case(json!({"model": "m", "messages": ["hi"]}), 422, "messages[0]: expected a message object, got a string")]
    #[case(json!({"model": "m", "messages": [{"role": "user", "content": "x"}, 5]}), 422, "messages[1]: expected a message object, got a number")]
    #[case(json!({"model": "m", "messages": [null]}), 422, "messages[0]: expected a message object, got null")]
    #[case(json!({"model": "m", "messages": [[]]}), 422, "messages[0]: expected a message object, got an array")]
    #[case(json!({"model": "m", "messages": [false]}), 422, "messages[0]: expected a message object, got a boolean")]
    #[case(json!({"model": "m", "messages": [{"content": "x"}]}), 422, "messages[0].role")]
    #[case(json!({"model": "m", "messages": [], "use_tools": "yes"}), 422, "use_tools: invalid type")]
    #[case(json!({"model": "m", "messages": [], "max_iterations": 0}), 422, "max_iterations: must be an integer from 1 to 50")]
    #[case(json!({"model": "m", "messages": [], "max_iterations": 100_000_000}), 422, "MINI_AGENT_MAX_ITERATIONS_CAP")]
    #[case(json!({"model": "m", "messages": [], "max_total_seconds": 1e308}), 422, "max_total_seconds: must be a number of seconds > 0 and at most 86400")]
    #[case(json!({"model": "m", "messages": [], "max_tools_per_iter": 1_000_000}), 422, "max_tools_per_iter: must be an integer from 1 to 64")]
    #[case(json!({"model": "m", "messages": [], "max_total_seconds": -1}), 422, "max_total_seconds")]
    #[case(json!({"model": "m", "messages": [], "max_total_seconds": 0}), 422, "must be a number of seconds > 0")]
    #[case(json!({"model": "m", "messages": [], "tool_concurrency": 17}), 422, "from 1 to 16")]
    #[case(json!({"model": "m", "messages": [], "tool_http_headers": {"X": 1}}), 422, "tool_http_headers.X: invalid type")]
    #[case(json!({"model": "m", "messages": [], "tool_backend": "htp"}), 400, "unknown tool_backend `htp`: valid backends are local, http, echo, router, mcp")]
    #[case(json!({"model": "m", "messages": [], "tool_backend": "http"}), 400, "tool_http_base_url required")]
    #[case(json!({"model": "m", "messages": [], "tool_backend": "mcp"}), 400, "tool_mcp_url required")]
    #[case(json!({"model": "m", "messages": [], "tool_backend": "http", "tool_http_base_url": "ftp://x"}), 400, "must be http:// or https://")]
    #[case(json!({"model": "m", "messages": [], "tool_backend": "mcp", "tool_mcp_url": "not a url"}), 400, "is not a URL")]
    #[case(json!({"model": "m", "messages": [], "tool_http_headers": {"X-A": "a\r\nEvil: 1"}}), 400, "contains CR, LF or NUL")]
    #[case(json!({"model": "m", "messages": [], "tool_http_headers": {"X-A": "a\nb"}}), 400, "contains CR, LF or NUL")]
    #[case(json!({"model": "m", "messages": [], "tool_http_headers": {"X-A": "a\0b"}}), 400, "contains CR, LF or NUL")]
    #[case(json!({"model": "m", "messages": [], "tool_http_headers": {"Bad Name": "v"}}), 400, "not a valid HTTP header name")]
    fn rejections_name_the_field(#[case] body: Value, #[case] status: u16, #[case] needle: &str) {
        let (got_status, message) = err(body);
        assert_eq!(got_status, status, "{message}");
        assert!(message.contains(needle), "`{message}` lacks `{needle}`");
    }

    #[rstest]
    #[case(br#"{"model":"m","messages":[],"max_total_seconds":1e999}"#, "max_total_seconds")]
    #[case(br#"{"model":"m","messages":[],"max_iterations":1e999}"#, "max_iterations")]
    #[case(br#"{"model":"m","messages":[],"max_total_seconds":-1e999}"#, "max_total_seconds")]
    fn a_number_beyond_every_type_is_a_422_naming_its_field(#[case] body: &[u8], #[case] field: &str) {
        let e = RunSpec::from_slice(body, &RunLimits::default()).expect_err("out of range");
        assert_eq!(status(&e), 422, "{e}");
        assert!(e.to_string().starts_with(&format!("{field}: ")), "{e}");
    }

    #[rstest]
    #[case(b"", "body is empty")]
    #[case(b"{\"model\": ", "EOF while parsing")]
    #[case(b"not json", "expected ident")]
    #[case(b"{\"model\":\"m\",\"messages\":[]} trailing", "trailing characters")]
    fn malformed_json_is_400(#[case] body: &[u8], #[case] needle: &str) {
        let e = RunSpec::from_slice(body, &RunLimits::default()).expect_err("malformed");
        assert_eq!(status(&e), 400);
        assert!(e.to_string().contains(needle), "{e}");
    }

    #[test]
    fn the_iterations_cap_comes_from_the_environment() {
        let read = |pairs: &[(&str, &str)]| {
            let lookup = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
            let env = crate::env::Env::new(&lookup);
            let limits = RunLimits::from_env(&env);
            (limits.max_iterations, env.into_problems().len())
        };
        assert_eq!(read(&[]), (50, 0));
        assert_eq!(read(&[("MINI_AGENT_MAX_ITERATIONS_CAP", "5")]), (5, 0));
        assert_eq!(read(&[("MINI_AGENT_MAX_ITERATIONS_CAP", "1")]), (1, 0));
        assert_eq!(read(&[("MINI_AGENT_MAX_ITERATIONS_CAP", "0")]), (50, 1), "below 1 is a problem, not a cap");
        let limits = RunLimits { max_iterations: 5, ..RunLimits::default() };
        let e = RunSpec::from_slice(br#"{"model":"m","messages":[],"max_iterations":6}"#, &limits)
            .expect_err("past the cap");
        assert!(e.to_string().contains("from 1 to 5"), "{e}");
    }

    #[test]
    fn images_are_detected_in_content_parts() {
        let s = ok(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        ]}]}));
        assert!(s.has_images());
        let s = ok(json!({"model": "m", "messages": [
            {"role": "user", "content": "plain"},
            {"role": "user", "content": [{"type": "text", "text": "parts, but no image"}]}
        ]}));
        assert!(!s.has_images());
    }
}
