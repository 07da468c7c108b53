//! The codex sidecar in-process, driving a fake coding CLI (`fixtures/sidecar/fake_codex.py`) as a
//! real subprocess: echo mode, the auth preflight (and `CODEX_HOME`, `CODEX_REQUIRE_AUTH_FILE=0`),
//! input modes (a prompt after `--`), system messages as instructions, JSONL reduction and usage,
//! timeouts that kill the tree, retries on exit 75, failures quoting the CLI's own report,
//! concurrency, streaming each message as it comes. The real Codex CLI is driven in
//! `tests/codex_cli.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use miniagent::sidecar::{SidecarConfig, SidecarState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/sidecar/fake_codex.py");

struct Setup {
    router: axum::Router,
    /// Holds the auth file for the test's lifetime.
    _dir: tempfile::TempDir,
}

fn setup(env: &[(&str, &str)], with_auth: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.json");
    if with_auth {
        std::fs::write(&auth, "{}").unwrap();
    }
    let mut map: HashMap<String, String> = HashMap::from([
        ("CODEX_CMD".into(), format!("python3 {FAKE}")),
        ("CODEX_AUTH_PATH".into(), auth.display().to_string()),
    ]);
    map.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = SidecarConfig::from_lookup(|k| map.get(k).cloned());
    Setup { router: app(SidecarState::new(config, Default::default(), Default::default()).unwrap()), _dir: dir }
}

async fn chat(router: &axum::Router, prompt: &str, extra: Value) -> (u16, String) {
    let body = json!({"model": "codex", "messages": [{"role": "user", "content": prompt}]});
    send(router, body, extra).await
}

async fn send(router: &axum::Router, mut body: Value, extra: Value) -> (u16, String) {
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let req = Request::post("/v1/chat/completions").body(Body::from(body.to_string())).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    (status, String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned())
}

fn content(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn echo_mode_needs_no_credentials() {
    let s = setup(&[("CODEX_SIDECAR_ECHO", "1")], false);
    let (status, body) = chat(&s.router, "hello", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content(&body), "echo: hello");
    let res = s.router.clone().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    let health: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        (health["ok"].clone(), health["concurrency"].clone(), health["auth_present"].clone()),
        (json!(true), json!(4), json!(false))
    );
}

#[tokio::test]
async fn missing_auth_is_401_with_the_runbooks_advice() {
    let s = setup(&[], false);
    let (status, body) = chat(&s.router, "hello", json!({})).await;
    assert_eq!(status, 401);
    let message = serde_json::from_str::<Value>(&body).unwrap()["error"]["message"].as_str().unwrap().to_owned();
    for needle in ["auth.json", "CODEX_AUTH_PATH", "CODEX_SIDECAR_ECHO=1", "CODEX_REQUIRE_AUTH_FILE=0"] {
        assert!(message.contains(needle), "{message}");
    }
}

#[tokio::test]
async fn the_auth_file_is_looked_for_in_codex_home_and_need_not_exist_for_a_keyed_provider() {
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_str().unwrap();
    let router = |env: &[(&str, &str)]| {
        let mut map: HashMap<String, String> = HashMap::from([("CODEX_CMD".into(), format!("python3 {FAKE}"))]);
        map.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        app(SidecarState::new(
            SidecarConfig::from_lookup(|k| map.get(k).cloned()),
            Default::default(),
            Default::default(),
        )
        .unwrap())
    };
    let (status, body) = chat(&router(&[("CODEX_HOME", home_str)]), "hi", json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains(&format!("{home_str}/auth.json")), "{body}");
    std::fs::write(home.path().join("auth.json"), "{}").unwrap();
    assert_eq!(chat(&router(&[("CODEX_HOME", home_str)]), "hi", json!({})).await.0, 200);
    let empty = tempfile::tempdir().unwrap();
    let keyed = router(&[("CODEX_HOME", empty.path().to_str().unwrap()), ("CODEX_REQUIRE_AUTH_FILE", "0")]);
    let (status, body) = chat(&keyed, "hi", json!({})).await;
    assert_eq!((status, content(&body)), (200, "final: hi".to_owned()));
}

