//! The pure local tools: `research_echo` and `compress_runs`.

use serde_json::json;

use crate::tools::call::ToolCall;
use crate::tools::result::ToolResult;

/// `{query}` → `{ok:true, answer:"echo: <query>", citations:[]}`.
pub(super) fn research_echo(call: &ToolCall) -> ToolResult {
    match call.str_arg("query") {
        Ok(q) => ToolResult {
            ok: true,
            name: "research_echo".into(),
            answer: Some(format!("echo: {q}")),
            ..ToolResult::default()
        }
        .with("citations", json!([])),
        Err(why) => call.failure(why),
    }
}

/// `{s}` → `{ok:true, result:"a3b2…"}`: each run of one character as the character and its count.
pub(super) fn compress_runs(call: &ToolCall) -> ToolResult {
    match call.str_arg("s") {
        Ok("") => ToolResult::failure("compress_runs", "argument `s` is empty; give a non-empty string"),
        Ok(s) => ToolResult::success("compress_runs", run_length(s)),
        Err(why) => call.failure(why),
    }
}

fn run_length(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let mut n = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        out.push(c);
        out.push_str(&n.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::Value;

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall::new("c1", name, Value::String(args.to_string()))
    }

    #[test]
    fn run_length_encoding() {
        assert_eq!(run_length("aaabbc"), "a3b2c1");
        assert_eq!(run_length("ééx"), "é2x1");
        let r = compress_runs(&call("compress_runs", json!({"s": "aaab"})));
        assert_eq!(r.result.as_deref(), Some("a3b1"));
        assert!(!compress_runs(&call("compress_runs", json!({"s": ""}))).ok);
    }

    #[test]
    fn research_echo_shape() {
        let r = research_echo(&call("research_echo", json!({"query": "rust"})));
        assert_eq!(r.to_json(), json!({"ok": true, "name": "research_echo", "answer": "echo: rust", "citations": []}));
    }
}
