//! The tool sandbox against the attacks of two trust-boundary reviews (CONTRACT §11), each of which
//! must fail: `setsid` children and double forks outliving the call, the server's keys through the
//! environment, 3 GiB through the heap or a shared `mmap`, more than the work directory's size
//! through `/tmp`, `/dev/shm` and the work directory together, a huge file, a fork bomb, connecting
//! to the server, writing outside the work directory, forbidden system calls (seccomp), more tool
//! processes at once than allowed — and, in [`escape`], the real `miniagent serve` as root **and** as
//! an unprivileged user with its secrets where deployments put them, attacked by every read the
//! red team tried.
//!
//! These need user namespaces. Where bubblewrap cannot set up a sandbox, every test is reported
//! as **ignored with the reason** — unless `MINIAGENT_REQUIRE_SANDBOX` is set (CI), where that is a
//! failure.
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "sandbox/escape.rs"]
mod escape;

use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use miniagent::ToolBackend;
use miniagent::ToolCall;
use miniagent::ToolResult;
use miniagent::{LocalSettings, LocalTools};
use miniagent::{Sandbox, SandboxMode as Mode, SandboxSettings};
use serde_json::{Value, json};

fn tools(settings: SandboxSettings) -> LocalTools {
    let local = LocalSettings { timeout: Duration::from_secs(20), ..LocalSettings::default() };
    LocalTools::new(local, Arc::new(Sandbox::new(settings)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn call(code: &str) -> ToolCall {
    ToolCall::new("c", "exec_python", Value::String(json!({ "code": code }).to_string()))
}

fn run_python(tools: &LocalTools, code: &str) -> ToolResult {
    runtime().block_on(tools.invoke(&call(code)))
}

pub fn check(cond: bool, why: impl Into<String>) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(why.into().into()) }
}

/// Live host processes whose command line contains `needle`.
pub fn running(needle: &str) -> usize {
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

/// Waits until no process has `needle` in its command line; how many are left after `limit`.
pub fn survivors(needle: &str, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    while running(needle) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    running(needle)
}

fn setsid_and_double_fork_leave_nothing(mode: Mode) -> Result<(), Failed> {
    // Durations no other run uses (this process's id, the mode), so what another run left on the
    // machine is not counted as this one's.
    let tag = format!("41337{}{}", std::process::id(), u8::from(matches!(mode, Mode::Off)));
    let code = r#"
import os, subprocess, sys
for _ in range(50):
    subprocess.Popen(['setsid', 'sleep', 'TAG.1'])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp('sleep', ['sleep', 'TAG.2'])
    os._exit(0)
print('spawned', flush=True)
"#
    .replace("TAG", &tag);
    let result = run_python(&tools(SandboxSettings { mode, ..SandboxSettings::default() }), &code);
    check(result.ok && result.stdout.as_deref() == Some("spawned\n"), format!("{result:?}"))?;
    let left = survivors(&format!("sleep {tag}.1"), Duration::from_secs(3))
        + survivors(&format!("sleep {tag}.2"), Duration::from_secs(1));
    check(left == 0, format!("{left} processes survived the call ({mode:?})"))
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
    // PID 1 is the tool init, started by bubblewrap with an empty environment.
    check(!out.contains("CARGO"), format!("the server's environment leaked into the sandbox: {out}"))
}

fn a_3_gib_allocation_fails() -> Result<(), Failed> {
    let result = run_python(&tools(SandboxSettings::default()), "b = bytearray(3 << 30)\nprint('allocated')");
    let stderr = result.stderr.clone().unwrap_or_default();
    check(!result.ok && stderr.contains("MemoryError"), format!("{result:?}"))
}

/// A shared anonymous mapping is no data segment: only an address-space limit counts it.
fn a_shared_mapping_beyond_the_limit_fails() -> Result<(), Failed> {
    let code = r#"
import mmap
try:
    m = mmap.mmap(-1, 3 << 30, flags=mmap.MAP_SHARED)
    for i in range(0, 3 << 30, 4096):
        m[i] = 1
    print('touched 3 GiB')
except (OSError, MemoryError) as e:
    print('refused', type(e).__name__)
try:
    m = mmap.mmap(-1, 256 << 20, flags=mmap.MAP_SHARED)
    m[(256 << 20) - 1] = 1
    print('256 MiB ok')
except (OSError, MemoryError) as e:
    print('small refused', e)
"#;
    let result = run_python(&tools(SandboxSettings::default()), code);
    let out = result.stdout.clone().unwrap_or_default();
    check(out.starts_with("refused") && out.contains("256 MiB ok"), format!("{result:?}"))
}

/// `/tmp`, `/var/tmp`, `/dev/shm` and the work directory are one tmpfs of `MINI_AGENT_TOOL_DISK_MB`:
/// together they hold no more than that.
fn the_writable_places_together_hold_the_disk_limit() -> Result<(), Failed> {
    let code = r#"
import os
total = 0
for d in ['/tmp', '/var/tmp', '/dev/shm', '.', os.environ['TMPDIR']]:
    try:
        with open(os.path.join(d, 'fill-%d' % total), 'wb') as f:
            for _ in range(64):
                f.write(b'x' * (1 << 20)); f.flush(); total += 1 << 20
    except OSError:
        pass
for d in ['/', '/usr', '/etc', '/work/..', '/proc']:
    try:
        open(os.path.join(d, 'escape'), 'w').write('x'); print('WROTE', d)
    except OSError:
        pass
print('total MiB', total >> 20)
"#;
    let settings = SandboxSettings { disk_mb: 48, file_mb: 64, ..SandboxSettings::default() };
    let result = run_python(&tools(settings), code);
    let out = result.stdout.clone().unwrap_or_default();
    let total: u64 = out.rsplit("total MiB ").next().and_then(|t| t.trim().parse().ok()).unwrap_or(u64::MAX);
    check(!out.contains("WROTE"), format!("wrote outside the work directory: {out}"))?;
    check(total <= 48, format!("{total} MiB written under a 48 MiB work directory: {result:?}"))
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
    check(isolated.stdout.as_deref().is_some_and(|s| s.starts_with("refused")), format!("{isolated:?}"))
}

/// With `MINI_AGENT_TOOL_NETWORK=1` the tool has an uplink to the network — an address outside
/// the host (TEST-NET-2, 198.51.100.7) is routed, where without it there is no route at all — but
/// it reaches neither the host's loopback (where the server and a password-less Redis listen) nor
/// any of the host's own addresses, even for a listener bound to all of them.
fn the_network_mode_never_reaches_the_host() -> Result<Completion, Failed> {
    let settings = SandboxSettings { network: true, ..SandboxSettings::default() };
    if let Err(why) = &Sandbox::new(settings.clone()).available {
        // Where the sandbox is required (CI: `make deps` installs slirp4netns and iproute2), so is
        // its network mode: a probe that wrongly finds it missing must not pass as "ignored".
        let why = format!("MINI_AGENT_TOOL_NETWORK=1 is unavailable here: {why}");
        if std::env::var_os("MINIAGENT_REQUIRE_SANDBOX").is_some() {
            return Err(format!("{why} (MINIAGENT_REQUIRE_SANDBOX is set)").into());
        }
        return Ok(Completion::ignored_with(why));
    }
    let loopback = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let wide = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let (lo, port) = (loopback.local_addr().unwrap().port(), wide.local_addr().unwrap().port());
    let mut targets = vec![("127.0.0.1".to_owned(), lo), ("10.0.2.2".to_owned(), lo)];
    targets.extend(miniagent::host_addresses().iter().map(|ip| (ip.to_string(), port)));
    let code = format!(
        "import socket\nfor host, port in {targets:?} + [('198.51.100.7', 9)]:\n    try:\n        socket.create_connection((host, port), timeout=3).close(); print(host, 'connected')\n    except OSError as e:\n        print(host, 'refused', e.errno)"
    )
    .replace('"', "'");
    let with = run_python(&tools(settings), &code);
    let out = with.stdout.clone().unwrap_or_default();
    for (host, _) in &targets {
        check(out.contains(&format!("{host} refused")), format!("the tool reached the host at {host}: {with:?}"))?;
    }
    check(!out.contains("198.51.100.7 refused 101"), format!("the network mode gave no route out: {with:?}"))?;
    let without = run_python(&tools(SandboxSettings::default()), &code);
    let out = without.stdout.clone().unwrap_or_default();
    check(
        out.contains("198.51.100.7 refused 101"),
        format!("without the network mode there must be no route: {without:?}"),
    )?;
    Ok(Completion::Completed)
}

/// The system calls no snippet needs are refused by the filter (`EPERM`; `clone3` `ENOSYS`).
fn seccomp_refuses_the_dangerous_calls() -> Result<(), Failed> {
    let code = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
calls = {'io_uring_setup': (425, 8, 0), 'ptrace': (101, 0, 0), 'keyctl': (250, 0, 0), 'bpf': (321, 0, 0),
         'mount': (165, 0, 0), 'unshare': (272, 0x10000000, 0), 'memfd_create': (319, 0, 0),
         'perf_event_open': (298, 0, 0), 'userfaultfd': (323, 0, 0), 'setns': (308, 0, 0)}
for name, (nr, a, b) in calls.items():
    ctypes.set_errno(0)
    rc = libc.syscall(nr, a, b, 0, 0, 0)
    print(name, rc, os.strerror(ctypes.get_errno()))
"#;
    let result = run_python(&tools(SandboxSettings::default()), code);
    let out = result.stdout.clone().unwrap_or_default();
    check(result.ok && out.lines().count() == 10, format!("{result:?}"))?;
    for line in out.lines() {
        check(line.contains(" -1 Operation not permitted"), format!("not refused by the filter: {line}"))?;
    }
    Ok(())
}

/// Eight tools that each hold 600 MiB for a second, with two slots: never more than two at once.
fn concurrent_heavy_tools_wait_for_a_slot() -> Result<(), Failed> {
    let code = r#"
import time
start = time.time()
b = bytearray(600 << 20)
time.sleep(1)
print(start, time.time())
"#;
    let tools = Arc::new(tools(SandboxSettings { max_concurrent: 2, ..SandboxSettings::default() }));
    let spans: Vec<(f64, f64)> = runtime().block_on(async {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let tools = tools.clone();
                tokio::spawn(async move { tools.invoke(&call(code)).await })
            })
            .collect();
        let mut spans = Vec::new();
        for h in handles {
            let r = h.await.unwrap();
            let out = r.stdout.clone().unwrap_or_default();
            let nums: Vec<f64> = out.split_whitespace().filter_map(|t| t.parse().ok()).collect();
            if let [a, b] = nums[..] {
                spans.push((a, b));
            }
        }
        spans
    });
    check(spans.len() == 8, format!("all eight must finish (waiting, not failing): {} did", spans.len()))?;
    let most = spans.iter().map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count()).max().unwrap_or(0);
    check(most <= 2, format!("{most} heavy tools ran at once under MINI_AGENT_TOOL_MAX_CONCURRENT=2"))
}

