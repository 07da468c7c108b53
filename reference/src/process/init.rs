//! The tool init: the first process of every tool call (`miniagent tool-init`, started by the
//! spawner inside bubblewrap, or bare when the operator turned the sandbox off).
//!
//! It reads its [`Plan`] from stdin, writes the plan's files into the work directory, loads the
//! seccomp filter, then runs the steps in order — each through `prlimit`, so the limits bind the
//! tool and not the init — with the plan's environment and nothing else. Setup steps (compilers)
//! have their output kept and shown only when they fail; the last step gets the rest of stdin and
//! the init's stdout and stderr. When a step ends, everything it left running is killed.
//!
//! It is a **subreaper**: whatever a step starts, `setsid` and double forks included, is reparented
//! to it when its parent dies, so it can find and kill every descendant. Inside the sandbox it is
//! also PID 1 of the tool's PID namespace (its exit kills the namespace); without the sandbox this
//! is what still reaps every child — on SIGTERM (how the server ends a call it abandons) and when
//! the server itself dies (the parent-death signal).
//!
//! Synchronous on purpose: a few threads and blocking calls, no runtime to start per call.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::plan::{Limits, Plan, Step, VERDICT_EXIT, Verdict, WORK_TOKEN};

/// Output kept per stream of a setup step (a compiler's diagnostics).
const SETUP_OUTPUT_CAP: u64 = 256 * 1024;

/// Runs the plan on stdin; the process's exit code.
pub fn main() -> i32 {
    // SIGTERM is taken by a thread of its own (blocked here first, so every thread inherits the
    // block; `std::process::Command` gives children a clean mask).
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    let _ = term.thread_block();
    std::thread::spawn(move || {
        if term.wait().is_ok() {
            TERMINATED.store(true, Ordering::SeqCst);
            reap_descendants();
            std::process::exit(128 + Signal::SIGTERM as i32);
        }
    });
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    let code = match run() {
        Ok(code) => code,
        Err(verdict) => {
            reap_descendants();
            eprint!("{}", verdict.line());
            VERDICT_EXIT
        }
    };
    // A SIGTERM ends the call as killed by it (143), whatever the step it killed answered: the
    // signal thread is reaping and exits; returning here would race it with the step's code.
    if TERMINATED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    code
}

/// Set by the SIGTERM thread before it reaps and exits.
static TERMINATED: AtomicBool = AtomicBool::new(false);

/// A name the init writes a file under in the work directory: one plain component, never a path
/// out of it.
fn plain_file_name(name: &str) -> bool {
    !(name.is_empty() || name.contains('/') || name == "." || name == "..")
}

fn error(message: impl Into<String>) -> Verdict {
    Verdict::Error { message: message.into() }
}

fn run() -> Result<i32, Verdict> {
    let plan = read_plan().map_err(|e| error(format!("cannot read the plan: {e}")))?;
    if let Some(why) = plan.abort {
        return Err(error(why));
    }
    let dir = PathBuf::from(&plan.dir);
    std::fs::create_dir_all(&dir).map_err(|e| error(format!("cannot create {}: {e}", dir.display())))?;
    for sub in [".tmp", ".shm"] {
        let _ = std::fs::create_dir(dir.join(sub));
    }
    for file in &plan.files {
        if !plain_file_name(&file.name) {
            return Err(error(format!("refused file name {:?}", file.name)));
        }
        std::fs::write(dir.join(&file.name), &file.content)
            .map_err(|e| error(format!("cannot write {}: {e}", file.name)))?;
    }
    if plan.seccomp {
        super::seccomp::load().map_err(|e| error(e.to_string()))?;
    }
    let last = plan.steps.len().saturating_sub(1);
    let mut code = 0;
    for (index, step) in plan.steps.iter().enumerate() {
        code = run_step(&plan, index, step, index == last)?;
    }
    reap_descendants();
    Ok(code)
}

