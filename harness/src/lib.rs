//! Real `miniagent` processes for end-to-end tests: started on a free loopback port, ready when
//! they say so, killed when dropped.
//!
//! Readiness is read from the process's own "listening on <addr>" log line rather than by polling
//! a port: it is exact (port 0 means the OS picked the port, and only the process knows which) and
//! it cannot mistake another process on the port for ours.
//!
//! Does not build binaries: callers pass the path (`CARGO_BIN_EXE_*` or `assert_cmd::cargo::cargo_bin`).
//!
//! Beside [`ServerProcess`]: [`stack`] (the live stack), [`containers`] (Docker or why not),
//! [`group`] (programs that fork, like nginx), [`redis`] (a throwaway `redis-server`), [`otlp`] (a
//! fake trace receiver) and [`scale`] (nginx in front of replicas, `make e2e-scale`).

// The harness starts real programs (miniagent, nginx, redis, docker) and reads the test
// environment: it is test tooling, outside the boundaries clippy.toml holds for the service.
#![allow(clippy::disallowed_methods, reason = "test tooling")]

pub mod containers;
pub mod group;
pub mod otlp;
pub mod redis;
pub mod scale;
pub mod stack;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A reqwest client builder for tests and tools: reqwest has no crypto provider of its own
/// (`rustls-no-provider`) and panics when a client is built without one, so ring is installed
/// first, once.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // Err only when a provider is already installed, which is all this needs.
    ONCE.call_once(|| drop(rustls::crypto::ring::default_provider().install_default()));
    reqwest::Client::builder()
}

/// A default reqwest client (see [`http_client_builder`]).
///
/// # Panics
/// Only if the TLS backend cannot be set up (no system CA store).
#[must_use]
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("a reqwest client")
}

/// How long a process may take to print its "listening on" line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot start {program}: {source} (was it built? `cargo build --workspace --bins`)")]
    Spawn { program: String, source: std::io::Error },
    #[error("{program} exited before it was listening; its output:\n{output}")]
    Exited { program: String, output: String },
    #[error("{program} printed no \"listening on\" line within {secs}s; its output:\n{output}")]
    NotReady { program: String, secs: u64, output: String },
}

/// A running server process; killed and reaped on drop.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    logs: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Starts `program args…` with `envs` added to the environment and waits for its
    /// "listening on <addr>" line on stderr. Pass `--port 0` so the OS picks a free port.
    pub fn start(program: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<Self, HarnessError> {
        Self::start_with(program, args, envs, &parse_listening)
    }

    /// Like [`Self::start`] for programs that announce readiness differently: `ready` returns the
    /// address once it sees the line that means "ready" (e.g. uvicorn's "Uvicorn running on").
    pub fn start_with(
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        ready: &dyn Fn(&str) -> Option<SocketAddr>,
    ) -> Result<Self, HarnessError> {
        let mut cmd = Command::new(program);
        cmd.args(args).envs(envs.iter().copied());
        Self::spawn(cmd, ready)
    }

    /// Starts a prepared command (its own uid, working directory, a cleared environment…) and
    /// waits for `ready`, like [`Self::start_with`].
    pub fn spawn(mut cmd: Command, ready: &dyn Fn(&str) -> Option<SocketAddr>) -> Result<Self, HarnessError> {
        let name = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HarnessError::Spawn { program: name.clone(), source })?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            return Err(HarnessError::Exited { program: name, output: "(no stderr)".into() });
        };
        // A reader thread forwards every line, so the pipe never fills and blocks the server.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = ready(&line) {
                        return Ok(Self { child, addr, logs: rx });
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.wait();
                    return Err(HarnessError::Exited { program: name, output: seen.join("\n") });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(HarnessError::NotReady {
                        program: name,
                        secs: READY_TIMEOUT.as_secs(),
                        output: seen.join("\n"),
                    });
                }
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Log lines printed since start (or since the last call), without waiting.
    pub fn drain_logs(&self) -> Vec<String> {
        self.logs.try_iter().collect()
    }

    /// Asks the process to stop (SIGTERM where there are signals) and waits up to `timeout` for it.
    /// Returns whether it exited successfully by itself.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        #[cfg(unix)]
        {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        }
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The interpreter of a Python peer venv built by `make py-venvs` (`target/py-venvs/<name>`), or
/// the path in `env_override`; `Err` says why it is missing, for the caller to report the test as
/// ignored with that reason — unless `MINIAGENT_REQUIRE_PY_PEERS` is set (CI), where a missing peer
/// is a failure, not a skip.
///
/// # Panics
/// When the peer is missing and `MINIAGENT_REQUIRE_PY_PEERS` is set.
pub fn python_peer(name: &str, env_override: &str) -> Result<std::path::PathBuf, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = std::env::var(env_override)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace.join(format!("target/py-venvs/{name}/bin/python")));
    if path.exists() {
        return Ok(path);
    }
    let why =
        format!("Python peer `{name}` is missing at {} (run `make py-venvs`, or set {env_override})", path.display());
    assert!(std::env::var_os("MINIAGENT_REQUIRE_PY_PEERS").is_none(), "{why}");
    Err(why)
}