fn a_background_child_holding_stdout_keeps_the_output() -> Result<(), Failed> {
    let code = "import subprocess\nprint('before', flush=True)\nsubprocess.Popen(['sleep', '30'])\nprint('after')";
    let started = Instant::now();
    let result = run_python(&tools(SandboxSettings::default()), code);
    check(started.elapsed() < Duration::from_secs(3), format!("the call waited {:?}", started.elapsed()))?;
    check(result.ok && result.stdout.as_deref() == Some("before\nafter\n"), format!("{result:?}"))
}

/// With the sandbox off, the work directory is on the host: it goes after the call even where the
/// tool made a subfolder read-only.
fn off_mode_removes_its_work_directory_whatever_the_tool_did() -> Result<(), Failed> {
    let code = "import os\nos.makedirs('keep/deep')\nopen('keep/deep/f', 'wb').write(b'x' * (4 << 20))\nos.chmod('keep/deep', 0o500)\nos.chmod('keep', 0o500)\nprint(os.getcwd())";
    let result = run_python(&tools(SandboxSettings { mode: Mode::Off, ..SandboxSettings::default() }), code);
    let dir = result.stdout.clone().unwrap_or_default();
    check(result.ok && dir.contains("miniagent-tool-"), format!("{result:?}"))?;
    check(!std::path::Path::new(dir.trim()).exists(), format!("{} was left behind", dir.trim()))
}

