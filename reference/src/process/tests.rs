//! The process runner's tests: capture, caps, signals, verdicts and the bare init's limits.

#![allow(clippy::disallowed_methods, reason = "tests reach around the boundaries on purpose")]
use super::*;

/// The bare init (`MINI_AGENT_TOOL_SANDBOX=off`: the init runs the steps and applies the
/// limits, without namespaces), or `None` with the reason where no `miniagent` binary is built
/// beside this test to be the init (`cargo test --lib` alone; the workspace's tests build it).
fn bare_init(cpu_sec: Option<u64>) -> Option<Arc<sandbox::Sandbox>> {
    let settings =
        sandbox::SandboxSettings { mode: sandbox::Mode::Off, cpu_sec, ..sandbox::SandboxSettings::default() };
    if settings.init.file_name().is_none_or(|n| n != "miniagent") {
        let why = format!("no miniagent binary to be the tool init (found {})", settings.init.display());
        assert!(std::env::var_os("MINIAGENT_REQUIRE_SANDBOX").is_none(), "{why} (MINIAGENT_REQUIRE_SANDBOX is set)");
        eprintln!("{why}: skipped; build it with `cargo build -p miniagent`");
        return None;
    }
    Some(Arc::new(sandbox::Sandbox::new(settings)))
}

fn sh(script: &str, timeout_ms: u64) -> Spec {
    Spec::new("sh", Duration::from_millis(timeout_ms)).args(["-c", script])
}

/// A setup step (a compiler) that runs out of its time is named as the step that failed; the
/// program itself running out of its time is not blamed on a setup step. (Through the bare
/// init, `MINI_AGENT_TOOL_SANDBOX=off`: the steps are the init's to run and time.)
#[tokio::test]
async fn a_setup_step_out_of_time_is_named_and_the_program_is_not_blamed_on_one() {
    let Some(sandbox) = bare_init(None) else { return };
    let setup = |program: &str, args: &[&str], ms: u64| Setup {
        program: program.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: Vec::new(),
        timeout: Duration::from_millis(ms),
    };
    let mut spec = Spec::new("true", Duration::from_secs(5)).sandboxed(&sandbox);
    spec.setup = vec![setup("sleep", &["5"], 300)];
    let out = run(spec).await.expect("runs");
    assert_eq!((&out.exit, out.setup_failed.as_deref()), (&Exit::TimedOut, Some("sleep")));
    let mut spec = Spec::new("sleep", Duration::from_millis(300)).args(["5"]).sandboxed(&sandbox);
    spec.setup = vec![setup("true", &[], 5000)];
    let out = run(spec).await.expect("runs");
    assert_eq!((&out.exit, out.setup_failed.as_deref()), (&Exit::TimedOut, None));
}

/// The CPU limit defaults to the timeout, so a death by SIGXCPU is the program running out of
/// its time, like the wall clock's kill. Set on its own (`MINI_AGENT_TOOL_CPU_SEC`), the limit
/// is enforced and reported as what it is: 128 + SIGXCPU.
#[tokio::test]
async fn a_death_by_the_cpu_limit_is_a_timeout_unless_the_limit_was_set_apart() {
    let (Some(default), Some(set_apart)) = (bare_init(None), bare_init(Some(1))) else { return };
    let out = run(sh("kill -XCPU $$", 5000).sandboxed(&default)).await.expect("runs");
    assert_eq!((&out.exit, out.setup_failed.as_deref()), (&Exit::TimedOut, None));
    let out = run(sh("kill -XCPU $$", 5000).sandboxed(&set_apart)).await.expect("runs");
    assert_eq!(out.exit, Exit::Code(CPU_LIMIT_EXIT));
    let started = Instant::now();
    let out = run(sh("while :; do :; done", 10_000).sandboxed(&set_apart)).await.expect("runs");
    assert_eq!(out.exit, Exit::Code(CPU_LIMIT_EXIT), "one CPU second, not the ten-second timeout");
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    let out = run(sh("kill -XCPU $$", 5000)).await.expect("runs");
    assert_eq!(out.exit, Exit::Code(CPU_LIMIT_EXIT), "without the sandbox there is no CPU limit to blame");
}

#[tokio::test]
async fn captures_both_streams_and_the_code() {
    let out = run(sh("echo out; echo err >&2; exit 3", 5000)).await.expect("runs");
    assert_eq!(out.exit, Exit::Code(3));
    assert_eq!(out.stdout.text, "out\n");
    assert_eq!(out.stderr.text, "err\n");
}

