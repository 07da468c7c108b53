//! Tools: where the agent loop's tool calls go.
//!
//! A [`ToolBackend`] lists the tools it offers (OpenAI function definitions) and runs one call to a
//! result object (`{ok, …}`). A failure is part of the result (`ok:false` with an `error`), never an
//! `Err`: the loop records it and lets the model repair. Backends: [`local`] (in-process tools and
//! subprocesses under [`process`] control); the HTTP and MCP backends plug in beside it.
//!
//! The backend is a trait, not an enum, because the loop's ordering and timing properties are
//! tested against a fake backend with scripted delays.

pub mod http;
pub mod local;
pub mod mcp;
pub mod process;

use std::future::Future;

use serde_json::{Map, Value, json};

/// One call the model asked for, name already resolved to the backend's tool.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub id: String,
    /// The canonical name the backend runs (after aliases).
    pub name: String,
    /// The arguments exactly as the model gave them: usually a JSON string, sometimes an object.
    pub arguments_raw: Value,
    /// `arguments_raw` parsed into an object, when it is one.
    pub arguments: Option<Map<String, Value>>,
}

impl ToolCall {
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments_raw: Value) -> Self {
        let arguments = match &arguments_raw {
            Value::String(s) if s.trim().is_empty() => Some(Map::new()),
            Value::String(s) => serde_json::from_str::<Value>(s).ok().and_then(|v| v.as_object().cloned()),
            Value::Object(m) => Some(m.clone()),
            Value::Null => Some(Map::new()),
            _ => None,
        };
        Self { id: id.into(), name: name.into(), arguments_raw, arguments }
    }

    /// A string argument, or a result object explaining what is wrong with the arguments.
    pub fn str_arg(&self, key: &str) -> Result<&str, Value> {
        let Some(args) = &self.arguments else {
            return Err(failure(
                &self.name,
                format!("arguments are not a JSON object: {}", preview(&self.arguments_raw, 200)),
            ));
        };
        match args.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(failure(&self.name, format!("argument `{key}` must be a string, got {other}"))),
            None => Err(failure(&self.name, format!("missing argument `{key}`"))),
        }
    }
}

/// Where tool calls go.
pub trait ToolBackend: Send + Sync {
    /// The tools to offer the model, as OpenAI `{"type":"function","function":{…}}` definitions.
    /// An `Err` is a message for the model and the trace (the backend could not list its tools).
    fn list(&self) -> impl Future<Output = Result<Vec<Value>, String>> + Send;

    /// The canonical name of `requested` if this backend runs it, given what it listed.
    fn resolve(&self, requested: &str, listed: &[Value]) -> Option<String> {
        listed.iter().any(|t| tool_name(t) == Some(requested)).then(|| requested.to_owned())
    }

    /// Runs one call. Always a result object with a boolean `ok`.
    fn invoke(&self, call: &ToolCall) -> impl Future<Output = Value> + Send;
}

/// The `function.name` of an OpenAI tool definition.
pub fn tool_name(tool: &Value) -> Option<&str> {
    tool.pointer("/function/name").and_then(Value::as_str).or_else(|| tool.get("name").and_then(Value::as_str))
}

/// A failed result for `name` with `error`.
pub fn failure(name: &str, error: impl Into<String>) -> Value {
    json!({"ok": false, "name": name, "error": error.into()})
}

/// What the model sees for a result: the first non-empty of `result`, `answer`, `text`, `stdout`;
/// for a failure without any of them, `error: <error>` (the model must see why it failed); for a
/// success without any, the result's JSON.
pub fn message_content(result: &Value) -> String {
    for key in ["result", "answer", "text", "stdout"] {
        if let Some(s) = result.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()) {
            return s.to_owned();
        }
    }
    if result.get("ok") == Some(&Value::Bool(false)) {
        let error = result.get("error").and_then(Value::as_str).unwrap_or("the tool failed without saying why");
        return format!("error: {error}");
    }
    result.to_string()
}

/// Whether a result counts as output for the loop's success rule: a non-empty `result`, `answer`,
/// `text` or `stdout`.
pub fn has_output(result: &Value) -> bool {
    ["result", "answer", "text", "stdout"]
        .iter()
        .any(|k| result.get(*k).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty()))
}

/// At most `max` characters of a value's JSON text.
pub fn preview(v: &Value, max: usize) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_prefers_result_answer_text_stdout_then_error() {
        assert_eq!(message_content(&json!({"ok": true, "result": "r", "stdout": "s"})), "r");
        assert_eq!(message_content(&json!({"ok": true, "answer": "", "text": "t"})), "t");
        assert_eq!(message_content(&json!({"ok": true, "stdout": "s"})), "s");
        assert_eq!(message_content(&json!({"ok": false, "error": "boom"})), "error: boom");
        assert_eq!(message_content(&json!({"ok": true})), r#"{"ok":true}"#);
    }

    #[test]
    fn arguments_parse_from_string_or_object() {
        assert!(ToolCall::new("1", "t", json!("{\"code\":\"x\"}")).str_arg("code").is_ok());
        assert!(ToolCall::new("1", "t", json!({"code": "x"})).str_arg("code").is_ok());
        let err = ToolCall::new("1", "t", json!("not json")).str_arg("code").expect_err("bad json");
        assert!(err["error"].as_str().is_some_and(|e| e.contains("not a JSON object")), "{err}");
        let err = ToolCall::new("1", "t", json!({"code": 5})).str_arg("code").expect_err("wrong type");
        assert!(err["error"].as_str().is_some_and(|e| e.contains("must be a string")), "{err}");
    }
}
