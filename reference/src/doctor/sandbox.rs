//! The doctor's tool-sandbox check, judged **as the server's user**: a doctor run as root says
//! nothing about a server running as `miniagent` (user namespaces, the init's path, the masks of
//! what that uid owns all depend on who asks).
//!
//! The server's uid is read from the kernel's socket table (`/proc/net/tcp`, `tcp6`: the listening
//! socket on the façade's port and its owner) — no fd scan, so it works on a server that made itself
//! non-dumpable. Same uid: probed here. Another uid and the doctor is root: `miniagent
//! sandbox-probe` runs as that uid and answers in JSON. Another uid otherwise: said, and judged as
//! the doctor's own user.

use serde::{Deserialize, Serialize};

use super::Check;
use crate::config::Config;
use crate::process::sandbox::{Mode, Sandbox, SandboxSettings};

const NAME: &str = "tool sandbox";

/// What a probe found, as `sandbox-probe` prints it.
#[derive(Debug, Serialize, Deserialize)]
struct Probe {
    uid: u32,
    available: Result<(), String>,
    off: bool,
    detail: String,
}

fn probe(settings: SandboxSettings) -> Probe {
    let sandbox = Sandbox::new(settings);
    Probe {
        uid: nix::unistd::geteuid().as_raw(),
        available: sandbox.available.clone(),
        off: sandbox.settings.mode == Mode::Off,
        detail: sandbox.describe(),
    }
}

/// `miniagent sandbox-probe`: the probe as this process's user, as one JSON line.
pub fn probe_main() -> i32 {
    let config = Config::from_env();
    println!("{}", serde_json::to_string(&probe(config.sandbox)).unwrap_or_default());
    0
}

/// The owner of the socket listening on `port` on this machine, if any.
fn listener_uid(port: u16) -> Option<u32> {
    let wanted = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().find_map(|table| {
        let text = std::fs::read_to_string(table).ok()?;
        text.lines().skip(1).find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            // State 0A is LISTEN; the eighth field is the socket's uid.
            (local_port == wanted && f.get(3) == Some(&"0A")).then(|| f.get(7)?.parse().ok()).flatten()
        })
    })
}

/// The probe as `uid`, through a child process of this binary running as it.
#[expect(
    clippy::disallowed_methods,
    reason = "doctor runs this binary's sandbox probe as another uid, outside process::spawn on purpose"
)]
fn probe_as(uid: u32) -> Result<Probe, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let gid =
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten().map_or(uid, |u| u.gid.as_raw());
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new(exe)
        .arg("sandbox-probe")
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .output()
        .map_err(|e| format!("cannot run the probe as uid {uid}: {e}"))?;
    serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("the probe as uid {uid} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
}

/// The check: the sandbox as the façade's user gets it.
pub(super) fn check(config: &Config, facade: &str) -> Check {
    let port = url::Url::parse(facade).ok().and_then(|u| u.port_or_known_default());
    let me = nix::unistd::geteuid();
    let server = port.and_then(listener_uid);
    let (probe, whose) = match server {
        Some(uid) if uid == me.as_raw() => (Ok(probe(config.sandbox.clone())), format!("as the server's uid {uid}")),
        Some(uid) if me.is_root() => (probe_as(uid), format!("as the server's uid {uid}")),
        Some(uid) => (
            Ok(probe(config.sandbox.clone())),
            format!("as uid {} — the server runs as uid {uid}; run the doctor as root or as it to judge exactly", me),
        ),
        None => (Ok(probe(config.sandbox.clone())), format!("as uid {me} (no local process listens at {facade})")),
    };
    let p = match probe {
        Ok(p) => p,
        Err(e) => return Check::fail(NAME, format!("{whose}: {e}"), "run the doctor as root or as the server's user"),
    };
    let detail = format!("{whose}: {}", p.detail);
    match (&p.available, p.off) {
        (Ok(()), false) => Check::ok(NAME, detail),
        (Ok(()), true) => Check::warn(
            NAME,
            detail,
            "unset MINI_AGENT_TOOL_SANDBOX to sandbox tools (README: Security says what `off` gives up)",
        ),
        (Err(why), _) => Check::fail(NAME, detail, fix_for(why)),
    }
}

/// What to do about a probe that failed, from what it said.
fn fix_for(why: &str) -> String {
    if why.contains("bubblewrap") || why.contains("bwrap is not installed") {
        "install the Debian package `bubblewrap`".into()
    } else if why.contains("MINI_AGENT_TOOL_INIT") {
        "put the miniagent binary where the tools' uid can execute it (e.g. /usr/local/bin), or set MINI_AGENT_TOOL_INIT".into()
    } else if why.contains("namespace") || why.contains("Operation not permitted") || why.contains("setting up uid map")
    {
        "user namespaces are refused here: run on a host (or a Docker container started with --security-opt \
         seccomp=unconfined --security-opt systempaths=unconfined) where they work, or set \
         MINI_AGENT_TOOL_SANDBOX=off knowing what it gives up (README: Security)"
            .into()
    } else {
        format!("see the probe's message ({why}); MINI_AGENT_TOOL_SANDBOX=off runs tools without the sandbox")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_of_a_port_is_found_with_its_owner() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert_eq!(listener_uid(port), Some(nix::unistd::geteuid().as_raw()));
        drop(listener);
        assert_eq!(listener_uid(port), None);
    }

    #[test]
    fn each_failure_gets_its_own_advice() {
        assert!(fix_for("bwrap is not installed (Debian package `bubblewrap`)").contains("bubblewrap"));
        assert!(fix_for("setting up uid map: Permission denied").contains("user namespaces"));
        assert!(fix_for("the tool init /x does not exist; set MINI_AGENT_TOOL_INIT").contains("MINI_AGENT_TOOL_INIT"));
    }
}
