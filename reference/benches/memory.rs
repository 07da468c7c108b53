//! Peak memory per large request (CONTRACT §11: an 8 MiB body must not cost more than 10× its size).
//!
//! For each scenario, a fresh server (freed memory an allocator keeps would hide the next peak):
//! one small request to warm it up, reset its peak RSS (`/proc/<pid>/clear_refs` ← 5), send one
//! 8 MiB body, read the new peak (`VmHWM`) and report the growth as a multiple of the body. Bodies: a
//! message whose content is 8 MiB of numbers (the attack that cost 70× before), a `messages` array
//! of numbers, one 8 MiB text message (what a real long prompt looks like), and the same numbers
//! through the OpenAI proxy, the agent mode of the shim and the Responses bridge.
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{start_fixed_upstream, start_miniagent};

const COMPLETION: &str = r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
const BODY_BYTES: usize = 8 * 1024 * 1024;

/// `prefix` + filler repeated to make the body `BODY_BYTES` long + `suffix`.
fn body(prefix: &str, unit: &str, suffix: &str) -> String {
    let mut s = String::with_capacity(BODY_BYTES + 64);
    s.push_str(prefix);
    while s.len() + unit.len() + suffix.len() < BODY_BYTES {
        s.push_str(unit);
    }
    s.push_str(suffix);
    s
}

fn numbers(prefix: &str, suffix: &str) -> String {
    body(&format!("{prefix}1"), ",1", suffix)
}

fn vm_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let (upstream, _) = start_fixed_upstream(COMPLETION);
    let base = format!("http://{upstream}/v1");
    let env = [("OPENAI_API_BASE", base.as_str()), ("OPENAI_API_KEY", "sk-bench"), ("MINI_AGENT_ALLOW_DUMMY", "1")];
    let scenarios: Vec<(&str, &str, String)> = vec![
        (
            "/agent/run, content = 8 MiB of numbers",
            "/agent/run",
            numbers(r#"{"model":"dummy","tool_backend":"echo","messages":[{"role":"user","content":["#, "]}]}"),
        ),
        ("/agent/run, messages = 8 MiB of numbers", "/agent/run", numbers(r#"{"model":"dummy","messages":["#, "]}")),
        (
            "/agent/run, one 8 MiB text message",
            "/agent/run",
            body(
                r#"{"model":"dummy","tool_backend":"echo","messages":[{"role":"user","content":""#,
                "abcdefgh",
                r#""}]}"#,
            ),
        ),
        (
            "/agent/run, 8 MiB in 190 000 strings",
            "/agent/run",
            body(
                r#"{"model":"dummy","tool_backend":"echo","messages":[{"role":"user","content":"hi","pad":["x""#,
                &format!(r#","{}""#, "y".repeat(40)),
                "]}]}",
            ),
        ),
        (
            "/v1/chat/completions (proxy), numbers",
            "/v1/chat/completions",
            numbers(r#"{"model":"openai/m","messages":[{"role":"user","content":["#, "]}]}"),
        ),
        (
            "/v1/chat/completions (agent mode), numbers",
            "/v1/chat/completions",
            numbers(r#"{"model":"dummy","tool_backend":"echo","messages":[{"role":"user","content":["#, "]}]}"),
        ),
        ("/v1/responses, input = numbers", "/v1/responses", numbers(r#"{"model":"openai/m","input":["#, "]}")),
    ];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = harness::http_client_builder().timeout(Duration::from_secs(120)).build().unwrap();
    println!("miniagent memory bench: one {} MiB body per scenario, peak RSS growth of the server", BODY_BYTES >> 20);
    for (name, path, body) in scenarios {
        let (server, addr) = start_miniagent(&["serve", "--max-body-bytes", "9000000"], &env);
        let pid = server.0.id();
        let warm = r#"{"model":"dummy","tool_backend":"echo","messages":[{"role":"user","content":"hi"}]}"#;
        let _ = rt.block_on(async { http.post(format!("http://{addr}/agent/run")).body(warm).send().await });
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let before = vm_kb(pid, "VmHWM:");
        let size = body.len();
        let status = rt.block_on(async {
            let r = http.post(format!("http://{addr}{path}")).body(body).send().await?;
            let status = r.status().as_u16();
            let text = r.text().await?;
            if status >= 400 && status != 413 {
                eprintln!("  {name}: {}", text.chars().take(160).collect::<String>());
            }
            Ok::<_, reqwest::Error>(status)
        });
        let peak = vm_kb(pid, "VmHWM:");
        let grew = (peak.saturating_sub(before) * 1024) as f64;
        println!(
            "{name:<46} HTTP {:<4} peak RSS +{:>6.1} MiB = {:>5.1}× the body",
            status.map_or_else(|e| format!("error: {e}"), |s| s.to_string()),
            grew / 1048576.0,
            grew / size as f64
        );
        drop(server);
    }
}
