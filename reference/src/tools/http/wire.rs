//! A deliberately small HTTP/1.1 client for the tools invoker, because header names must reach
//! the wire with **the exact casing the request gave** (CONTRACT §4), and the `http` crate — and so
//! reqwest and hyper's public API — stores names lowercased (hyper's case map is private).
//!
//! One request per connection (`Connection: close`), plain TCP or TLS (rustls, webpki roots), the
//! response read with `httparse`, bodies by `Content-Length`, chunked, or to EOF — and every step
//! bounded: a connect timeout, an overall timeout, a cap on header and body size. A tools server
//! that hangs, resets, or sends endless garbage produces a [`WireError`], never a hang.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// Largest accepted response head.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub connect_timeout: Duration,
    /// The whole exchange, connect included.
    pub timeout: Duration,
    pub max_body: usize,
    /// Connect to these addresses (already checked against the outbound policy) instead of
    /// resolving the host again; empty means resolve.
    pub addrs: Vec<std::net::SocketAddr>,
}

#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    /// Names as the server sent them.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name`, compared case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("bad URL {0}")]
    Url(String),
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the answer is not HTTP/1.x: {0}")]
    Protocol(String),
    #[error("the answer's body is larger than {0} bytes")]
    TooLarge(usize),
}

/// Headers this client writes itself; a caller's copy of them is dropped so a request can never
/// carry two framings (request smuggling) or a second Host.
const OWN_HEADERS: [&str; 6] = ["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"];

/// Sends one request. `headers` go on the wire in order, names byte-for-byte as given.
pub(crate) async fn send(
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    limits: &Limits,
) -> Result<Response, WireError> {
    match tokio::time::timeout(limits.timeout, exchange(method, url, headers, body, limits)).await {
        Ok(result) => result,
        Err(_) => Err(WireError::Timeout(limits.timeout)),
    }
}

async fn exchange(
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    limits: &Limits,
) -> Result<Response, WireError> {
    let host = url.host_str().ok_or_else(|| WireError::Url(format!("{url} has no host")))?.to_owned();
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        other => return Err(WireError::Url(format!("{url}: scheme {other} is not http or https"))),
    };
    let port = url.port_or_known_default().unwrap_or(if tls { 443 } else { 80 });
    let addr = format!("{}:{port}", host.trim_start_matches('[').trim_end_matches(']'));
    let connect = async {
        if limits.addrs.is_empty() {
            TcpStream::connect(&addr).await
        } else {
            TcpStream::connect(&limits.addrs[..]).await
        }
    };
    let tcp = match tokio::time::timeout(limits.connect_timeout, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(WireError::Connect { addr, reason: e.to_string() }),
        Err(_) => {
            return Err(WireError::Connect { addr, reason: format!("timed out after {:?}", limits.connect_timeout) });
        }
    };
    let _ = tcp.set_nodelay(true);
    let head = request_head(method, url, &host, headers, body);
    if tls {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| WireError::Url(format!("{host}: {e}")))?;
        let stream = tls_connector()
            .connect(name, tcp)
            .await
            .map_err(|e| WireError::Connect { addr: addr.clone(), reason: format!("TLS: {e}") })?;
        roundtrip(stream, &head, body, limits, method).await
    } else {
        roundtrip(tcp, &head, body, limits, method).await
    }
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        #[expect(clippy::expect_used, reason = "ring supports the default protocol versions; this cannot fail")]
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions");
        Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

