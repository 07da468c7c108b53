//! What a coding CLI's JSONL output says, reduced line by line: its agent messages (the answer is
//! the last one; a stream relays each), the failure it reported, and the tokens it used.
//!
//! The shapes are Codex's (`codex exec --json`, 0.16x): `item.completed` with an `agent_message`
//! item, a top-level `error` event and `turn.failed` with `error.message` when a turn fails, and
//! `turn.completed` with `usage` (`input_tokens`, `cached_input_tokens`, `output_tokens`,
//! `reasoning_output_tokens`). Older shapes (`{"msg":{"type":"agent_message","message"}}`, a bare
//! `agent_message`) are still read. Items of type `error` are warnings Codex goes on after (an
//! unknown model's metadata), so they are not a run's failure. Lines that are not JSON are ignored.

use serde_json::{Value, json};

/// Token counts of a run, summed over its turns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Usage {
    pub input: u64,
    pub cached_input: u64,
    pub output: u64,
    pub reasoning_output: u64,
}

impl Usage {
    /// As chat completions report it.
    pub(super) fn to_chat(self) -> Value {
        json!({
            "prompt_tokens": self.input,
            "completion_tokens": self.output,
            "total_tokens": self.input + self.output,
            "prompt_tokens_details": {"cached_tokens": self.cached_input},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_output},
        })
    }
}

/// What has been read of one run's output so far.
#[derive(Debug, Clone, Default)]
pub(super) struct Transcript {
    pub last_message: Option<String>,
    /// The failure the CLI reported (`turn.failed`, else the last `error` event).
    pub reported: Option<String>,
    turn_failed: bool,
    pub usage: Option<Usage>,
}

impl Transcript {
    /// Reads one line; the text of a new agent message, if the line is one.
    pub(super) fn read(&mut self, line: &str) -> Option<String> {
        let event: Value = serde_json::from_str(line).ok()?;
        if let Some(text) = agent_message(&event) {
            self.last_message = Some(text.clone());
            return Some(text);
        }
        match event.get("type").and_then(Value::as_str) {
            Some("turn.completed") => {
                let u = event.get("usage");
                let n = |k: &str| u.and_then(|u| u.get(k)).and_then(Value::as_u64).unwrap_or(0);
                let sum = self.usage.unwrap_or_default();
                self.usage = Some(Usage {
                    input: sum.input + n("input_tokens"),
                    cached_input: sum.cached_input + n("cached_input_tokens"),
                    output: sum.output + n("output_tokens"),
                    reasoning_output: sum.reasoning_output + n("reasoning_output_tokens"),
                });
            }
            Some("turn.failed") => {
                let message = event.pointer("/error/message").and_then(Value::as_str).unwrap_or("the turn failed");
                self.reported = Some(readable(message));
                self.turn_failed = true;
            }
            Some("error") if !self.turn_failed => {
                self.reported = event.get("message").and_then(Value::as_str).map(readable);
            }
            _ => {}
        }
        None
    }
}

/// A message that is a provider's JSON error body (Codex quotes them whole) as its own `message`.
fn readable(message: &str) -> String {
    serde_json::from_str::<Value>(message)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message").or_else(|| v.get("message")).and_then(Value::as_str).map(str::to_owned)
        })
        .unwrap_or_else(|| message.to_owned())
}

/// The text of an agent message event, in the JSONL shapes codex has used:
/// `{"type":"item.completed","item":{"type":"agent_message","text":…}}`,
/// `{"msg":{"type":"agent_message","message":…}}`, or a bare `{"type":"agent_message",…}`.
pub(super) fn agent_message(event: &Value) -> Option<String> {
    let candidates = [event.get("item"), event.get("msg"), Some(event)];
    candidates.into_iter().flatten().find_map(|e| {
        (e.get("type").and_then(Value::as_str) == Some("agent_message"))
            .then(|| e.get("text").or_else(|| e.get("message")).and_then(Value::as_str).map(str::to_owned))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_messages_in_every_known_shape() {
        assert_eq!(
            agent_message(&json!({"type": "item.completed", "item": {"type": "agent_message", "text": "a"}}))
                .as_deref(),
            Some("a")
        );
        assert_eq!(agent_message(&json!({"msg": {"type": "agent_message", "message": "b"}})).as_deref(), Some("b"));
        assert_eq!(agent_message(&json!({"type": "agent_message", "text": "c"})).as_deref(), Some("c"));
        assert_eq!(agent_message(&json!({"type": "item.completed", "item": {"type": "reasoning", "text": "x"}})), None);
    }

    #[test]
    fn a_real_codex_run_reduces_to_its_messages_failure_and_usage() {
        let mut t = Transcript::default();
        let lines = [
            r#"{"type":"thread.started","thread_id":"t"}"#,
            r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `m` not found."}}"#,
            r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"hello"}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":5,"reasoning_output_tokens":1}}"#,
            "not json",
        ];
        let messages: Vec<String> = lines.iter().filter_map(|l| t.read(l)).collect();
        assert_eq!(messages, ["hello"]);
        assert_eq!(t.reported, None, "an error item is a warning, not the run's failure");
        assert_eq!(t.usage.map(Usage::to_chat).map(|u| u["total_tokens"].clone()), Some(json!(15)));
        let mut failed = Transcript::default();
        for l in [
            r#"{"type":"error","message":"{\"error\": {\"message\": \"tools[9].type unsupported\", \"type\": \"invalid_request_error\"}}"}"#,
            r#"{"type":"turn.failed","error":{"message":"stream disconnected"}}"#,
            r#"{"type":"error","message":"later noise"}"#,
        ] {
            failed.read(l);
        }
        assert_eq!(failed.reported.as_deref(), Some("stream disconnected"), "turn.failed wins");
        let mut only_error = Transcript::default();
        only_error.read(r#"{"type":"error","message":"{\"error\": {\"message\": \"tools[9].type unsupported\"}}"}"#);
        assert_eq!(only_error.reported.as_deref(), Some("tools[9].type unsupported"));
    }
}
