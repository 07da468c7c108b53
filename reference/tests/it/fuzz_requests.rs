//! Hostile bodies against the three servers (CONTRACT §11): random bytes, truncated JSON, random
//! JSON of any shape, and valid requests with one field replaced by a random value — on every
//! POST route of the façade, exec-RPC and the sidecar. Whatever arrives: no panic, no 5xx, and an
//! error is a JSON object in the route's shape (`detail`, or OpenAI's `error` under `/v1/*`).
//!
//! Bounded: a fixed number of cases per server (`PROPTEST_CASES` overrides), each answered by the
//! in-process router.
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

/// Any JSON value, a few levels deep, with awkward strings and numbers.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(1e308),
            Just(-1e308),
            Just(0.5),
            Just(-0.0),
            any::<f64>().prop_filter("finite", |f| f.is_finite())
        ]
        .prop_map(|f| json!(f)),
        prop_oneof![
            ".{0,40}",
            Just("\u{0}\r\nX-Injected: 1".to_owned()),
            Just("../../etc/passwd".to_owned()),
            Just("http://169.254.169.254/latest/meta-data".to_owned()),
            Just("🦀".repeat(300)),
            Just("local".to_owned()),
            Just("dummy".to_owned()),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid body for `route` with one top-level field replaced (or added) with a random value.
fn mutated(valid: Value) -> impl Strategy<Value = Value> {
    let keys: Vec<String> = valid.as_object().unwrap().keys().cloned().collect();
    let extra = ["tool_backend", "max_iterations", "max_total_seconds", "tool_http_base_url", "stream", "timeout_sec"];
    let pick = prop::sample::select(keys.into_iter().chain(extra.iter().map(|s| (*s).to_owned())).collect::<Vec<_>>());
    (pick, any_json()).prop_map(move |(key, value)| {
        let mut body: Map<String, Value> = valid.as_object().unwrap().clone();
        body.insert(key, value);
        Value::Object(body)
    })
}

/// What a client might send: bytes, cut JSON, any JSON, or a valid request with one bad field.
fn body_for(valid: Value) -> impl Strategy<Value = Vec<u8>> {
    let text = valid.to_string();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        (0..text.len()).prop_map(move |cut| text.as_bytes()[..cut].to_vec()),
        any_json().prop_map(|v| v.to_string().into_bytes()),
        mutated(valid.clone()).prop_map(|v| v.to_string().into_bytes()),
        mutated(valid).prop_map(|v| v.to_string().into_bytes()),
    ]
}

async fn answer(router: &axum::Router, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let req = Request::post(path).header("content-type", "application/json").body(Body::from(body)).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    (status, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// No 5xx; an error is a JSON object saying why, in the route family's shape.
fn check(path: &str, status: u16, body: &[u8]) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(body);
    prop_assert!(status < 500, "{path}: HTTP {status}: {text}");
    if status >= 400 {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("{path}: not JSON ({e}): {text}")))?;
        let message = v.pointer("/error/message").or_else(|| v.get("detail")).or_else(|| v.get("error"));
        prop_assert!(message.is_some_and(|m| !m.is_null()), "{path}: HTTP {status} without a message: {text}");
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn the_facade_answers_every_body_with_a_4xx_or_a_success() {
    let state = miniagent::AppState::new(miniagent::Config::from_pairs([
        ("MINI_AGENT_ALLOW_DUMMY", "1"),
        ("MINI_AGENT_OPENAI_SHIM_MODE", "echo"),
        ("MINI_AGENT_TOOL_TIMEOUT_SEC", "2"),
    ]))
    .unwrap();
    let router = miniagent::app(state);
    let rt = runtime();
    let run = json!({"model": "dummy", "tool_backend": "echo", "messages": [{"role": "user", "content": "hi"}]});
    let chat = json!({"model": "dummy", "messages": [{"role": "user", "content": "hi"}]});
    let responses = json!({"model": "dummy", "input": "hi"});
    let routes = prop_oneof![
        body_for(run).prop_map(|b| ("/agent/run", b)),
        body_for(chat.clone()).prop_map(|b| ("/v1/chat/completions", b)),
        body_for(responses).prop_map(|b| ("/v1/responses", b)),
        body_for(json!({"model": "dummy", "input": "hi"})).prop_map(|b| ("/v1/embeddings", b)),
    ];
    proptest!(config(), |((path, body) in routes)| {
        let (status, answer) = rt.block_on(answer(&router, path, body));
        check(path, status, &answer)?;
    });
}

#[test]
fn exec_rpc_answers_every_body_with_a_4xx_or_a_success() {
    let router = miniagent::exec_rpc::app(miniagent::exec_rpc::ExecState::new(
        Default::default(),
        Default::default(),
        std::sync::Arc::new(miniagent::Sandbox::new(Default::default())),
    ));
    let rt = runtime();
    // A language no machine has: a mutated request must not run code for minutes.
    let valid = json!({"language": "cobol-77", "code": "print(1)", "timeout_sec": 1});
    proptest!(config(), |(body in body_for(valid))| {
        let (status, answer) = rt.block_on(answer(&router, "/exec", body));
        check("/exec", status, &answer)?;
    });
}

#[test]
fn the_sidecar_answers_every_body_with_a_4xx_or_a_success() {
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.json");
    std::fs::write(&auth, "{}").unwrap();
    let fake = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/sidecar/fake_codex.py");
    let pairs = [("CODEX_CMD", format!("python3 {fake}")), ("CODEX_AUTH_PATH", auth.display().to_string())];
    let sidecar = miniagent::sidecar::SidecarConfig::from_lookup(|k| {
        pairs.iter().find(|(name, _)| *name == k).map(|(_, v)| v.clone())
    });
    let router = miniagent::sidecar::app(
        miniagent::sidecar::SidecarState::new(sidecar, Default::default(), Default::default()).unwrap(),
    );
    let rt = runtime();
    let valid = json!({"model": "codex", "messages": [{"role": "user", "content": "hi"}]});
    proptest!(ProptestConfig { cases: config().cases / 2, ..config() }, |(body in body_for(valid))| {
        let (status, answer) = rt.block_on(answer(&router, "/v1/chat/completions", body));
        check("/v1/chat/completions", status, &answer)?;
    });
}
