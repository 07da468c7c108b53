//! OpenAI response shapes shared by the façade's shim and the codex sidecar: the identity of one
//! answer, a completion, and its replay as stream chunks. Pure JSON; knows nothing of HTTP.

use std::time::{SystemTime, UNIX_EPOCH};

use futures::Stream;
use serde_json::{Value, json};

use crate::provider::stream::split_into_chunks;

/// The identity every chunk of one answer carries.
#[derive(Debug, Clone)]
pub(crate) struct Stamp {
    pub id: String,
    pub created: u64,
    pub model: String,
}

impl Stamp {
    /// A fresh `chatcmpl-…` id and the current time, for `model`.
    pub(crate) fn new(model: impl Into<String>) -> Self {
        let created = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Self { id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()), created, model: model.into() }
    }

    /// A provider chunk under our id, creation time and the model name the client asked for.
    pub(crate) fn apply(&self, mut chunk: Value) -> Value {
        if let Some(obj) = chunk.as_object_mut() {
            obj.insert("id".into(), json!(self.id));
            obj.insert("object".into(), json!("chat.completion.chunk"));
            obj.insert("created".into(), json!(self.created));
            obj.insert("model".into(), json!(self.model));
        }
        chunk
    }
}

pub(crate) fn zero_usage() -> Value {
    json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
}

pub(crate) fn completion(stamp: &Stamp, content: &str, usage: Value) -> Value {
    json!({
        "id": stamp.id,
        "object": "chat.completion",
        "created": stamp.created,
        "model": stamp.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": usage,
    })
}

/// A whole completion as stream chunks (role, content, finish), then a usage chunk with
/// `choices: []` when asked for; every chunk carries `usage: null` in that case, as OpenAI's do.
pub(crate) fn replay(
    stamp: &Stamp,
    completion: &Value,
    include_usage: bool,
) -> impl Stream<Item = Value> + Send + 'static {
    let mut chunks: Vec<Value> = split_into_chunks(completion).into_iter().map(|c| stamp.apply(c)).collect();
    if include_usage {
        for c in &mut chunks {
            c["usage"] = Value::Null;
        }
        chunks.push(
            stamp.apply(json!({"choices": [], "usage": completion.get("usage").cloned().unwrap_or_else(zero_usage)})),
        );
    }
    futures::stream::iter(chunks)
}
