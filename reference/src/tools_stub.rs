//! `miniagent tools-stub`: a small example tools server speaking the HTTP tools protocol
//! (`GET /tools`, `POST /invoke {name, arguments}`), for demos, the README and the live suite.
//!
//! Tools: `echo {text}` → `{"text": text}`; `add {a, b}` → `{"result": "<sum>"}`;
//! `word_count {text}` → `{"result": "<n>"}`; `upper {text}` → `{"text": TEXT}`. Arguments may be a
//! JSON string or an object, as the invoker passes them on as received. Unknown tools and bad
//! arguments are 4xx JSON answers.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::sync::Arc;

use crate::api::decode;
use crate::error::{ApiError, ToolError};
use crate::http::extract::{HasBodyLimit, LimitedBody};
use crate::http::health;
use crate::listen::Listen;

/// Default port of `miniagent tools-stub`.
pub const DEFAULT_PORT: u16 = 8791;

#[derive(Debug, Default)]
pub struct StubState {
    pub listen: Listen,
}

impl HasBodyLimit for Arc<StubState> {
    fn listen(&self) -> &Listen {
        &self.listen
    }
}

pub fn app(state: Arc<StubState>) -> Router {
    Router::new()
        .route("/tools", get(list))
        .route("/invoke", post(invoke))
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .with_state(state)
}

fn tool(name: &str, description: &str, params: Value, required: &[&str]) -> Value {
    json!({"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": params, "required": required}
    }})
}

/// The stub's tool definitions.
pub fn definitions() -> Vec<Value> {
    vec![
        tool("echo", "Echo the text back.", json!({"text": {"type": "string"}}), &["text"]),
        tool("add", "Add two numbers.", json!({"a": {"type": "number"}, "b": {"type": "number"}}), &["a", "b"]),
        tool("word_count", "Count the words of a text.", json!({"text": {"type": "string"}}), &["text"]),
        tool("upper", "Upper-case a text.", json!({"text": {"type": "string"}}), &["text"]),
    ]
}

async fn list() -> Json<Value> {
    Json(Value::Array(definitions()))
}

#[derive(serde::Deserialize)]
struct Invoke {
    name: String,
    #[serde(default)]
    arguments: Value,
}

async fn invoke(
    State(_): State<Arc<StubState>>,
    body: Result<LimitedBody, ApiError>,
) -> Result<Json<Value>, ToolError> {
    let LimitedBody(body) = body?;
    let req: Invoke = decode(&body)?;
    let args = arguments(&req.arguments)?;
    let text = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
    let number = |k: &str| args.get(k).and_then(Value::as_f64);
    let answer = match req.name.as_str() {
        "echo" => text("text").map(|t| json!({"text": t})),
        "upper" => text("text").map(|t| json!({"text": t.to_uppercase()})),
        "word_count" => text("text").map(|t| json!({"result": t.split_whitespace().count().to_string()})),
        "add" => match (number("a"), number("b")) {
            (Some(a), Some(b)) => Some(json!({"result": format_number(a + b)})),
            _ => None,
        },
        other => {
            let known: Vec<String> =
                definitions().iter().filter_map(|t| t.pointer("/function/name")?.as_str().map(str::to_owned)).collect();
            return Err(ApiError::NotFound(format!("unknown tool `{other}`; known: {}", known.join(", "))).into());
        }
    };
    answer.map(Json).ok_or_else(|| {
        ApiError::schema("arguments", format!("missing or mistyped arguments for `{}`", req.name)).into()
    })
}

/// The arguments as an object: a JSON object, or a string holding one (the invoker passes them on
/// as the model wrote them).
fn arguments(raw: &Value) -> Result<Map<String, Value>, ApiError> {
    crate::tools::call::parse_arguments(raw)
        .ok_or_else(|| ApiError::schema("arguments", "must be a JSON object (or a string holding one)"))
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}