#[tokio::test]
async fn every_input_mode_reaches_the_cli_and_the_last_agent_message_wins() {
    for mode in ["stdin", "flag", "json"] {
        let s = setup(&[("CODEX_INPUT_MODE", mode)], true);
        let (status, body) = chat(&s.router, "write a haiku", json!({})).await;
        assert_eq!(status, 200, "{mode}: {body}");
        assert_eq!(content(&body), "final: write a haiku", "{mode}");
        let usage: Value = serde_json::from_str::<Value>(&body).unwrap()["usage"].clone();
        assert_eq!(
            (usage["prompt_tokens"].as_u64(), usage["completion_tokens"].as_u64(), usage["total_tokens"].as_u64()),
            (Some(3), Some(2), Some(5)),
            "usage from turn.completed: {usage}"
        );
        assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 1);
    }
}

#[tokio::test]
async fn a_prompt_that_looks_like_an_option_is_never_read_as_one() {
    let s = setup(&[("CODEX_INPUT_MODE", "flag")], true);
    for prompt in ["--version", "-h", "-c model=evil do it"] {
        let (status, body) = chat(&s.router, prompt, json!({})).await;
        assert_eq!(status, 200, "{prompt}: {body}");
        assert_eq!(content(&body), format!("final: {prompt}"));
    }
}

#[tokio::test]
async fn system_messages_reach_the_cli_as_instructions_not_as_prompt_text() {
    let messages = json!([
        {"role": "system", "content": "Answer in \"French\".\nAlways."},
        {"role": "user", "content": "say hi"}
    ]);
    for mode in ["stdin", "flag", "json"] {
        let s = setup(&[("CODEX_INPUT_MODE", mode)], true);
        let (status, body) = send(&s.router, json!({"model": "codex", "messages": messages}), json!({})).await;
        assert_eq!(status, 200, "{mode}: {body}");
        assert_eq!(content(&body), "final: say hi [instructions: Answer in \"French\".\nAlways.]", "{mode}");
    }
}

/// Alive means present in /proc and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
}

#[tokio::test]
async fn silence_is_a_504_and_the_tree_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // The fake learns where to write its grandchild's pid through `env` in CODEX_CMD.
    let cmd = format!("env FAKE_CODEX_PIDFILE={} python3 {FAKE}", pidfile.display());
    let s2 = setup(&[("IDLE_TIMEOUT_S", "1"), ("CODEX_CMD", &cmd)], true);
    let started = Instant::now();
    let (status, body) = chat(&s2.router, "[grandchild]", json!({})).await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("IDLE_TIMEOUT_S"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "the CLI's grandchild {pid} survived the timeout");
}

#[tokio::test]
async fn the_absolute_timeout_applies_even_while_the_cli_talks() {
    let s = setup(&[("ABS_TIMEOUT_S", "1"), ("IDLE_TIMEOUT_S", "30")], true);
    let (status, body) = chat(&s.router, "[slow=5]", json!({})).await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("ABS_TIMEOUT_S"), "{body}");
}

#[tokio::test]
async fn exit_75_is_retried_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cmd = format!("env FAKE_CODEX_STATE={} python3 {FAKE}", state.display());
    let s = setup(&[("CODEX_CMD", &cmd)], true);
    let (status, body) = chat(&s.router, "[exit75-once] go", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content(&body), "final: [exit75-once] go");

    std::fs::remove_file(&state).unwrap();
    let s = setup(&[("CODEX_CMD", &cmd), ("RETRIES", "0")], true);
    let (status, body) = chat(&s.router, "[exit75-once] go", json!({})).await;
    assert_eq!(status, 502, "without retries the temporary failure surfaces: {body}");
    assert!(body.contains("code 75"), "{body}");
}

