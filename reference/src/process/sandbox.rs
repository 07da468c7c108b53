//! The tool sandbox (CONTRACT §11): every program a tool runs — `exec_python`, `exec_shell`, auto
//! code blocks, exec-RPC steps — goes through bubblewrap and `prlimit`, not a home-made jail.
//!
//! What it gives a call: its own PID namespace (nothing survives the call: the program is PID 1 of
//! it, so `setsid` children and double-forked daemons die with it), no network unless
//! `MINI_AGENT_TOOL_NETWORK=1`, a private writable work directory and read-only everything else
//! (home directories, `/run` — where the Docker socket lives — and the server's own secret files
//! hidden), an environment reduced to an allowlist (`PATH`, `LANG`, `HOME` and `TMPDIR` pointing at
//! the work directory, and `MINI_AGENT_TOOL_ENV_PASS` names), and resource limits: data segment
//! (`MINI_AGENT_TOOL_MEM_MB`), CPU seconds, file size, open files and processes.
//!
//! Two details the experiments behind this module taught: bubblewrap itself is started with an
//! **empty** environment (its own PID-1 reaper is forked before `--clearenv` applies, and its
//! `/proc/1/environ` would show the server's keys), and a root server runs the sandbox as an
//! unprivileged uid (`MINI_AGENT_TOOL_UID`, default 65534) — the kernel does not count processes of
//! uid 0 against `RLIMIT_NPROC`, and root could read root-only files.
//!
//! Where user namespaces are unavailable (a container with the default seccomp profile), the probe
//! at startup says why; tools then run with the same environment allowlist and limits but without
//! namespaces — unless `MINI_AGENT_TOOL_SANDBOX=required`, which refuses them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::Env;

/// What to do about the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Use it when it works; otherwise warn at startup and run with limits only.
    Auto,
    /// Refuse to run tools when it does not work.
    Required,
    /// Never (trusted local development): limits and the environment allowlist still apply.
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
    /// `MINI_AGENT_TOOL_MEM_MB` (1024): the data-segment limit (RLIMIT_DATA, which the JVM and V8
    /// tolerate; RLIMIT_AS would break them).
    pub mem_mb: u64,
    /// `MINI_AGENT_TOOL_CPU_SEC`: CPU seconds; unset means the call's timeout.
    pub cpu_sec: Option<u64>,
    /// `MINI_AGENT_TOOL_FILE_MB` (64): the largest file a tool may write.
    pub file_mb: u64,
    /// `MINI_AGENT_TOOL_NOFILE` (256): open files.
    pub nofile: u64,
    /// `MINI_AGENT_TOOL_NPROC` (256): processes.
    pub nproc: u64,
    /// `MINI_AGENT_TOOL_UID` (65534): the uid a root server runs tools as; 0 keeps root.
    pub uid: u32,
    /// Files and directories tools must not see (the server's keys file, router config, traces, …);
    /// `MINI_AGENT_TOOL_HIDE` adds more.
    pub hide: Vec<PathBuf>,
    /// `MINI_AGENT_TOOL_RO_BINDS`: extra host paths exposed read-only (e.g. a toolchain under a
    /// home directory, which is otherwise hidden).
    pub ro_binds: Vec<PathBuf>,
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
            nofile: 256,
            nproc: 256,
            uid: 65534,
            hide: Vec::new(),
            ro_binds: Vec::new(),
        }
    }
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
            nofile: positive("MINI_AGENT_TOOL_NOFILE", d.nofile),
            nproc: positive("MINI_AGENT_TOOL_NPROC", d.nproc),
            uid: env.parse("MINI_AGENT_TOOL_UID", d.uid, "a uid (0 keeps root)"),
            hide: list(env.get("MINI_AGENT_TOOL_HIDE")).into_iter().map(PathBuf::from).collect(),
            ro_binds: list(env.get("MINI_AGENT_TOOL_RO_BINDS")).into_iter().map(PathBuf::from).collect(),
        }
    }
}

