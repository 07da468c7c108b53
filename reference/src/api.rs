//! Wire types of `POST /agent/run`: the request as JSON, and its validation into a [`RunSpec`].
//!
//! Validation happens in two steps, matching the two error classes of the contract: deserializing
//! (a missing field, a wrong type — 422 naming the field path) and meaning (an unknown backend, a
//! backend missing its URL — 400). Unknown fields are ignored: clients of the original send extras.
//!
//! Does not run anything: a [`RunSpec`] is inert data handed to [`crate::agent`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// The request body as sent. Every optional field accepts `null` as "not given".
#[derive(Debug, Deserialize)]
pub struct AgentRunRequest {
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

/// Where tools come from (and whether there is an agent loop at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The agent loop with in-process tools.
    Local,
    /// The agent loop with an HTTP tools server (`/tools` + `/invoke`).
    Http,
    /// One model call, no tools.
    Echo,
    /// One model call through the router, no tools.
    Router,
    /// The agent loop with an MCP server.
    Mcp,
}

impl Backend {
    pub const ALL: [Backend; 5] = [Self::Local, Self::Http, Self::Echo, Self::Router, Self::Mcp];

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

/// A validated run: every default applied, every range checked.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub messages: Vec<Value>,
    pub model: String,
    pub backend: Backend,
    pub tool_http_base_url: Option<String>,
    pub tool_http_headers: BTreeMap<String, String>,
    pub tool_mcp_url: Option<String>,
    pub use_tools: bool,
    pub auto_run_code_on_code_block: bool,
    pub max_iterations: u32,
    pub max_total_seconds: Option<f64>,
    pub escalate_on_budget_exceeded: bool,
    pub escalate_model: Option<String>,
    pub enable_repair: bool,
    pub tool_concurrency: usize,
    pub max_tools_per_iter: usize,
}

pub const DEFAULT_MAX_ITERATIONS: u32 = 3;
pub const DEFAULT_MAX_TOOLS_PER_ITER: usize = 4;
pub const MAX_TOOL_CONCURRENCY: i64 = 16;

impl RunSpec {
    /// A `local` run of `model` with every default: what the OpenAI shim runs.
    pub fn local_defaults(model: String, messages: Vec<Value>) -> Self {
        Self {
            messages,
            model,
            backend: Backend::Local,
            tool_http_base_url: None,
            tool_http_headers: BTreeMap::new(),
            tool_mcp_url: None,
            use_tools: false,
            auto_run_code_on_code_block: false,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            max_total_seconds: None,
            escalate_on_budget_exceeded: false,
            escalate_model: None,
            enable_repair: true,
            tool_concurrency: 1,
            max_tools_per_iter: DEFAULT_MAX_TOOLS_PER_ITER,
        }
    }

    /// Parses and validates a request body.
    pub fn from_slice(body: &[u8]) -> Result<Self, ApiError> {
        Self::validate(decode(body)?)
    }

