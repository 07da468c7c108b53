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

/// A provider's answer: the OpenAI-shaped response, kept whole so nothing the provider said is
/// lost on the way to the client ([`Completion::raw`]).
#[derive(Debug, Clone)]
pub struct Completion {
    answer: Answer,
    /// The provider that answered, for metadata (`openai`, `ollama`, `dummy`, …).
    pub provider: ProviderKind,
    /// Retry statistics, when `CODEX_AGENT_ENABLE_METRICS=1`.
    pub retry_stats: Option<RetryStats>,
    /// The router deployment that answered and the attempts it took, when the model is a group.
    pub served: Option<Served>,
}

/// What a provider answered: a JSON value built here (the dummy provider), or a reply read only as
/// far as a caller of [`Completion`] looks — `choices[0].message` and `usage` — with its bytes
/// kept for the callers that want the whole of it (parallel completions). Reading every field of
/// a reply into a `Value` was an eighth of an `/agent/run` (callgrind: the map inserts and their
/// hashing), for fields nobody read.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Value(Value),
    Read { message: Value, usage: Option<Value>, body: Vec<u8> },
}

/// The part of a chat completion that is read eagerly; every other field is skipped unparsed.
#[derive(serde::Deserialize)]
struct Partial {
    choices: Vec<PartialChoice>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(serde::Deserialize)]
struct PartialChoice {
    #[serde(default)]
    message: Option<Value>,
}

impl Answer {
    /// A reply body that is a usable chat completion — `choices[0].message` an object whose
    /// `content` is a string, a list of parts or null — or why it is not.
    pub(crate) fn read(body: Vec<u8>) -> Result<Self, String> {
        if let Ok(Partial { choices, usage }) = serde_json::from_slice::<Partial>(&body)
            && let Some(message) = choices.into_iter().next().and_then(|c| c.message)
            && usable(&message).is_ok()
        {
            return Ok(Self::Read { message, usage, body });
        }
        // Not the common shape (or a duplicate key, which the typed read refuses and a `Value`
        // takes the last of): read it whole, and say what is wrong with it the one way.
        let quote = || excerpt(&body);
        let value: Value = serde_json::from_slice(&body).map_err(|e| format!("{e}; body starts: {}", quote()))?;
        check_completion(&value).map_err(|why| format!("{why}; body: {}", quote()))?;
        Ok(Self::Value(value))
    }
}

/// A read reply's body as a whole value (it was read as JSON once already).
fn whole(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// At most this much of an upstream error body is quoted in an error message.
const BODY_EXCERPT_CHARS: usize = 400;

/// The first [`BODY_EXCERPT_CHARS`] characters of a body, decoded lossily.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    crate::text::excerpt_bytes(bytes, BODY_EXCERPT_CHARS)
}

/// Whether `value` is a chat completion the loop can use: `choices[0].message` an object whose
/// `content` is a string, a list of parts, or null. Anything else is the provider's failure (502),
/// never an `ok:true` with empty text.
pub(crate) fn check_completion(value: &Value) -> Result<(), String> {
    let message = first_choice(value).and_then(|c| c.get("message")).ok_or("no choices[0].message")?;
    usable(message)
}

/// Why `message` is no usable assistant message, if it is not.
fn usable(message: &Value) -> Result<(), String> {
    let Some(object) = message.as_object() else {
        return Err(format!("choices[0].message is {message}, not an object"));
    };
    match object.get("content") {
        None | Some(Value::Null | Value::String(_) | Value::Array(_)) => Ok(()),
        Some(other) => Err(format!("choices[0].message.content is {other}, not a string, a list or null")),
    }
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
        Self::of(Answer::Value(raw), provider)
    }

    pub(crate) fn of(answer: Answer, provider: ProviderKind) -> Self {
        Self { answer, provider, retry_stats: None, served: None }
    }

    /// The whole answer, every field as the provider gave it.
    pub fn raw(&self) -> Value {
        match &self.answer {
            Answer::Value(v) => v.clone(),
            Answer::Read { body, .. } => whole(body),
        }
    }

    /// The whole answer, every field as the provider gave it.
    pub fn into_raw(self) -> Value {
        match self.answer {
            Answer::Value(v) => v,
            Answer::Read { body, .. } => whole(&body),
        }
    }

    /// `choices[0].message`, when it is an object.
    pub fn message(&self) -> Option<&Map<String, Value>> {
        match &self.answer {
            Answer::Value(v) => first_choice(v).and_then(|c| c.get("message")).and_then(Value::as_object),
            Answer::Read { message, .. } => message.as_object(),
        }
    }

    /// `choices[0].message.content` when it is a string.
    pub fn content(&self) -> Option<&str> {
        self.message().and_then(|m| m.get("content")).and_then(Value::as_str)
    }

    /// `usage`, when the provider reported it.
    pub fn usage(&self) -> Option<&Value> {
        match &self.answer {
            Answer::Value(v) => v.get("usage"),
            Answer::Read { usage, .. } => usage.as_ref(),
        }
        .filter(|u| u.is_object())
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
    fn a_reply_is_read_as_far_as_needed_and_kept_whole() {
        let reply = json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "m", "system_fingerprint": "fp",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": null},
                         "finish_reason": "stop", "logprobs": null}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}});
        let answer = Answer::read(serde_json::to_vec(&reply).unwrap_or_default()).expect("a usable completion");
        assert!(matches!(answer, Answer::Read { .. }), "the common shape takes the typed read");
        let c = Completion::of(answer, ProviderKind::OpenAi);
        assert_eq!((c.content(), c.total_tokens()), (Some("hi"), Some(5)));
        assert_eq!(c.message().and_then(|m| m.get("refusal")), Some(&Value::Null));
        assert_eq!(c.raw(), reply, "every field the provider sent");
        assert_eq!(c.into_raw(), reply);
    }

    #[test]
    fn a_reply_of_another_shape_is_read_whole_or_refused_saying_why() {
        // A duplicate key: the typed read refuses it, a `Value` keeps the last one, as before.
        let dup = br#"{"choices": [], "choices": [{"message": {"content": "second"}}]}"#.to_vec();
        let c = Completion::of(Answer::read(dup).expect("usable"), ProviderKind::OpenAi);
        assert_eq!(c.content(), Some("second"));
        let why = |body: &str| Answer::read(body.as_bytes().to_vec()).err().unwrap_or_default();
        assert!(
            why(r#"{"choices": []}"#).starts_with("no choices[0].message; body: "),
            "{}",
            why(r#"{"choices": []}"#)
        );
        assert!(why(r#"{"choices": [{"message": 5}]}"#).starts_with("choices[0].message is 5, not an object"));
        assert!(
            why(r#"{"choices": [{"message": {"content": 5}}]}"#)
                .starts_with("choices[0].message.content is 5, not a string, a list or null")
        );
        assert!(why("<html>").contains("; body starts: <html>"), "{}", why("<html>"));
        // Content as a list of parts, or null with tool calls, is usable.
        for content in [json!([{"type": "text", "text": "a"}]), Value::Null] {
            let body = json!({"choices": [{"message": {"content": content, "tool_calls": []}}]});
            assert!(Answer::read(serde_json::to_vec(&body).unwrap_or_default()).is_ok(), "{body}");
        }
    }

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
