//! `POST /v1/chat/completions` and `POST /chat/completions`: the OpenAI-compatible shim.
//!
//! Echo mode answers the configured reply and calls nothing. Otherwise the agent runs on the
//! request's model with local tools and default settings, and its final answer is the reply (a bare
//! model name the router cannot place falls back to `LITELLM_DEFAULT_MODEL`). Errors use
//! OpenAI's error shape so SDKs surface them. `stream: true` is answered as server-sent events of
//! `chat.completion.chunk`, ending in `data: [DONE]`.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::SharedState;
use super::extract::LimitedBody;
use crate::agent::{self, AgentError};
use crate::api::RunSpec;
use crate::api::decode;
use crate::config::NO_PROVIDER_GUIDANCE;
use crate::error::{ApiError, OpenAiError};
use crate::provider::ProviderError;

#[derive(Debug, Deserialize)]
struct ChatCompletionRequest {
    model: String,
    messages: Vec<Value>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// The answer, whatever produced it, before it is shaped as JSON or as a stream.
struct Answer {
    model: String,
    content: String,
    usage: Value,
}

pub async fn chat_completions(
    State(state): State<SharedState>,
    body: Result<LimitedBody, ApiError>,
) -> Result<Response, OpenAiError> {
    let LimitedBody(body) = body?;
    let req: ChatCompletionRequest = decode(&body)?;
    if !state.config.shim.delay.is_zero() {
        tokio::time::sleep(state.config.shim.delay).await;
    }
    let stream = req.stream.unwrap_or(false);
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let answer = answer(&state, req).await?;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if stream {
        Ok(sse(&id, created, answer, include_usage).into_response())
    } else {
        Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": answer.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer.content},
                "finish_reason": "stop"
            }],
            "usage": answer.usage,
        }))
        .into_response())
    }
}

async fn answer(state: &SharedState, req: ChatCompletionRequest) -> Result<Answer, ApiError> {
    let config = &state.config;
    if config.shim.echo {
        return Ok(Answer { model: req.model, content: config.shim.reply.clone(), usage: zero_usage() });
    }
    if !config.has_any_provider() {
        return Err(ApiError::bad_request("model", NO_PROVIDER_GUIDANCE));
    }
    let model = match (state.providers.resolve(&req.model), &config.providers.default_model) {
        (Err(ProviderError::InvalidModel(_)), Some(default)) => default.clone(),
        _ => req.model.clone(),
    };
    // The shim runs the agent (local tools, defaults), as the original does.
    let spec = RunSpec::local_defaults(model, req.messages);
    let outcome = agent::run(&spec, &state.deps()).await.map_err(|e| match e {
        AgentError::Provider(p) => ApiError::Provider(p),
        other => ApiError::Internal(other.to_string()),
    })?;
    Ok(Answer { model: req.model, content: outcome.final_answer.unwrap_or_default(), usage: zero_usage() })
}

fn zero_usage() -> Value {
    json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
}

/// The answer as OpenAI's streaming format: a role chunk, a content chunk, a finish chunk, an
/// optional usage chunk (`choices: []`), then `[DONE]`. Every chunk carries the same id and created.
fn sse(id: &str, created: u64, answer: Answer, include_usage: bool) -> impl IntoResponse + use<> {
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": answer.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let mut chunks = vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": answer.content}), Value::Null),
        chunk(json!({}), json!("stop")),
    ];
    if include_usage {
        chunks.push(json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": answer.model,
            "choices": [], "usage": answer.usage,
        }));
    }
    let events: Vec<Result<Event, Infallible>> = chunks
        .into_iter()
        .map(|c| Ok(Event::default().data(c.to_string())))
        .chain(std::iter::once(Ok(Event::default().data("[DONE]"))))
        .collect();
    Sse::new(futures::stream::iter(events))
}
