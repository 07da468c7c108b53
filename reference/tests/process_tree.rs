//! Local tools never leave processes behind: a timeout kills the whole tree (grandchildren
//! included), background stragglers die with their parent, and a cancelled call kills its tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use miniagent::tools::ToolBackend;
use miniagent::tools::call::ToolCall;
use miniagent::tools::local::{LocalSettings, LocalTools};
use serde_json::{Value, json};

fn tools(timeout: Duration) -> LocalTools {
    LocalTools::new(LocalSettings { timeout, ..LocalSettings::default() })
}

fn python(code: &str) -> ToolCall {
    ToolCall::new("c1", "exec_python", Value::String(json!({ "code": code }).to_string()))
}

/// Alive means present in /proc and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn gone_within(pid: u32, limit: Duration) -> bool {
    assert!(alive(std::process::id()), "the liveness check must see a live process as alive");
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn pid_from(stdout: &Value) -> u32 {
    stdout.as_str().and_then(|s| s.split_whitespace().next()).and_then(|p| p.parse().ok()).expect("a pid on stdout")
}

#[tokio::test]
async fn a_timeout_kills_the_grandchild_too() {
    let code =
        "import subprocess, time\np = subprocess.Popen(['sleep', '30'])\nprint(p.pid, flush=True)\ntime.sleep(30)";
    let started = Instant::now();
    let result = tools(Duration::from_secs(1)).invoke(&python(code)).await.to_json();
    assert!(started.elapsed() < Duration::from_secs(5), "the timeout must not wait for the tree");
    assert_eq!(result["ok"], json!(false));
    assert_eq!(result["error"], json!("timeout after 1s"));
    let pid = pid_from(&result["stdout"]);
    assert!(gone_within(pid, Duration::from_secs(3)), "grandchild {pid} survived the timeout");
}

#[tokio::test]
async fn background_stragglers_die_with_a_clean_exit() {
    let code = "import subprocess\np = subprocess.Popen(['sleep', '30'])\nprint(p.pid, flush=True)";
    let started = Instant::now();
    let result = tools(Duration::from_secs(10)).invoke(&python(code)).await.to_json();
    assert_eq!(result["ok"], json!(true), "{result}");
    assert!(started.elapsed() < Duration::from_secs(5), "a straggler holding the pipe must not stall the call");
    let pid = pid_from(&result["stdout"]);
    assert!(gone_within(pid, Duration::from_secs(3)), "straggler {pid} outlived its parent");
}

#[tokio::test]
async fn a_cancelled_call_kills_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let code = format!(
        "import subprocess, time\np = subprocess.Popen(['sleep', '30'])\nopen({:?}, 'w').write(str(p.pid))\ntime.sleep(30)",
        pid_file.display().to_string()
    );
    let tools = tools(Duration::from_secs(30));
    let call = python(&code);
    let fut = tools.invoke(&call);
    // Dropping the future (a client that hung up) must not leave the tree running.
    let _ = tokio::time::timeout(Duration::from_millis(1500), fut).await;
    let pid: u32 =
        std::fs::read_to_string(&pid_file).expect("the child wrote its grandchild's pid").trim().parse().unwrap();
    assert!(gone_within(pid, Duration::from_secs(3)), "grandchild {pid} survived the cancelled call");
}
