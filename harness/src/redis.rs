//! A real `redis-server` (the Debian package) on a free loopback port, for the shared rate limits:
//! no persistence, stopped when dropped.
//!
//! Missing `redis-server` is an `Err` that says what to install; whether that skips or fails a test
//! is the caller's decision (`MINIAGENT_REQUIRE_REDIS`, `MINIAGENT_REQUIRE_SCALE`).

use std::path::PathBuf;
use std::time::Duration;

use crate::group::ProcessGroup;

/// A running `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    _process: ProcessGroup,
    _dir: tempfile::TempDir,
}

/// The `redis-server` program, from `PATH` or where Debian puts it.
pub fn program() -> Result<PathBuf, String> {
    crate::find_program("redis-server", &["/usr/bin", "/usr/sbin"])
        .ok_or_else(|| "redis-server is not installed (Debian package redis-server)".to_owned())
}

/// The arguments that make `redis-server` a throwaway on `127.0.0.1:port`.
pub fn args(port: u16) -> Vec<String> {
    ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

impl RedisServer {
    /// Starts one and waits until it accepts connections (10 s at most).
    pub fn start() -> Result<Self, String> {
        let program = program()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = crate::free_port().map_err(|e| e.to_string())?;
        let args = args(port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = ProcessGroup::spawn("redis-server", &program, &args, &dir.path().join("redis.log"))?;
        process.wait_for_port(port, Duration::from_secs(10))?;
        Ok(Self { port, _process: process, _dir: dir })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`, the form `MINI_AGENT_REDIS_URL` takes.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}