/// The sandbox of one server: its settings and whether bubblewrap works here.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub settings: SandboxSettings,
    /// `Ok` when bubblewrap works here (probed at startup), else why not.
    pub available: Result<(), String>,
    /// The uid tools run as when the server is root (and `MINI_AGENT_TOOL_UID` is not 0).
    pub run_as: Option<u32>,
}

/// How one program will run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// The complete environment (the spawner clears everything else).
    pub env: Vec<(OsString, OsString)>,
    /// Run as this uid and gid (a root server's unprivileged tool user).
    pub run_as: Option<u32>,
}

impl Sandbox {
    /// Probes bubblewrap with the real flags (a bare `--unshare-all` probe passes in containers
    /// where mounting `/proc` later fails).
    pub fn new(settings: SandboxSettings) -> Self {
        let run_as = (nix::unistd::geteuid().is_root() && settings.uid != 0).then_some(settings.uid);
        let mut sandbox = Self { settings, available: Err("not probed".into()), run_as };
        sandbox.available = match sandbox.settings.mode {
            Mode::Off => Err("MINI_AGENT_TOOL_SANDBOX=off".into()),
            Mode::Auto | Mode::Required => sandbox.probe(),
        };
        sandbox
    }

    /// Not probed, never used: what tests and embedders that do not run tools start from.
    pub fn disabled() -> Self {
        let settings = SandboxSettings { mode: Mode::Off, ..SandboxSettings::default() };
        Self { settings, available: Err("MINI_AGENT_TOOL_SANDBOX=off".into()), run_as: None }
    }

    /// Whether calls get namespaces.
    pub fn active(&self) -> bool {
        self.available.is_ok()
    }

    /// One line for the startup log and the doctor.
    pub fn describe(&self) -> String {
        let user = self.run_as.map_or_else(String::new, |u| format!(", as uid {u}"));
        match (&self.available, self.settings.mode) {
            (Ok(()), _) => format!(
                "tools run in a bubblewrap sandbox ({}; data {} MB, {} processes, {} open files, files ≤ {} MB{user})",
                if self.settings.network {
                    "own PID and mount namespaces, the host's network (MINI_AGENT_TOOL_NETWORK=1)"
                } else {
                    "own PID, mount and network namespaces"
                },
                self.settings.mem_mb,
                self.settings.nproc,
                self.settings.nofile,
                self.settings.file_mb
            ),
            (Err(why), Mode::Required) => format!(
                "the tool sandbox is unavailable ({why}) and MINI_AGENT_TOOL_SANDBOX=required: tools are refused"
            ),
            (Err(why), Mode::Off) => format!("the tool sandbox is off ({why}); tools run with limits only{user}"),
            (Err(why), Mode::Auto) => format!(
                "the tool sandbox is unavailable ({why}); tools run with limits only{user} — set MINI_AGENT_TOOL_SANDBOX=required to refuse them instead"
            ),
        }
    }

