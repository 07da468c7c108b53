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
//! become a [`plan::Plan`] (files, setup steps, the program) carried out by the tool init
//! ([`init`]) inside bubblewrap ([`mounts`], [`seccomp`]), with limits, an allowlisted environment,
//! a private work directory and (for a root server) an unprivileged uid — at most
//! `MINI_AGENT_TOOL_MAX_CONCURRENT` at once. Programs of the operator's choosing (the sidecar's
//! CLI) run as they are.
//!
//! Does not decide what to run or how to report it: callers build the spec and shape the result.

pub(crate) mod init;
pub(crate) mod mounts;
pub(crate) mod network;
pub(crate) mod plan;
pub(crate) mod sandbox;
pub(crate) mod seccomp;

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
pub(crate) const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;
/// How long output is still read after the program exited, for what its last writes left in the
/// pipes; past it, a pipe held open by a surviving background process is abandoned.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_millis(150);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Bytes for stdin (then closed); `None` gives the child an empty stdin.
    pub stdin: Option<Vec<u8>>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
    pub timeout: Duration,
    pub output_cap: usize,
    /// Run inside this sandbox (which provides the work directory: `cwd` is not used).
    pub sandbox: Option<Arc<sandbox::Sandbox>>,
    /// Sandboxed only: files written into the work directory first (plain names).
    pub files: Vec<(String, String)>,
    /// Sandboxed only: steps run before the program, in the same work directory (compilers); the
    /// first that fails ends the call ([`Outcome::setup_failed`]).
    pub setup: Vec<Setup>,
}

/// A step run before the program (sandboxed specs only).
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub program: String,
    pub args: Vec<String>,
    /// Its own variables; [`plan::WORK_TOKEN`] in a value stands for the work directory.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

impl Spec {
    pub(crate) fn new(program: impl Into<OsString>, timeout: Duration) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
            cwd: None,
            env: Vec::new(),
            timeout,
            output_cap: DEFAULT_OUTPUT_CAP,
            sandbox: None,
            files: Vec::new(),
            setup: Vec::new(),
        }
    }

    /// Runs in `sandbox`, in a private work directory of its own.
    pub(crate) fn sandboxed(mut self, sandbox: &Arc<sandbox::Sandbox>) -> Self {
        self.sandbox = Some(sandbox.clone());
        self
    }

    /// The longest the whole call may take: its setup steps' timeouts and its own, plus a little
    /// for the init (which enforces each step's own timeout and says which one ran out).
    fn deadline(&self) -> Duration {
        let setup: Duration = self.setup.iter().map(|s| s.timeout).sum();
        if self.sandbox.is_some() { setup + self.timeout + INIT_SLACK } else { self.timeout }
    }

    pub(crate) fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// One captured stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Captured {
    /// Lossily decoded: invalid UTF-8 is replaced, never an error.
    pub text: String,
    /// Bytes dropped past the cap.
    pub dropped: usize,
    /// The last bytes of the stream when some were dropped (where the init's verdict is).
    pub tail: Vec<u8>,
}

impl Captured {
    pub(crate) fn truncated(&self) -> bool {
        self.dropped > 0
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Exited with this code (a signal death is reported as 128 + signal, as shells do).
    Code(i32),
    /// Still running at the timeout; the whole tree was killed.
    TimedOut,
}

#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub exit: Exit,
    /// The program of the setup step that failed or ran out of time; the program itself never ran.
    pub setup_failed: Option<String>,
    pub stdout: Captured,
    pub stderr: Captured,
    pub elapsed: Duration,
}

/// Why a program could not be started at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    #[error("`{program}` was not found on PATH")]
    NotFound { program: String },
    #[error("cannot start `{program}`: {source}")]
    Other { program: String, source: std::io::Error },
    /// The sandbox is required and unavailable, or the work directory cannot be prepared.
    #[error("{0}")]
    Refused(String),
    /// Every tool slot stayed taken for the whole timeout.
    #[error(
        "{0} tool processes were already running for the whole timeout (MINI_AGENT_TOOL_MAX_CONCURRENT); try again later"
    )]
    Busy(usize),
}

/// What the init may take beyond its steps' timeouts before the server ends it.
const INIT_SLACK: Duration = Duration::from_secs(2);

/// A running child: its pipes, and its process group, killed on drop.
#[derive(Debug)]
pub(crate) struct Child {
    inner: tokio::process::Child,
    group: Option<Pid>,
    /// A bare tool init (sandbox off): told to end with SIGTERM, so it can kill the descendants
    /// that left its process group (`setsid`) before it goes.
    init: bool,
    /// The host work directory of a bare init, removed after the child.
    _host_dir: Option<sandbox::HostDir>,
    /// Ends the tool's network uplink (its task holds it) when the child goes.
    _uplink: Option<oneshot::Sender<()>>,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

/// How long a bare init gets to kill its descendants before its group is killed for it.
const INIT_GRACE: Duration = Duration::from_millis(500);

impl Child {
    /// Waits for the program itself to exit (not for what it left behind).
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.inner.wait().await
    }