/// The real Codex CLI from the `codex` peer venv (`openai-codex-cli-bin`, pinned in
/// `fixtures/python/requirements-codex.txt`): its static binary inside the installed package, or
/// the path in `CODEX_CLI_BIN`. Missing is handled as for [`python_peer`].
///
/// # Panics
/// When the binary is missing and `MINIAGENT_REQUIRE_PY_PEERS` is set.
pub fn codex_cli() -> Result<std::path::PathBuf, String> {
    if let Some(path) = std::env::var_os("CODEX_CLI_BIN").map(std::path::PathBuf::from) {
        return if path.is_file() { Ok(path) } else { Err(format!("CODEX_CLI_BIN={} is not a file", path.display())) };
    }
    let python = python_peer("codex", "CODEX_CLI_PYTHON")?;
    let lib = python.parent().and_then(Path::parent).map(|venv| venv.join("lib")).unwrap_or_default();
    let found = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("site-packages/codex_cli_bin/bin/codex"))
        .find(|p| p.is_file());
    let why =
        || format!("the codex peer venv has no codex_cli_bin/bin/codex under {} (run `make py-venvs`)", lib.display());
    match found {
        Some(path) => Ok(path),
        None => {
            assert!(std::env::var_os("MINIAGENT_REQUIRE_PY_PEERS").is_none(), "{}", why());
            Err(why())
        }
    }
}

/// Claude Code itself, from the `claude` peer venv (`claude-agent-sdk`, pinned in
/// `fixtures/python/requirements-claude.txt`, bundles the `claude` binary at
/// `claude_agent_sdk/_bundled/claude`), or the path in `CLAUDE_CODE_BIN`. Missing is handled as for
/// [`python_peer`].
///
/// # Panics
/// When the binary is missing and `MINIAGENT_REQUIRE_PY_PEERS` is set.
pub fn claude_code() -> Result<std::path::PathBuf, String> {
    if let Some(path) = std::env::var_os("CLAUDE_CODE_BIN").map(std::path::PathBuf::from) {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("CLAUDE_CODE_BIN={} is not a file", path.display()))
        };
    }
    let python = python_peer("claude", "CLAUDE_CODE_PYTHON")?;
    let lib = python.parent().and_then(Path::parent).map(|venv| venv.join("lib")).unwrap_or_default();
    let found = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("site-packages/claude_agent_sdk/_bundled/claude"))
        .find(|p| p.is_file());
    let why = || {
        format!(
            "the claude peer venv has no claude_agent_sdk/_bundled/claude under {} (run `make py-venvs`)",
            lib.display()
        )
    };
    match found {
        Some(path) => Ok(path),
        None => {
            assert!(std::env::var_os("MINIAGENT_REQUIRE_PY_PEERS").is_none(), "{}", why());
            Err(why())
        }
    }
}

/// A port no one is listening on right now (bound, read, released). Only for programs that cannot
/// report the port they picked themselves; there is a small race with other processes.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `name` from `PATH`, else from the first of `dirs` that has it (`/usr/sbin` is often not on a
/// user's `PATH`, and nginx lives there).
pub fn find_program(name: &str, dirs: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(dirs.iter().map(std::path::PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A number that differs between calls (nanoseconds since the epoch), for names that must not
/// collide with an earlier run's.
pub fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// The address in a log line containing `listening on <addr>`, if any.
pub fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let token = rest.split_whitespace().next()?;
    token.trim_start_matches("http://").trim_end_matches('/').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_listening;

    #[test]
    fn finds_the_address_in_a_log_line() {
        let line = "2026-11-21T00:25:02Z  INFO miniagent::serve: listening on 127.0.0.1:18788";
        assert_eq!(parse_listening(line).map(|a| a.port()), Some(18788));
        assert_eq!(parse_listening("listening on http://127.0.0.1:9/").map(|a| a.port()), Some(9));
        assert!(parse_listening("nothing here").is_none());
    }
}