    fn probe(&self) -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot make a probe directory: {e}"))?;
        if let Some(uid) = self.run_as {
            chown(dir.path(), uid)?;
        }
        let launch = self.wrap(Path::new("/bin/true"), &[], dir.path(), &[], Duration::from_secs(5), true);
        let mut cmd = std::process::Command::new(&launch.program);
        cmd.args(&launch.args).env_clear().envs(launch.env).stdin(std::process::Stdio::null());
        if let Some(uid) = launch.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        let out = cmd.output().map_err(|e| format!("cannot run bwrap ({e}); install the `bubblewrap` package"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("bwrap failed").trim().to_owned())
        }
    }

    /// How to run `program args` in `work` (bound read-write; everything else read-only) with the
    /// tool's own extra variables `env`, within `timeout`. `Err` when the sandbox is required and
    /// unavailable.
    pub fn launch(
        &self,
        program: &Path,
        args: &[OsString],
        work: &Path,
        env: &[(OsString, OsString)],
        timeout: Duration,
    ) -> Result<Launch, String> {
        if self.settings.mode == Mode::Required && self.available.is_err() {
            return Err(self.describe());
        }
        Ok(self.wrap(program, args, work, env, timeout, self.active()))
    }

    /// The launch with or without namespaces (limits and the environment allowlist either way).
    fn wrap(
        &self,
        program: &Path,
        args: &[OsString],
        work: &Path,
        env: &[(OsString, OsString)],
        timeout: Duration,
        namespaces: bool,
    ) -> Launch {
        let env = self.environment(work, env);
        let limited = self.prlimit(program, args, timeout);
        if !namespaces {
            let (program, args) = limited.split_first().map(|(p, a)| (p.clone(), a.to_vec())).unwrap_or_default();
            return Launch { program, args, env, run_as: self.run_as };
        }
        let mut bwrap = self.namespaces(work);
        for (k, v) in &env {
            bwrap.extend(["--setenv".into(), k.clone(), v.clone()]);
        }
        bwrap.extend(["--chdir".into(), work.into(), "--".into()]);
        bwrap.extend(limited);
        // bwrap's own environment stays empty: see the module header.
        Launch { program: "bwrap".into(), args: bwrap, env: Vec::new(), run_as: self.run_as }
    }

    /// The bubblewrap flags, in the order the mounts must be made.
    fn namespaces(&self, work: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = ["--unshare-all"].map(OsString::from).to_vec();
        if self.settings.network {
            a.push("--share-net".into());
        }
        let fixed = [
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--as-pid-1",
            "--ro-bind",
            "/",
            "/",
            "--tmpfs",
            "/root",
            "--tmpfs",
            "/home",
            "--tmpfs",
            "/run",
            "--size",
            "268435456",
            "--tmpfs",
            "/tmp",
            "--size",
            "268435456",
            "--tmpfs",
            "/var/tmp",
        ];
        a.extend(fixed.map(OsString::from));
        for path in self.settings.ro_binds.iter().filter(|p| p.exists()) {
            a.extend(["--ro-bind".into(), path.into(), path.into()]);
        }
        a.extend(["--remount-ro", "/root", "--remount-ro", "/home", "--remount-ro", "/run"].map(OsString::from));
        for path in self.settings.hide.iter().filter(|p| p.exists()) {
            let mask: [OsString; 3] = if path.is_dir() {
                ["--tmpfs".into(), path.into(), "".into()]
            } else {
                ["--ro-bind".into(), "/dev/null".into(), path.into()]
            };
            a.extend(mask.into_iter().filter(|s| !s.is_empty()));
        }
        a.extend(["--bind".into(), work.into(), work.into()]);
        a.extend(
            ["--proc", "/proc", "--dev", "/dev", "--size", "67108864", "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
                .map(OsString::from),
        );
        a
    }

    /// `prlimit <limits> -- program args`.
    fn prlimit(&self, program: &Path, args: &[OsString], timeout: Duration) -> Vec<OsString> {
        let s = &self.settings;
        let cpu = s.cpu_sec.unwrap_or_else(|| timeout.as_secs_f64().ceil() as u64).max(1);
        let mut out: Vec<OsString> = vec![
            "prlimit".into(),
            format!("--data={}", s.mem_mb * 1024 * 1024).into(),
            format!("--cpu={cpu}:{}", cpu + 1).into(),
            format!("--fsize={}", s.file_mb * 1024 * 1024).into(),
            format!("--nofile={}", s.nofile).into(),
            format!("--nproc={}", s.nproc).into(),
            "--".into(),
            program.into(),
        ];
        out.extend(args.iter().cloned());
        out
    }

    /// The allowlist: `PATH` and `LANG` from the server, `HOME` and `TMPDIR` at the work
    /// directory, the `MINI_AGENT_TOOL_ENV_PASS` names, then the tool's own variables.
    fn environment(&self, work: &Path, extra: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> =
            self.settings.env_pass.iter().map(|(k, v)| (k.into(), v.into())).collect();
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()));
        }
        env.push(("HOME".into(), work.into()));
        env.push(("TMPDIR".into(), work.into()));
        env.extend(extra.iter().cloned());
        env
    }
}