    /// SIGKILLs the whole process group (a bare init is asked first, see [`Child::init`]).
    /// Idempotent.
    pub(crate) fn kill_tree(&mut self) {
        let Some(pgid) = self.group.take() else { return };
        if self.init && killpg(pgid, Signal::SIGTERM).is_ok() {
            std::thread::spawn(move || {
                std::thread::sleep(INIT_GRACE);
                let _ = killpg(pgid, Signal::SIGKILL);
            });
            return;
        }
        // ESRCH (nothing left in the group) is the normal case after a clean exit.
        let _ = killpg(pgid, Signal::SIGKILL);
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill_tree();
    }
}

/// Starts `spec` (its timeout and output cap are the caller's business at this level) with stdout
/// and stderr piped, and stdin piped when the spec has input (or a sandbox, whose plan leads it).
pub(crate) fn spawn(spec: &Spec) -> Result<Child, SpawnError> {
    let program = spec.program.to_string_lossy().into_owned();
    let (mut cmd, launch) = command(spec)?;
    let input = match &launch {
        Some(l) => Some([l.plan.as_slice(), spec.stdin.as_deref().unwrap_or_default()].concat()),
        None => spec.stdin.clone(),
    };
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut inner = cmd.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound if launch.is_some() => {
            SpawnError::Refused("bwrap is not installed (Debian package `bubblewrap`)".into())
        }
        std::io::ErrorKind::NotFound => SpawnError::NotFound { program: program.clone() },
        _ => SpawnError::Other { program: program.clone(), source },
    })?;
    let group = inner.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
    let (stdin, stdout, stderr) = (inner.stdin.take(), inner.stdout.take(), inner.stderr.take());
    let (host_dir, network) = launch.map(|l| (l.host_dir, l.network)).unwrap_or_default();
    let init = host_dir.is_some();
    let (uplink_done, uplink_held) = oneshot::channel::<()>();
    let uplink = network.is_some().then_some(uplink_done);
    let bwrap_pid = inner.id();
    let mut child = Child { inner, group, init, _host_dir: host_dir, _uplink: uplink, stdin, stdout, stderr };
    let run_as = spec.sandbox.as_ref().and_then(|s| s.run_as);
    if let (Some(mut input), Some(mut pipe)) = (input, child.stdin.take()) {
        // Written from its own task: a child that does not read its stdin must not block us. With
        // a network, the uplink comes first: the init runs nothing before its plan arrives.
        tokio::spawn(async move {
            let mut held = None;
            if let (Some(net), Some(pid)) = (network, bwrap_pid) {
                match network::attach(&net.tools, pid, &net.blocked, run_as).await {
                    Ok(uplink) => held = Some(uplink),
                    Err(why) => input = plan::Plan::aborted(why).frame(),
                }
            }
            let _ = pipe.write_all(&input).await;
            let _ = pipe.shutdown().await;
            // Closed now: the program reads its stdin to the end.
            drop(pipe);
            if held.is_some() {
                let _ = uplink_held.await;
            }
        });
    }
    Ok(child)
}

/// The command for `spec`: as it is, or the tool init in its sandbox (with the launch, whose plan
/// must lead stdin and whose host directory must outlive the child).
#[expect(clippy::disallowed_methods, reason = "process::spawn: the one place programs start")]
fn command(spec: &Spec) -> Result<(Command, Option<sandbox::Launch>), SpawnError> {
    let Some(sandbox) = &spec.sandbox else {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args).envs(spec.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &spec.cwd {
            cmd.current_dir(dir);
        }
        return Ok((cmd, None));
    };
    let text = |s: &OsString| s.to_string_lossy().into_owned();
    let step = |program: String, args: Vec<String>, env: Vec<(String, String)>, timeout: Duration| plan::Step {
        program,
        args,
        env,
        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    };
    let mut steps: Vec<plan::Step> =
        spec.setup.iter().map(|s| step(s.program.clone(), s.args.clone(), s.env.clone(), s.timeout)).collect();
    steps.push(step(text(&spec.program), spec.args.iter().map(text).collect(), Vec::new(), spec.timeout));
    let env: Vec<(String, String)> = spec.env.iter().map(|(k, v)| (text(k), text(v))).collect();
    let job = sandbox::Job { files: &spec.files, steps };
    let launch = sandbox.launch(&job, &env, spec.timeout).map_err(SpawnError::Refused)?;
    let mut cmd = Command::new(&launch.program);
    cmd.args(&launch.args).env_clear();
    if let Some(dir) = &launch.host_dir {
        cmd.current_dir(dir.path());
    }
    if let Some(uid) = launch.run_as {
        cmd.uid(uid).gid(uid);
    }
    Ok((cmd, Some(launch)))
}