/// Reads the 8-byte length and exactly that many bytes, unbuffered: what follows on stdin belongs
/// to the last step, which inherits the descriptor.
fn read_plan() -> Result<Plan, String> {
    let stdin = std::io::stdin();
    let mut head = [0u8; 8];
    read_exact_unbuffered(stdin.as_fd(), &mut head)?;
    let len = usize::try_from(u64::from_le_bytes(head)).map_err(|e| e.to_string())?;
    let mut body = vec![0u8; len];
    read_exact_unbuffered(stdin.as_fd(), &mut body)?;
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

fn read_exact_unbuffered(fd: std::os::fd::BorrowedFd<'_>, mut buf: &mut [u8]) -> Result<(), String> {
    while !buf.is_empty() {
        match nix::unistd::read(fd, buf) {
            Ok(0) => return Err("stdin ended inside the plan".into()),
            Ok(n) => buf = &mut buf[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// `program` as the step will run it: relative to the work directory when it has a slash, else
/// found on the plan's `PATH`.
fn locate(program: &str, plan: &Plan) -> Option<PathBuf> {
    if program.contains('/') {
        let path = Path::new(&plan.dir).join(program);
        return path.is_file().then_some(path);
    }
    let path = plan.env.iter().find(|(k, _)| k == "PATH").map_or("/usr/bin:/bin", |(_, v)| v.as_str());
    std::env::split_paths(path).map(|d| d.join(program)).find(|p| p.is_file())
}

fn prlimit_args(limits: &Limits) -> [String; 6] {
    [
        format!("--as={}", limits.address_space),
        format!("--cpu={}:{}", limits.cpu_sec, limits.cpu_sec + 1),
        format!("--fsize={}", limits.file_size),
        format!("--nofile={}", limits.open_files),
        format!("--nproc={}", limits.processes),
        "--core=0".to_owned(),
    ]
}

#[expect(clippy::disallowed_methods, reason = "the tool init is inside the sandbox: it runs the plan's steps itself")]
fn run_step(plan: &Plan, index: usize, step: &Step, last: bool) -> Result<i32, Verdict> {
    let program = step.program.clone();
    let path =
        locate(&step.program, plan).ok_or_else(|| Verdict::NotFound { step: index, program: program.clone() })?;
    // The system's own, whatever the tool's PATH says.
    let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| locate("prlimit", plan))
        .ok_or_else(|| error("prlimit (util-linux) is not installed"))?;
    let expand = |v: &str| v.replace(WORK_TOKEN, &plan.dir);
    let mut cmd = Command::new(prlimit);
    cmd.args(prlimit_args(&plan.limits))
        .arg("--")
        .arg(&path)
        .args(&step.args)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .envs(step.env.iter().map(|(k, v)| (k.clone(), expand(v))))
        .current_dir(&plan.dir);
    if !last {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| error(format!("cannot start {program}: {e}")))?;
    let captures = [child.stdout.take().map(capture), child.stderr.take().map(capture)];
    let pid = Pid::from_raw(child.id() as i32);
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let status = match finished.recv_timeout(Duration::from_millis(step.timeout_ms)) {
        Ok(status) => status,
        Err(_) => {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = finished.recv();
            reap_descendants();
            return Err(Verdict::TimedOut { step: index, program });
        }
    };
    // What the step left behind (a compiler's or the tool's background children) goes now, so
    // the capture threads see their pipes close.
    reap_descendants();
    let code = status.as_ref().map_or(-1, exit_code);
    if last {
        return Ok(code);
    }
    let [out, err] = captures.map(|c| c.and_then(|h| h.join().ok()).unwrap_or_default());
    if code == 0 {
        return Ok(0);
    }
    use std::io::Write;
    let _ = std::io::stdout().write_all(&out);
    let _ = std::io::stderr().write_all(&err);
    Err(Verdict::SetupFailed { step: index, program, code })
}

fn capture(stream: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut limited = stream.take(SETUP_OUTPUT_CAP);
        let _ = limited.read_to_end(&mut kept);
        // Drain the rest so the writer never blocks on a full pipe.
        let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
        kept
    })
}

fn exit_code(status: &ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// This process's children (including orphans reparented to it), from `/proc`.
fn children() -> Vec<Pid> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command (which may hold spaces and parentheses): state, ppid, …
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)) == Some(me.as_str())
        })
        .map(Pid::from_raw)
        .collect()
}

/// Kills every descendant: children first; their children are then reparented here (subreaper)
/// and killed in the next round. Bounded: a tree deeper than the rounds is cut by the namespace
/// (inside the sandbox) or by the process limit.
fn reap_descendants() {
    for _ in 0..64 {
        let kids = children();
        if kids.is_empty() {
            return;
        }
        for pid in &kids {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_under_one_plain_name_only() {
        for name in ["main.c", "Main.java", "a..b", ".hidden"] {
            assert!(plain_file_name(name), "{name}");
        }
        for name in ["", ".", "..", "a/b", "/etc/passwd", "../x", "x/"] {
            assert!(!plain_file_name(name), "{name:?}");
        }
    }
}
