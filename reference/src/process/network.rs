//! The network of a tool when `MINI_AGENT_TOOL_NETWORK=1` (CONTRACT §11): it reaches the network,
//! but never the host's loopback, the host's own addresses (where the server and its neighbours
//! listen) or the server's Redis.
//!
//! bubblewrap is started by `unshare --user --map-root-user --net`: a network namespace made for
//! the call, owned by a user namespace the tools' uid owns (bubblewrap's own would be nested, out of
//! reach), which bubblewrap then shares with the sandbox. `slirp4netns` gives it a user-mode uplink
//! (`--disable-host-loopback`: the gateway does not lead to the host's 127.0.0.1), and an
//! `unreachable` route for every address of the host and of Redis closes the rest — set by `ip`
//! entered into that namespace with `nsenter`, from outside, so the tool itself (uid mapped back to
//! its own, no capability) never could. The init waits on stdin for its plan, and the plan is
//! written only once this is done: no step runs before the routes are in place.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::Command;

/// How long the uplink may take to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The programs the uplink needs: `slirp4netns`, `nsenter` (util-linux) and `ip` (iproute2).
#[derive(Debug, Clone)]
pub struct Tools {
    pub unshare: PathBuf,
    slirp: PathBuf,
    nsenter: PathBuf,
    ip: PathBuf,
}

