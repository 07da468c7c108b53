//! The pure local tools: `research_echo` and `compress_runs`.

use serde_json::{Value, json};

use crate::tools::{ToolCall, failure};

/// `{query}` → `{ok:true, answer:"echo: <query>", citations:[]}`.
pub fn research_echo(call: &ToolCall) -> Value {
    match call.str_arg("query") {
        Ok(q) => json!({"ok": true, "name": "research_echo", "answer": format!("echo: {q}"), "citations": []}),
        Err(e) => e,
    }
}

/// `{s}` → `{ok:true, result:"a3b2…"}`: each run of one character as the character and its count.
pub fn compress_runs(call: &ToolCall) -> Value {
    match call.str_arg("s") {
        Ok("") => failure("compress_runs", "argument `s` is empty; give a non-empty string"),
        Ok(s) => json!({"ok": true, "name": "compress_runs", "result": run_length(s)}),
        Err(e) => e,
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

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall::new("c1", name, Value::String(args.to_string()))
    }

    #[test]
    fn run_length_encoding() {
        assert_eq!(run_length("aaabbc"), "a3b2c1");
        assert_eq!(run_length("ééx"), "é2x1");
        let r = compress_runs(&call("compress_runs", json!({"s": "aaab"})));
        assert_eq!(r["result"], "a3b1");
        assert_eq!(compress_runs(&call("compress_runs", json!({"s": ""})))["ok"], false);
    }

    #[test]
    fn research_echo_shape() {
        let r = research_echo(&call("research_echo", json!({"query": "rust"})));
        assert_eq!(r, json!({"ok": true, "name": "research_echo", "answer": "echo: rust", "citations": []}));
    }
}
