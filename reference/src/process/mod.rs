//! The one process spawner: every child program (local tools, exec-RPC steps, the sidecar's CLI)
//! starts here, as the leader of its own process group, and its whole tree is killed whatever ends
//! the call — a timeout, a normal exit that left stragglers, or the caller's future being dropped
//! (a client that hung up).
//!
//! Two levels: [`spawn`] gives a running [`Child`] with its pipes (the sidecar reads its CLI's output
//! line by line), [`run`] runs a [`Spec`] to an [`Outcome`] with bounded output and a timeout (tools
//! and exec-RPC).
//!
//! A call ends when the program itself exits, not when every holder of its pipes has gone: a
//! background child that keeps stdout open (or escaped the group with `setsid`) gets
//! [`DRAIN_GRACE`] to finish writing, then reading stops with what was written so far.
//!
//! Programs that run model-controlled code carry a [`sandbox::Sandbox`] in their spec: they then
//! start inside bubblewrap with limits, an allowlisted environment and (for a root server) an
//! unprivileged uid. Programs of the operator's choosing (the sidecar's CLI) run as they are.
//!
//! Does not decide what to run or how to report it: callers build the spec and shape the result.

pub mod sandbox;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

/// Default cap per output stream (1 MiB).
pub const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;
/// How long output is still read after the program exited, for what its last writes left in the
/// pipes; past it, a pipe held open by a surviving background process is abandoned.
pub const DRAIN_GRACE: Duration = Duration::from_millis(150);

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Bytes for stdin (then closed); `None` gives the child an empty stdin.
    pub stdin: Option<Vec<u8>>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
    pub timeout: Duration,
    pub output_cap: usize,
    /// Run inside this sandbox, with `cwd` as the private work directory.
    pub sandbox: Option<Arc<sandbox::Sandbox>>,
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
            sandbox: None,
        }
    }

    /// Runs in `sandbox` with `work` as its private work directory.
    pub fn sandboxed(mut self, sandbox: &Arc<sandbox::Sandbox>, work: impl Into<PathBuf>) -> Self {
        self.sandbox = Some(sandbox.clone());
        self.cwd = Some(work.into());
        self
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
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
    /// The sandbox is required and unavailable, or the work directory cannot be prepared.
    #[error("{0}")]
    Refused(String),
}

/// A running child: its pipes, and its process group, killed on drop.
#[derive(Debug)]
pub struct Child {
    inner: tokio::process::Child,
    group: Option<Pid>,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// Waits for the program itself to exit (not for what it left behind).
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.inner.wait().await
    }

    /// SIGKILLs the whole process group. Idempotent.
    pub fn kill_tree(&mut self) {
        if let Some(pgid) = self.group.take() {
            // ESRCH (nothing left in the group) is the normal case after a clean exit.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill_tree();
    }
}

/// Starts `spec` (its timeout and output cap are the caller's business at this level) with stdout
/// and stderr piped, and stdin piped when the spec has input.
pub fn spawn(spec: &Spec) -> Result<Child, SpawnError> {
    let program = spec.program.to_string_lossy().into_owned();
    let mut cmd = command(spec)?;
    cmd.stdin(if spec.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    let mut inner = cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SpawnError::NotFound { program: program.clone() },
        _ => SpawnError::Other { program: program.clone(), source },
    })?;
    let group = inner.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
    let (stdin, stdout, stderr) = (inner.stdin.take(), inner.stdout.take(), inner.stderr.take());
    let mut child = Child { inner, group, stdin, stdout, stderr };
    if let (Some(input), Some(mut pipe)) = (spec.stdin.clone(), child.stdin.take()) {
        // Written from its own task: a child that does not read its stdin must not block us.
        tokio::spawn(async move {
            let _ = pipe.write_all(&input).await;
            let _ = pipe.shutdown().await;
        });
    }
    Ok(child)
}

