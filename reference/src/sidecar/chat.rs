//! The sidecar's `POST /v1/chat/completions`: a conversation in, one CLI run, its answer out.
//!
//! System (and developer) messages become Codex's developer instructions, the rest the prompt (a
//! lone user message as it is, a longer conversation as role-labelled turns). Not streamed, the
//! answer is the run's last agent message with the run's usage. Streamed, each agent message is
//! sent as Codex writes it — later ones after a blank line — and the 200 waits for the first, so a
//! run that fails before saying anything is a real error status; a failure after it ends the stream
//! with an `error` event and no `[DONE]`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::SidecarState;
use super::cli::{self, CliError, Input, Outcome};
use super::config::auth_advice;
use crate::api::decode;
use crate::error::{ApiError, OpenAiError};
use crate::http::extract::LimitedBody;
use crate::http::sse::{events_response, sse};
use crate::openai::relay::error_event;
use crate::openai_shape::{Stamp, completion, replay, zero_usage};

#[derive(Debug, Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<Value>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<Value>,
}

fn text_of(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

/// The CLI's input: system messages as instructions, the rest as the prompt.
fn input_of(messages: &[Value], model: &str) -> Input {
    let is_system = |m: &&Value| matches!(m.get("role").and_then(Value::as_str), Some("system" | "developer"));
    let system: Vec<String> = messages.iter().filter(is_system).map(text_of).filter(|t| !t.is_empty()).collect();
    let rest: Vec<&Value> = messages.iter().filter(|m| !is_system(m)).collect();
    let instructions = (!system.is_empty()).then(|| system.join("\n\n"));
    let (prompt, instructions) = match rest.as_slice() {
        // Nothing but instructions: they are all there is to do.
        [] => (instructions.unwrap_or_default(), None),
        [only] => (text_of(only), instructions),
        many => {
            let turns: Vec<String> = many
                .iter()
                .map(|m| format!("{}: {}", m.get("role").and_then(Value::as_str).unwrap_or("user"), text_of(m)))
                .collect();
            (turns.join("\n\n"), instructions)
        }
    };
    Input { prompt, instructions, messages: messages.to_vec(), model: model.to_owned() }
}

fn api_error(e: CliError) -> ApiError {
    if e.is_timeout() { ApiError::Timeout(e.to_string()) } else { ApiError::Upstream(e.to_string()) }
}

pub(super) async fn chat(
    State(state): State<Arc<SidecarState>>,
    body: Result<LimitedBody, ApiError>,
) -> Result<Response, OpenAiError> {
    let LimitedBody(body) = body?;
    let req: ChatRequest = decode(&body)?;
    let model = req.model.unwrap_or_else(|| "codex".to_owned());
    let stamp = Stamp::new(model.clone());
    let stream = req.stream.unwrap_or(false);
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o["include_usage"] == true);
    let input = input_of(&req.messages, &model);
    let config = &state.config;
    if config.echo {
        let done = completion(&stamp, &format!("echo: {}", input.prompt), zero_usage());
        return Ok(if stream {
            sse(config.keepalive, replay(&stamp, &done, include_usage))
        } else {
            Json(done).into_response()
        });
    }
    if config.auth_missing() {
        return Err(ApiError::CredentialsMissing(auth_advice(&config.auth_path)).into());
    }
    let Ok(permit) = state.slots.clone().acquire_owned().await else {
        return Err(ApiError::Unavailable("the sidecar is shutting down".into()).into());
    };
    if !stream {
        let Outcome { text, usage } = cli::run(&config.cli, &input, None).await.map_err(api_error)?;
        let usage = usage.map_or_else(zero_usage, |u| u.to_chat());
        return Ok(Json(completion(&stamp, &text, usage)).into_response());
    }
    let settings = config.cli.clone();
    let (tx, mut rx) = mpsc::channel::<String>(16);
    let run = Running(tokio::spawn(async move {
        let _permit = permit;
        cli::run(&settings, &input, Some(tx)).await
    }));
    let Some(first) = rx.recv().await else {
        // The run ended without a message: its error, as a status.
        return Err(match run.finish().await {
            Err(e) => api_error(e),
            Ok(_) => api_error(CliError::NoMessage { reported: None }),
        }
        .into());
    };
    Ok(events_response(config.keepalive, relay(stamp, first, rx, run, include_usage)))
}

/// The CLI's run, aborted (and its process tree killed) when the client goes away.
struct Running(JoinHandle<Result<Outcome, CliError>>);

impl Running {
    async fn finish(mut self) -> Result<Outcome, CliError> {
        (&mut self.0).await.unwrap_or_else(|e| Err(CliError::Spawn { program: "codex".into(), reason: e.to_string() }))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The stream: the first message, each later one as it comes, then the finish (and usage) chunks
/// and `[DONE]` — or an `error` event when the run failed.
fn relay(
    stamp: Stamp,
    first: String,
    rx: mpsc::Receiver<String>,
    run: Running,
    include_usage: bool,
) -> impl futures::Stream<Item = Event> + Send + 'static {
    let chunk = move |delta: Value, finish: Value| {
        let mut c = stamp.apply(json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}));
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let head = vec![chunk(json!({"role": "assistant", "content": first}), Value::Null).to_string()];
    let rest = futures::stream::unfold(Some((rx, run, chunk)), move |state| async move {
        let (mut rx, run, chunk) = state?;
        if let Some(text) = rx.recv().await {
            let data = chunk(json!({"content": format!("\n\n{text}")}), Value::Null).to_string();
            return Some((vec![data], Some((rx, run, chunk))));
        }
        let end = match run.finish().await {
            Ok(Outcome { usage, .. }) => {
                let mut out = vec![chunk(json!({}), json!("stop")).to_string()];
                if include_usage {
                    let mut u = chunk(json!({}), Value::Null);
                    u["choices"] = json!([]);
                    u["usage"] = usage.map_or_else(zero_usage, |u| u.to_chat());
                    out.push(u.to_string());
                }
                out.push("[DONE]".to_owned());
                out
            }
            Err(e) => vec![error_event(e.to_string()).to_string()],
        };
        Some((end, None))
    });
    futures::stream::iter(head).chain(rest.flat_map(futures::stream::iter)).map(|data| Event::default().data(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_messages_are_instructions_and_the_rest_the_prompt() {
        let one = input_of(&[json!({"role": "user", "content": "fix it"})], "m");
        assert_eq!((one.prompt.as_str(), one.instructions), ("fix it", None));
        let many = [
            json!({"role": "system", "content": "be terse"}),
            json!({"role": "developer", "content": [{"type": "text", "text": "no tests"}]}),
            json!({"role": "user", "content": "fix it"}),
        ];
        let i = input_of(&many, "m");
        assert_eq!((i.prompt.as_str(), i.instructions.as_deref()), ("fix it", Some("be terse\n\nno tests")));
        let turns = [
            json!({"role": "user", "content": "a"}),
            json!({"role": "assistant", "content": "b"}),
            json!({"role": "user", "content": "c"}),
        ];
        assert_eq!(input_of(&turns, "m").prompt, "user: a\n\nassistant: b\n\nuser: c");
        assert_eq!(input_of(&[json!({"role": "system", "content": "only"})], "m").prompt, "only");
    }
}
