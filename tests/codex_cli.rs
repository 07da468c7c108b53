//! The real Codex CLI through miniagent (CONTRACT §1 `/v1/responses` and §8, turn 3): OpenAI's own
//! binary (`openai-codex-cli-bin`, pinned in `fixtures/python/requirements-codex.txt`, `make
//! py-venvs`), run unmodified with a `CODEX_HOME` each test writes — a `model_providers` entry
//! pointing at `miniagent serve` with `wire_api = "responses"` and an `env_key` — and Codex's
//! **default** feature set, so every request offers the `multi_agent_v1` namespace and `web_search`.
//!
//! Behind `miniagent serve` is the suite's provider fake, whose `auto-…` model answers from the
//! request's shape: a plain prompt gets `Hello from fake`; "run `echo 42`" gets a call of Codex's
//! shell tool, then, once its output comes back, `Final answer: <the output>`. Each test asserts
//! what Codex printed (its JSONL) and what the fake received: bridged (the default for a provider
//! that is not OpenAI itself) and passed through (`MINI_AGENT_RESPONSES_MODE=passthrough`), then
//! through `miniagent sidecar` (streamed and not, usage carried, a system message as Codex's
//! instructions), then `miniagent doctor` against that stack.
//!
//! Codex reaches nothing but loopback: its provider is on 127.0.0.1, and every other connection it
//! tries (0.163: `github.com`, `api.github.com`, `chatgpt.com` — its plugin and account syncs) goes
//! through `HTTP(S)_PROXY` to a loopback sink that records and closes it (`NO_PROXY` keeps the
//! provider direct; with a proxy set Codex resolves no outside name either). Analytics and update
//! checks are off in its config; `approval_policy = "never"` and `sandbox_mode = "danger-full-access"` let it run
//! `echo 42` without its own sandbox, the same way on every machine. Every run is bounded. A missing
//! Codex is an ignored test with the reason (a failure under `MINIAGENT_REQUIRE_PY_PEERS=1`).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use common::{or_ignore, trial};
use conformance::fakes::ProviderFake;
use conformance::fakes::openai_upstream::{Received, received_containing};
use harness::ServerProcess;
use libtest_mimic::Completion;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// The key Codex sends (its `env_key`), one of `miniagent serve`'s API keys.
const CLIENT_KEY: &str = "sk-codex-client-3c9e51";
/// The key `miniagent serve` sends its provider.
const UPSTREAM_KEY: &str = "sk-upstream-codex-71a2d4";
/// The variable Codex reads its key from.
const KEY_VAR: &str = "MINIAGENT_TEST_KEY";
/// The fake's model, as Codex names it.
const MODEL: &str = "auto-codex";
/// How long one Codex run may take (a turn is about a second here; the first start is slower).
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// Where Codex's outside connections go: a loopback listener that reads each proxy request's first
/// line (`CONNECT chatgpt.com:443 HTTP/1.1`), records it and closes the connection.
struct Sink {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut head = [0u8; 512];
                    let n = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut head))
                        .await
                        .ok()
                        .and_then(Result::ok);
                    let first =
                        String::from_utf8_lossy(&head[..n.unwrap_or(0)]).lines().next().unwrap_or("").to_owned();
                    record.lock().unwrap().push(first);
                });
            }
        });
        Self { url, seen }
    }

    /// The first lines seen so far.
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A Codex home and working directory, and the environment Codex runs with.
struct Codex {
    bin: PathBuf,
    home: tempfile::TempDir,
    sink: Sink,
}

impl Codex {
    /// Writes `config.toml` pointing Codex at the server at `base`, with the fake's `auto-codex`.
    async fn new(bin: PathBuf, base: &str) -> Self {
        Self::with_model(bin, base, MODEL).await
    }

