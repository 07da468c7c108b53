//! One call the model asked for, with its arguments exactly as given and, when they are a JSON
//! object, parsed.

use serde_json::{Map, Value};

use super::result::ToolResult;
use crate::text::preview;

/// A call, its name already resolved to the backend's tool.
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

/// `raw` parsed into an object: a JSON string holding one, an object, or nothing (`""`, `null`).
pub(crate) fn parse_arguments(raw: &Value) -> Option<Map<String, Value>> {
    match raw {
        Value::String(s) if s.trim().is_empty() => Some(Map::new()),
        Value::String(s) => serde_json::from_str::<Value>(s).ok().and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        }),
        Value::Object(m) => Some(m.clone()),
        Value::Null => Some(Map::new()),
        _ => None,
    }
}

impl ToolCall {
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments_raw: Value) -> Self {
        let arguments = parse_arguments(&arguments_raw);
        Self { id: id.into(), name: name.into(), arguments_raw, arguments }
    }

    /// A string argument, or what is wrong with the arguments (for [`ToolCall::failure`]).
    pub fn str_arg(&self, key: &str) -> Result<&str, String> {
        let Some(args) = &self.arguments else {
            return Err(format!("arguments are not a JSON object: {}", preview(&self.arguments_raw, 200)));
        };
        match args.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(format!("argument `{key}` must be a string, got {other}")),
            None => Err(format!("missing argument `{key}`")),
        }
    }

    /// A failed result of this call.
    pub fn failure(&self, why: impl Into<String>) -> ToolResult {
        ToolResult::failure(&self.name, why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_parse_from_string_or_object() {
        assert!(ToolCall::new("1", "t", json!("{\"code\":\"x\"}")).str_arg("code").is_ok());
        assert!(ToolCall::new("1", "t", json!({"code": "x"})).str_arg("code").is_ok());
        let err = ToolCall::new("1", "t", json!("not json")).str_arg("code").expect_err("bad json");
        assert!(err.contains("not a JSON object"), "{err}");
        let err = ToolCall::new("1", "t", json!({"code": 5})).str_arg("code").expect_err("wrong type");
        assert!(err.contains("must be a string"), "{err}");
    }
}
