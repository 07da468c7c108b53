//! What one tool call produced: a typed record with the fields every backend may set, and the rest
//! of what a tool returned kept in `extra` (citations, truncation counts, the MCP protocol
//! version…) so nothing is lost on the way to the trace.
//!
//! A failure is a result with `ok:false` and an `error`, never an `Err`: the loop records it and
//! lets the model repair.

use serde_json::{Map, Value};

/// The fields of a result, in the order they are reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolResult {
    pub ok: bool,
    /// The tool that ran (after aliases).
    pub name: String,
    pub rc: Option<i32>,
    pub result: Option<String>,
    pub answer: Option<String>,
    pub text: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub error: Option<String>,
    /// How long the tool took, when the tool measured it (else the caller's measurement is used).
    pub t_ms: Option<f64>,
    /// Anything else the tool reported, in the order it reported it.
    pub extra: Map<String, Value>,
}

impl ToolResult {
    /// A failed result for `name` with `error`.
    pub fn failure(name: &str, error: impl Into<String>) -> Self {
        Self { ok: false, name: name.to_owned(), error: Some(error.into()), ..Self::default() }
    }

    /// A successful result whose output is `result`.
    pub fn success(name: &str, result: impl Into<String>) -> Self {
        Self { ok: true, name: name.to_owned(), result: Some(result.into()), ..Self::default() }
    }

    /// Adds one extra field.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// The outputs the model may see, in the contract's order of preference.
    fn outputs(&self) -> [Option<&str>; 4] {
        [self.result.as_deref(), self.answer.as_deref(), self.text.as_deref(), self.stdout.as_deref()]
    }

    /// What the model sees: the first non-empty of `result`, `answer`, `text`, `stdout`; for a
    /// failure without any of them, `error: <error>` (the model must see why it failed); for a
    /// success without any, a compact summary.
    pub fn content(&self) -> String {
        if let Some(s) = self.outputs().into_iter().flatten().find(|s| !s.is_empty()) {
            return s.to_owned();
        }
        if !self.ok {
            let error = self.error.as_deref().unwrap_or("the tool failed without saying why");
            return format!("error: {error}");
        }
        self.to_json().to_string()
    }

    /// The result as a JSON object: the fields that are set, in declaration order, then `extra`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("ok".into(), Value::Bool(self.ok));
        m.insert("name".into(), Value::String(self.name.clone()));
        if let Some(rc) = self.rc {
            m.insert("rc".into(), rc.into());
        }
        let texts = [
            ("result", &self.result),
            ("answer", &self.answer),
            ("text", &self.text),
            ("stdout", &self.stdout),
            ("stderr", &self.stderr),
            ("error", &self.error),
        ];
        for (key, value) in texts {
            if let Some(v) = value {
                m.insert(key.into(), Value::String(v.clone()));
            }
        }
        if let Some(t) = self.t_ms {
            m.insert("t_ms".into(), t.into());
        }
        m.extend(self.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(m)
    }

    /// Whether the result counts as output for the loop's success rule.
    pub fn has_output(&self) -> bool {
        self.outputs().into_iter().flatten().any(|s| !s.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_prefers_result_answer_text_stdout_then_error() {
        let r = ToolResult { stdout: Some("s".into()), ..ToolResult::success("t", "r") };
        assert_eq!(r.content(), "r");
        let r = ToolResult { ok: true, answer: Some(String::new()), text: Some("t".into()), ..ToolResult::default() };
        assert_eq!(r.content(), "t");
        assert_eq!(ToolResult::failure("t", "boom").content(), "error: boom");
        let quiet = ToolResult {
            ok: true,
            name: "q".into(),
            rc: Some(0),
            stdout: Some(String::new()),
            ..ToolResult::default()
        };
        assert_eq!(quiet.with("n", json!(1)).content(), r#"{"ok":true,"name":"q","rc":0,"stdout":"","n":1}"#);
    }

    #[test]
    fn output_means_non_blank_text() {
        assert!(ToolResult::success("t", "x").has_output());
        assert!(!ToolResult::success("t", "  ").has_output());
        assert!(!ToolResult::failure("t", "e").has_output());
    }
}