/// How a process killed by its CPU limit (SIGXCPU) exits, as shells report it.
pub(crate) const CPU_LIMIT_EXIT: i32 = 128 + libc::SIGXCPU;

/// The exit code of a status; a death by signal is 128 + the signal, as shells report it.
pub(crate) fn exit_code(status: &ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs `spec` to completion or timeout, with both streams captured up to the cap. A sandboxed
/// spec first waits for a tool slot (at most its timeout).
pub(crate) async fn run(spec: Spec) -> Result<Outcome, SpawnError> {
    let started = Instant::now();
    let _slot = match &spec.sandbox {
        Some(sandbox) => {
            let slots = sandbox.slots().clone();
            match tokio::time::timeout(spec.timeout, slots.acquire_owned()).await {
                Ok(Ok(permit)) => Some(permit),
                _ => return Err(SpawnError::Busy(sandbox.settings.max_concurrent)),
            }
        }
        None => None,
    };
    let sandboxed = spec.sandbox.is_some();
    let last = spec.setup.len();
    let mut child = spawn(&spec)?;
    let stdout = child.stdout.take().map(|s| Capture::start(s, spec.output_cap));
    let stderr = child.stderr.take().map(|s| Capture::start(s, spec.output_cap));
    let exit = match tokio::time::timeout(spec.deadline(), child.wait()).await {
        Ok(Ok(status)) => Exit::Code(exit_code(&status)),
        Ok(Err(_)) => Exit::Code(-1),
        Err(_) => Exit::TimedOut,
    };
    // Whether it exited or timed out, nothing of its tree outlives the call.
    child.kill_tree();
    if exit == Exit::TimedOut {
        let _ = child.wait().await;
    }
    let (stdout, mut stderr) = tokio::join!(Capture::finish(stdout), Capture::finish(stderr));
    let mut outcome =
        Outcome { exit, setup_failed: None, stdout, stderr: Captured::default(), elapsed: Duration::ZERO };
    if sandboxed && exit == Exit::Code(plan::VERDICT_EXIT) {
        apply_verdict(&mut outcome, &mut stderr, last)?;
    }
    // The CPU limit defaults to the timeout, so a program that spins races two clocks to the same
    // end: killed by SIGXCPU or by the wall clock, it ran out of its time either way.
    let cpu_is_the_timeout = spec.sandbox.as_ref().is_some_and(|s| s.settings.cpu_sec.is_none());
    if cpu_is_the_timeout && outcome.setup_failed.is_none() && outcome.exit == Exit::Code(CPU_LIMIT_EXIT) {
        outcome.exit = Exit::TimedOut;
    }
    outcome.stderr = stderr;
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// Reads the init's verdict (the last line of stderr, or of its tail when the cap cut it off) into
/// the outcome; a program that was not found or a plan that failed is an `Err`.
fn apply_verdict(outcome: &mut Outcome, stderr: &mut Captured, last: usize) -> Result<(), SpawnError> {
    let (kept, verdict) = match plan::Verdict::split(&stderr.text) {
        Some((before, verdict)) => (Some(before.to_owned()), verdict),
        None => match plan::Verdict::split(&String::from_utf8_lossy(&stderr.tail)) {
            Some((_, verdict)) => (None, verdict),
            None => return Ok(()),
        },
    };
    if let Some(text) = kept {
        stderr.text = text;
    }
    match verdict {
        plan::Verdict::SetupFailed { program, code, .. } => {
            outcome.exit = Exit::Code(code);
            outcome.setup_failed = Some(program);
        }
        plan::Verdict::TimedOut { step, program } => {
            outcome.exit = Exit::TimedOut;
            outcome.setup_failed = (step < last).then_some(program);
        }
        plan::Verdict::NotFound { program, .. } => return Err(SpawnError::NotFound { program }),
        plan::Verdict::Error { message } => return Err(SpawnError::Refused(message)),
    }
    Ok(())
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

/// How much of a stream's end is kept past the cap.
const TAIL_BYTES: usize = 4096;

/// Reads a stream to its end (or until `stop`), keeping the first `cap` bytes and counting the
/// rest. Reading on past the cap (rather than stopping) keeps the child from blocking on a full pipe.
async fn read_capped(mut stream: impl AsyncRead + Unpin, cap: usize, mut stop: oneshot::Receiver<()>) -> Captured {
    let mut kept = Vec::new();
    let mut dropped = 0usize;
    let mut tail: Vec<u8> = Vec::new();
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
        if take < n {
            tail.extend_from_slice(&buf[take..n]);
            let excess = tail.len().saturating_sub(TAIL_BYTES);
            tail.drain(..excess);
        }
    }
    Captured { text: String::from_utf8_lossy(&kept).into_owned(), dropped, tail }
}

#[cfg(test)]
mod tests;
