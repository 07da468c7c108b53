//! One chat-completion request, provider-neutral, and a provider's answer.
//!
//! Messages are borrowed where the caller has them (the agent loop sends its pruned history
//! without copying it, base64 images included) and passed on exactly as received: content that is
//! a list of parts is never stringified.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};

use super::kind::ProviderKind;
use crate::transport::retry::RetryStats;

#[derive(Debug, Clone, Default)]
pub struct ChatRequest<'a> {
    pub messages: Vec<Cow<'a, Value>>,
    /// OpenAI tool definitions to offer; `tool_choice` is `"auto"` when present.
    pub tools: Option<&'a [Value]>,
    /// Other OpenAI parameters (temperature, max_tokens, response_format, …), passed through.
    pub extra: Map<String, Value>,
    /// Extra HTTP headers for the provider (LiteLLM's `extra_headers`); hop-by-hop headers and a
    /// second `Authorization` are dropped before sending.
    pub extra_headers: Vec<(String, String)>,
}

impl<'a> ChatRequest<'a> {
    /// A request with these messages and nothing else.
    pub fn of(messages: impl IntoIterator<Item = Cow<'a, Value>>) -> Self {
        Self { messages: messages.into_iter().collect(), ..Self::default() }
    }

    /// The JSON body for `upstream_model`: the caller's extra parameters, then the fields this
    /// proxy owns (`model`, `messages`, `tools` + `tool_choice`, `stream`), which win over a
    /// caller's copy of them. `stream_options` only travels with `stream: true`.
    pub fn body<'r>(&'r self, upstream_model: &'r str, stream: bool) -> impl Serialize + 'r {
        Body { request: self, model: upstream_model, stream }
    }
}

struct Body<'r, 'a> {
    request: &'r ChatRequest<'a>,
    model: &'r str,
    stream: bool,
}

impl Serialize for Body<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let tools = self.request.tools.filter(|t| !t.is_empty());
        let owned = |k: &str| match k {
            "model" | "messages" | "stream" | "extra_headers" => true,
            "tools" | "tool_choice" => tools.is_some(),
            "stream_options" => !self.stream,
            _ => false,
        };
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in self.request.extra.iter().filter(|(k, _)| !owned(k)) {
            map.serialize_entry(k, v)?;
        }
        map.serialize_entry("model", self.model)?;
        map.serialize_entry("messages", &self.request.messages)?;
        if let Some(tools) = tools {
            map.serialize_entry("tools", tools)?;
            map.serialize_entry("tool_choice", "auto")?;
        }
        map.serialize_entry("stream", &self.stream)?;
        map.end()
    }
}

/// `choices[0]` of a completion or a chunk — walked, not `Value::pointer`'d: a pointer allocates for
/// every token (callgrind: 5 % of an `/agent/run` went to two of them).
pub(crate) fn first_choice(value: &Value) -> Option<&Value> {
    value.get("choices")?.get(0)
}

/// A provider's answer: the raw OpenAI-shaped response, kept whole so nothing the provider said is
/// lost on the way to the client.
#[derive(Debug, Clone)]
pub struct Completion {
    pub raw: Value,
    /// The provider that answered, for metadata (`openai`, `ollama`, `dummy`, …).
    pub provider: ProviderKind,
    /// Retry statistics, when `CODEX_AGENT_ENABLE_METRICS=1`.
    pub retry_stats: Option<RetryStats>,
    /// The router deployment that answered and the attempts it took, when the model is a group.
    pub served: Option<Served>,
}

/// Who answered a routed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The deployment's id.
    pub deployment: String,
    /// Router-level attempts, this one included.
    pub attempts: u32,
}

impl Completion {
    pub fn new(raw: Value, provider: ProviderKind) -> Self {
        Self { raw, provider, retry_stats: None, served: None }
    }

    /// `choices[0].message`, when it is an object.
    pub fn message(&self) -> Option<&Map<String, Value>> {
        first_choice(&self.raw).and_then(|c| c.get("message")).and_then(Value::as_object)
    }

    /// `choices[0].message.content` when it is a string.
    pub fn content(&self) -> Option<&str> {
        first_choice(&self.raw).and_then(|c| c.get("message")?.get("content")).and_then(Value::as_str)
    }

    /// `usage`, when the provider reported it.
    pub fn usage(&self) -> Option<&Value> {
        self.raw.get("usage").filter(|u| u.is_object())
    }

    /// `usage.total_tokens` (else prompt + completion tokens), for per-minute usage.
    pub fn total_tokens(&self) -> Option<u64> {
        let usage = self.usage()?;
        let n = |k: &str| usage.get(k).and_then(Value::as_u64);
        n("total_tokens").or_else(|| Some(n("prompt_tokens")? + n("completion_tokens").unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_keeps_extras_and_owns_its_fields() {
        let tools = [json!({"type": "function", "function": {"name": "t"}})];
        let mut request = ChatRequest::of([Cow::Owned(json!({"role": "user", "content": "hi"}))]);
        request.tools = Some(&tools);
        request.extra = json!({"temperature": 0.2, "model": "client-copy", "stream_options": {"include_usage": true}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let plain = serde_json::to_value(request.body("up", false)).unwrap_or_default();
        assert_eq!(
            plain,
            json!({"temperature": 0.2, "model": "up", "messages": [{"role": "user", "content": "hi"}],
                   "tools": tools, "tool_choice": "auto", "stream": false})
        );
        let streamed = serde_json::to_value(request.body("up", true)).unwrap_or_default();
        assert_eq!(streamed["stream_options"], json!({"include_usage": true}));
    }
}
