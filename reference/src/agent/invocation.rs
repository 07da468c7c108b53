//! The invocation record (CONTRACT §2): one tool call as the envelope's `last_tool_invocation` and
//! the trace report it. A typed record; it becomes JSON once, at the edge.
//!
//! Key order is contract: the fields in declaration order, then whatever else the tool reported
//! (`answer`, `text`, citations, truncation counts…) in the order it reported it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::tools::result::ToolResult;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolInvocation {
    pub call_index: usize,
    /// The name the model asked for.
    pub tool_name: String,
    pub tool_call_id: String,
    /// The arguments exactly as the model wrote them.
    pub arguments_raw: Value,
    /// The arguments parsed into an object, `null` when they are not one.
    pub arguments: Option<Map<String, Value>>,
    pub t_ms: f64,
    /// The model whose reply asked for the call.
    pub model: String,
    /// The tool that ran (after aliases).
    pub name: String,
    pub ok: bool,
    pub rc: Option<i32>,
    pub result: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub error: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A call as the model wrote it.
#[derive(Debug, Clone)]
pub struct RequestedCall {
    pub id: String,
    pub name: String,
    pub arguments_raw: Value,
}

impl ToolInvocation {
    /// The record of call `index` that produced `result` in `measured_ms` (the tool's own timing
    /// wins when it reported one).
    pub fn new(index: usize, requested: &RequestedCall, model: &str, result: ToolResult, measured_ms: f64) -> Self {
        let mut extra = Map::new();
        if let Some(answer) = result.answer {
            extra.insert("answer".into(), Value::String(answer));
        }
        if let Some(text) = result.text {
            extra.insert("text".into(), Value::String(text));
        }
        extra.extend(result.extra);
        Self {
            call_index: index,
            tool_name: requested.name.clone(),
            tool_call_id: requested.id.clone(),
            arguments_raw: requested.arguments_raw.clone(),
            arguments: crate::tools::call::parse_arguments(&requested.arguments_raw),
            t_ms: result.t_ms.unwrap_or(measured_ms),
            model: model.to_owned(),
            name: if result.name.is_empty() { requested.name.clone() } else { result.name },
            ok: result.ok,
            rc: result.rc,
            result: result.result,
            stdout: result.stdout,
            stderr: result.stderr,
            error: result.error,
            extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contract_fields_come_first_then_what_the_tool_added() {
        let requested =
            RequestedCall { id: "c1".into(), name: "research_echo".into(), arguments_raw: json!("{\"query\":\"q\"}") };
        let result = ToolResult {
            ok: true,
            name: "research_echo".into(),
            answer: Some("echo: q".into()),
            ..ToolResult::default()
        }
        .with("citations", json!([]));
        let inv = ToolInvocation::new(0, &requested, "m", result, 1.5);
        let text = serde_json::to_string(&inv).unwrap_or_default();
        assert!(text.starts_with(r#"{"call_index":0,"tool_name":"research_echo","tool_call_id":"c1","arguments_raw":"{\"query\":\"q\"}","arguments":{"query":"q"},"t_ms":1.5,"model":"m","name":"research_echo","ok":true,"rc":null,"result":null,"stdout":null,"stderr":null,"error":null,"answer":"echo: q","citations":[]}"#), "{text}");
    }
}
