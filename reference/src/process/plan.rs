//! What the server tells the tool init ([`super::init`]) to do inside the sandbox, and what the init
//! answers when it has a verdict of its own.
//!
//! The plan travels on the init's **stdin**, framed by an 8-byte little-endian length, ahead of the
//! bytes meant for the program itself: nothing of it (the environment, the code) shows in `ps` or in
//! `/proc/<pid>/cmdline`, and any size fits (an argument is capped at 128 KiB by the kernel).
//!
//! The init answers only when *it* decides how a call ended (a setup step failed, a program was not
//! found, a step ran out of time, the plan could not be carried out): then it exits with
//! [`VERDICT_EXIT`] and its last stderr line is [`VERDICT_PREFIX`] followed by a [`Verdict`] as JSON.
//! A program that exits on its own is reported by its own exit code, untouched.

use serde::{Deserialize, Serialize};

/// The exit code of an init that wrote a verdict.
pub(crate) const VERDICT_EXIT: i32 = 254;
/// The start of the verdict line on stderr.
pub(crate) const VERDICT_PREFIX: &str = "miniagent-init: ";
/// In a step's environment values, replaced by the work directory.
pub(crate) const WORK_TOKEN: &str = "{work}";

/// Resource limits the init sets on itself before it starts any step (inherited by every step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Limits {
    /// RLIMIT_AS in bytes: every mapping counts, `MAP_SHARED` and attached SysV segments included.
    pub address_space: u64,
    /// RLIMIT_CPU in seconds, per process.
    pub cpu_sec: u64,
    /// RLIMIT_FSIZE in bytes: the largest file (memfds and tmpfs files included).
    pub file_size: u64,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// RLIMIT_NPROC: processes of the tools' uid.
    pub processes: u64,
}

/// One program the init runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub program: String,
    pub args: Vec<String>,
    /// Added to the plan's environment for this step only ([`WORK_TOKEN`] expanded).
    pub env: Vec<(String, String)>,
    pub timeout_ms: u64,
}

/// A file the init writes into the work directory before the first step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct File {
    /// A plain file name: no directory part (the init refuses anything else).
    pub name: String,
    pub content: String,
}

/// The whole job: files, then steps in order. Every step but the last is a *setup* step (a
/// compiler): its output is kept by the init and shown only if it fails. The last step is the
/// program the caller asked for: it gets the rest of stdin, and stdout and stderr as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// The work directory (created when missing); every step starts there.
    pub dir: String,
    /// The complete environment of every step (the init's own is empty).
    pub env: Vec<(String, String)>,
    pub files: Vec<File>,
    pub limits: Limits,
    /// Load the seccomp filter ([`super::seccomp`]) before the first step.
    pub seccomp: bool,
    pub steps: Vec<Step>,
    /// Set when the server could not prepare the call after starting the init (the tool's
    /// network): the init then ends at once with this as its [`Verdict::Error`].
    #[serde(default)]
    pub abort: Option<String>,
}

impl Plan {
    /// A plan that only says why the call cannot run.
    pub(crate) fn aborted(why: String) -> Self {
        Self {
            dir: "/".into(),
            env: Vec::new(),
            files: Vec::new(),
            limits: Limits { address_space: 0, cpu_sec: 1, file_size: 0, open_files: 1, processes: 1 },
            seccomp: false,
            steps: Vec::new(),
            abort: Some(why),
        }
    }

    /// The frame written to the init's stdin: length, then JSON.
    pub(crate) fn frame(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(json.len() + 8);
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        out
    }
}

/// How the init ended a call, when it was the one to end it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub(crate) enum Verdict {
    /// A setup step exited non-zero (or died: 128 + signal); its output was written before this.
    SetupFailed { step: usize, program: String, code: i32 },
    /// A step (setup or the last) did not finish in time; its tree was killed.
    TimedOut { step: usize, program: String },
    /// A step's program does not exist (on the plan's `PATH`).
    NotFound { step: usize, program: String },
    /// The plan could not be carried out (a file, a limit, the filter).
    Error { message: String },
}

impl Verdict {
    /// The line the init writes (with its trailing newline).
    pub(crate) fn line(&self) -> String {
        format!("{VERDICT_PREFIX}{}\n", serde_json::to_string(self).unwrap_or_default())
    }

    /// The verdict at the end of `stderr`, and the text before it.
    pub(crate) fn split(stderr: &str) -> Option<(&str, Self)> {
        let body = stderr.strip_suffix('\n').unwrap_or(stderr);
        let start = body.rfind(VERDICT_PREFIX)?;
        if start > 0 && !body[..start].ends_with('\n') {
            return None;
        }
        let verdict = serde_json::from_str(&body[start + VERDICT_PREFIX.len()..]).ok()?;
        Some((&stderr[..start], verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_round_trips_through_stderr() {
        let v = Verdict::SetupFailed { step: 0, program: "gcc".into(), code: 1 };
        let stderr = format!("main.c:1: error\n{}", v.line());
        assert_eq!(Verdict::split(&stderr), Some(("main.c:1: error\n", v.clone())));
        assert_eq!(Verdict::split(&v.line()), Some(("", v)));
        assert_eq!(Verdict::split("plain failure\n"), None);
        // Only a whole line counts.
        assert_eq!(Verdict::split("x miniagent-init: {\"verdict\":\"error\",\"message\":\"m\"}"), None);
    }

    #[test]
    fn the_frame_is_length_then_json() {
        let plan = Plan {
            dir: "/work".into(),
            env: vec![],
            files: vec![],
            limits: Limits { address_space: 1, cpu_sec: 1, file_size: 1, open_files: 1, processes: 1 },
            seccomp: true,
            steps: vec![],
            abort: None,
        };
        let frame = plan.frame();
        let len = u64::from_le_bytes(frame[..8].try_into().expect("8 bytes")) as usize;
        assert_eq!(len, frame.len() - 8);
        assert_eq!(serde_json::from_slice::<Plan>(&frame[8..]).expect("json"), plan);
    }
}