/// The init ends on SIGTERM as a shell reports a death by it (128 + 15), after reaping what the
/// tool left — also when the tool itself sent it, sandboxed (the init is PID 1 of the tool's
/// namespace) or bare. (Before the init left the exit to its signal thread, the call ended as the
/// tool's 137 or as 143 by chance.)
fn a_tool_that_terminates_its_init_is_reported_as_143(mode: Mode) -> Result<(), Failed> {
    let code = "import os, signal, time\nos.kill(os.getppid(), signal.SIGTERM)\ntime.sleep(10)";
    let started = Instant::now();
    let result = run_python(&tools(SandboxSettings { mode, ..SandboxSettings::default() }), code);
    check(started.elapsed() < Duration::from_secs(8), format!("the call waited {:?}", started.elapsed()))?;
    check(result.rc == Some(143), format!("{result:?}"))
}

/// A tool that dies of a signal is reported as a shell reports it: 128 + the signal.
fn a_tool_killed_by_a_signal_is_reported_as_128_plus_it(mode: Mode) -> Result<(), Failed> {
    let code = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)";
    let result = run_python(&tools(SandboxSettings { mode, ..SandboxSettings::default() }), code);
    check(result.rc == Some(137), format!("{result:?}"))
}

type Test = Box<dyn Fn() -> Result<Completion, Failed> + Send + Sync>;