    async fn with_model(bin: PathBuf, base: &str, model: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        for dir in ["codex-home", "work"] {
            std::fs::create_dir_all(home.path().join(dir)).unwrap();
        }
        let config = format!(
            r#"model = "{model}"
model_provider = "miniagent"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.miniagent]
name = "miniagent"
base_url = "{base}/v1"
env_key = "{KEY_VAR}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"#
        );
        std::fs::write(home.path().join("codex-home/config.toml"), config).unwrap();
        Self { bin, home, sink: Sink::start().await }
    }

    fn codex_home(&self) -> PathBuf {
        self.home.path().join("codex-home")
    }

    fn work(&self) -> PathBuf {
        self.home.path().join("work")
    }

    /// Everything Codex's process gets: no variable of the test's own environment.
    fn env(&self) -> Vec<(String, String)> {
        let bin_dir = self.bin.parent().unwrap().display().to_string();
        let mut env = vec![
            ("PATH".to_owned(), format!("{bin_dir}:/usr/local/bin:/usr/bin:/bin")),
            ("HOME".to_owned(), self.home.path().display().to_string()),
            ("CODEX_HOME".to_owned(), self.codex_home().display().to_string()),
            (KEY_VAR.to_owned(), CLIENT_KEY.to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ];
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
            env.push((name.to_owned(), self.sink.url.clone()));
        }
        for name in ["NO_PROXY", "no_proxy"] {
            env.push((name.to_owned(), "127.0.0.1,localhost".to_owned()));
        }
        env
    }

    /// `codex exec --json --skip-git-repo-check --strict-config <prompt>`: its JSONL events, after
    /// asserting that it succeeded in time.
    async fn exec(&self, prompt: &str) -> Vec<Value> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(["exec", "--json", "--skip-git-repo-check", "--strict-config", "--", prompt])
            .env_clear()
            .envs(self.env())
            .current_dir(self.work())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let out = tokio::time::timeout(RUN_TIMEOUT, cmd.output()).await.expect("codex did not finish in time").unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        eprintln!("codex exec: {:.1} s; sunk: {:?}", started.elapsed().as_secs_f64(), self.sink.seen());
        assert!(out.status.success(), "codex failed ({}):\n{stdout}\n{stderr}", out.status);
        stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

/// The items of `kind` Codex reported completed.
fn completed<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == "item.completed" && e["item"]["type"] == kind).map(|e| &e["item"]).collect()
}

/// `miniagent serve` in proxy mode, the fake its default provider, Codex's key its only API key.
fn serve(fake: &ProviderFake, extra: &[(&str, &str)]) -> ServerProcess {
    let base = fake.base_url();
    let mut env =
        vec![("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY", UPSTREAM_KEY), ("MINI_AGENT_API_KEYS", CLIENT_KEY)];
    env.extend_from_slice(extra);
    ServerProcess::start(&cargo_bin("miniagent"), &["serve", "--port", "0"], &env).unwrap()
}

/// What the fake received whose body holds `needle`.
async fn received(fake: &ProviderFake, needle: &str) -> Vec<Received> {
    received_containing(fake.server(), needle).await
}

/// No key in any log line: Codex's, nor the one sent upstream (CONTRACT §11).
fn assert_no_key_in(logs: &[String]) {
    for line in logs {
        assert!(!line.contains(CLIENT_KEY) && !line.contains(UPSTREAM_KEY), "a key in the log: {line}");
    }
}

fn unique(label: &str) -> String {
    format!("{label}-{}", harness::unique())
}

async fn a_plain_turn_bridged() -> Completion {
    let bin = or_ignore!(harness::codex_cli());
    let fake = ProviderFake::start(None).await.unwrap();
    let server = serve(&fake, &[]);
    let codex = Codex::new(bin, &server.base_url()).await;
    let marker = unique("plain");
    let events = codex.exec(&format!("Say hi. ({marker})")).await;
    let answers: Vec<&str> = completed(&events, "agent_message").iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(answers, ["Hello from fake"], "{events:#?}");
    let got = received(&fake, &marker).await;
    assert_eq!(got.len(), 1, "one model call");
    assert!(got[0].path.ends_with("/chat/completions"), "bridged onto chat: {}", got[0].path);
    assert_eq!(got[0].header("authorization"), Some(format!("Bearer {UPSTREAM_KEY}").as_str()));
    let tools = got[0].body["tools"].as_array().cloned().unwrap_or_default();
    assert!(tools.iter().all(|t| t["type"] == "function"), "only function tools upstream: {tools:?}");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["function"]["name"].as_str()).collect();
    assert!(names.contains(&"exec_command"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("multi_agent_v1__")), "the namespace, flattened: {names:?}");
    let logs = server.drain_logs();
    assert!(
        logs.iter().any(|l| l.contains("not carried") && l.contains("=web_search")),
        "the dropped web_search is logged:\n{}",
        logs.join("\n")
    );
    assert_no_key_in(&logs);
    Completion::Completed
}

/// The shell-tool turn: Codex runs `echo 42` and its output reaches the model. Returns what the
/// fake received.
async fn shell_turn(codex: &Codex, fake: &ProviderFake) -> Vec<Received> {
    let marker = unique("shell");
    let events = codex.exec(&format!("Please run `echo 42` and tell me what it printed. ({marker})")).await;
    let commands = completed(&events, "command_execution");
    assert_eq!(commands.len(), 1, "{events:#?}");
    assert_eq!((commands[0]["exit_code"].as_i64(), commands[0]["aggregated_output"].as_str()), (Some(0), Some("42\n")));
    let answer =
        completed(&events, "agent_message").last().and_then(|m| m["text"].as_str()).unwrap_or_default().to_owned();
    assert!(answer.starts_with("Final answer:") && answer.contains("42"), "{answer}");
    let turn = events.iter().find(|e| e["type"] == "turn.completed").expect("turn.completed");
    assert_eq!(turn["usage"]["input_tokens"], 20, "two model calls of 10 input tokens: {turn}");
    let got = received(fake, &marker).await;
    assert_eq!(got.len(), 2, "the call, then the answer");
    got
}

