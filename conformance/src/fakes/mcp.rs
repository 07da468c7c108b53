//! A real MCP server for the §4b cases: the official Python SDK serving the suite's own script
//! (embedded here, written to a temporary directory) over Streamable HTTP on loopback.
//!
//! It needs a Python with the `mcp` package (`--mcp-python`, or `make py-venvs` for the tests).
//! Tools: `echo(text)`, `add(a, b)`, `fail(reason)` (an `isError` result).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

const SCRIPT: &str = include_str!("../../../fixtures/mcp/server.py");

pub struct McpServer {
    /// Behind a lock so [`McpServer::stop`] can end it through a shared reference.
    child: Mutex<Child>,
    /// The server runs with `--die-with-parent`: it exits when this pipe closes, which the kernel
    /// does when this process ends in any way — so even a killed test binary leaves no server.
    _lifeline: ChildStdin,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl McpServer {
    /// Starts the server with `python` and waits (up to 30 s) until it is listening.
    pub fn start(python: &Path) -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("mcp_server.py");
        std::fs::write(&script, SCRIPT)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .arg("--die-with-parent")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or_else(|| std::io::Error::other("no stderr"))?;
        let lifeline = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
                Ok(line) if line.contains("Uvicorn running on") => break,
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(std::io::Error::other(format!(
                        "the MCP server did not start (is the `mcp` package installed for {}?): {}",
                        python.display(),
                        seen.join(" | ")
                    )));
                }
            }
        }
        Ok(Self {
            child: Mutex::new(child),
            _lifeline: lifeline,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _dir: dir,
        })
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Ends the server process now (also done on drop): for a caller about to exit the process,
    /// which skips destructors.
    pub fn stop(&self) {
        let mut child = self.child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