/// The command for `spec`: as it is, or wrapped by its sandbox (bubblewrap and `prlimit`, an
/// allowlisted environment, the tools' uid).
fn command(spec: &Spec) -> Result<Command, SpawnError> {
    let Some(sandbox) = &spec.sandbox else {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args).envs(spec.env.iter().map(|(k, v)| (k, v)));
        return Ok(cmd);
    };
    let work =
        spec.cwd.as_deref().ok_or_else(|| SpawnError::Refused("a sandboxed program needs a work directory".into()))?;
    let launch = sandbox
        .launch(std::path::Path::new(&spec.program), &spec.args, work, &spec.env, spec.timeout)
        .map_err(SpawnError::Refused)?;
    if let Some(uid) = launch.run_as {
        sandbox::chown(work, uid).map_err(SpawnError::Refused)?;
    }
    let mut cmd = Command::new(&launch.program);
    cmd.args(&launch.args).env_clear().envs(launch.env);
    if let Some(uid) = launch.run_as {
        cmd.uid(uid).gid(uid);
    }
    Ok(cmd)
}

/// The exit code of a status; a death by signal is 128 + the signal, as shells report it.
pub fn exit_code(status: &ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs `spec` to completion or timeout, with both streams captured up to the cap.
pub async fn run(spec: Spec) -> Result<Outcome, SpawnError> {
    let started = Instant::now();
    let sandboxed = spec.sandbox.is_some();
    let program = spec.program.to_string_lossy().into_owned();
    let mut child = spawn(&spec)?;
    let stdout = child.stdout.take().map(|s| Capture::start(s, spec.output_cap));
    let stderr = child.stderr.take().map(|s| Capture::start(s, spec.output_cap));
    let exit = match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) => Exit::Code(exit_code(&status)),
        Ok(Err(_)) => Exit::Code(-1),
        Err(_) => Exit::TimedOut,
    };
    // Whether it exited or timed out, nothing of its tree outlives the call.
    child.kill_tree();
    if exit == Exit::TimedOut {
        let _ = child.wait().await;
    }
    let (stdout, stderr) = tokio::join!(Capture::finish(stdout), Capture::finish(stderr));
    // In a sandbox the program is started by `prlimit`, which reports a missing program itself.
    if sandboxed && exit == Exit::Code(127) && stderr.text.starts_with("prlimit: failed to execute") {
        return Err(SpawnError::NotFound { program });
    }
    Ok(Outcome { exit, stdout, stderr, elapsed: started.elapsed() })
}

/// A stream being read in the background until EOF or until told to stop.
struct Capture {
    task: tokio::task::JoinHandle<Captured>,
    stop: oneshot::Sender<()>,
}

impl Capture {
    fn start(stream: impl AsyncRead + Unpin + Send + 'static, cap: usize) -> Self {
        let (stop, stopped) = oneshot::channel();
        Self { task: tokio::spawn(read_capped(stream, cap, stopped)), stop }
    }

    /// What was read: everything up to EOF, or what arrived within [`DRAIN_GRACE`].
    async fn finish(capture: Option<Self>) -> Captured {
        let Some(Self { mut task, stop }) = capture else { return Captured::default() };
        if let Ok(done) = tokio::time::timeout(DRAIN_GRACE, &mut task).await {
            return done.unwrap_or_default();
        }
        let _ = stop.send(());
        task.await.unwrap_or_default()
    }
}

/// Reads a stream to its end (or until `stop`), keeping the first `cap` bytes and counting the
/// rest. Reading on past the cap (rather than stopping) keeps the child from blocking on a full pipe.
async fn read_capped(mut stream: impl AsyncRead + Unpin, cap: usize, mut stop: oneshot::Receiver<()>) -> Captured {
    let mut kept = Vec::new();
    let mut dropped = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            biased;
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = &mut stop => break,
        };
        let take = cap.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&buf[..take]);
        dropped += n - take;
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
}
