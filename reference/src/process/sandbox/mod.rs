//! The tool sandbox (CONTRACT §11): every program a tool runs — `exec_python`, `exec_shell`, auto
//! code blocks, exec-RPC steps — starts as a [`super::plan::Plan`] carried out by the tool init
//! ([`super::init`]) inside bubblewrap, not in a home-made jail.
//!
//! What a call gets: its own user, PID, mount, IPC, UTS and network namespaces (no network unless
//! `MINI_AGENT_TOOL_NETWORK=1`), the filesystem allowlist of [`super::mounts`] (system programs and
//! libraries read-only, a sized tmpfs work directory, nothing of the server's), an environment
//! reduced to an allowlist (`PATH`, `LANG`, `HOME` and `TMPDIR` in the work directory, and the
//! `MINI_AGENT_TOOL_ENV_PASS` names — carried in the plan on stdin, never on a command line), the
//! seccomp filter of [`super::seccomp`], and limits: address space (`MINI_AGENT_TOOL_MEM_MB`, every
//! mapping counted), CPU seconds, file size, open files, processes — and at most
//! `MINI_AGENT_TOOL_MAX_CONCURRENT` tool processes at once.
//!
//! **It fails closed.** The startup probe runs a real plan through the real launch. When it fails,
//! tools are refused (a 503 that says why) in the default `auto` mode, and the server does not start
//! at all with `MINI_AGENT_TOOL_SANDBOX=required`. Only `off`, written by the operator, runs tools
//! without namespaces: then the init still sets the environment allowlist, the limits and the
//! filter, and still kills every descendant (it is a subreaper), but the tool sees the host's
//! filesystem and network as its uid does, and a tool of a non-root server runs as the server's
//! uid (it can signal the server; the server's `/proc` stays closed to it because the server makes
//! itself non-dumpable at startup).
//!
//! Two details the experiments behind this module taught: bubblewrap itself is started with an
//! **empty** environment (a forked reaper would otherwise show the server's keys in its
//! `/proc/<pid>/environ`), and a root server runs tools as an unprivileged uid (`MINI_AGENT_TOOL_UID`,
//! default 65534) — the kernel does not count uid 0's processes against `RLIMIT_NPROC`, and root
//! could read root-only files.

mod hostdir;
mod settings;

pub(crate) use hostdir::HostDir;
pub use settings::{Mode, SandboxSettings};

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::mounts::{self, StaticMasks};
use super::plan::{Limits, Plan};

/// The sandbox of one server: its settings, whether it works here, and the tool slots.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub settings: SandboxSettings,
    /// `Ok` when a sandboxed call works here (probed at startup), else why not.
    pub available: Result<(), String>,
    /// The uid tools run as when the server is root (and `MINI_AGENT_TOOL_UID` is not 0).
    pub run_as: Option<u32>,
    masks: StaticMasks,
    slots: Arc<tokio::sync::Semaphore>,
    /// With `MINI_AGENT_TOOL_NETWORK=1`: the uplink's programs and what it must not reach.
    network: Option<Arc<Network>>,
}

/// How tools reach the network (see [`super::network`]).
#[derive(Debug)]
pub struct Network {
    pub tools: super::network::Tools,
    pub blocked: Vec<std::net::IpAddr>,
}

/// How one tool process starts: the program (bubblewrap, or the init itself when the sandbox is
/// off), its arguments, the uid, and the plan frame that must lead its stdin.
#[derive(Debug)]
pub struct Launch {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub run_as: Option<u32>,
    pub plan: Vec<u8>,
    /// The host work directory (sandbox off only); removed when dropped.
    pub host_dir: Option<HostDir>,
    /// The uplink to attach once bubblewrap runs (`MINI_AGENT_TOOL_NETWORK=1`, sandboxed).
    pub network: Option<Arc<Network>>,
}

/// One tool call's job, before it becomes a plan.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub files: &'a [(String, String)],
    pub steps: Vec<super::plan::Step>,
}

