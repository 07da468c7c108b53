//! The subprocess tools: `exec_python` and `exec_shell`, and the shape of their results.
//!
//! Both run under [`crate::process`] control (the tool sandbox, tree killed on timeout, output
//! capped) in a private work directory of their own, so tool code never scribbles in the server's
//! working directory. `exec_shell` never invokes a shell: the command line is split into words
//! like a shell would split it, and `argv[0]` must equal an allowlisted program exactly.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::LocalSettings;
use crate::process::sandbox::Sandbox;
use crate::process::{self, Exit, Outcome, SpawnError, Spec};
use crate::tools::call::ToolCall;
use crate::tools::result::ToolResult;

/// The error `exec_shell` gives for a program outside the allowlist (contract text).
pub(super) const NOT_ALLOWED: &str = "cmd prefix not allowed";

/// What to say when the interpreter is missing.
pub(crate) fn python_missing_hint(python: &str) -> String {
    format!("{python} was not found on PATH: install Python 3, or set MINI_AGENT_PYTHON to an interpreter")
}

pub(super) async fn python(call: &ToolCall, settings: &LocalSettings, sandbox: &Arc<Sandbox>) -> ToolResult {
    const NAME: &str = "exec_python";
    let code = match call.str_arg("code") {
        Ok(c) => c,
        Err(why) => return ToolResult::failure(NAME, why),
    };
    if let Some(lang) = call.arguments.as_ref().and_then(|a| a.get("language")).and_then(Value::as_str)
        && !matches!(lang.trim().to_ascii_lowercase().as_str(), "" | "py" | "python" | "python3")
    {
        return ToolResult::failure(NAME, format!("exec_python runs Python only; this code is marked `{lang}`"));
    }
    let mut spec = Spec::new(&settings.python, settings.timeout).arg("-").sandboxed(sandbox);
    spec.stdin = Some(code.as_bytes().to_vec());
    spec.output_cap = settings.output_cap;
    // Unbuffered, so what a timed-out program printed before it hung is still reported.
    let spec = spec.env("PYTHONUNBUFFERED", "1").env("PYTHONDONTWRITEBYTECODE", "1");
    match process::run(spec).await {
        Ok(outcome) => shape(NAME, &outcome, settings.timeout),
        Err(SpawnError::NotFound { .. }) => ToolResult::failure(NAME, python_missing_hint(&settings.python)),
        Err(e) => ToolResult::failure(NAME, e.to_string()),
    }
}

pub(super) async fn shell(call: &ToolCall, settings: &LocalSettings, sandbox: &Arc<Sandbox>) -> ToolResult {
    const NAME: &str = "exec_shell";
    let cmd = match call.str_arg("cmd") {
        Ok(c) => c,
        Err(why) => return ToolResult::failure(NAME, why),
    };
    let argv = match shell_words::split(cmd) {
        Ok(argv) if !argv.is_empty() => argv,
        Ok(_) => return ToolResult::failure(NAME, "the command is empty"),
        Err(e) => return ToolResult::failure(NAME, format!("cannot split the command into words: {e}")),
    };
    if !settings.shell_allow.iter().any(|p| *p == argv[0]) {
        let hint = format!(
            "`{}` is not an allowed program; allowed: {} (server setting MINI_AGENT_SHELL_ALLOW)",
            argv[0],
            settings.shell_allow.join(", ")
        );
        return ToolResult::failure(NAME, NOT_ALLOWED).with("hint", json!(hint));
    }
    let mut spec = Spec::new(&argv[0], settings.timeout).args(&argv[1..]).sandboxed(sandbox);
    spec.output_cap = settings.output_cap;
    match process::run(spec).await {
        Ok(outcome) => shape(NAME, &outcome, settings.timeout),
        Err(e) => ToolResult::failure(NAME, e.to_string()),
    }
}

/// The result of a finished subprocess: `{ok: rc==0, name, rc, stdout, stderr, t_ms}`, with
/// `error:"rc=N: <first 200 chars of stderr or stdout>"` when rc≠0, `error:"timeout after Ns"` on
/// timeout, and `stdout_truncated`/`stderr_truncated` (bytes dropped) when a stream hit its cap.
pub(crate) fn shape(name: &str, outcome: &Outcome, timeout: Duration) -> ToolResult {
    let mut r = ToolResult {
        name: name.to_owned(),
        stdout: Some(outcome.stdout.text.clone()),
        stderr: Some(outcome.stderr.text.clone()),
        t_ms: Some(outcome.elapsed.as_secs_f64() * 1e3),
        ..ToolResult::default()
    };
    match outcome.exit {
        Exit::Code(rc) => {
            r.ok = rc == 0;
            r.rc = Some(rc);
            if rc != 0 {
                let source =
                    if outcome.stderr.text.trim().is_empty() { &outcome.stdout.text } else { &outcome.stderr.text };
                let mut head: String = source.chars().take(200).collect();
                if rc == process::CPU_LIMIT_EXIT && head.trim().is_empty() {
                    head = "killed by SIGXCPU: the tool's CPU time limit was reached (MINI_AGENT_TOOL_CPU_SEC)".into();
                }
                r.error = Some(format!("rc={rc}: {head}"));
            }
        }
        Exit::TimedOut => r.error = Some(format!("timeout after {}s", seconds(timeout))),
    }
    if outcome.stdout.truncated() {
        r = r.with("stdout_truncated", json!(outcome.stdout.dropped));
    }
    if outcome.stderr.truncated() {
        r = r.with("stderr_truncated", json!(outcome.stderr.dropped));
    }
    r
}

