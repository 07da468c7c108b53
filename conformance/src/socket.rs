//! Raw bytes to the target's socket, for what no HTTP client will send: half a request head, half a
//! body (CONTRACT §11, slow clients). Writes what it is given, then waits — bounded — for the target
//! to answer or to close the connection, and says which happened and when.
//!
//! It knows nothing of cases or features: the slow-client cases and their probe decide what to send
//! and what counts as a pass.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::failure::Failure;

/// The header and body read timeouts the `slow-clients` feature starts a target with, in seconds:
/// short, so the cases and the probe that wait for them stay short.
pub const SLOW_CLIENT_TIMEOUT_SECS: u64 = 2;

/// How a connection the suite left unfinished ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The target answered: the status of its reply, and when its head was complete.
    Answered { status: u16, after: Duration },
    /// The target closed (or reset) the connection without a reply.
    Closed { after: Duration },
    /// Nothing happened within the limit: the connection is still open.
    Open,
}

impl Ending {
    /// One phrase for messages: "closed after 2.0 s", "answered 408 after 2.0 s", "still open".
    pub fn describe(&self) -> String {
        match self {
            Self::Answered { status, after } => format!("answered {status} after {:.1} s", after.as_secs_f64()),
            Self::Closed { after } => format!("closed the connection after {:.1} s", after.as_secs_f64()),
            Self::Open => "kept the connection open".to_owned(),
        }
    }
}

/// Connects to `addr`, writes `bytes`, and waits at most `limit` (from the write) for a reply head
/// or the end of the connection. The connection is dropped when this returns.
pub async fn send_partial(addr: SocketAddr, bytes: &[u8], limit: Duration) -> Result<Ending, Failure> {
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| Failure::failed(format!("connecting to {addr} took longer than 5 s")))?
        .map_err(|e| Failure::failed(format!("cannot connect to {addr}: {e}")))?;
    stream.write_all(bytes).await.map_err(|e| Failure::failed(format!("cannot write to {addr}: {e}")))?;
    let started = Instant::now();
    let mut seen = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    return status_of(&seen).map_or(Ending::Closed { after: started.elapsed() }, |s| {
                        Ending::Answered { status: s, after: started.elapsed() }
                    });
                }
                Ok(n) => {
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(status) = status_of(&seen).filter(|_| seen.windows(4).any(|w| w == b"\r\n\r\n")) {
                        return Ending::Answered { status, after: started.elapsed() };
                    }
                }
            }
        }
    };
    Ok(tokio::time::timeout(limit, read).await.unwrap_or(Ending::Open))
}

/// The status of `HTTP/1.x NNN …` at the start of `bytes`.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(bytes.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::status_of;

    #[test]
    fn status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 408 Request Timeout\r\n"), Some(408));
        assert_eq!(status_of(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status_of(b"HTTP/1.1 4"), None);
        assert_eq!(status_of(b"garbage that is long"), None);
    }
}
