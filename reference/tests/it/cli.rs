//! The `miniagent` binary's command line (this test also makes `cargo test` build the binary the
//! workspace end-to-end tests drive).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn help_lists_serve() {
    let out = Command::new(env!("CARGO_BIN_EXE_miniagent")).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("serve"));
}

#[test]
fn serve_rejects_a_non_numeric_port_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_miniagent"))
        .args(["serve"])
        .env("MINI_AGENT_API_PORT", "eighty")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MINI_AGENT_API_PORT") && err.contains("eighty"), "{err}");
}

/// The servers that run code refuse a non-loopback bind without API keys, say how to fix it, and
/// start with keys (or with `--insecure-no-auth`, which says what it gives up).
#[test]
fn open_binds_need_keys_or_an_explicit_opt_out() {
    for (sub, host_flag) in [("serve", "--host"), ("exec-rpc", "--host"), ("sidecar", "--host")] {
        let out = Command::new(env!("CARGO_BIN_EXE_miniagent"))
            .args([sub, host_flag, "0.0.0.0", "--port", "0"])
            .env_remove("MINI_AGENT_API_KEYS")
            .env_remove("MINI_AGENT_API_KEYS_FILE")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sub} bound 0.0.0.0 without keys");
        assert!(err.contains("MINI_AGENT_API_KEYS") && err.contains("--insecure-no-auth"), "{sub}: {err}");
    }
    for extra in [vec![("MINI_AGENT_API_KEYS", "sk-k")], vec![]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_miniagent"));
        cmd.args(["serve", "--host", "0.0.0.0", "--port", "0"]).envs(extra.iter().copied());
        if extra.is_empty() {
            cmd.arg("--insecure-no-auth");
        }
        let mut server = Server::start(cmd);
        assert!(server.wait_for("listening on 0.0.0.0:"), "{:?}", server.lines);
        server.kill();
    }
}

/// A server that is being stopped with a client stuck halfway through a request — head or body —
/// exits within the shutdown grace instead of waiting on the client (it waited > 40 s before).
#[test]
fn sigterm_with_a_half_sent_request_exits_within_the_grace() {
    use std::io::Write;
    // Half a head is no request at all: closed at once. Half a body is a request in flight: it
    // gets the grace.
    // On worker threads (the default: one per core) and on the shared runtime alike.
    for ((what, partial, limit), workers) in [
        ("half a head", "POST /agent/run HTTP/1.1\r\nHost: x\r\nContent-Le", 1),
        ("half a body", "POST /agent/run HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":", 5),
    ]
    .into_iter()
    .flat_map(|case| [(case, "2"), (case, "0")])
    {
        let what = format!("{what} (MINI_AGENT_WORKERS={workers})");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_miniagent"));
        cmd.args(["serve", "--port", "0"]).env("MINI_AGENT_SHUTDOWN_GRACE_SEC", "2").env("MINI_AGENT_WORKERS", workers);
        let mut server = Server::start(cmd);
        let addr = server.address();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client.write_all(partial.as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let started = std::time::Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.child.id() as i32), nix::sys::signal::SIGTERM)
            .unwrap();
        let status = server.child.wait().unwrap();
        let took = started.elapsed();
        println!("{what}: exited {took:?} after SIGTERM");
        assert!(status.success(), "{what}: {status:?}");
        assert!(took < std::time::Duration::from_secs(limit), "{what}: SIGTERM took {took:?} (grace 2 s)");
        drop(client);
    }
}

/// A `miniagent` child whose stderr lines are collected; killed when dropped.
struct Server {
    child: std::process::Child,
    lines: Vec<String>,
    rx: std::sync::mpsc::Receiver<String>,
}

impl Server {
    fn start(mut cmd: Command) -> Self {
        use std::io::BufRead;
        let mut child = cmd.stderr(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self { child, lines: Vec::new(), rx }
    }

    fn wait_for(&mut self, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while let Ok(line) = self.rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            let found = line.contains(needle);
            self.lines.push(line);
            if found {
                return true;
            }
        }
        false
    }

    fn address(&mut self) -> std::net::SocketAddr {
        assert!(self.wait_for("listening on "), "{:?}", self.lines);
        let line = self.lines.last().unwrap();
        line[line.find("listening on ").unwrap() + 13..].trim().parse().unwrap()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