fn find(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

impl Tools {
    /// Found where Debian installs them, or what is missing.
    pub fn find() -> Result<Self, String> {
        let need = |name: &str, package: &str| {
            find(name).ok_or_else(|| format!("MINI_AGENT_TOOL_NETWORK=1 needs `{name}` (Debian package `{package}`)"))
        };
        Ok(Self {
            unshare: need("unshare", "util-linux")?,
            slirp: need("slirp4netns", "slirp4netns")?,
            nsenter: need("nsenter", "util-linux")?,
            ip: need("ip", "iproute2")?,
        })
    }
}

/// Every address of this host but loopback's (already unreachable through the uplink).
pub fn host_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    let mut out: Vec<IpAddr> = addrs
        .filter_map(|a| a.address)
        .filter_map(|s| {
            s.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        // IPv4 only: the uplink has no IPv6, so nothing of the host is reachable over it anyway.
        .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Waits until `pid` is in a network namespace other than this process's (`unshare` has made
/// it), for at most `within`: an uplink attached earlier would land in the host's namespace.
async fn own_namespace(pid: u32, within: Duration) -> Result<(), String> {
    let ours = std::fs::read_link("/proc/self/ns/net").map_err(|e| e.to_string())?;
    let deadline = Instant::now() + within;
    loop {
        match std::fs::read_link(format!("/proc/{pid}/ns/net")) {
            Ok(theirs) if theirs != ours => return Ok(()),
            Err(_) => return Err("the sandbox did not start".into()),
            Ok(_) if Instant::now() > deadline => return Err("the sandbox's network namespace did not appear".into()),
            Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// A running uplink: killed when dropped.
#[derive(Debug)]
pub(crate) struct Uplink {
    _slirp: tokio::process::Child,
}

/// Gives the namespace of `pid` (`unshare`, become bubblewrap) its uplink, with `blocked`
/// unreachable; as `uid` when set (a root server's tools user, which owns the namespaces).
pub(crate) async fn attach(tools: &Tools, pid: u32, blocked: &[IpAddr], uid: Option<u32>) -> Result<Uplink, String> {
    attach_within(tools, pid, blocked, uid, READY_TIMEOUT).await
}

/// [`attach`], each wait (the namespace, then the uplink) bounded by `within`.
#[expect(
    clippy::disallowed_methods,
    reason = "the network uplink (slirp4netns, nsenter) is part of the sandbox launch"
)]
async fn attach_within(
    tools: &Tools,
    pid: u32,
    blocked: &[IpAddr],
    uid: Option<u32>,
    within: Duration,
) -> Result<Uplink, String> {
    own_namespace(pid, within).await?;
    let init = pid;
    let as_tools_user = |cmd: &mut Command| {
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
    };
    let mut slirp = Command::new(&tools.slirp);
    slirp
        .args(["--configure", "--mtu=65520", "--disable-host-loopback", &init.to_string(), "tap0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    as_tools_user(&mut slirp);
    let slirp = slirp.spawn().map_err(|e| format!("cannot start slirp4netns: {e}"))?;
    let deadline = Instant::now() + within;
    // Configured once the namespace has a default route.
    while !std::fs::read_to_string(format!("/proc/{init}/net/route"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
    {
        if Instant::now() > deadline {
            return Err("the tool's network did not come up (slirp4netns)".into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if !blocked.is_empty() {
        let batch: String =
            blocked.iter().filter(|ip| ip.is_ipv4()).map(|ip| format!("route add unreachable {ip}/32\n")).collect();
        let mut ip = Command::new(&tools.nsenter);
        ip.args(["-t", &init.to_string(), "-U", "-n", "--preserve-credentials"])
            .arg(&tools.ip)
            .args(["-force", "-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        as_tools_user(&mut ip);
        let mut child = ip.spawn().map_err(|e| format!("cannot run nsenter: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            stdin.write_all(batch.as_bytes()).await.map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "cannot close the host's addresses to the tool: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(Uplink { _slirp: slirp })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user-owned network namespace, as the sandbox makes one.
    const UNSHARE: [&str; 3] = ["--user", "--map-root-user", "--net"];

    /// Whether this machine lets the tests make one (else the network mode is unavailable anyway).
    #[allow(clippy::disallowed_methods, reason = "the test asks `unshare` itself")]
    fn user_namespaces() -> bool {
        std::process::Command::new("unshare").args(UNSHARE).arg("true").status().is_ok_and(|s| s.success())
    }

    #[test]
    fn programs_are_found_where_debian_installs_them_and_nothing_else_is() {
        // `sh` is in /bin or /usr/bin wherever tools run at all.
        let sh = find("sh").expect("sh is installed");
        assert!(sh.is_file() && sh.ends_with("sh") && sh.is_absolute(), "{sh:?}");
        assert_eq!(find("miniagent-no-such-program"), None);
    }

    /// Every IPv4 address of the host but loopback's, once each and in order — compared with what
    /// `ip` says where iproute2 is installed (everywhere the network mode can run).
    #[test]
    #[allow(clippy::disallowed_methods, reason = "the test asks `ip` for the host's addresses itself")]
    fn the_host_addresses_are_its_ipv4_addresses_but_loopback() {
        let got = host_addresses();
        assert!(got.iter().all(|ip| ip.is_ipv4() && !ip.is_loopback()), "{got:?}");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted, once each: {got:?}");
        let Ok(out) = std::process::Command::new("ip").args(["-o", "-4", "addr", "show"]).output() else { return };
        let mut want: Vec<IpAddr> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1))
            .filter_map(|cidr| cidr.split('/').next()?.parse().ok())
            .filter(|ip: &IpAddr| !ip.is_loopback())
            .collect();
        want.sort();
        want.dedup();
        assert_eq!(got, want, "ip -o -4 addr show:\n{}", String::from_utf8_lossy(&out.stdout));
        assert!(!want.is_empty() || got.is_empty(), "this host has an address besides loopback");
    }

    /// The uplink waits until `unshare` has made the namespace — a process that makes it 0.3 s
    /// after it starts is waited for — and gives up on a process that is gone, and on one that
    /// stays in the host's namespace once its time is up.
    #[tokio::test]
    #[allow(clippy::disallowed_methods, reason = "the test starts the processes it waits on")]
    async fn the_uplink_waits_for_a_namespace_of_its_own_and_not_for_a_process_gone() {
        let mut gone = std::process::Command::new("true").spawn().expect("spawn");
        let pid = gone.id();
        gone.wait().expect("wait");
        assert_eq!(own_namespace(pid, READY_TIMEOUT).await, Err("the sandbox did not start".to_owned()));
        let mut stays = std::process::Command::new("sleep").arg("5").spawn().expect("spawn");
        let started = Instant::now();
        let got = own_namespace(stays.id(), Duration::from_millis(300)).await;
        let waited = started.elapsed();
        let _ = stays.kill();
        let _ = stays.wait();
        assert_eq!(got, Err("the sandbox's network namespace did not appear".to_owned()));
        assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(3), "{waited:?}");
        if !user_namespaces() {
            return; // no user namespaces here: the network mode is unavailable anyway
        }
        let mut late = std::process::Command::new("sh")
            .args(["-c", "sleep 0.3; exec unshare --user --map-root-user --net sleep 5"])
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        let got = own_namespace(late.id(), READY_TIMEOUT).await;
        let waited = started.elapsed();
        let _ = late.kill();
        let _ = late.wait();
        assert_eq!(got, Ok(()));
        assert!(waited >= Duration::from_millis(250), "returned before the namespace existed: {waited:?}");
    }

    /// When `attach` returns, the uplink is up — the namespace has its default route — and every
    /// blocked address has its unreachable route; an uplink that never comes up is given up on.
    #[tokio::test]
    #[allow(clippy::disallowed_methods, reason = "the test starts the namespaces it attaches to")]
    async fn the_uplink_is_up_and_the_host_closed_when_attach_returns() {
        let Ok(tools) = Tools::find() else { return };
        if !user_namespaces() {
            return; // no user namespaces here: the network mode is unavailable anyway
        }
        let namespace =
            || std::process::Command::new("unshare").args(UNSHARE).args(["sleep", "5"]).spawn().expect("spawn");
        let mut ns = namespace();
        let blocked: Vec<IpAddr> = vec!["192.0.2.7".parse().expect("an address")];
        let up = attach(&tools, ns.id(), &blocked, None).await;
        let routes = std::fs::read_to_string(format!("/proc/{}/net/route", ns.id())).unwrap_or_default();
        let shown = format!("{up:?}");
        drop(up); // the uplink's slirp4netns goes with it
        let _ = ns.kill();
        let _ = ns.wait();
        assert!(shown.starts_with("Ok"), "{shown}");
        let destinations: Vec<&str> = routes.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
        assert!(destinations.contains(&"00000000"), "no default route yet:\n{routes}");
        assert!(destinations.contains(&"070200C0"), "192.0.2.7 is not closed:\n{routes}");
        // A "slirp4netns" that exits at once and configures nothing.
        let never = Tools { slirp: PathBuf::from("/bin/true"), ..tools };
        let mut ns = namespace();
        let started = Instant::now();
        let got = attach_within(&never, ns.id(), &[], None, Duration::from_millis(300)).await;
        let waited = started.elapsed();
        let _ = ns.kill();
        let _ = ns.wait();
        assert_eq!(got.err().as_deref(), Some("the tool's network did not come up (slirp4netns)"));
        assert!(waited < Duration::from_secs(3), "{waited:?}");
    }
}
