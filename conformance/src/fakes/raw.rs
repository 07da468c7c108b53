//! A raw TCP tools server that records request heads **byte for byte** (header-name casing
//! included — client libraries normalise it, so only raw bytes can prove it) and misbehaves on
//! request: bases `/ok` answer normally, `/hang` never answers, `/reset` drops the connection
//! unread (a reset), `/garbage` answers 200 with 10 MB of non-JSON bytes.
//!
//! Plain threads and blocking sockets: the point is to be a different HTTP stack from everything
//! else in the suite.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

/// One recorded request: its head exactly as received.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub head: String,
}

pub struct RawToolsServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<RawRequest>>>,
}

impl RawToolsServer {
    pub fn start(addr: Option<SocketAddr>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))))?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::Builder::new().name("raw-tools-fake".into()).spawn(move || {
            for stream in listener.incoming().flatten() {
                let record = record.clone();
                std::thread::spawn(move || serve(stream, &record));
            }
        })?;
        Ok(Self { addr, seen })
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// Heads received so far that contain `needle`.
    pub fn heads_containing(&self, needle: &str) -> Vec<String> {
        self.seen
            .lock()
            .map(|v| v.iter().filter(|r| r.head.contains(needle)).map(|r| r.head.clone()).collect())
            .unwrap_or_default()
    }
}

fn serve(mut stream: TcpStream, record: &Mutex<Vec<RawRequest>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // The request line first: a `/reset` request is dropped with its bytes unread, which makes the
    // kernel answer with RST rather than a clean close.
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return,
        }
        if buf.len() > 8192 {
            return;
        }
    }
    let line = String::from_utf8_lossy(&buf).into_owned();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    if path.starts_with("/reset/") {
        drop(stream);
        return;
    }
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return,
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    if let Ok(mut seen) = record.lock() {
        seen.push(RawRequest { head });
    }
    if path.starts_with("/hang/") {
        std::thread::sleep(Duration::from_secs(120));
        return;
    }
    if path.starts_with("/garbage/") {
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
        let chunk: Vec<u8> = (0..65_536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for _ in 0..160 {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
        return;
    }
    let payload = if path.ends_with("/tools") {
        json!([{"type": "function", "function": {"name": "echo", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}}])
    } else {
        json!({"text": "captured"})
    };
    let body = payload.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