impl Sandbox {
    /// Probes the real launch (bubblewrap, the init, `prlimit`, the filter) with a real plan.
    pub fn new(settings: SandboxSettings) -> Self {
        let euid = nix::unistd::geteuid();
        let run_as = (euid.is_root() && settings.uid != 0).then_some(settings.uid);
        let masks = StaticMasks::discover(euid.as_raw());
        let slots = Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent));
        let network = match settings.network.then(super::network::Tools::find) {
            None => Ok(None),
            Some(Ok(tools)) => {
                let mut blocked = super::network::host_addresses();
                blocked.extend(settings.network_deny.iter().copied());
                Ok(Some(Arc::new(Network { tools, blocked })))
            }
            Some(Err(why)) => Err(why),
        };
        let mut sandbox = Self { settings, available: Err("not probed".into()), run_as, masks, slots, network: None };
        sandbox.available = match network {
            Ok(network) => {
                sandbox.network = network;
                sandbox.probe()
            }
            Err(why) => Err(why),
        };
        sandbox
    }

    /// The sandbox of a starting server: probed, said in the log (an error when tools will be
    /// refused), and `Err` — the server must not start — when it is `required` and does not work.
    pub fn started(settings: SandboxSettings) -> Result<Arc<Self>, String> {
        let sandbox = Self::new(settings);
        match (&sandbox.available, sandbox.settings.mode) {
            (Ok(()), Mode::Off) => tracing::warn!("{}", sandbox.describe()),
            (Ok(()), _) => tracing::info!("{}", sandbox.describe()),
            (Err(_), Mode::Required) => {
                return Err(format!("MINI_AGENT_TOOL_SANDBOX=required: {}", sandbox.describe()));
            }
            (Err(_), _) => tracing::error!("{}", sandbox.describe()),
        }
        Ok(Arc::new(sandbox))
    }

    /// Not probed, never used: what tests and embedders that do not run tools start from.
    pub fn disabled() -> Self {
        let settings = SandboxSettings { mode: Mode::Off, ..SandboxSettings::default() };
        let slots = Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent));
        Self {
            settings,
            available: Err("not probed".into()),
            run_as: None,
            masks: StaticMasks::default(),
            slots,
            network: None,
        }
    }

    /// Why tools are refused, when they are (the sandbox is on and does not work here).
    pub fn refusal(&self) -> Option<String> {
        match (&self.available, self.settings.mode) {
            (Err(why), Mode::Auto | Mode::Required) => Some(format!(
                "tools are refused: the tool sandbox cannot be set up here ({why}). Fix that (see `miniagent \
                 doctor`), or set MINI_AGENT_TOOL_SANDBOX=off to run tools without it (README: Security)"
            )),
            _ => None,
        }
    }

    /// The slots tool processes take (at most `max_concurrent` at once).
    pub fn slots(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.slots
    }

    /// One line for the startup log.
    pub fn describe(&self) -> String {
        let s = &self.settings;
        let user = self.run_as.map_or_else(String::new, |u| format!(", as uid {u}"));
        let limits = format!(
            "address space {} MB, work dir {} MB, files ≤ {} MB, {} processes, {} open files, {} at once{user}",
            s.mem_mb, s.disk_mb, s.file_mb, s.nproc, s.nofile, s.max_concurrent
        );
        match (&self.available, s.mode) {
            (Ok(()), Mode::Off) => format!(
                "MINI_AGENT_TOOL_SANDBOX=off: tools run WITHOUT namespaces — they see the host's files and \
                 network as their uid does (environment allowlist, seccomp, limits and reaping still apply; {limits})"
            ),
            (Ok(()), _) => format!(
                "tools run in a bubblewrap sandbox (own PID, mount, IPC{} namespaces; filesystem: {}; seccomp on; {limits})",
                if s.network {
                    " and network; an uplink to the network but not to this host (MINI_AGENT_TOOL_NETWORK=1)"
                } else {
                    " and network: no network"
                },
                self.filesystem()
            ),
            (Err(why), Mode::Off) => format!("MINI_AGENT_TOOL_SANDBOX=off and the tool init does not work: {why}"),
            (Err(_), _) => self.refusal().unwrap_or_default(),
        }
    }

    /// The filesystem a tool sees, for the log and the doctor.
    pub fn filesystem(&self) -> String {
        let masked = self.masks.paths.len() + mounts::masks_for(&self.settings.hide, &self.settings.ro_binds).len();
        let extra: Vec<String> = self.settings.ro_binds.iter().map(|p| p.display().to_string()).collect();
        format!(
            "/usr /bin /sbin /lib* /etc read-only{}, {masked} server path(s) masked, a fresh /proc, a {} MB work dir",
            if extra.is_empty() { String::new() } else { format!(" + {}", extra.join(" ")) },
            self.settings.disk_mb
        )
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the startup probe runs the sandbox launch directly, as process::spawn would"
    )]
    fn probe(&self) -> Result<(), String> {
        if !self.settings.init.is_file() {
            return Err(format!(
                "the tool init {} does not exist; set MINI_AGENT_TOOL_INIT to the miniagent binary",
                self.settings.init.display()
            ));
        }
        let job = Job {
            files: &[],
            steps: vec![super::plan::Step {
                // By its path: the probe is about the sandbox, not the tools' PATH.
                program: ["/usr/bin/true", "/bin/true"]
                    .into_iter()
                    .find(|p| Path::new(p).is_file())
                    .unwrap_or("true")
                    .into(),
                args: Vec::new(),
                env: Vec::new(),
                timeout_ms: 5000,
            }],
        };
        let launch = self.launch(&job, &[], Duration::from_secs(5))?;
        let mut cmd = std::process::Command::new(&launch.program);
        cmd.args(&launch.args).env_clear().stdin(std::process::Stdio::piped());
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        if let Some(uid) = launch.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "bwrap is not installed (Debian package `bubblewrap`)".to_owned(),
            _ => format!("cannot run {}: {e}", launch.program.to_string_lossy()),
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(&launch.plan);
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("the probe failed").to_owned();
        Err(match self.run_as {
            Some(uid) if why.contains("ermission denied") => format!(
                "{why} — the tools' uid {uid} must be able to reach the init {} (install it under /usr/local/bin, or set MINI_AGENT_TOOL_INIT)",
                self.settings.init.display()
            ),
            _ => why,
        })
    }

    fn limits(&self, timeout: Duration) -> Limits {
        let s = &self.settings;
        let mb = 1024 * 1024;
        Limits {
            address_space: s.mem_mb * mb,
            cpu_sec: s.cpu_sec.unwrap_or_else(|| timeout.as_secs_f64().ceil() as u64).max(1),
            file_size: s.file_mb * mb,
            open_files: s.nofile,
            processes: s.nproc,
        }
    }

    /// How to run `job` with the tool's own extra variables `env` (each step's timeout is its
    /// own; `timeout` sets the CPU limit). `Err` when tools are refused here.
    pub fn launch(&self, job: &Job<'_>, env: &[(String, String)], timeout: Duration) -> Result<Launch, String> {
        let namespaced = match (&self.available, self.settings.mode) {
            (_, Mode::Off) => false,
            (Ok(()), _) => true,
            // The probe itself runs through here before `available` is known.
            (Err(why), _) if why == "not probed" => true,
            (Err(_), _) => return Err(self.refusal().unwrap_or_default()),
        };
        let host_dir = if namespaced { None } else { Some(HostDir::create(self.run_as)?) };
        let dir = host_dir.as_ref().map_or_else(|| mounts::WORK.to_owned(), |d| d.path().display().to_string());
        let plan = Plan {
            env: self.environment(&dir, env),
            dir,
            files: job
                .files
                .iter()
                .map(|(name, content)| super::plan::File { name: name.clone(), content: content.clone() })
                .collect(),
            limits: self.limits(timeout),
            seccomp: true,
            steps: job.steps.clone(),
            abort: None,
        };
        let init_args: Vec<OsString> = vec!["tool-init".into()];
        let network = if namespaced { self.network.clone() } else { None };
        let (program, args) = if namespaced {
            let mut args = self.namespaces(network.is_some());
            args.push("--".into());
            args.push(mounts::INIT.into());
            args.extend(init_args);
            match &network {
                // bubblewrap in a network namespace of its own the uplink can reach (see `network`).
                Some(net) => {
                    let mut outer: Vec<OsString> =
                        ["--user", "--map-root-user", "--net", "--"].map(OsString::from).to_vec();
                    outer.push(find_bwrap(&self.settings));
                    outer.extend(args);
                    (net.tools.unshare.clone().into_os_string(), outer)
                }
                None => (find_bwrap(&self.settings), args),
            }
        } else {
            (self.settings.init.clone().into_os_string(), init_args)
        };
        Ok(Launch { program, args, run_as: self.run_as, plan: plan.frame(), host_dir, network })
    }

    /// The bubblewrap flags: namespaces, then the filesystem allowlist. With a network, bubblewrap
    /// shares the namespace `unshare` made for the call (never the host's), and keeps the tool's
    /// uid (it runs as root of that outer user namespace).
    fn namespaces(&self, network: bool) -> Vec<OsString> {
        let s = &self.settings;
        let mut a: Vec<OsString> = vec!["--unshare-all".into()];
        if network {
            let uid = self.run_as.unwrap_or_else(|| nix::unistd::geteuid().as_raw()).to_string();
            let gid = self.run_as.unwrap_or_else(|| nix::unistd::getegid().as_raw()).to_string();
            a.extend(["--share-net", "--uid", &uid, "--gid", &gid].map(OsString::from));
        }
        a.extend(
            ["--unshare-user", "--disable-userns", "--die-with-parent", "--new-session", "--as-pid-1"]
                .map(OsString::from),
        );
        let mut masks = self.masks.paths.clone();
        masks.extend(mounts::masks_for(&s.hide, &s.ro_binds));
        a.extend(mounts::arguments(&s.init, s.disk_mb * 1024 * 1024, &masks, &s.ro_binds, s.network));
        a
    }

    /// The allowlist: `PATH` and `LANG` from the server, `HOME` at the work directory and `TMPDIR`
    /// in it, the `MINI_AGENT_TOOL_ENV_PASS` names, then the tool's own variables.
    fn environment(&self, work: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
        let mut env = self.settings.env_pass.clone();
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()));
        }
        env.push(("HOME".into(), work.to_owned()));
        env.push(("TMPDIR".into(), format!("{work}/.tmp")));
        env.extend(extra.iter().cloned());
        env
    }
}

