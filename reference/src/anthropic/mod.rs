//! The Anthropic surface (`POST /v1/messages`, `/v1/messages/count_tokens`), free of axum.
//!
//! A model whose provider speaks Anthropic's wire gets the body as it is (the handler forwards it
//! with `provider::anthropic`); any other provider is reached through the bridge: [`request`]
//! turns the Messages request into a chat request, [`answer`] turns the chat answer (whole, or its
//! chunks as they arrive) back into a message or Anthropic's events. [`estimate`] is the token
//! count used when the provider cannot count.

pub(crate) mod answer;
pub(crate) mod request;

use serde_json::{Map, Value};

/// An estimate of a request's input tokens for providers that cannot count them: the characters
/// of its `system`, `messages` and `tools` (as JSON text) divided by four, the rule of thumb
/// Anthropic and OpenAI both give for English text. Answered with `x-miniagent-estimate: true`.
pub(crate) fn estimate(body: &Map<String, Value>) -> u64 {
    let chars: usize = ["system", "messages", "tools"]
        .iter()
        .filter_map(|k| body.get(*k))
        .map(|v| match v {
            Value::String(s) => s.chars().count(),
            other => other.to_string().chars().count(),
        })
        .sum();
    (chars as u64).div_ceil(4)
}
