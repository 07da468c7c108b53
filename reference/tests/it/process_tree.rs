//! Local tools never leave processes behind: a timeout kills the whole tree (grandchildren
//! included), background stragglers die with their parent, and a cancelled call kills its tree —
//! with the sandbox (when bubblewrap works here) and without it (limits only).
//!
//! Processes are found on the host by a unique marker in their command line, so the check works
//! whether or not the tool ran in its own PID namespace (where its pids mean nothing out here).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use miniagent::ToolBackend;
use miniagent::ToolCall;
use miniagent::{LocalSettings, LocalTools};
use miniagent::{Sandbox, SandboxMode as Mode, SandboxSettings};
use serde_json::{Value, json};

fn tools(timeout: Duration, sandboxed: bool) -> LocalTools {
    let settings = SandboxSettings { mode: if sandboxed { Mode::Auto } else { Mode::Off }, ..Default::default() };
    LocalTools::new(LocalSettings { timeout, ..LocalSettings::default() }, Arc::new(Sandbox::new(settings)))
}

fn python(code: &str) -> ToolCall {
    ToolCall::new("c1", "exec_python", Value::String(json!({ "code": code }).to_string()))
}

/// A `sleep` argument no other process on the machine has.
fn marker() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("3{}.{}", std::process::id() % 1000, nanos % 1_000_000)
}

/// Live (non-zombie) host processes whose command line contains `needle`.
fn running(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(needle)
        })
        .count()
}

fn gone_within(needle: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if running(needle) == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

async fn a_timeout_kills_the_grandchild_too(sandboxed: bool) {
    let m = marker();
    let code = format!("import subprocess, time\np = subprocess.Popen(['sleep', '{m}'])\ntime.sleep(30)");
    let started = Instant::now();
    let result = tools(Duration::from_secs(1), sandboxed).invoke(&python(&code)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "the timeout must not wait for the tree");
    assert_eq!((result.ok, result.error.as_deref()), (false, Some("timeout after 1s")), "{result:?}");
    assert!(gone_within(&m, Duration::from_secs(3)), "grandchild `sleep {m}` survived the timeout");
}

async fn background_stragglers_die_with_a_clean_exit(sandboxed: bool) {
    let m = marker();
    let code = format!("import subprocess\nsubprocess.Popen(['sleep', '{m}'])\nprint('started', flush=True)");
    let started = Instant::now();
    let result = tools(Duration::from_secs(10), sandboxed).invoke(&python(&code)).await;
    assert!(result.ok, "{result:?}");
    assert_eq!(result.stdout.as_deref(), Some("started\n"));
    assert!(started.elapsed() < Duration::from_secs(5), "a straggler holding the pipe must not stall the call");
    assert!(gone_within(&m, Duration::from_secs(3)), "straggler `sleep {m}` outlived its parent");
}

async fn a_cancelled_call_kills_its_tree(sandboxed: bool) {
    let m = marker();
    let code = format!("import subprocess, time\nsubprocess.Popen(['sleep', '{m}'])\ntime.sleep(30)");
    let tools = tools(Duration::from_secs(30), sandboxed);
    let call = python(&code);
    // Run the call until its grandchild is up, then drop it (a client that hung up): the tree must
    // not keep running.
    let seen = {
        let run = tools.invoke(&call);
        tokio::pin!(run);
        let appeared = async {
            let deadline = Instant::now() + Duration::from_secs(10);
            while running(&m) == 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            running(&m) > 0
        };
        tokio::select! {
            _ = &mut run => panic!("the call cannot finish before it is cancelled"),
            seen = appeared => seen,
        }
    };
    assert!(seen, "the grandchild `sleep {m}` never started");
    assert!(gone_within(&m, Duration::from_secs(3)), "grandchild `sleep {m}` survived the cancelled call");
}

#[tokio::test]
async fn a_timeout_kills_the_grandchild_too_in_the_sandbox() {
    a_timeout_kills_the_grandchild_too(true).await;
}

#[tokio::test]
async fn a_timeout_kills_the_grandchild_too_without_the_sandbox() {
    a_timeout_kills_the_grandchild_too(false).await;
}

#[tokio::test]
async fn background_stragglers_die_with_a_clean_exit_in_the_sandbox() {
    background_stragglers_die_with_a_clean_exit(true).await;
}

#[tokio::test]
async fn background_stragglers_die_with_a_clean_exit_without_the_sandbox() {
    background_stragglers_die_with_a_clean_exit(false).await;
}

#[tokio::test]
async fn a_cancelled_call_kills_its_tree_in_the_sandbox() {
    a_cancelled_call_kills_its_tree(true).await;
}

#[tokio::test]
async fn a_cancelled_call_kills_its_tree_without_the_sandbox() {
    a_cancelled_call_kills_its_tree(false).await;
}
