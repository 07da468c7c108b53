//! The escape suite: the real `miniagent serve`, run as root and as an unprivileged user, with its
//! secrets where deployments put them — the keys file under `/run` (Docker and Kubernetes secrets),
//! the router config under `/etc`, a 0600 `.env` and the traces (a relative path, with an old
//! rotation beside it) in an application directory under `/usr/local/lib` that is also its working
//! directory, a unit file and an `EnvironmentFile` under `/etc`, a file the server's uid owns in
//! `/etc`, and another user's home. A tool then tries every read the red team tried (those paths,
//! every `/proc/*/environ` and `cmdline`, its own environment, a walk of everything it can see) and
//! to signal the server; nothing may carry the run's marker, and the signal must fail.
//!
//! The same server with `MINI_AGENT_TOOL_SANDBOX=off` still keeps its environment to itself
//! (non-dumpable) and still reaps every child; and `miniagent doctor` run as root judges the
//! sandbox as the server's user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use libtest_mimic::{Completion, Failed};
use serde_json::{Value, json};

use super::{Test, check, survivors};

const USER: &str = "miniagent-escape";

/// Who the server runs as.
#[derive(Debug, Clone)]
struct User {
    uid: u32,
    gid: u32,
    home: PathBuf,
}

static CREATE_USER: Mutex<()> = Mutex::new(());

fn root() -> Result<User, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("running the server as root needs the tests to run as root".into());
    }
    Ok(User { uid: 0, gid: 0, home: PathBuf::from("/root") })
}

/// The unprivileged user: this process's own when it is not root; else `miniagent-escape`,
/// created when missing.
fn unprivileged() -> Result<User, String> {
    let me = nix::unistd::geteuid();
    if !me.is_root() {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
        return Ok(User { uid: me.as_raw(), gid: nix::unistd::getegid().as_raw(), home });
    }
    let _guard = CREATE_USER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let find = || nix::unistd::User::from_name(USER).ok().flatten();
    if find().is_none() {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--create-home",
                "--home-dir",
                &format!("/home/{USER}"),
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ])
            .status()
            .map_err(|e| format!("useradd: {e}"))?;
        if !status.success() {
            return Err(format!("useradd {USER} failed: {status}"));
        }
    }
    let u = find().ok_or("the user was not created")?;
    std::fs::create_dir_all(&u.dir).map_err(|e| e.to_string())?;
    nix::unistd::chown(&u.dir, Some(u.uid), Some(u.gid)).map_err(|e| e.to_string())?;
    Ok(User { uid: u.uid.as_raw(), gid: u.gid.as_raw(), home: u.dir })
}

/// Files written for one run, removed when dropped (directories created for it too).
struct Stage {
    marker: String,
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    app: PathBuf,
    binary: PathBuf,
    env: Vec<(String, String)>,
    client_key: String,
}

