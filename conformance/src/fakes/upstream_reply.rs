//! One scripted answer of the provider fake — status, headers, a delay before the head, and a JSON
//! body or an event stream (with or without `data: [DONE]`) — and how it becomes wiremock's
//! response. A leaf shared by the scripted answers (`openai_upstream`) and the `auto-…` model
//! (`auto_model`): the first reads it from a request, the second computes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

/// What precedes a scripted answer in a message's text (the JSON runs to the end of the text).
pub const MARKER: &str = "UPSTREAM:";

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Held back this long before the status line (a provider that does not answer).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
    /// A JSON answer, sent as `application/json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// An event stream: each value one `data:` event (a string is sent as it is, anything else as
    /// JSON), then `data: [DONE]` unless `done` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Value>>,
    #[serde(default = "yes")]
    pub done: bool,
    /// Each event is preceded by `event: <its "type">`, as Responses streams are.
    #[serde(default, skip_serializing_if = "is_false")]
    pub named: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn ok() -> u16 {
    200
}

fn yes() -> bool {
    true
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Reply {
    /// 200 with `body` as JSON.
    pub fn json(body: Value) -> Self {
        Self {
            status: 200,
            headers: BTreeMap::new(),
            delay_ms: 0,
            body: Some(body),
            events: None,
            done: true,
            named: false,
        }
    }

    /// 200 with `events` as a Responses event stream: each named by its `type`, no `[DONE]`.
    pub fn responses_events(events: Vec<Value>) -> Self {
        Self { named: true, done: false, ..Self::events(events) }
    }

    /// 200 with `events` as a `text/event-stream`, ending in `data: [DONE]`.
    pub fn events(events: Vec<Value>) -> Self {
        Self { events: Some(events), body: None, ..Self::json(Value::Null) }
    }

    /// `status` with OpenAI's error shape `{"error":{message,type,param,code}}`.
    pub fn error(status: u16, message: &str, kind: &str, code: &str) -> Self {
        let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
        Self { status, ..Self::json(body) }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn delayed(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }

    /// The stream ends without `data: [DONE]`.
    pub fn cut(mut self) -> Self {
        self.done = false;
        self
    }

    /// The text to put in a message so the fake answers this.
    pub fn marker(&self) -> String {
        format!("{MARKER}{}", serde_json::to_string(self).unwrap_or_default())
    }
}

/// A reply as wiremock's response.
pub fn render(reply: &Reply) -> ResponseTemplate {
    let mut template = ResponseTemplate::new(reply.status);
    if reply.delay_ms > 0 {
        template = template.set_delay(std::time::Duration::from_millis(reply.delay_ms));
    }
    if let Some(events) = &reply.events {
        let mut text = String::new();
        for e in events {
            if let Some(kind) = e.get("type").and_then(Value::as_str).filter(|_| reply.named) {
                text.push_str(&format!("event: {kind}\n"));
            }
            let data = e.as_str().map_or_else(|| e.to_string(), str::to_owned);
            text.push_str(&format!("data: {data}\n\n"));
        }
        if reply.done {
            text.push_str("data: [DONE]\n\n");
        }
        template = template.set_body_raw(text.into_bytes(), "text/event-stream");
    } else if let Some(body) = &reply.body {
        template = template.set_body_raw(body.to_string().into_bytes(), "application/json");
    }
    for (name, value) in &reply.headers {
        template = template.insert_header(name.as_str(), value.as_str());
    }
    template
}