/// Gives `path` to `uid` (the tools' user), so a sandbox running as it can work there.
pub fn chown(path: &Path, uid: u32) -> Result<(), String> {
    let id = nix::unistd::Uid::from_raw(uid);
    let gid = nix::unistd::Gid::from_raw(uid);
    nix::unistd::chown(path, Some(id), Some(gid))
        .map_err(|e| format!("cannot hand {} to uid {uid}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> (SandboxSettings, Vec<String>) {
        let lookup = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        let env = Env::new(&lookup);
        let s = SandboxSettings::from_env(&env);
        (s, env.into_problems())
    }

    #[test]
    fn settings_and_their_problems() {
        let (s, problems) = settings(&[
            ("MINI_AGENT_TOOL_SANDBOX", "Required"),
            ("MINI_AGENT_TOOL_ENV_PASS", "A, B"),
            ("A", "1"),
            ("PATH", "/bin"),
            ("OPENAI_API_KEY", "sk-x"),
        ]);
        assert_eq!((s.mode, s.mem_mb, s.cpu_sec), (Mode::Required, 1024, None));
        let passed = [("PATH".to_owned(), "/bin".to_owned()), ("A".to_owned(), "1".to_owned())];
        assert_eq!(s.env_pass, passed, "PATH and the named variables that are set, nothing else");
        assert!(problems.is_empty());
        let (_, problems) = settings(&[("MINI_AGENT_TOOL_SANDBOX", "maybe"), ("MINI_AGENT_TOOL_MEM_MB", "0")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn the_launch_wraps_limits_inside_the_namespaces() {
        let sandbox = Sandbox { settings: SandboxSettings::default(), available: Ok(()), run_as: None };
        let work = Path::new("/tmp/work-x");
        let l = sandbox
            .launch(
                Path::new("python3"),
                &["-".into()],
                work,
                &[("PYTHONUNBUFFERED".into(), "1".into())],
                Duration::from_secs(10),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let args: Vec<String> = l.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let joined = args.join(" ");
        assert_eq!(l.program, "bwrap");
        assert!(l.env.is_empty(), "bwrap itself gets no environment");
        assert!(joined.contains("--unshare-all --unshare-user --disable-userns --die-with-parent"), "{joined}");
        assert!(joined.contains("--bind /tmp/work-x /tmp/work-x"), "{joined}");
        assert!(
            joined.contains("--setenv HOME /tmp/work-x") && joined.contains("--setenv PYTHONUNBUFFERED 1"),
            "{joined}"
        );
        assert!(
            joined.ends_with(
                "-- prlimit --data=1073741824 --cpu=10:11 --fsize=67108864 --nofile=256 --nproc=256 -- python3 -"
            ),
            "{joined}"
        );
        let off = Sandbox { available: Err("no".into()), ..sandbox };
        let l =
            off.launch(Path::new("python3"), &[], work, &[], Duration::from_secs(1)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.program, "prlimit", "without namespaces the limits still apply");
        assert!(l.env.iter().any(|(k, _)| k == "HOME") && !l.env.iter().any(|(k, _)| k == "CARGO"));
        let required = Sandbox {
            settings: SandboxSettings { mode: Mode::Required, ..SandboxSettings::default() },
            available: Err("no user namespaces".into()),
            run_as: None,
        };
        let err = required.launch(Path::new("python3"), &[], work, &[], Duration::from_secs(1)).expect_err("refused");
        assert!(err.contains("MINI_AGENT_TOOL_SANDBOX=required"), "{err}");
    }
}