#[tokio::test]
async fn failures_say_what_the_cli_said() {
    let s = setup(&[], true);
    let (status, body) = chat(&s.router, "[fail]", json!({})).await;
    assert_eq!(status, 502);
    assert!(body.contains("code 2") && body.contains("quota exhausted"), "{body}");
    let (status, body) = chat(&s.router, "[quiet]", json!({})).await;
    assert_eq!(status, 502);
    assert!(body.contains("without an agent message"), "{body}");
    // The CLI's own report comes first, the end of its stderr after it.
    let (status, body) = chat(&s.router, "[jsonl-fail]", json!({})).await;
    assert_eq!(status, 502);
    let message = serde_json::from_str::<Value>(&body).unwrap()["error"]["message"].as_str().unwrap().to_owned();
    let (reported, warning) = (message.find("model not found (fake)"), message.find("could not update PATH"));
    assert!(reported.is_some() && warning.is_some() && reported < warning, "{message}");
    let (status, body) = chat(&s.router, "[jsonl-fail]", json!({"stream": true})).await;
    assert_eq!(status, 502, "a run that fails before its first message is a real error status: {body}");
    let s = setup(&[("CODEX_CMD", "no-such-cli-xyz exec")], true);
    let (status, body) = chat(&s.router, "hi", json!({})).await;
    assert_eq!(status, 502);
    assert!(body.contains("no-such-cli-xyz") && body.contains("CODEX_CMD"), "{body}");
}

#[tokio::test]
async fn at_most_max_concurrency_clis_run_at_once() {
    // Each fake CLI logs when it ran (CLOCK_MONOTONIC, shared by all processes): whether two runs
    // overlapped does not depend on how loaded the machine is.
    async fn overlapped(max: &str) -> bool {
        let s = setup(&[("MAX_CONCURRENCY", max)], true);
        let log = s._dir.path().join("runs.log");
        let prompt = |name: &str| format!("[slow=0.4] [log={}] {name}", log.display());
        let (pa, pb) = (prompt("a"), prompt("b"));
        let (a, b) = tokio::join!(chat(&s.router, &pa, json!({})), chat(&s.router, &pb, json!({})));
        assert_eq!((a.0, b.0), (200, 200));
        let runs: Vec<(f64, f64)> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| l.split_once(' ').map(|(s, e)| (s.parse().unwrap(), e.parse().unwrap())).unwrap())
            .collect();
        assert_eq!(runs.len(), 2);
        runs[0].0 < runs[1].1 && runs[1].0 < runs[0].1
    }
    assert!(!overlapped("1").await, "MAX_CONCURRENCY=1 ran two CLIs at once");
    assert!(overlapped("2").await, "MAX_CONCURRENCY=2 ran the two CLIs one after the other");
}

fn stream_data(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn streaming_relays_each_agent_message_with_usage_and_done() {
    let s = setup(&[], true);
    let (status, body) =
        chat(&s.router, "stream me", json!({"stream": true, "stream_options": {"include_usage": true}})).await;
    assert_eq!(status, 200);
    assert_eq!(body.lines().filter_map(|l| l.strip_prefix("data: ")).next_back(), Some("[DONE]"));
    let chunks = stream_data(&body);
    let text: String =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_owned)).collect();
    assert_eq!(text, "first draft\n\nfinal: stream me", "every agent message, in order");
    assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 5);
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn a_streamed_message_arrives_while_the_cli_still_works() {
    let s = setup(&[], true);
    let body = json!({"model": "codex", "stream": true, "messages": [{"role": "user", "content": "[gap=1.5] go"}]});
    let req = Request::post("/v1/chat/completions").body(Body::from(body.to_string())).unwrap();
    let started = Instant::now();
    let res = s.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    let first = loop {
        let frame = body.frame().await.unwrap().unwrap();
        if let Some(data) = frame.data_ref().filter(|d| d.windows(11).any(|w| w == b"first draft")) {
            break String::from_utf8_lossy(data).into_owned();
        }
    };
    let at = started.elapsed();
    assert!(at < Duration::from_millis(1400), "the first message came after {at:?}: {first}");
    let rest = String::from_utf8_lossy(&body.collect().await.unwrap().to_bytes()).into_owned();
    assert!(rest.contains("final: [gap=1.5] go") && started.elapsed() >= Duration::from_millis(1500), "{rest}");
}