/// bubblewrap's path: found on the server's `PATH` (as the settings read it) or where Debian puts
/// it — the `PATH` may be anything (an operator's, a test's empty one).
fn find_bwrap(settings: &SandboxSettings) -> OsString {
    let path = settings.env_pass.iter().find(|(k, _)| k == "PATH").map_or("", |(_, v)| v.as_str());
    std::env::split_paths(path)
        .chain(["/usr/bin", "/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
        .map_or_else(|| OsString::from("bwrap"), PathBuf::into_os_string)
}

/// Gives `path` to `uid` (the tools' user), so a tool running as it can work there.
pub(crate) fn chown(path: &Path, uid: u32) -> Result<(), String> {
    let id = nix::unistd::Uid::from_raw(uid);
    let gid = nix::unistd::Gid::from_raw(uid);
    nix::unistd::chown(path, Some(id), Some(gid))
        .map_err(|e| format!("cannot hand {} to uid {uid}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::hostdir::remove_tree;
    use super::*;
    use crate::env::Env;

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
            ("MINI_AGENT_TOOL_HIDE", "rel/keys.yaml"),
            ("MINI_AGENT_TOOL_MAX_CONCURRENT", "3"),
        ]);
        assert_eq!((s.mode, s.mem_mb, s.cpu_sec, s.disk_mb, s.max_concurrent), (Mode::Required, 1024, None, 256, 3));
        let passed = [("PATH".to_owned(), "/bin".to_owned()), ("A".to_owned(), "1".to_owned())];
        assert_eq!(s.env_pass, passed, "PATH and the named variables that are set, nothing else");
        assert!(s.hide[0].is_absolute(), "a relative path is hidden by its absolute form: {:?}", s.hide);
        assert!(problems.is_empty());
        let (_, problems) = settings(&[
            ("MINI_AGENT_TOOL_SANDBOX", "maybe"),
            ("MINI_AGENT_TOOL_MEM_MB", "0"),
            ("MINI_AGENT_TOOL_MAX_CONCURRENT", "0"),
        ]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        for (value, mode) in [("auto", Mode::Auto), (" Off ", Mode::Off), ("required", Mode::Required)] {
            let (s, problems) = settings(&[("MINI_AGENT_TOOL_SANDBOX", value)]);
            assert_eq!((s.mode, problems.len()), (mode, 0), "{value}: {problems:?}");
        }
    }

    fn job() -> Job<'static> {
        Job {
            files: &[],
            steps: vec![super::super::plan::Step {
                program: "python3".into(),
                args: vec!["-".into()],
                env: vec![],
                timeout_ms: 10_000,
            }],
        }
    }

    #[test]
    fn a_namespaced_launch_carries_the_plan_on_stdin_not_on_the_command_line() {
        let mut s = SandboxSettings::default();
        s.env_pass.push(("SECRET_PASS".into(), "value-not-in-ps".into()));
        let sandbox = Sandbox { available: Ok(()), ..Sandbox::disabled() };
        let sandbox = Sandbox { settings: SandboxSettings { mode: Mode::Auto, ..s }, ..sandbox };
        let l = sandbox
            .launch(&job(), &[("PYTHONUNBUFFERED".into(), "1".into())], Duration::from_secs(10))
            .expect("launch");
        let args = l.args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        assert!(l.program.to_string_lossy().ends_with("bwrap"), "{:?}", l.program);
        assert!(args.contains("--unshare-all --unshare-user --disable-userns --die-with-parent"), "{args}");
        assert!(args.ends_with("-- /.miniagent/init tool-init"), "{args}");
        assert!(!args.contains("value-not-in-ps") && !args.contains("--setenv"), "{args}");
        let plan: Plan = serde_json::from_slice(&l.plan[8..]).expect("plan");
        assert!(plan.env.contains(&("SECRET_PASS".into(), "value-not-in-ps".into())));
        assert!(plan.env.contains(&("HOME".into(), "/work".into())) && plan.seccomp);
        assert_eq!(plan.limits.address_space, 1024 << 20);
        assert!(l.host_dir.is_none(), "the work directory is the sandbox's own tmpfs");
    }

    #[test]
    fn tools_are_refused_unless_the_operator_turned_the_sandbox_off() {
        for mode in [Mode::Auto, Mode::Required] {
            let sandbox = Sandbox {
                settings: SandboxSettings { mode, ..SandboxSettings::default() },
                available: Err("no user namespaces".into()),
                ..Sandbox::disabled()
            };
            let err = sandbox.launch(&job(), &[], Duration::from_secs(1)).expect_err("refused");
            assert!(err.contains("no user namespaces") && err.contains("MINI_AGENT_TOOL_SANDBOX=off"), "{err}");
        }
        let off = Sandbox::disabled();
        let l = off.launch(&job(), &[], Duration::from_secs(1)).expect("off runs the init bare");
        assert_eq!(l.args, ["tool-init"]);
        let dir = l.host_dir.as_ref().expect("a host work directory").path().to_path_buf();
        assert!(dir.is_dir());
        drop(l);
        assert!(!dir.exists(), "the work directory goes with the launch");
    }

    #[test]
    fn a_read_only_subfolder_does_not_keep_the_work_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir").keep();
        std::fs::create_dir_all(dir.join("ro/deeper")).expect("mkdir");
        std::fs::write(dir.join("ro/deeper/big"), "x").expect("write");
        for p in ["ro/deeper", "ro"] {
            std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(0o500)).expect("chmod");
        }
        remove_tree(&dir);
        assert!(!dir.exists());
    }

    #[test]
    fn the_filesystem_line_counts_every_masked_path() {
        let dir = tempfile::tempdir().expect("dir");
        let hidden = dir.path().join("keys.env");
        std::fs::write(&hidden, "K=v").expect("write");
        let sandbox = Sandbox {
            settings: SandboxSettings {
                hide: vec![hidden],
                ro_binds: vec![dir.path().to_path_buf()],
                ..SandboxSettings::default()
            },
            masks: StaticMasks { paths: ["/srv/a", "/srv/b", "/srv/c"].map(PathBuf::from).to_vec() },
            ..Sandbox::disabled()
        };
        let line = sandbox.filesystem();
        assert!(line.contains(", 4 server path(s) masked,"), "3 static + 1 hidden: {line}");
        assert!(line.contains(&format!("read-only + {},", dir.path().display())), "{line}");
    }

    /// The startup probe says why the sandbox does not work: a missing init by the variable to
    /// set, a failing one by the first line it wrote, and — for a root server whose tools run as
    /// another uid — an init that uid cannot reach by what to do about it (only then).
    #[test]
    fn the_probe_says_why_the_sandbox_does_not_work() {
        use std::os::unix::fs::PermissionsExt;
        let missing = SandboxSettings { init: PathBuf::from("/nonexistent/miniagent"), ..SandboxSettings::default() };
        let why = Sandbox::new(missing).available.expect_err("no init");
        assert!(why.contains("/nonexistent/miniagent does not exist") && why.contains("MINI_AGENT_TOOL_INIT"), "{why}");
        if let Err(why) = Sandbox::new(SandboxSettings::default()).available {
            eprintln!("the sandbox does not work here ({why}): the failing-init cases are skipped");
            return;
        }
        let dir = tempfile::tempdir().expect("dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let init = dir.path().join("init");
        std::fs::write(&init, "#!/bin/sh\necho >&2\necho '  init exploded ' >&2\nexit 3\n").expect("write");
        std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let why = Sandbox::new(SandboxSettings { init, ..SandboxSettings::default() }).available.expect_err("fails");
        assert_eq!(why, "init exploded", "the first line it wrote, trimmed");
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        // Root's own directory, closed to the tools' uid (65534 by default).
        let closed = tempfile::tempdir().expect("dir");
        std::fs::set_permissions(closed.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let init = closed.path().join("init");
        std::fs::copy(&SandboxSettings::default().init, &init).expect("copy the init");
        let why = Sandbox::new(SandboxSettings { init, ..SandboxSettings::default() }).available.expect_err("closed");
        assert!(
            why.contains("ermission denied") && why.contains("the tools' uid 65534 must be able to reach the init"),
            "{why}"
        );
    }

    /// The tool's `PATH` is the server's when it passes one, else a default, never both; `HOME` and
    /// `TMPDIR` are in the work directory.
    #[test]
    fn the_environment_has_one_path_and_home_in_the_work_directory() {
        let with = |pass: &[(&str, &str)]| {
            let env_pass = pass.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            let sandbox =
                Sandbox { settings: SandboxSettings { env_pass, ..SandboxSettings::default() }, ..Sandbox::disabled() };
            sandbox.environment("/work", &[("X".into(), "1".into())])
        };
        let paths = |env: &[(String, String)]| {
            env.iter().filter(|(k, _)| k == "PATH").map(|(_, v)| v.clone()).collect::<Vec<_>>()
        };
        assert_eq!(paths(&with(&[("PATH", "/opt/bin")])), ["/opt/bin"]);
        assert_eq!(paths(&with(&[("LANG", "C.UTF-8")])), ["/usr/local/bin:/usr/bin:/bin"]);
        assert_eq!(paths(&with(&[])), ["/usr/local/bin:/usr/bin:/bin"]);
        let env = with(&[("LANG", "C.UTF-8")]);
        for (k, v) in [("LANG", "C.UTF-8"), ("HOME", "/work"), ("TMPDIR", "/work/.tmp"), ("X", "1")] {
            assert!(env.contains(&(k.to_owned(), v.to_owned())), "{k}={v} in {env:?}");
        }
    }

    /// bubblewrap is looked for on the server's `PATH` first, then where Debian puts it.
    #[test]
    fn bubblewrap_is_found_on_the_servers_path_first() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("bwrap"), "").expect("write");
        let path = format!("/nonexistent:{}", dir.path().display());
        let env_pass = vec![("LANG".to_owned(), "C".to_owned()), ("PATH".to_owned(), path)];
        let settings = SandboxSettings { env_pass, ..SandboxSettings::default() };
        assert_eq!(find_bwrap(&settings), dir.path().join("bwrap").into_os_string());
        let elsewhere =
            SandboxSettings { env_pass: vec![("PATH".into(), "/nonexistent".into())], ..SandboxSettings::default() };
        let found = find_bwrap(&elsewhere);
        assert!(
            found == "bwrap" || ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"].iter().any(|p| found == *p),
            "{found:?}"
        );
    }
}
