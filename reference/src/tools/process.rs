//! Running a child program under control: its own process group, bounded output, a timeout that
//! kills the whole tree, and no leftovers.
//!
//! Used by the local tools (`exec_python`, `exec_shell`) and the exec-RPC server alike.
//!
//! How a tree is contained: the child starts as the leader of a new process group, so everything it
//! spawns (that does not deliberately leave with `setsid`) shares the group. On timeout — and also
//! after a normal exit, to catch background stragglers holding our pipes open — the whole group gets
//! SIGKILL. A guard does the same if the caller's future is dropped (a client that hangs up), so a
//! cancelled request never leaves a process behind.
//!
//! Does not decide what to run or how to report it: callers build the command and shape the result.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Default cap per output stream (1 MiB).
pub const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub stdin: Option<Vec<u8>>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
    pub timeout: Duration,
    pub output_cap: usize,
}

impl Spec {
    pub fn new(program: impl Into<OsString>, timeout: Duration) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
            cwd: None,
            env: Vec::new(),
            timeout,
            output_cap: DEFAULT_OUTPUT_CAP,
        }
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

/// One captured stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// Lossily decoded: invalid UTF-8 is replaced, never an error.
    pub text: String,
    /// Bytes dropped past the cap.
    pub dropped: usize,
}

impl Captured {
    pub fn truncated(&self) -> bool {
        self.dropped > 0
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code (a signal death is reported as 128 + signal, as shells do).
    Code(i32),
    /// Still running at the timeout; the whole tree was killed.
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub exit: Exit,
    pub stdout: Captured,
    pub stderr: Captured,
    pub elapsed: Duration,
}

/// Why a program could not be started at all.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("`{program}` was not found on PATH")]
    NotFound { program: String },
    #[error("cannot start `{program}`: {source}")]
    Other { program: String, source: std::io::Error },
}

/// Kills the process group when dropped, unless disarmed.
struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // ESRCH (nothing left in the group) is the normal case after a clean exit.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `spec` to completion or timeout.
pub async fn run(spec: Spec) -> Result<Outcome, SpawnError> {
    let started = Instant::now();
    let program = spec.program.to_string_lossy().into_owned();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SpawnError::NotFound { program: program.clone() },
        _ => SpawnError::Other { program: program.clone(), source },
    })?;
    let mut guard = GroupGuard { pgid: child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw) };

    if let (Some(input), Some(mut stdin)) = (spec.stdin, child.stdin.take()) {
        // Written from its own task: a child that does not read its stdin must not block us.
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
    }
    let stdout = child.stdout.take().map(|s| tokio::spawn(capture(s, spec.output_cap)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(capture(s, spec.output_cap)));

    let exit = match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) => Exit::Code(status.code().unwrap_or_else(|| 128 + signal_of(&status))),
        Ok(Err(_)) => Exit::Code(-1),
        Err(_) => Exit::TimedOut,
    };
    // Whether it exited or timed out, nothing of its tree outlives the call: stragglers it left in
    // the background would otherwise keep running and keep our pipes open.
    guard.kill();
    if exit == Exit::TimedOut {
        let _ = child.wait().await;
    }
    let stdout = join_capture(stdout).await;
    let stderr = join_capture(stderr).await;
    Ok(Outcome { exit, stdout, stderr, elapsed: started.elapsed() })
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().unwrap_or(0)
}

async fn join_capture(handle: Option<tokio::task::JoinHandle<Captured>>) -> Captured {
    match handle {
        // The group is dead, so the pipe closes promptly; the bound only guards against a
        // grandchild that escaped the group with setsid and kept the pipe.
        Some(h) => tokio::time::timeout(Duration::from_secs(2), h).await.ok().and_then(Result::ok).unwrap_or_default(),
        None => Captured::default(),
    }
}

/// Reads a stream to its end, keeping the first `cap` bytes and counting the rest. Reading on past
/// the cap (rather than stopping) keeps the child from blocking on a full pipe.
async fn capture(mut stream: impl AsyncRead + Unpin, cap: usize) -> Captured {
    let mut kept = Vec::new();
    let mut dropped = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                let take = room.min(n);
                kept.extend_from_slice(&buf[..take]);
                dropped += n - take;
            }
        }
    }
    Captured { text: String::from_utf8_lossy(&kept).into_owned(), dropped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64) -> Spec {
        Spec::new("sh", Duration::from_millis(timeout_ms)).args(["-c", script])
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
}
