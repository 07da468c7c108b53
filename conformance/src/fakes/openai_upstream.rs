//! The provider as the OpenAI-surface cases script it (CONTRACT §1, proxy mode): a whole JSON
//! answer, an event stream (cut short, or not an event stream at all), an error status with its
//! headers, each after a delay if asked — plus `GET /v1/models`, and a record of every request
//! so a case can say what the provider received.
//!
//! Mounted on the provider fake's own server, above its conversation scripts (`provider`), so one
//! address serves both. Stateless like the rest of the fake: the script travels in the request,
//! after [`MARKER`] in a message's text or an embeddings `input` string, so concurrent cases never
//! interfere. Answers are sent exactly as scripted: the point is to compare them with what the
//! target passes back.
//!
//! It does not cut a connection mid-body: a "cut" stream is one that ends cleanly without
//! `data: [DONE]`, which is what a proxy can see of a provider that gave up.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

use super::upstream_reply::render;
pub use super::upstream_reply::{MARKER, Reply};

/// The models the fake lists at `GET /v1/models`.
pub const MODELS: [&str; 3] = ["conformance-upstream-1", "auto-model", "auto-embed"];

/// The text for a conversation: turn *n* answers a request holding *n* assistant messages.
pub fn turns_marker(turns: &[Reply]) -> String {
    format!("{MARKER}{}", json!({ "turns": turns }))
}

/// One request the provider fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`null` when it was not JSON).
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Every request `server` (the provider fake's: `ProviderFake::server`) received so far whose body
/// contains `needle`, in arrival order.
pub async fn received_containing(server: &MockServer, needle: &str) -> Vec<Received> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(needle))
        .map(|r| Received {
            method: r.method.to_string(),
            path: r.url.path().to_owned(),
            headers: r
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        })
        .collect()
}

/// Mounts the scripted answers, the models list and the deterministic model for real clients
/// (`auto_model`) on `server`, above the conversation scripts.
pub async fn mount(server: &MockServer) {
    Mock::given(method("POST")).and(Scripted).respond_with(Scripted).with_priority(1).mount(server).await;
    let models: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "provider-fake"}))
        .collect();
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": models})))
        .mount(server)
        .await;
    super::auto_model::mount(server).await;
    super::auto_responses::mount(server).await;
}

/// Requests carrying [`MARKER`], and the answers to them.
struct Scripted;

impl Match for Scripted {
    fn matches(&self, request: &Request) -> bool {
        request.body.windows(MARKER.len()).any(|w| w == MARKER.as_bytes())
    }
}

impl Respond for Scripted {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let Some(script) =
            texts(&body).into_iter().find_map(|t| t.find(MARKER).map(|at| t[at + MARKER.len()..].to_owned()))
        else {
            return ResponseTemplate::new(400)
                .set_body_string("provider fake: the script marker is not in a message text");
        };
        match pick(&script, &body) {
            // The provider's own `/responses` answers in its own wire (`auto_responses::from_chat`).
            Ok(reply) if request.url.path().ends_with("/responses") => render(&super::auto_responses::from_chat(reply)),
            Ok(reply) => render(&reply),
            Err(why) => {
                ResponseTemplate::new(400).set_body_string(format!("provider fake: bad {MARKER} script: {why}"))
            }
        }
    }
}

/// The texts a script may sit in: every message's content (string or text parts), and `input` (a
/// string, strings, or Responses items with a content).
fn texts(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let items = body.get("input").and_then(Value::as_array).into_iter().flatten().filter(|i| i.is_object());
    for m in body.get("messages").and_then(Value::as_array).into_iter().flatten().chain(items) {
        match m.get("content") {
            Some(Value::String(s)) => out.push(s.clone()),
            Some(Value::Array(parts)) => {
                out.extend(parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).map(str::to_owned));
            }
            _ => {}
        }
    }
    match body.get("input") {
        Some(Value::String(s)) => out.push(s.clone()),
        Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    out
}

/// The reply a script gives this request: itself, or the turn for the assistant messages so far.
fn pick(script: &str, body: &Value) -> Result<Reply, String> {
    let value: Value = serde_json::from_str(script.trim()).map_err(|e| e.to_string())?;
    let Some(turns) = value.get("turns").and_then(Value::as_array) else {
        return serde_json::from_value(value).map_err(|e| e.to_string());
    };
    let played = match body.get("messages").and_then(Value::as_array) {
        Some(messages) => {
            messages.iter().filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant")).count()
        }
        None => responses_turns(body),
    };
    let turn = turns.get(played).cloned().ok_or_else(|| format!("no turn {played} in the script"))?;
    serde_json::from_value(turn).map_err(|e| e.to_string())
}

/// The model's turns in a Responses `input`: runs of the items a model gives (reasoning, assistant
/// messages, calls), one run a turn.
fn responses_turns(body: &Value) -> usize {
    let by_model = |i: &Value| {
        let kind = i["type"].as_str().unwrap_or("message");
        i["role"] == "assistant" || kind == "reasoning" || (kind.ends_with("_call") && !kind.ends_with("_output"))
    };
    let items = body.get("input").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut previous = false;
    let mut turns = 0;
    for i in &items {
        let now = by_model(i);
        if now && !previous {
            turns += 1;
        }
        previous = now;
    }
    turns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_round_trips_through_its_marker_and_turns_follow_the_conversation() {
        let reply = Reply::error(429, "slow down", "rate_limit_error", "rate_limit").header("retry-after", "7");
        let text = reply.marker();
        let body = json!({"messages": [{"role": "user", "content": format!("hello {text}")}]});
        let found = texts(&body).into_iter().find_map(|t| t.find(MARKER).map(|at| t[at + MARKER.len()..].to_owned()));
        assert_eq!(pick(&found.unwrap_or_default(), &body), Ok(reply));
        let turns = turns_marker(&[Reply::json(json!(1)), Reply::json(json!(2))]);
        let second = json!({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]});
        let script = &turns[MARKER.len()..];
        assert_eq!(pick(script, &second).map(|r| r.body), Ok(Some(json!(2))));
        assert!(pick(script, &json!({"messages": [{"role": "assistant"}, {"role": "assistant"}]})).is_err());
    }

    #[test]
    fn embeddings_inputs_carry_scripts_too() {
        let body = json!({"input": ["a", "b UPSTREAM:{}"]});
        assert_eq!(texts(&body), ["a", "b UPSTREAM:{}"]);
        assert_eq!(texts(&json!({"input": "x"})), ["x"]);
    }

    #[test]
    fn a_chat_script_asked_at_responses_turns_on_the_items_given() {
        let script = turns_marker(&[Reply::json(json!(1)), Reply::json(json!(2))]);
        let question = json!({"role": "user", "content": format!("q {script}")});
        let second = json!({"input": [question, {"type": "reasoning", "summary": []},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "x"}]});
        assert_eq!(texts(&second).len(), 1);
        assert_eq!(pick(&script[MARKER.len()..], &second).map(|r| r.body), Ok(Some(json!(2))));
    }
}