/// The request line and headers, exactly as they go on the wire.
pub(crate) fn request_head(
    method: &str,
    url: &Url,
    host: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {host_header}\r\n").into_bytes();
    let mut has_content_type = false;
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if OWN_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        has_content_type |= lower == "content-type";
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(body) = body {
        if !has_content_type {
            out.extend_from_slice(b"Content-Type: application/json\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"Accept: application/json, */*\r\nConnection: close\r\n\r\n");
    out
}

async fn roundtrip<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    head: &[u8],
    body: Option<&[u8]>,
    limits: &Limits,
    method: &str,
) -> Result<Response, WireError> {
    stream.write_all(head).await?;
    if let Some(body) = body {
        stream.write_all(body).await?;
    }
    stream.flush().await?;

    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    loop {
        // Read until a complete head; skip 1xx interim answers.
        let (status, headers, head_len) = loop {
            if let Some(parsed) = parse_head(&buf)? {
                break parsed;
            }
            if buf.len() > MAX_HEAD {
                return Err(WireError::Protocol(format!("response head larger than {MAX_HEAD} bytes")));
            }
            if read_more(&mut stream, &mut buf).await? == 0 {
                return Err(WireError::Protocol(if buf.is_empty() {
                    "the server closed the connection without answering".to_owned()
                } else {
                    format!(
                        "the answer ended inside its head: {:?}",
                        String::from_utf8_lossy(&buf[..buf.len().min(120)])
                    )
                }));
            }
        };
        buf.drain(..head_len);
        if (100..200).contains(&status) {
            continue;
        }
        let find = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.trim().to_owned());
        let body = if method == "HEAD" || status == 204 || status == 304 {
            Vec::new()
        } else if find("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked")) {
            read_chunked(&mut stream, buf, limits.max_body).await?
        } else if let Some(len) = find("content-length") {
            let len: usize = len.parse().map_err(|_| WireError::Protocol(format!("bad Content-Length {len:?}")))?;
            if len > limits.max_body {
                return Err(WireError::TooLarge(limits.max_body));
            }
            while buf.len() < len {
                if read_more(&mut stream, &mut buf).await? == 0 {
                    return Err(WireError::Protocol(format!("the body ended after {} of {len} bytes", buf.len())));
                }
            }
            buf.truncate(len);
            buf
        } else {
            loop {
                if buf.len() > limits.max_body {
                    return Err(WireError::TooLarge(limits.max_body));
                }
                if read_more(&mut stream, &mut buf).await? == 0 {
                    break buf;
                }
            }
        };
        return Ok(Response { status, headers, body });
    }
}

/// Up to 16 KiB more of the answer, read straight into `buf`'s spare room. Not through a buffer on
/// the stack: in an `async fn` that array is part of the future, and it made every agent run's
/// future 20 KiB (copied whole into its box on every request, tools used or not).
async fn read_more<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Result<usize, WireError> {
    buf.reserve(16 * 1024);
    Ok(stream.read_buf(buf).await?)
}

type Head = (u16, Vec<(String, String)>, usize);

fn parse_head(buf: &[u8]) -> Result<Option<Head>, WireError> {
    let mut storage = [httparse::EMPTY_HEADER; 128];
    let mut res = httparse::Response::new(&mut storage);
    match res.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let status = res.code.unwrap_or(0);
            let headers = res
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            Ok(Some((status, headers, len)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(WireError::Protocol(format!(
            "{e}; the answer starts {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(80)])
        ))),
    }
}

async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
    max_body: usize,
) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if buf.len() > 1024 {
                return Err(WireError::Protocol("chunk size line too long".to_owned()));
            }
            if read_more(stream, &mut buf).await? == 0 {
                return Err(WireError::Protocol("the chunked body ended early".to_owned()));
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| WireError::Protocol(format!("bad chunk size {size_text:?}")))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            return Ok(body);
        }
        if body.len() + size > max_body {
            return Err(WireError::TooLarge(max_body));
        }
        while buf.len() < size + 2 {
            if read_more(stream, &mut buf).await? == 0 {
                return Err(WireError::Protocol("the chunked body ended early".to_owned()));
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`exchange`] on a thread and paused runtime of its own, waited for at most 10 s: a client
    /// that loops without yielding (no timeout can cancel it) fails its test instead of hanging
    /// the test binary.
    async fn answer(method: &str, pieces: &[&[u8]], max_body: usize) -> Result<Response, WireError> {
        let method = method.to_owned();
        let pieces: Vec<Vec<u8>> = pieces.iter().map(|p| p.to_vec()).collect();
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build();
            let pieces: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            let _ = done.send(rt.expect("a runtime").block_on(exchange(&method, &pieces, max_body)));
        });
        wait.recv_timeout(Duration::from_secs(10))
            .expect("the exchange did not end within 10 s (a loop that never yields?)")
    }

    /// `roundtrip` against a server that answers `pieces`, one write each with a pause between (so
    /// the client reads them separately), then closes its side.
    async fn exchange(method: &str, pieces: &[&[u8]], max_body: usize) -> Result<Response, WireError> {
        let (client, mut server) = tokio::io::duplex(256 * 1024);
        let pieces: Vec<Vec<u8>> = pieces.iter().map(|p| p.to_vec()).collect();
        let server = tokio::spawn(async move {
            // The client may stop reading (and drop its side) before the last piece.
            for piece in pieces {
                if server.write_all(&piece).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let _ = server.shutdown().await;
            // Kept open until the client is done, so its writes never meet a closed pipe.
            std::future::pending::<()>().await;
        });
        let limits = Limits {
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            max_body,
            addrs: vec![],
        };
        let response = roundtrip(client, b"GET / HTTP/1.1\r\n\r\n", None, &limits, method).await;
        server.abort();
        response
    }

    fn body(r: Result<Response, WireError>) -> String {
        String::from_utf8(r.expect("an answer").body).expect("utf8")
    }

    fn error(r: Result<Response, WireError>) -> String {
        r.expect_err("an error").to_string()
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\n";
    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

    #[tokio::test(start_paused = true)]
    async fn bodies_by_content_length_chunks_or_eof() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(body(answer("POST", &[head, b"hel", b"lo", b"ignored"], 64).await), "hello");
        assert_eq!(body(answer("POST", &[head, b"hello"], 5).await), "hello", "exactly the limit");
        let chunks: &[&[u8]] = &[CHUNKED, b"5", b";ext=1\r\nhel", b"lo\r\n", b"6\r\n world\r\n", b"0\r\n\r\n"];
        assert_eq!(body(answer("POST", chunks, 64).await), "hello world");
        assert_eq!(body(answer("POST", &[CHUNKED, b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"], 8).await), "helloabc");
        // A chunk is complete once its data and CRLF are there, whatever follows (a last chunk of
        // 10 bytes is followed by only 5).
        assert_eq!(body(answer("POST", &[CHUNKED, b"a\r\n0123456789\r\n", b"0\r\n\r\n"], 64).await), "0123456789");
        assert_eq!(body(answer("POST", &[OK, b"\r\n", b"to the ", b"end"], 10).await), "to the end");
        assert_eq!(body(answer("POST", &[OK, b"\r\nexactly 10"], 10).await), "exactly 10");
    }

    #[tokio::test(start_paused = true)]
    async fn interim_and_bodiless_answers() {
        let continued: &[&[u8]] =
            &[b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"];
        let r = answer("POST", continued, 64).await.expect("an answer");
        assert_eq!((r.status, r.body.as_slice()), (201, b"ok".as_slice()));
        for status in ["204 No Content", "304 Not Modified"] {
            let head = format!("HTTP/1.1 {status}\r\n\r\n");
            assert_eq!(body(answer("GET", &[head.as_bytes(), b"junk"], 64).await), "", "{status}");
        }
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(body(answer("HEAD", &[head], 64).await), "", "a HEAD answer has no body");
    }

    #[tokio::test(start_paused = true)]
    async fn oversized_and_broken_answers_are_errors() {
        let too_large = |r| matches!(r, Err(WireError::TooLarge(8)));
        assert!(too_large(answer("POST", &[b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789"], 8).await));
        assert!(too_large(answer("POST", &[CHUNKED, b"5\r\nhello\r\n4\r\nabcd\r\n0\r\n\r\n"], 8).await));
        assert!(too_large(answer("POST", &[OK, b"\r\n123456789"], 8).await));
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert!(error(answer("POST", &[cut], 64).await).contains("the body ended after 3 of 10 bytes"));
        assert!(error(answer("POST", &[CHUNKED, b"5\r\nhel"], 64).await).contains("chunked body ended early"));
        assert!(error(answer("POST", &[CHUNKED, b"5"], 64).await).contains("chunked body ended early"));
        assert!(error(answer("POST", &[CHUNKED, b"zz\r\n"], 64).await).contains("bad chunk size"));
        assert!(error(answer("POST", &[CHUNKED, &[b'1'; 2000]], 64).await).contains("chunk size line too long"));
        assert!(error(answer("POST", &[], 64).await).contains("closed the connection without answering"));
        assert!(error(answer("POST", &[b"HTTP/1.1 200"], 64).await).contains("ended inside its head"));
        let endless = [b"X-Filler: ".as_slice(), &[b'a'; 70 * 1024]].concat();
        assert!(error(answer("POST", &[OK, &endless], 64).await).contains("response head larger than 65536 bytes"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_large_head_within_the_cap_is_read() {
        let cookie = [b"Set-Cookie: ".as_slice(), &[b'c'; 4000], b"\r\nContent-Length: 2\r\n\r\nok"].concat();
        let r = answer("GET", &[OK, &cookie[..1000], &cookie[1000..]], 64).await.expect("an answer");
        assert_eq!((r.header("set-cookie").map(str::len), r.body.as_slice()), (Some(4000), b"ok".as_slice()));
        assert_eq!(r.header("SET-COOKIE").map(str::len), Some(4000), "names compare case-insensitively");
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_is_refused_only_once_more_than_the_cap_arrived_without_its_end() {
        // Exactly MAX_HEAD bytes of an unfinished head, then its end: still read.
        let filler = MAX_HEAD - OK.len() - "X-Filler: ".len();
        let head = [OK, b"X-Filler: ", &vec![b'a'; filler], b"\r\nContent-Length: 2\r\n\r\nok"].concat();
        let r = answer("GET", &[&head[..MAX_HEAD], &head[MAX_HEAD..]], 64).await.expect("an answer");
        assert_eq!(r.body, b"ok");
    }

    #[tokio::test(start_paused = true)]
    async fn a_chunk_size_line_is_refused_only_past_1024_bytes_without_its_end() {
        // A size line with a long extension: exactly 1 024 bytes before its CRLF arrives.
        let line = [b"5;ext=".as_slice(), &[b'e'; 1018]].concat();
        assert_eq!(line.len(), 1024);
        let r = answer("POST", &[CHUNKED, &line, b"\r\nhello\r\n0\r\n\r\n"], 64).await;
        assert_eq!(body(r), "hello");
    }

    #[test]
    fn a_body_gets_a_json_content_type_unless_the_caller_gave_one() {
        let url = Url::parse("http://127.0.0.1:9000/invoke").expect("url");
        let head = |headers: &[(&str, &str)], body: Option<&[u8]>| {
            let headers: Vec<(String, String)> =
                headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            String::from_utf8(request_head("POST", &url, "127.0.0.1", &headers, body)).expect("utf8")
        };
        let h = head(&[("X-Other", "1")], Some(b"{}"));
        assert_eq!(h.matches("Content-Type").count(), 1, "{h}");
        assert!(h.contains("\r\nContent-Type: application/json\r\n"), "{h}");
        let h = head(&[("content-type", "text/plain")], Some(b"hi"));
        assert_eq!(h.to_ascii_lowercase().matches("content-type").count(), 1, "the caller's only: {h}");
        assert!(h.contains("\r\ncontent-type: text/plain\r\n"), "{h}");
        let h = head(&[("X-Other", "1")], None);
        assert!(!h.contains("Content-Type") && !h.contains("Content-Length"), "no body, no body headers: {h}");
    }

    #[test]
    fn the_head_keeps_caller_casing_and_drops_framing_headers() {
        let url = Url::parse("http://127.0.0.1:9000/base/invoke?x=1").expect("url");
        let headers = vec![
            ("X-Custom-Case".to_owned(), "v".to_owned()),
            ("authorization".to_owned(), "Bearer t".to_owned()),
            ("Content-Length".to_owned(), "999".to_owned()),
            ("Transfer-Encoding".to_owned(), "chunked".to_owned()),
        ];
        let head = String::from_utf8(request_head("POST", &url, "127.0.0.1", &headers, Some(b"{}"))).expect("utf8");
        assert!(head.starts_with("POST /base/invoke?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"), "{head}");
        assert!(
            head.contains("\r\nX-Custom-Case: v\r\n") && head.contains("\r\nauthorization: Bearer t\r\n"),
            "{head}"
        );
        assert_eq!(head.matches("Content-Length").count(), 1, "{head}");
        assert!(head.contains("Content-Length: 2\r\n") && !head.contains("chunked"), "{head}");
    }
}