/// `10` for whole seconds, `0.5` otherwise.
pub(super) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{}", s as u64) } else { format!("{s}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn settings(allow: &[&str], timeout_ms: u64) -> LocalSettings {
        LocalSettings {
            shell_allow: allow.iter().map(|s| (*s).to_owned()).collect(),
            timeout: Duration::from_millis(timeout_ms),
            ..LocalSettings::default()
        }
    }

    fn unsandboxed() -> Arc<Sandbox> {
        Arc::new(Sandbox::disabled())
    }

    fn call(args: Value) -> ToolCall {
        ToolCall::new("c", "t", Value::String(args.to_string()))
    }

    #[tokio::test]
    async fn python_runs_and_reports() {
        let r = python(&call(json!({"code": "print(6*7)"})), &settings(&[], 10_000), &unsandboxed()).await;
        assert_eq!((r.ok, r.rc, r.stdout.as_deref()), (true, Some(0), Some("42\n")), "{r:?}");
        let r = python(&call(json!({"code": "import sys; sys.exit('boom')"})), &settings(&[], 10_000), &unsandboxed())
            .await;
        assert!(!r.ok);
        assert_eq!(r.error.as_deref(), Some("rc=1: boom\n"), "{r:?}");
    }

    #[tokio::test]
    async fn a_missing_interpreter_is_a_tool_error() {
        let mut s = settings(&[], 10_000);
        s.python = "no-such-python-xyz".into();
        let r = python(&call(json!({"code": "print(1)"})), &s, &unsandboxed()).await;
        assert!(!r.ok);
        assert!(r.error.as_deref().is_some_and(|e| e.contains("MINI_AGENT_PYTHON")), "{r:?}");
    }

    #[rstest]
    #[case("echo a; rm x", true, "a; rm x\n")]
    #[case("echo 'two words' \"and more\"", true, "two words and more\n")]
    #[case("echo $(id) `id` | cat", true, "$(id) `id` | cat\n")]
    #[case("echoevil hi", false, "")]
    #[case("/bin/sh -c 'echo pwned'", false, "")]
    #[case("rm -rf /", false, "")]
    #[case("/bin/echo hi", false, "")]
    #[tokio::test]
    async fn shell_never_uses_a_shell(#[case] cmd: &str, #[case] ok: bool, #[case] stdout: &str) {
        let r = shell(&call(json!({"cmd": cmd})), &settings(&["echo"], 10_000), &unsandboxed()).await;
        assert_eq!(r.ok, ok, "{cmd}: {r:?}");
        if ok {
            assert_eq!(r.stdout.as_deref(), Some(stdout), "{cmd}");
        } else {
            assert_eq!(r.error.as_deref(), Some(NOT_ALLOWED), "{cmd}: {r:?}");
        }
    }

    #[tokio::test]
    async fn unbalanced_quotes_are_an_error_not_a_guess() {
        let r = shell(&call(json!({"cmd": "echo 'open"})), &settings(&["echo"], 10_000), &unsandboxed()).await;
        assert!(r.error.as_deref().is_some_and(|e| e.contains("cannot split")), "{r:?}");
    }

    #[tokio::test]
    async fn output_past_the_cap_is_dropped_and_says_how_much() {
        let mut s = settings(&[], 10_000);
        s.output_cap = 100;
        let code = "import sys; sys.stdout.write('o' * 130); sys.stderr.write('e' * 100)";
        let r = python(&call(json!({"code": code})), &s, &unsandboxed()).await;
        assert_eq!(r.stdout.as_deref().map(str::len), Some(100), "{r:?}");
        assert_eq!(r.extra.get("stdout_truncated"), Some(&json!(30)), "30 bytes past the cap: {r:?}");
        // Exactly at the cap nothing was dropped, and nothing is said.
        assert_eq!(r.stderr.as_deref().map(str::len), Some(100), "{r:?}");
        assert_eq!(r.extra.get("stderr_truncated"), None, "{r:?}");
        let code = "import sys; sys.stderr.write('e' * 101)";
        let r = python(&call(json!({"code": code})), &s, &unsandboxed()).await;
        assert_eq!(r.extra.get("stderr_truncated"), Some(&json!(1)), "{r:?}");
        assert_eq!(r.extra.get("stdout_truncated"), None, "{r:?}");
    }

    #[test]
    fn a_silent_death_by_the_cpu_limit_says_which_limit() {
        let outcome = |rc, stderr: &str| Outcome {
            exit: Exit::Code(rc),
            setup_failed: None,
            stdout: process::Captured::default(),
            stderr: process::Captured { text: stderr.to_owned(), ..process::Captured::default() },
            elapsed: Duration::ZERO,
        };
        let r = shape("exec_python", &outcome(process::CPU_LIMIT_EXIT, ""), Duration::from_secs(1));
        assert_eq!(
            r.error.as_deref(),
            Some("rc=152: killed by SIGXCPU: the tool's CPU time limit was reached (MINI_AGENT_TOOL_CPU_SEC)")
        );
        let r = shape("exec_python", &outcome(process::CPU_LIMIT_EXIT, "its own words"), Duration::from_secs(1));
        assert_eq!(r.error.as_deref(), Some("rc=152: its own words"), "the program's output comes first");
        let r = shape("exec_python", &outcome(137, ""), Duration::from_secs(1));
        assert_eq!(r.error.as_deref(), Some("rc=137: "), "only SIGXCPU names the CPU limit");
    }

    #[test]
    fn seconds_format() {
        assert_eq!(seconds(Duration::from_secs(10)), "10");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5");
    }
}
