//! The sandbox's settings, read from the server's environment (`MINI_AGENT_TOOL_*`), and where the
//! tool init is found.

use std::path::{Path, PathBuf};

use super::super::mounts;
use crate::env::Env;

/// What to do about the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Use it; where it cannot be set up, refuse tools (503) and say why.
    Auto,
    /// Use it; where it cannot be set up, refuse to start.
    Required,
    /// Never (the operator's explicit choice): environment allowlist, limits, filter and reaping
    /// still apply; namespaces and the filesystem allowlist do not.
    Off,
}

/// Settings of the sandbox, from the server's environment.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub mode: Mode,
    /// `MINI_AGENT_TOOL_NETWORK=1`: tools share the host's network.
    pub network: bool,
    /// What tools inherit: `PATH` and `LANG`, and the `MINI_AGENT_TOOL_ENV_PASS` names, with the
    /// values the server started with.
    pub env_pass: Vec<(String, String)>,
    /// `MINI_AGENT_TOOL_MEM_MB` (1024): the address-space limit of every tool process.
    pub mem_mb: u64,
    /// `MINI_AGENT_TOOL_CPU_SEC`: CPU seconds; unset means the call's timeout.
    pub cpu_sec: Option<u64>,
    /// `MINI_AGENT_TOOL_FILE_MB` (64): the largest file a tool may write.
    pub file_mb: u64,
    /// `MINI_AGENT_TOOL_DISK_MB` (256): the size of the work directory (a tmpfs).
    pub disk_mb: u64,
    /// `MINI_AGENT_TOOL_NOFILE` (256): open files.
    pub nofile: u64,
    /// `MINI_AGENT_TOOL_NPROC` (256): processes.
    pub nproc: u64,
    /// `MINI_AGENT_TOOL_MAX_CONCURRENT` (2 × cores): tool calls running at once; the rest wait,
    /// at most their own timeout.
    pub max_concurrent: usize,
    /// `MINI_AGENT_TOOL_UID` (65534): the uid a root server runs tools as; 0 keeps root.
    pub uid: u32,
    /// Files and directories tools must not see (the server's keys file, router config, traces, …,
    /// made absolute); `MINI_AGENT_TOOL_HIDE` adds more.
    pub hide: Vec<PathBuf>,
    /// With `network`: addresses the tool must not reach besides the host's own (the server's
    /// Redis; set by the configuration).
    pub network_deny: Vec<std::net::IpAddr>,
    /// `MINI_AGENT_TOOL_RO_BINDS`: extra host paths exposed read-only (e.g. a toolchain under a
    /// home directory, which is otherwise absent).
    pub ro_binds: Vec<PathBuf>,
    /// `MINI_AGENT_TOOL_INIT`: the tool init — by default this very program (or, for a program
    /// embedding the library, such as a test, the `miniagent` binary beside it).
    pub init: PathBuf,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            mode: Mode::Auto,
            network: false,
            env_pass: Vec::new(),
            mem_mb: 1024,
            cpu_sec: None,
            file_mb: 64,
            disk_mb: 256,
            nofile: 256,
            nproc: 256,
            max_concurrent: 2 * std::thread::available_parallelism().map_or(1, usize::from),
            uid: 65534,
            hide: Vec::new(),
            network_deny: Vec::new(),
            ro_binds: Vec::new(),
            init: default_init(),
        }
    }
}

/// This program when it is `miniagent`; else the `miniagent` binary beside it, or one directory up
/// (cargo puts test and bench binaries in `target/<profile>/deps/`).
fn default_init() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("miniagent"));
    if exe.file_name().is_some_and(|n| n == "miniagent") {
        return exe;
    }
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    [dir.join("miniagent"), dir.parent().map(|p| p.join("miniagent")).unwrap_or_default()]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or(exe)
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

impl SandboxSettings {
    pub fn from_env(env: &Env) -> Self {
        let d = Self::default();
        let mode = match env.get("MINI_AGENT_TOOL_SANDBOX").map(|m| m.trim().to_ascii_lowercase()) {
            None => Mode::Auto,
            Some(m) if m == "auto" => Mode::Auto,
            Some(m) if m == "required" => Mode::Required,
            Some(m) if m == "off" => Mode::Off,
            Some(other) => {
                env.problem(format!("MINI_AGENT_TOOL_SANDBOX must be auto, required or off, got {other:?}"));
                Mode::Auto
            }
        };
        let positive = |name: &str, default: u64| env.parse_where(name, default, "an integer ≥ 1", |n| *n >= 1);
        let paths = |name: &str| list(env.get(name)).into_iter().map(|p| mounts::absolute(Path::new(&p))).collect();
        Self {
            mode,
            network: env.flag("MINI_AGENT_TOOL_NETWORK"),
            env_pass: ["PATH".to_owned(), "LANG".to_owned()]
                .into_iter()
                .chain(list(env.get("MINI_AGENT_TOOL_ENV_PASS")))
                .filter_map(|name| env.get(&name).map(|value| (name, value)))
                .collect(),
            mem_mb: positive("MINI_AGENT_TOOL_MEM_MB", d.mem_mb),
            cpu_sec: env.get("MINI_AGENT_TOOL_CPU_SEC").map(|_| positive("MINI_AGENT_TOOL_CPU_SEC", 10)),
            file_mb: positive("MINI_AGENT_TOOL_FILE_MB", d.file_mb),
            disk_mb: positive("MINI_AGENT_TOOL_DISK_MB", d.disk_mb),
            nofile: positive("MINI_AGENT_TOOL_NOFILE", d.nofile),
            nproc: positive("MINI_AGENT_TOOL_NPROC", d.nproc),
            max_concurrent: env.parse_where(
                "MINI_AGENT_TOOL_MAX_CONCURRENT",
                d.max_concurrent,
                "an integer ≥ 1",
                |n| *n >= 1,
            ),
            uid: env.parse("MINI_AGENT_TOOL_UID", d.uid, "a uid (0 keeps root)"),
            hide: paths("MINI_AGENT_TOOL_HIDE"),
            network_deny: Vec::new(),
            ro_binds: paths("MINI_AGENT_TOOL_RO_BINDS"),
            init: env.get("MINI_AGENT_TOOL_INIT").map_or(d.init, |p| mounts::absolute(Path::new(&p))),
        }
    }

    /// Adds files tools must not see (relative paths are taken from the current directory).
    pub fn hide_files(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        self.hide.extend(paths.into_iter().map(|p| mounts::absolute(&p)));
    }
}
