//! The escapes an attacker tried against `exec_python` (issue: a trust boundary), each of which must
//! now fail inside the tool sandbox: `setsid` children and a double-forked daemon outliving the
//! call, reading the server's keys from the environment, allocating 3 GiB, writing a huge file,
//! fork-bombing, connecting to the server itself, writing outside the work directory — and a
//! background child holding stdout must neither stall the call nor lose its output.
//!
//! These need user namespaces. Where bubblewrap cannot set up a sandbox, every test is reported
//! as **ignored with the reason** — unless `MINIAGENT_REQUIRE_SANDBOX` is set (CI), where that is a
//! failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use miniagent::process::sandbox::{Sandbox, SandboxSettings};
use miniagent::tools::ToolBackend;
use miniagent::tools::call::ToolCall;
use miniagent::tools::local::{LocalSettings, LocalTools};
use miniagent::tools::result::ToolResult;
use serde_json::{Value, json};

fn tools(settings: SandboxSettings) -> LocalTools {
    let local = LocalSettings { timeout: Duration::from_secs(20), ..LocalSettings::default() };
    LocalTools::new(local, Arc::new(Sandbox::new(settings)))
}

fn run_python(tools: &LocalTools, code: &str) -> ToolResult {
    let call = ToolCall::new("c", "exec_python", Value::String(json!({ "code": code }).to_string()));
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(tools.invoke(&call))
}

type Check = fn() -> Result<(), Failed>;

fn check(cond: bool, why: impl Into<String>) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(why.into().into()) }
}

/// Live host processes whose command line contains `needle`.
fn running(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            !zombie && String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(needle)
        })
        .count()
}

fn setsid_and_double_fork_leave_nothing() -> Result<(), Failed> {
    let code = r#"
import os, subprocess, sys
for _ in range(200):
    subprocess.Popen(['setsid', 'sleep', '41337.1'])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp('sleep', ['sleep', '41337.2'])
    os._exit(0)
print('spawned', flush=True)
"#;
    let result = run_python(&tools(SandboxSettings::default()), code);
    check(result.ok && result.stdout.as_deref() == Some("spawned\n"), format!("{result:?}"))?;
    // The call returned: the namespace's PID 1 is gone, and everything in it with it.
    let deadline = Instant::now() + Duration::from_secs(3);
    while (running("sleep 41337.1") + running("sleep 41337.2")) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survivors = running("sleep 41337.1") + running("sleep 41337.2");
    check(survivors == 0, format!("{survivors} processes survived the call"))
}

fn the_environment_is_an_allowlist() -> Result<(), Failed> {
    let code = r#"
import os
print(','.join(sorted(os.environ)))
print(open('/proc/1/environ', 'rb').read().replace(b'\0', b',').decode())
"#;
    let result = run_python(&tools(SandboxSettings::default()), code);
    let out = result.stdout.clone().unwrap_or_default();
    let allowed = ["HOME", "LANG", "PATH", "PWD", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "TMPDIR", "LC_CTYPE"];
    let names: Vec<&str> = out.lines().next().unwrap_or_default().split(',').collect();
    check(result.ok && names.contains(&"PATH"), format!("{result:?}"))?;
    let extra: Vec<&&str> = names.iter().filter(|n| !allowed.contains(n)).collect();
    check(extra.is_empty(), format!("variables outside the allowlist reached the tool: {extra:?}"))?;
    // The test process's own variables (cargo sets dozens) must not show in PID 1 either.
    check(!out.contains("CARGO"), format!("the server's environment leaked into the sandbox: {out}"))
}

fn a_3_gib_allocation_fails() -> Result<(), Failed> {
    let result = run_python(&tools(SandboxSettings::default()), "b = bytearray(3 << 30)\nprint('allocated')");
    let stderr = result.stderr.clone().unwrap_or_default();
    check(!result.ok && stderr.contains("MemoryError"), format!("{result:?}"))
}

fn a_huge_file_fails() -> Result<(), Failed> {
    let code = "f = open('big', 'wb')\nfor _ in range(100):\n    f.write(b'x' * (1 << 20))\nprint('wrote 100 MB')";
    let result = run_python(&tools(SandboxSettings { file_mb: 16, ..SandboxSettings::default() }), code);
    check(!result.ok && !result.stdout.clone().unwrap_or_default().contains("wrote"), format!("{result:?}"))
}

fn a_fork_bomb_is_contained() -> Result<(), Failed> {
    let code = r#"
import os, time
n = 0
try:
    while n < 1000:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    print('stopped at', n, flush=True)
"#;
    let started = Instant::now();
    let result = run_python(&tools(SandboxSettings { nproc: 50, ..SandboxSettings::default() }), code);
    let out = result.stdout.clone().unwrap_or_default();
    let n: usize = out.split_whitespace().last().and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
    check(n < 50, format!("forked {n} processes under a limit of 50: {result:?}"))?;
    check(started.elapsed() < Duration::from_secs(10), "the call must end when the program does")
}

