//! The offline model: `dummy` / `noop` answer a fixed text without touching the network.
//!
//! It exists so a newcomer (and every deterministic test) can run the whole façade with no keys.
//! It never asks for tools, so an agent run on it ends after one call.

use serde_json::{Value, json};

/// What the dummy model always says.
pub(crate) const DUMMY_REPLY: &str = "Dummy mini-agent response";

/// A complete OpenAI-shaped response for `model`.
pub(crate) fn complete(model: &str) -> Value {
    json!({
        "id": "dummy-0",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": DUMMY_REPLY},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    })
}