async fn a_shell_turn_bridged() -> Completion {
    let bin = or_ignore!(harness::codex_cli());
    let fake = ProviderFake::start(None).await.unwrap();
    let server = serve(&fake, &[]);
    let codex = Codex::new(bin, &server.base_url()).await;
    let got = shell_turn(&codex, &fake).await;
    let messages = got[1].body["messages"].as_array().cloned().unwrap_or_default();
    let call = messages.iter().rev().find_map(|m| m["tool_calls"].get(0)).expect("the replayed call");
    assert_eq!(call["function"]["name"], "exec_command");
    let output = messages.last().unwrap();
    assert_eq!(output["role"], "tool");
    assert!(
        output["content"].as_str().unwrap_or_default().contains("42"),
        "the tool output reached the model: {output}"
    );
    assert_no_key_in(&server.drain_logs());
    Completion::Completed
}

async fn a_shell_turn_passed_through() -> Completion {
    let bin = or_ignore!(harness::codex_cli());
    let fake = ProviderFake::start(None).await.unwrap();
    let server = serve(&fake, &[("MINI_AGENT_RESPONSES_MODE", "passthrough")]);
    let codex = Codex::new(bin, &server.base_url()).await;
    let got = shell_turn(&codex, &fake).await;
    assert!(got.iter().all(|r| r.path.ends_with("/v1/responses")), "passed through to /responses");
    let tools = got[0].body["tools"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = tools.iter().filter_map(|t| t["type"].as_str()).collect();
    assert!(
        kinds.contains(&"web_search") && kinds.contains(&"namespace"),
        "hosted tools passed as they are: {kinds:?}"
    );
    assert_eq!(got[0].body["model"], MODEL);
    let input = got[1].body["input"].as_array().cloned().unwrap_or_default();
    let output = input.iter().rev().find(|i| i["type"] == "function_call_output").expect("the tool output");
    assert!(output["output"].as_str().unwrap_or_default().contains("42"), "{output}");
    Completion::Completed
}

/// `miniagent sidecar` running that Codex by its default command (`codex` on its `PATH`), with no
/// auth file: Codex's provider authenticates by key.
fn sidecar(codex: &Codex) -> ServerProcess {
    let env = codex.env();
    let work = codex.work().display().to_string();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.extend([
        ("CODEX_REQUIRE_AUTH_FILE", "0"),
        ("CODEX_WORKDIR", work.as_str()),
        ("ABS_TIMEOUT_S", "90"),
        ("IDLE_TIMEOUT_S", "60"),
        ("RETRIES", "0"),
    ]);
    ServerProcess::start(&cargo_bin("miniagent"), &["sidecar", "--port", "0"], &pairs).unwrap()
}

fn usage_of(v: &Value) -> (u64, u64, u64) {
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    (n("prompt_tokens"), n("completion_tokens"), n("total_tokens"))
}

async fn through_the_sidecar() -> Completion {
    let bin = or_ignore!(harness::codex_cli());
    let fake = ProviderFake::start(None).await.unwrap();
    let server = serve(&fake, &[]);
    let codex = Codex::new(bin, &server.base_url()).await;
    let side = sidecar(&codex);
    let (marker, rule) = (unique("sidecar"), "Answer in one line.");
    let body = json!({"model": "codex", "messages": [
        {"role": "system", "content": rule},
        {"role": "user", "content": format!("Please run `echo 42` and tell me what it printed. ({marker})")}]});
    let (status, answer) = common::post_json(format!("{}/v1/chat/completions", side.base_url()), &body).await;
    assert_eq!(status, 200, "{answer}");
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap_or_default();
    assert!(content.starts_with("Final answer:") && content.contains("42"), "{answer}");
    assert_eq!(usage_of(&answer["usage"]), (20, 10, 30), "usage from turn.completed: {answer}");
    let got = received(&fake, &marker).await;
    assert_eq!(got.len(), 2);
    let messages = got[0].body["messages"].as_array().cloned().unwrap_or_default();
    let text = |m: &Value| m["content"].as_str().map(str::to_owned).unwrap_or_else(|| m["content"].to_string());
    assert!(messages.iter().any(|m| m["role"] == "system" && text(m).contains(rule)), "the rule as instructions");
    assert!(
        messages.iter().filter(|m| m["role"] == "user").all(|m| !text(m).contains(rule)),
        "the rule is not prompt text"
    );
    streamed(&side, &fake).await;
    Completion::Completed
}

/// A Codex run that fails (its provider answers 400): the sidecar's 502 quotes what Codex reported
/// in its JSONL before anything of its stderr.
async fn a_failing_run_through_the_sidecar() -> Completion {
    let bin = or_ignore!(harness::codex_cli());
    let fake = ProviderFake::start(None).await.unwrap();
    let server = serve(&fake, &[]);
    let codex = Codex::with_model(bin, &server.base_url(), "auto-err400").await;
    let side = sidecar(&codex);
    let body = json!({"model": "codex", "messages": [{"role": "user", "content": "hi"}]});
    let (status, answer) = common::post_json(format!("{}/v1/chat/completions", side.base_url()), &body).await;
    assert_eq!(status, 502, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("exited with code 1: bad request (fake)"), "Codex's own report first: {message}");
    Completion::Completed
}

/// A `/v1/responses` request miniagent refuses itself is logged: route, field, the key's name and
/// the request id — never the key.
async fn a_refused_request_is_logged() -> Completion {
    let fake = ProviderFake::start(None).await.unwrap();
    let server = serve(&fake, &[("MINI_AGENT_RESPONSES_HOSTED_TOOLS", "reject")]);
    let res = harness::http_client()
        .post(format!("{}/v1/responses", server.base_url()))
        .bearer_auth(CLIENT_KEY)
        .header("x-request-id", "req-codex-refused")
        .json(&json!({"model": MODEL, "input": "hi", "tools": [{"type": "web_search"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut logs = Vec::new();
    while Instant::now() < deadline && !logs.iter().any(|l: &String| l.contains("req-codex-refused")) {
        logs.extend(server.drain_logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let line = logs.iter().find(|l| l.contains("req-codex-refused")).unwrap_or_else(|| panic!("{logs:#?}"));
    for needle in ["/v1/responses", "tools[0].type", "WARN"] {
        assert!(line.contains(needle), "`{needle}` in {line}");
    }
    assert!(line.contains("key="), "the key's name: {line}");
    assert_no_key_in(&logs);
    Completion::Completed
}

/// A streamed request: Codex's message relayed, then usage and `[DONE]`.
async fn streamed(side: &ServerProcess, fake: &ProviderFake) {
    let marker = unique("stream");
    let body = json!({"model": "codex", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": format!("Say hi. ({marker})")}]});
    let res = harness::http_client()
        .post(format!("{}/v1/chat/completions", side.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> = data.iter().filter_map(|d| serde_json::from_str(d).ok()).collect();
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "Hello from fake");
    assert_eq!(usage_of(&chunks.last().unwrap()["usage"]), (10, 5, 15), "{text}");
    assert_eq!(received(fake, &marker).await.len(), 1);
}

async fn doctor_against_the_codex_stack() -> Completion {
    let bin = or_ignore!(harness::codex_cli());
    let fake = ProviderFake::start(None).await.unwrap();
    let server = serve(&fake, &[]);
    let codex = Codex::new(bin, &server.base_url()).await;
    let side = sidecar(&codex);
    let mut cmd = assert_cmd::Command::cargo_bin("miniagent").unwrap();
    cmd.args(["doctor", "--json"]).timeout(Duration::from_secs(120)).env("HOME", codex.home.path());
    let codex_home = codex.codex_home();
    for (k, v) in [
        ("MINI_AGENT_URL", server.base_url().as_str()),
        ("LITELLM_ENABLE_CODEX_AGENT", "1"),
        ("CODEX_AGENT_API_BASE", side.base_url().as_str()),
        ("SCILLM_RETRY_META", "1"),
        ("CODEX_AGENT_ENABLE_METRICS", "1"),
        ("CODEX_HOME", codex_home.to_str().unwrap()),
        ("CODEX_REQUIRE_AUTH_FILE", "0"),
    ] {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(out.status.success(), "{report:#}");
    for check in report["checks"].as_array().unwrap() {
        assert_eq!(check["status"], "ok", "{check}");
    }
    let probe = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "parallel echo probe").unwrap();
    assert!(probe["detail"].as_str().unwrap().contains("Hello from fake"), "{probe}");
    let auth = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "auth file").unwrap();
    assert!(auth["detail"].as_str().unwrap().contains(&codex_home.join("auth.json").display().to_string()), "{auth}");
    Completion::Completed
}

fn main() {
    common::run_trials(vec![
        trial("a_plain_turn_bridged", a_plain_turn_bridged),
        trial("a_shell_turn_bridged", a_shell_turn_bridged),
        trial("a_shell_turn_passed_through", a_shell_turn_passed_through),
        trial("through_the_sidecar", through_the_sidecar),
        trial("a_failing_run_through_the_sidecar", a_failing_run_through_the_sidecar),
        trial("a_refused_request_is_logged", a_refused_request_is_logged),
        trial("doctor_against_the_codex_stack", doctor_against_the_codex_stack),
    ])
}
