//! A child process in its own process group, logging to a file, stopped as a whole group on drop.
//!
//! For programs that fork helpers of their own (nginx's master starts workers) or that announce
//! nothing on stderr (nginx, redis-server): readiness is a TCP connect to the port they were told to
//! use ([`wait_for_port`]). Killing only the leader would leave nginx workers holding the listening
//! socket, so the group gets SIGTERM, then SIGKILL after a grace period.
//!
//! Does not choose ports: callers pass them (see [`crate::free_port`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// A running process group; stopped and reaped on drop.
#[derive(Debug)]
pub struct ProcessGroup {
    child: Child,
    name: String,
    log: PathBuf,
}

impl ProcessGroup {
    /// Starts `program args…` as the leader of a new process group, stdout and stderr to `log`.
    pub fn spawn(name: &str, program: &Path, args: &[&str], log: &Path) -> Result<Self, String> {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({}): {e}", program.display()))?;
        Ok(Self { child, name: name.to_owned(), log: log.to_owned() })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the group has written so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until something accepts connections on `127.0.0.1:port`; fails early, with the log,
    /// when the leader exits first.
    pub fn wait_for_port(&mut self, port: u16, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before listening; its output:\n{}",
                    self.name,
                    self.output()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on port {port} within {within:?}; its output:\n{}",
                    self.name,
                    self.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// Sends `signal` to every process of the group `pgid`; false when none is left.
pub fn signal_group(pgid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let pgid = self.child.id();
        signal_group(pgid, "TERM");
        let deadline = Instant::now() + GRACE;
        // Signal 0 probes: it fails once no process of the group is left. The leader is reaped in
        // between so that, as a zombie, it does not keep the group alive.
        while Instant::now() < deadline {
            let _ = self.child.try_wait();
            if !signal_group(pgid, "0") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(pgid, "KILL");
        let _ = self.child.wait();
    }
}