    fn validate(req: AgentRunRequest) -> Result<Self, ApiError> {
        for (i, m) in req.messages.iter().enumerate() {
            match m.get("role") {
                Some(Value::String(_)) => {}
                _ if !m.is_object() => {
                    return Err(ApiError::schema(
                        format!("messages[{i}]"),
                        format!("expected a message object, got {}", json_kind(m)),
                    ));
                }
                _ => return Err(ApiError::schema(format!("messages[{i}].role"), "missing or not a string")),
            }
        }
        if req.model.trim().is_empty() {
            return Err(ApiError::schema("model", "must not be empty"));
        }
        let backend = match req.tool_backend.as_deref() {
            None => Backend::Local,
            Some(raw) => Backend::parse(raw).ok_or_else(|| {
                let valid: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
                ApiError::bad_request(
                    "tool_backend",
                    format!("unknown tool_backend `{raw}`: valid backends are {}", valid.join(", ")),
                )
            })?,
        };
        let max_iterations = match req.max_iterations {
            None => DEFAULT_MAX_ITERATIONS,
            Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => n as u32,
            Some(n) => return Err(ApiError::schema("max_iterations", format!("must be an integer ≥ 1, got {n}"))),
        };
        if let Some(s) = req.max_total_seconds
            && !(s.is_finite() && s > 0.0)
        {
            return Err(ApiError::schema("max_total_seconds", format!("must be a number > 0, got {s}")));
        }
        let tool_concurrency = match req.tool_concurrency {
            None => 1,
            Some(n) if (1..=MAX_TOOL_CONCURRENCY).contains(&n) => n as usize,
            Some(n) => {
                return Err(ApiError::schema(
                    "tool_concurrency",
                    format!("must be an integer from 1 to {MAX_TOOL_CONCURRENCY}, got {n}"),
                ));
            }
        };
        let max_tools_per_iter = match req.max_tools_per_iter {
            None => DEFAULT_MAX_TOOLS_PER_ITER,
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            Some(n) => return Err(ApiError::schema("max_tools_per_iter", format!("must be an integer ≥ 1, got {n}"))),
        };
        let headers = req.tool_http_headers.unwrap_or_default();
        for (name, value) in &headers {
            if name.is_empty() || name.bytes().any(|b| !is_token_byte(b)) {
                return Err(ApiError::bad_request(
                    "tool_http_headers",
                    format!("`{name}` is not a valid HTTP header name"),
                ));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(ApiError::bad_request(
                    "tool_http_headers",
                    format!("the value of header `{name}` contains CR, LF or NUL, which would split the request"),
                ));
            }
        }
        let non_empty = |s: Option<String>| s.filter(|u| !u.trim().is_empty());
        let tool_http_base_url = non_empty(req.tool_http_base_url);
        let tool_mcp_url = non_empty(req.tool_mcp_url);
        if backend == Backend::Http && tool_http_base_url.is_none() {
            return Err(ApiError::bad_request(
                "tool_http_base_url",
                "tool_http_base_url required for tool_backend=http",
            ));
        }
        if backend == Backend::Mcp && tool_mcp_url.is_none() {
            return Err(ApiError::bad_request("tool_mcp_url", "tool_mcp_url required for tool_backend=mcp"));
        }
        // The HTTP and MCP backends exist to offer tools: there they are on unless explicitly off.
        let use_tools = match backend {
            Backend::Http | Backend::Mcp => req.use_tools.unwrap_or(true),
            _ => req.use_tools.unwrap_or(false),
        };
        Ok(Self {
            messages: req.messages,
            model: req.model,
            backend,
            tool_http_base_url,
            tool_http_headers: headers,
            tool_mcp_url,
            use_tools,
            auto_run_code_on_code_block: req.auto_run_code_on_code_block.unwrap_or(false),
            max_iterations,
            max_total_seconds: req.max_total_seconds,
            escalate_on_budget_exceeded: req.escalate_on_budget_exceeded.unwrap_or(false),
            escalate_model: non_empty(req.escalate_model),
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

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Decodes a JSON body into `T` in one pass, sorting failures into the contract's classes: not JSON
/// at all → 400; JSON of the wrong shape → 422 naming the field path (`messages[0].role`).
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson("the body is empty; send a JSON object".to_owned()));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied().unwrap_or(b' ');
    if first != b'{' {
        // serde would happily read `[…]` into a struct as a tuple; the contract wants an object.
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => ApiError::schema("body", format!("expected a JSON object, got {}", kind_of_first_byte(first))),
            Err(e) => ApiError::MalformedJson(e.to_string()),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                ApiError::schema(if path == "." { "body".to_owned() } else { path }, inner.to_string())
            }
            _ => ApiError::MalformedJson(inner.to_string()),
        }
    })?;
    de.end().map_err(|e| ApiError::MalformedJson(e.to_string()))?;
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