fn done(f: impl Fn() -> Result<(), Failed> + Send + Sync + 'static) -> Test {
    Box::new(move || f().map(|()| Completion::Completed))
}

fn main() {
    let args = Arguments::from_args();
    let probe = Sandbox::new(SandboxSettings::default());
    let unavailable = probe.available.clone().err().map(|why| format!("the tool sandbox is unavailable here: {why}"));
    if let Some(why) = &unavailable {
        assert!(std::env::var_os("MINIAGENT_REQUIRE_SANDBOX").is_none(), "{why} (MINIAGENT_REQUIRE_SANDBOX is set)");
        eprintln!("note: {why}; the sandbox tests are ignored");
    }
    let mut tests: Vec<(String, Test)> = vec![
        ("setsid_and_double_fork_leave_nothing".into(), done(|| setsid_and_double_fork_leave_nothing(Mode::Auto))),
        (
            "off_mode_still_reaps_setsid_and_double_forks".into(),
            done(|| setsid_and_double_fork_leave_nothing(Mode::Off)),
        ),
        (
            "a_tool_killed_by_a_signal_is_reported_as_128_plus_it".into(),
            done(|| a_tool_killed_by_a_signal_is_reported_as_128_plus_it(Mode::Auto)),
        ),
        (
            "off_mode_a_tool_killed_by_a_signal_is_reported_as_128_plus_it".into(),
            done(|| a_tool_killed_by_a_signal_is_reported_as_128_plus_it(Mode::Off)),
        ),
        (
            "a_tool_that_terminates_its_init_is_reported_as_143".into(),
            done(|| a_tool_that_terminates_its_init_is_reported_as_143(Mode::Auto)),
        ),
        (
            "off_mode_a_tool_that_terminates_its_init_is_reported_as_143".into(),
            done(|| a_tool_that_terminates_its_init_is_reported_as_143(Mode::Off)),
        ),
        ("the_environment_is_an_allowlist".into(), done(the_environment_is_an_allowlist)),
        ("a_3_gib_allocation_fails".into(), done(a_3_gib_allocation_fails)),
        ("a_shared_mapping_beyond_the_limit_fails".into(), done(a_shared_mapping_beyond_the_limit_fails)),
        (
            "the_writable_places_together_hold_the_disk_limit".into(),
            done(the_writable_places_together_hold_the_disk_limit),
        ),
        ("a_huge_file_fails".into(), done(a_huge_file_fails)),
        ("a_fork_bomb_is_contained".into(), done(a_fork_bomb_is_contained)),
        ("the_server_cannot_be_reached".into(), done(the_server_cannot_be_reached)),
        ("seccomp_refuses_the_dangerous_calls".into(), done(seccomp_refuses_the_dangerous_calls)),
        ("concurrent_heavy_tools_wait_for_a_slot".into(), done(concurrent_heavy_tools_wait_for_a_slot)),
        (
            "a_background_child_holding_stdout_keeps_the_output".into(),
            done(a_background_child_holding_stdout_keeps_the_output),
        ),
        (
            "off_mode_removes_its_work_directory_whatever_the_tool_did".into(),
            done(off_mode_removes_its_work_directory_whatever_the_tool_did),
        ),
    ];
    tests.push(("the_network_mode_never_reaches_the_host".into(), Box::new(the_network_mode_never_reaches_the_host)));
    tests.extend(escape::tests());
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            let unavailable = unavailable.clone();
            Trial::ignorable_test(name, move || match &unavailable {
                Some(why) => Ok(Completion::ignored_with(why.clone())),
                None => test(),
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