impl Stage {
    fn dir(&mut self, path: &Path, owner: &User, mode: u32) {
        if !path.exists() {
            std::fs::create_dir_all(path).unwrap();
            self.dirs.push(path.to_path_buf());
        }
        nix::unistd::chown(path, Some(owner.uid.into()), Some(owner.gid.into())).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn file(&mut self, path: &Path, content: &str, owner: &User, mode: u32) {
        if let Some(parent) = path.parent().filter(|p| !p.exists()) {
            std::fs::create_dir_all(parent).unwrap();
            self.dirs.push(parent.to_path_buf());
        }
        std::fs::write(path, content).unwrap();
        nix::unistd::chown(path, Some(owner.uid.into()), Some(owner.gid.into())).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        self.files.push(path.to_path_buf());
    }

    /// Every path the attack reads.
    fn targets(&self) -> Vec<PathBuf> {
        let mut t = self.files.clone();
        t.extend(self.dirs.iter().cloned());
        t.extend([self.app.join("traces/t.jsonl"), self.app.join("traces"), self.app.clone()]);
        t
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_dir_all(&self.app);
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn stage(user: &User, other_home: &Path, fake: &str) -> Stage {
    let id = harness::unique() % 1_000_000_000;
    let marker = format!("escape{id}marker");
    let app = PathBuf::from(format!("/usr/local/lib/miniagent-escape-{id}"));
    let mut s = Stage {
        marker: marker.clone(),
        files: Vec::new(),
        dirs: Vec::new(),
        app: app.clone(),
        binary: app.join("bin/miniagent"),
        env: Vec::new(),
        client_key: format!("ck-{marker}"),
    };
    let root = User { uid: 0, gid: 0, home: PathBuf::from("/root") };
    // The application directory: its working directory, its binary, its .env and its traces.
    s.dir(&app, user, 0o711);
    s.dir(&app.join("bin"), user, 0o755);
    std::fs::copy(env!("CARGO_BIN_EXE_miniagent"), &s.binary).unwrap();
    std::fs::set_permissions(&s.binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.file(&app.join(".env"), &format!("OPENAI_API_KEY=sk-dotenv-{marker}\n"), user, 0o600);
    s.dir(&app.join("traces"), user, 0o700);
    s.file(&app.join("traces/t.jsonl.1"), &format!("{{\"old\":\"{marker}\"}}\n"), user, 0o600);
    // Keys under /run, the router config under /etc, service files, a file the uid owns in /etc.
    let keys = PathBuf::from(format!("/run/miniagent-escape-{id}/keys.yaml"));
    s.file(&keys, &format!("keys:\n  - key: {}\n    name: escape\n", s.client_key), user, 0o600);
    let router = PathBuf::from(format!("/etc/miniagent-escape-{id}/router.yaml"));
    let router_text = format!(
        "model_list:\n  - model_name: fake\n    litellm_params:\n      model: openai/echo\n      api_base: {fake}\n      api_key: sk-router-{marker}\n"
    );
    s.file(&router, &router_text, user, 0o600);
    let unit = PathBuf::from(format!("/etc/systemd/system/miniagent-escape-{id}.service"));
    s.file(&unit, &format!("[Service]\nEnvironment=OPENAI_API_KEY=sk-unit-{marker}\n"), &root, 0o644);
    s.file(
        &PathBuf::from(format!("/etc/default/miniagent-escape-{id}")),
        &format!("KEY=sk-default-{marker}\n"),
        user,
        0o600,
    );
    s.file(&PathBuf::from(format!("/etc/miniagent-escape-{id}.env")), &format!("KEY=sk-etc-{marker}\n"), user, 0o600);
    // Homes: the server's own and another user's.
    s.file(&user.home.join(format!(".miniagent-escape-{id}")), &format!("sk-home-{marker}"), user, 0o600);
    s.file(&other_home.join(format!(".miniagent-escape-{id}")), &format!("sk-other-{marker}"), &root, 0o644);
    s.env = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("OPENAI_API_KEY", &format!("sk-server-{marker}")),
        ("OPENAI_API_BASE", fake),
        ("MINI_AGENT_API_KEYS_FILE", &keys.display().to_string()),
        ("MINI_AGENT_CONFIG", &router.display().to_string()),
        ("MINI_AGENT_STORE_TRACES", "1"),
        ("MINI_AGENT_STORE_PATH", "traces/t.jsonl"),
        ("MINI_AGENT_TOOL_TIMEOUT_SEC", "60"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    s
}

/// A model that answers with the last user message: a fenced block there is what the agent runs.
fn code_echo_model() -> (String, std::thread::JoinHandle<()>) {
    use axum::routing::post;
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/v1/chat/completions",
                post(|axum::Json(body): axum::Json<Value>| async move {
                    let last = body["messages"]
                        .as_array()
                        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
                        .map_or(Value::Null, |m| m["content"].clone());
                    axum::Json(json!({"id": "x", "object": "chat.completion", "created": 0, "model": "echo",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": last}, "finish_reason": "stop"}]}))
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}/v1"), handle)
}

fn start(stage: &Stage, user: &User, extra: &[(&str, &str)]) -> Result<harness::ServerProcess, String> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(&stage.binary);
    cmd.args(["serve", "--port", "0"]).env_clear().envs(stage.env.iter().map(|(k, v)| (k, v)));
    cmd.envs(extra.iter().copied()).current_dir(&stage.app).uid(user.uid).gid(user.gid);
    harness::ServerProcess::spawn(cmd, &harness::parse_listening).map_err(|e| e.to_string())
}

/// Runs `code` as the agent's tool on `server`; the tool's stdout.
fn run_tool(server: &harness::ServerProcess, stage: &Stage, code: &str) -> Result<String, String> {
    let body = json!({
        "model": "fake", "tool_backend": "local", "auto_run_code_on_code_block": true, "max_iterations": 1,
        "messages": [{"role": "user", "content": format!("```python\n{code}\n```")}],
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let reply: Value = rt.block_on(async {
        let res = harness::http_client()
            .post(format!("{}/agent/run", server.base_url()))
            .bearer_auth(&stage.client_key)
            .timeout(Duration::from_secs(120))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let text = res.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| e.to_string())
    })?;
    match reply["last_tool_invocation"]["stdout"].as_str() {
        Some(out) if reply["last_tool_invocation"]["ok"] == json!(true) => Ok(out.to_owned()),
        _ => Err(format!("the tool did not succeed: {}", reply["messages"])),
    }
}

const ATTACK: &str = r#"
import json, os
marker, server_pid, targets = MARKER, SERVER_PID, TARGETS
report, read = [], 0
def probe(p):
    global read
    try:
        data = ' '.join(os.listdir(p)) if os.path.isdir(p) else open(p, 'rb').read().decode('latin-1')
    except OSError:
        return
    read += 1
    if marker in data:
        report.append('LEAK ' + p)
for p in targets:
    probe(p)
for pid in os.listdir('/proc'):
    if pid.isdigit():
        for f in ('environ', 'cmdline'):
            probe('/proc/%s/%s' % (pid, f))
for k, v in os.environ.items():
    if marker in v:
        report.append('LEAK env ' + k)
try:
    os.kill(server_pid, 0)
    report.append('SIGNAL the server')
except OSError:
    pass
walked = 0
if WALK:
    for root, dirs, files in os.walk('/'):
        if root.startswith(('/proc', '/sys', '/dev', '/usr/share', '/usr/lib')):
            dirs[:] = []
            continue
        for f in files:
            walked += 1
            probe(os.path.join(root, f))
print(json.dumps({'report': report, 'read': read, 'walked': walked}))
"#;

fn attack(stage: &Stage, server_pid: u32, walk: bool) -> String {
    let targets: Vec<String> = stage.targets().iter().map(|p| p.display().to_string()).collect();
    let mut targets = json!(targets);
    if let Some(t) = targets.as_array_mut() {
        t.push(json!(format!("/proc/{server_pid}/environ")));
    }
    ATTACK
        .replace("MARKER", &json!(stage.marker).to_string())
        .replace("SERVER_PID", &server_pid.to_string())
        .replace("TARGETS", &targets.to_string())
        .replace("WALK", if walk { "True" } else { "False" })
}

fn escape_reads_fail(user: Result<User, String>, other_home: &str) -> Result<Completion, Failed> {
    let user = match user {
        Ok(u) => u,
        Err(why) => return Ok(Completion::ignored_with(why)),
    };
    let (fake, _model) = code_echo_model();
    let stage = stage(&user, Path::new(other_home), &fake);
    let server = start(&stage, &user, &[])?;
    // A first call puts the marker in the trace file; the attack is the second.
    run_tool(&server, &stage, &format!("print('{}')", stage.marker))?;
    let out = run_tool(&server, &stage, &attack(&stage, server.pid(), true))?;
    let result: Value = serde_json::from_str(out.trim()).map_err(|e| format!("{e}: {out}"))?;
    check(result["report"] == json!([]), format!("escapes as uid {}: {}", user.uid, result["report"]))?;
    // The attack ran for real: it read files (the tool's own /proc at least) and walked the tree.
    check(result["read"].as_u64() > Some(5) && result["walked"].as_u64() > Some(50), format!("{result}"))?;
    let trace = std::fs::read_to_string(stage.app.join("traces/t.jsonl")).unwrap_or_default();
    check(trace.contains(&stage.marker), "the trace file must hold the first call (or the check proves nothing)")?;
    let mode = std::fs::metadata(stage.app.join("traces/t.jsonl")).map(|m| m.permissions().mode() & 0o777);
    check(mode.as_ref().ok() == Some(&0o600), format!("the trace file is {mode:?}, not 0600"))?;
    Ok(Completion::Completed)
}

/// With the sandbox off the tool sees the host, but not the server's environment, and nothing it
/// starts outlives the call.
fn off_mode_keeps_the_environment_and_reaps(user: Result<User, String>) -> Result<Completion, Failed> {
    let user = match user {
        Ok(u) => u,
        Err(why) => return Ok(Completion::ignored_with(why)),
    };
    let (fake, _model) = code_echo_model();
    let stage = stage(&user, Path::new("/nonexistent"), &fake);
    let server = start(&stage, &user, &[("MINI_AGENT_TOOL_SANDBOX", "off")])?;
    let sleeper = format!("{}.{}", 41_000 + user.uid % 1000, harness::unique() % 1_000_000);
    let code = format!(
        "import os, subprocess\nsubprocess.Popen(['setsid', 'sleep', '{sleeper}'])\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '{sleeper}'])\n    os._exit(0)\n{}",
        attack(&stage, server.pid(), false)
    );
    let out = run_tool(&server, &stage, &code)?;
    let result: Value = serde_json::from_str(out.trim()).map_err(|e| format!("{e}: {out}"))?;
    let leaks: Vec<&str> = result["report"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|l| l.contains("environ") || l.starts_with("LEAK env"))
        .collect();
    check(leaks.is_empty(), format!("with the sandbox off the server's environment still must not leak: {leaks:?}"))?;
    let left = survivors(&format!("sleep {sleeper}"), Duration::from_secs(3));
    check(left == 0, format!("{left} processes outlived the call with the sandbox off (uid {})", user.uid))?;
    // The host work directory goes with the call even when the tool made folders in it read-only
    // (the server gives them back their write permission first: for a server that is not root,
    // nothing else could remove them).
    let code = "import os\nos.makedirs('ro/deeper')\nopen('ro/deeper/f', 'w').write('x')\nos.chmod('ro/deeper', 0o500)\nos.chmod('ro', 0o500)\nprint(os.getcwd())";
    let work = PathBuf::from(run_tool(&server, &stage, code)?.trim());
    check(
        work.is_absolute() && !work.exists(),
        format!("the work directory {work:?} outlived the call with the sandbox off (uid {})", user.uid),
    )?;
    Ok(Completion::Completed)
}

/// `miniagent doctor`, run as root, judges the sandbox as the uid the façade runs as.
fn doctor_judges_as_the_servers_user() -> Result<Completion, Failed> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(Completion::ignored_with("needs root, to run the server as another user"));
    }
    let user = unprivileged()?;
    let (fake, _model) = code_echo_model();
    let stage = stage(&user, Path::new("/nonexistent"), &fake);
    let server = start(&stage, &user, &[])?;
    let out = Command::new(&stage.binary)
        .arg("doctor")
        .env("MINI_AGENT_URL", server.base_url())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("tool sandbox")).unwrap_or_default().to_owned();
    check(line.contains(&format!("as the server's uid {}", user.uid)), format!("doctor said: {text}"))?;
    check(line.contains("[ok") && line.contains("seccomp on") && line.contains("read-only"), line.clone())?;
    Ok(Completion::Completed)
}

pub fn tests() -> Vec<(String, Test)> {
    let wrap = |f: fn() -> Result<Completion, Failed>| -> Test { Box::new(f) };
    vec![
        ("escape_reads_fail_as_root".into(), wrap(|| escape_reads_fail(root(), &format!("/home/{USER}")))),
        ("escape_reads_fail_as_an_unprivileged_user".into(), wrap(|| escape_reads_fail(unprivileged(), "/root"))),
        (
            "off_mode_keeps_the_environment_and_reaps_as_root".into(),
            wrap(|| off_mode_keeps_the_environment_and_reaps(root())),
        ),
        (
            "off_mode_keeps_the_environment_and_reaps_as_an_unprivileged_user".into(),
            wrap(|| off_mode_keeps_the_environment_and_reaps(unprivileged())),
        ),
        ("doctor_judges_as_the_servers_user".into(), wrap(doctor_judges_as_the_servers_user)),
    ]
}