pub fn json_kind(v: &Value) -> &'static str {
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
        RunSpec::from_slice(body.to_string().as_bytes()).expect("valid request")
    }

    fn err(body: Value) -> (u16, String) {
        let e = RunSpec::from_slice(body.to_string().as_bytes()).expect_err("invalid request");
        (e.status().as_u16(), e.to_string())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = ok(json!({"model": "dummy", "messages": [], "extra_field": 1}));
        assert_eq!(s.backend, Backend::Local);
        assert_eq!((s.max_iterations, s.tool_concurrency, s.max_tools_per_iter), (3, 1, 4));
        assert!(!s.use_tools && s.enable_repair && !s.auto_run_code_on_code_block);
        let s = ok(json!({"model": "m", "messages": [], "tool_backend": "http", "tool_http_base_url": "http://x"}));
        assert!(s.use_tools, "http offers tools unless told not to");
        let s = ok(
            json!({"model": "m", "messages": [], "tool_backend": " HTTP ", "tool_http_base_url": "http://x", "use_tools": false}),
        );
        assert!(!s.use_tools);
    }

    #[rstest]
    #[case(json!([1]), 422, "body: expected a JSON object, got an array")]
    #[case(json!({"messages": []}), 422, "missing field `model`")]
    #[case(json!({"model": "m"}), 422, "missing field `messages`")]
    #[case(json!({"model": 5, "messages": []}), 422, "model: invalid type: integer `5`, expected a string")]
    #[case(json!({"model": "m", "messages": "hi"}), 422, "messages: invalid type: string")]
    #[case(json!({"model": "m", "messages": ["hi"]}), 422, "messages[0]: expected a message object")]
    #[case(json!({"model": "m", "messages": [{"content": "x"}]}), 422, "messages[0].role")]
    #[case(json!({"model": "m", "messages": [], "use_tools": "yes"}), 422, "use_tools: invalid type")]
    #[case(json!({"model": "m", "messages": [], "max_iterations": 0}), 422, "max_iterations: must be an integer ≥ 1")]
    #[case(json!({"model": "m", "messages": [], "max_total_seconds": -1}), 422, "max_total_seconds")]
    #[case(json!({"model": "m", "messages": [], "tool_concurrency": 17}), 422, "from 1 to 16")]
    #[case(json!({"model": "m", "messages": [], "tool_http_headers": {"X": 1}}), 422, "tool_http_headers.X: invalid type")]
    #[case(json!({"model": "m", "messages": [], "tool_backend": "htp"}), 400, "unknown tool_backend `htp`: valid backends are local, http, echo, router, mcp")]
    #[case(json!({"model": "m", "messages": [], "tool_backend": "http"}), 400, "tool_http_base_url required")]
    #[case(json!({"model": "m", "messages": [], "tool_backend": "mcp"}), 400, "tool_mcp_url required")]
    #[case(json!({"model": "m", "messages": [], "tool_http_headers": {"X-A": "a\r\nEvil: 1"}}), 400, "contains CR, LF or NUL")]
    #[case(json!({"model": "m", "messages": [], "tool_http_headers": {"Bad Name": "v"}}), 400, "not a valid HTTP header name")]
    fn rejections_name_the_field(#[case] body: Value, #[case] status: u16, #[case] needle: &str) {
        let (got_status, message) = err(body);
        assert_eq!(got_status, status, "{message}");
        assert!(message.contains(needle), "`{message}` lacks `{needle}`");
    }

    #[rstest]
    #[case(b"", "body is empty")]
    #[case(b"{\"model\": ", "EOF while parsing")]
    #[case(b"not json", "expected ident")]
    #[case(b"{\"model\":\"m\",\"messages\":[]} trailing", "trailing characters")]
    fn malformed_json_is_400(#[case] body: &[u8], #[case] needle: &str) {
        let e = RunSpec::from_slice(body).expect_err("malformed");
        assert_eq!(e.status().as_u16(), 400);
        assert!(e.to_string().contains(needle), "{e}");
    }

    #[test]
    fn images_are_detected_in_content_parts() {
        let s = ok(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        ]}]}));
        assert!(s.has_images());
    }
}
