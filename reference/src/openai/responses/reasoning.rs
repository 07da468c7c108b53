//! Reasoning across the bridge. Chat providers that reason give the text as `reasoning_content`
//! (DeepSeek, vLLM, SGLang) or `reasoning` (OpenRouter, newer vLLM) next to the answer; the
//! Responses API gives a `reasoning` item before it, and a client that stores nothing (Codex:
//! `store: false`, `include: ["reasoning.encrypted_content"]`) sends that item back with the next
//! request so the model keeps its train of thought.
//!
//! So a provider's reasoning becomes a `reasoning` item whose `content` holds the text and — when
//! the client asked for `reasoning.encrypted_content` — whose `encrypted_content` carries the same
//! text in a form only this bridge reads back ([`carry`], [`carried`]; opaque, not secret: it is the
//! model's own text, which the client already has). A reasoning item in the input becomes the
//! `reasoning_content` of the assistant message that follows it. Encrypted content from OpenAI
//! itself cannot be read by another provider; the bridge says so in its warnings.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// What marks `encrypted_content` written by this bridge.
const PREFIX: &str = "miniagent.reasoning.v1:";

/// The reasoning text of a chat message or delta, if the provider gave one.
pub(crate) fn of_chat(message: &Value) -> Option<&str> {
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|k| message.get(*k).and_then(Value::as_str))
        .filter(|t| !t.is_empty())
}

/// `text` as `encrypted_content` this bridge can read back.
pub(crate) fn carry(text: &str) -> String {
    format!("{PREFIX}{}", STANDARD.encode(text))
}

/// The text inside `encrypted_content` written by [`carry`]; `None` for anyone else's.
pub(crate) fn carried(encrypted: &str) -> Option<String> {
    let bytes = STANDARD.decode(encrypted.strip_prefix(PREFIX)?).ok()?;
    String::from_utf8(bytes).ok()
}

/// A finished reasoning item with `text`, its `encrypted_content` when the client asked for it.
pub(crate) fn item(id: &str, text: &str, status: &str, encrypted: bool) -> Value {
    let mut item = json!({
        "id": id, "type": "reasoning", "status": status, "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
    });
    if encrypted {
        item["encrypted_content"] = json!(carry(text));
    }
    item
}

/// What an input `reasoning` item holds for a chat provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Thought {
    /// Reasoning text: its `content`, else what this bridge carried in `encrypted_content`, else its
    /// summary.
    Text(String),
    /// Nothing to carry.
    Empty,
    /// Only someone else's encrypted content (OpenAI's), which no other provider can read.
    Foreign,
}

/// The reasoning an input `reasoning` item holds.
pub(crate) fn of_item(item: &Value) -> Thought {
    let texts = |key: &str| -> String {
        item.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let content = texts("content");
    if !content.is_empty() {
        return Thought::Text(content);
    }
    match item.get("encrypted_content").and_then(Value::as_str) {
        Some(e) => carried(e).map_or(Thought::Foreign, Thought::Text),
        None => {
            let summary = texts("summary");
            if summary.is_empty() { Thought::Empty } else { Thought::Text(summary) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_round_trips_through_the_item() {
        let item = item("rs_1", "think: 6×7", "completed", true);
        let encrypted = item["encrypted_content"].as_str().unwrap_or_default().to_owned();
        assert_eq!(carried(&encrypted).as_deref(), Some("think: 6×7"));
        let replayed = json!({"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": encrypted});
        assert_eq!(of_item(&replayed), Thought::Text("think: 6×7".to_owned()));
        assert_eq!(of_item(&json!({"type": "reasoning", "encrypted_content": "gAAAAB-openai"})), Thought::Foreign);
        assert_eq!(of_item(&json!({"type": "reasoning", "summary": []})), Thought::Empty);
        assert_eq!(of_chat(&json!({"content": "a", "reasoning_content": "why"})), Some("why"));
        assert_eq!(of_chat(&json!({"content": "a", "reasoning": ""})), None);
    }
}