fn the_server_cannot_be_reached() -> Result<(), Failed> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('connected')\nexcept OSError as e:\n    print('refused', e)"
    );
    let isolated = run_python(&tools(SandboxSettings::default()), &code);
    check(isolated.stdout.as_deref().is_some_and(|s| s.starts_with("refused")), format!("{isolated:?}"))?;
    let shared = run_python(&tools(SandboxSettings { network: true, ..SandboxSettings::default() }), &code);
    check(
        shared.stdout.as_deref() == Some("connected\n"),
        format!("MINI_AGENT_TOOL_NETWORK=1 should connect: {shared:?}"),
    )
}

fn only_the_work_directory_is_writable() -> Result<(), Failed> {
    // Outside /tmp (which the sandbox replaces) a directory the sandbox sees read-only; a checkout
    // under /tmp puts it in the sandbox's private /tmp instead.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (secret, neighbour) = (dir.path().join("keys.yaml"), dir.path().join("notes.txt"));
    std::fs::write(&secret, "sk-hidden-key").unwrap();
    std::fs::write(&neighbour, "visible").unwrap();
    let read = |p: &std::path::Path| {
        format!(
            "try:\n    print(repr(open({:?}).read()))\nexcept OSError as e:\n    print('unreadable', e.errno)\n",
            p.display().to_string()
        )
    };
    let code = format!(
        "import os\nfor path in ['/usr/local/escape', '/etc/escape', '/var/lib/escape', {:?}]:\n    try:\n        open(path, 'w').write('x'); print('WROTE', path)\n    except OSError:\n        pass\nopen('here', 'w').write('ok')\nprint('root:', os.listdir('/root'))\n{}{}",
        dir.path().join("escape").display().to_string(),
        read(&secret),
        read(&neighbour),
    );
    let settings = SandboxSettings { hide: vec![secret.clone()], ..SandboxSettings::default() };
    let result = run_python(&tools(settings), &code);
    let out = result.stdout.clone().unwrap_or_default();
    let system = ["WROTE /usr/local", "WROTE /etc", "WROTE /var/lib"];
    check(result.ok && !system.iter().any(|w| out.contains(w)), format!("wrote to the system: {result:?}"))?;
    // Judged on the host: under /tmp (a checkout there) the write may land in the sandbox's own
    // private /tmp, which is allowed — it must never reach the host's directory.
    check(!dir.path().join("escape").exists(), format!("wrote outside the work directory: {result:?}"))?;
    check(out.contains("root: []"), format!("home directories must be hidden: {out}"))?;
    check(!out.contains("sk-hidden-key"), format!("a hidden file was readable: {out}"))?;
    // A directory under /tmp is not visible at all in the sandbox (its /tmp is private).
    let visible = !dir.path().starts_with("/tmp");
    check(!visible || out.contains("'visible'"), format!("the check must be able to read an ordinary file: {out}"))
}

fn a_background_child_holding_stdout_keeps_the_output() -> Result<(), Failed> {
    let code = "import subprocess\nprint('before', flush=True)\nsubprocess.Popen(['sleep', '30'])\nprint('after')";
    let started = Instant::now();
    let result = run_python(&tools(SandboxSettings::default()), code);
    check(started.elapsed() < Duration::from_secs(3), format!("the call waited {:?}", started.elapsed()))?;
    check(result.ok && result.stdout.as_deref() == Some("before\nafter\n"), format!("{result:?}"))
}

fn main() {
    let args = Arguments::from_args();
    let probe = Sandbox::new(SandboxSettings::default());
    let unavailable = probe.available.clone().err().map(|why| format!("the tool sandbox is unavailable here: {why}"));
    if let Some(why) = &unavailable {
        assert!(std::env::var_os("MINIAGENT_REQUIRE_SANDBOX").is_none(), "{why} (MINIAGENT_REQUIRE_SANDBOX is set)");
        eprintln!("note: {why}; the sandbox tests are ignored");
    }
    let tests: [(&str, Check); 8] = [
        ("setsid_and_double_fork_leave_nothing", setsid_and_double_fork_leave_nothing),
        ("the_environment_is_an_allowlist", the_environment_is_an_allowlist),
        ("a_3_gib_allocation_fails", a_3_gib_allocation_fails),
        ("a_huge_file_fails", a_huge_file_fails),
        ("a_fork_bomb_is_contained", a_fork_bomb_is_contained),
        ("the_server_cannot_be_reached", the_server_cannot_be_reached),
        ("only_the_work_directory_is_writable", only_the_work_directory_is_writable),
        ("a_background_child_holding_stdout_keeps_the_output", a_background_child_holding_stdout_keeps_the_output),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            let unavailable = unavailable.clone();
            Trial::ignorable_test(name, move || match unavailable {
                Some(why) => Ok(Completion::ignored_with(why)),
                None => test().map(|()| Completion::Completed),
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