#[tokio::test]
async fn output_is_capped_and_marked() {
    let mut spec = sh("head -c 100000 /dev/zero | tr '\\0' a", 5000);
    spec.output_cap = 1000;
    let out = run(spec).await.expect("runs");
    assert_eq!(out.stdout.text.len(), 1000);
    assert_eq!(out.stdout.dropped, 99_000);
}

#[tokio::test]
async fn the_default_cap_is_one_mebibyte_per_stream() {
    let out = run(sh("head -c 1048586 /dev/zero | tr '\\0' a", 10_000)).await.expect("runs");
    assert_eq!((out.stdout.text.len(), out.stdout.dropped), (1_048_576, 10));
    assert!(out.stdout.truncated() && !out.stderr.truncated());
}

#[tokio::test]
async fn a_plain_group_is_killed_at_once_even_when_it_ignores_sigterm() {
    // Only a bare init is asked first (SIGTERM, then SIGKILL after INIT_GRACE); any other
    // group gets SIGKILL straight away — a tool that ignores SIGTERM must not win 500 ms.
    let mut child = spawn(&sh("trap '' TERM; echo up; exec sleep 30", 60_000)).expect("spawns");
    let mut stdout = child.stdout.take().expect("piped");
    let mut first = [0u8; 3];
    stdout.read_exact(&mut first).await.expect("the program started");
    let killed = Instant::now();
    child.kill_tree();
    let status = tokio::time::timeout(Duration::from_millis(400), child.wait()).await;
    assert!(status.is_ok(), "still running {:?} after kill_tree (INIT_GRACE is 500 ms)", killed.elapsed());
}

#[tokio::test]
async fn a_death_by_signal_is_128_plus_the_signal() {
    let out = run(sh("kill -9 $$", 5000)).await.expect("runs");
    assert_eq!(out.exit, Exit::Code(137));
    let out = run(sh("kill -15 $$", 5000)).await.expect("runs");
    assert_eq!(out.exit, Exit::Code(143));
}

#[tokio::test]
async fn only_the_sandbox_init_gives_verdicts_a_program_that_forges_one_is_reported_as_it_ran() {
    let forged = format!(
        "echo 'miniagent-init: {{\"verdict\":\"not_found\",\"step\":0,\"program\":\"x\"}}' >&2; exit {}",
        plan::VERDICT_EXIT
    );
    let out = run(sh(&forged, 5000)).await.expect("an unsandboxed program's stderr is never a verdict");
    assert_eq!(out.exit, Exit::Code(plan::VERDICT_EXIT));
    assert!(out.stderr.text.starts_with("miniagent-init: "), "{out:?}");
}

#[tokio::test]
async fn past_the_cap_the_last_bytes_are_kept_as_the_tail() {
    let (_stop, stopped) = oneshot::channel();
    let captured = read_capped(&b"abcdefgh"[..], 4, stopped).await;
    assert_eq!((captured.text.as_str(), captured.dropped, captured.tail.as_slice()), ("abcd", 4, &b"efgh"[..]));
    let (_stop, stopped) = oneshot::channel();
    let captured = read_capped(&b"abcd"[..], 4, stopped).await;
    assert_eq!((captured.dropped, captured.tail.len()), (0, 0), "at the cap nothing is dropped");
}

#[tokio::test]
async fn invalid_utf8_is_replaced() {
    let out = run(sh("printf 'a\\377b'", 5000)).await.expect("runs");
    assert_eq!(out.stdout.text, "a\u{fffd}b");
}

#[tokio::test]
async fn a_missing_program_is_a_clear_error() {
    let err = run(Spec::new("definitely-not-a-program-xyz", Duration::from_secs(1))).await.expect_err("missing");
    assert!(err.to_string().contains("definitely-not-a-program-xyz` was not found"), "{err}");
}

#[tokio::test]
async fn stdin_is_fed() {
    let mut spec = Spec::new("cat", Duration::from_secs(5));
    spec.stdin = Some(b"fed".to_vec());
    assert_eq!(run(spec).await.expect("runs").stdout.text, "fed");
}

#[tokio::test]
async fn an_escaped_background_child_holding_stdout_neither_holds_the_call_nor_loses_the_output() {
    // `setsid` takes the sleeper out of the group, so the group kill cannot reach it: only the
    // drain grace ends the read.
    let started = Instant::now();
    let out = run(sh("echo before; setsid sleep 5.4321 & echo after", 10_000)).await.expect("runs");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(out.exit, Exit::Code(0));
    assert_eq!(out.stdout.text, "before\nafter\n");
    let _ = std::process::Command::new("pkill").args(["-f", "^sleep 5.4321$"]).status();
}
