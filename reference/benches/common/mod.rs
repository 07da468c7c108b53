//! What the benches share: starting the real binary (release build) on a free port, and a
//! closed-loop HTTP/1.1 load generator — `connections` keep-alive connections, each sending its
//! next request as soon as the previous answer is read.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A child process killed when dropped.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `miniagent <args>` with `env` on a free port; returns it with its address.
pub fn start_miniagent(args: &[&str], env: &[(&str, &str)]) -> (Child, SocketAddr) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_miniagent"))
        .args(args)
        .args(["--port", "0"])
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start miniagent");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("miniagent exited").unwrap();
        if let Some(i) = line.find("listening on ") {
            break line[i + 13..].trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Child(child), addr)
}

/// A zero-latency upstream answering `body` (JSON) to every request, on its own runtime thread;
/// returns its address and a count of the requests it answered.
pub fn start_fixed_upstream(body: &'static str) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (tx, rx) = std::sync::mpsc::channel();
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let counter = counter.clone();
                        async move {
                            let _ = req.into_body().collect().await;
                            counter.fetch_add(1, Ordering::Relaxed);
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from_static(body.as_bytes())))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (rx.recv().unwrap(), served)
}

/// Latencies of every request `connections` connections sent to `path` for `duration`.
pub async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    path: &'static str,
    body: &'static str,
    duration: Duration,
) -> Vec<Duration> {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
                tokio::spawn(conn);
                let mut lat = Vec::with_capacity(200_000);
                while Instant::now() < deadline {
                    let req = Request::post(path)
                        .header("host", "bench")
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(body.as_bytes())))
                        .unwrap();
                    let t = Instant::now();
                    let res = sender.send_request(req).await.unwrap();
                    assert!(res.status().is_success(), "{}", res.status());
                    res.into_body().collect().await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// p50 and p99 in milliseconds.
pub fn percentiles(mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1e3;
    (pct(0.50), pct(0.99))
}

/// `BENCH_SECS` (seconds per measurement), else `default`.
pub fn bench_secs(default: f64) -> f64 {
    std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

pub async fn connect(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

pub async fn once(sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>, path: &str, body: &'static str) {
    let req = Request::post(path)
        .header("host", "bench")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.into_body().collect().await.unwrap();
}

/// Requests to `path` at a fixed `rate` (spread over connections as needed), measuring each one's
/// latency from when it was issued (so waiting for a free connection counts, as a real load would).
/// Issued, not due: the schedule's timer fires up to a millisecond late (tokio's resolution), the
/// same for every target, and measured from the due time that lateness swamped a proxy hop's
/// 0.1 ms — nginx came out faster than the upstream alone.
pub async fn open_loop(
    addr: SocketAddr,
    path: &'static str,
    body: &'static str,
    rate: f64,
    d: Duration,
) -> Vec<Duration> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let (tx, rx) = tokio::sync::mpsc::channel::<Instant>(1024);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut sender = connect(addr).await;
                let mut lat = Vec::new();
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(scheduled) = next else { break };
                    once(&mut sender, path, body).await;
                    lat.push(scheduled.elapsed());
                }
                lat
            })
        })
        .collect();
    let start = Instant::now();
    let mut next = start;
    while next < start + d {
        tokio::time::sleep_until(next.into()).await;
        let _ = tx.send(Instant::now()).await;
        next += interval;
    }
    drop(tx);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}

/// nginx as a plain keep-alive reverse proxy in front of `upstream`: the yardstick of what one
/// proxy hop costs here (Debian's nginx, `worker_processes auto`, HTTP/1.1 with a keep-alive pool
/// to the upstream, no buffering). `None` with the reason when nginx is not installed.
pub struct Nginx {
    _group: harness::group::ProcessGroup,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

pub fn start_nginx(upstream: SocketAddr) -> Result<Nginx, String> {
    let program = harness::find_program("nginx", &["/usr/sbin", "/usr/bin"]).ok_or("nginx is not installed")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = harness::free_port().map_err(|e| e.to_string())?;
    let d = dir.path().display();
    let user = if nix_is_root() { "user nobody nogroup;" } else { "" };
    let conf = format!(
        r#"daemon off;
worker_processes auto;
{user}
pid {d}/nginx.pid;
error_log stderr error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 1000000;
  upstream up {{ server {upstream}; keepalive 128; keepalive_requests 1000000; }}
  server {{
    listen 127.0.0.1:{port} reuseport;
    location / {{
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"#
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| e.to_string())?;
    let mut group = harness::group::ProcessGroup::spawn(
        "nginx",
        &program,
        &["-c", &path.display().to_string(), "-p", &d.to_string()],
        &dir.path().join("nginx.log"),
    )?;
    group.wait_for_port(port, Duration::from_secs(10))?;
    Ok(Nginx { _group: group, addr: SocketAddr::from(([127, 0, 0, 1], port)), _dir: dir })
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// An upstream that answers every request with an event stream of `chunks` chat chunks and
/// `[DONE]`: written at once (`pace` zero), or the first at once and the others `pace` apart.
pub fn start_stream_upstream(chunks: usize, pace: Duration) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        let chunk = |i: usize| {
                            Bytes::from(format!(
                                "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"bench\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}},\"finish_reason\":null}}]}}\n\n"
                            ))
                        };
                        let body: http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible> =
                            if pace.is_zero() {
                                let mut all = Vec::new();
                                for i in 0..chunks {
                                    all.extend_from_slice(&chunk(i));
                                }
                                all.extend_from_slice(b"data: [DONE]\n\n");
                                Full::new(Bytes::from(all)).boxed()
                            } else {
                                let frames = futures::stream::unfold(0usize, move |i| async move {
                                    if i > chunks {
                                        return None;
                                    }
                                    if i > 0 {
                                        tokio::time::sleep(pace).await;
                                    }
                                    let data = if i == chunks { Bytes::from_static(b"data: [DONE]\n\n") } else { chunk(i) };
                                    Some((Ok(hyper::body::Frame::data(data)), i + 1))
                                });
                                http_body_util::StreamBody::new(frames).boxed()
                            };
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder().header("content-type", "text/event-stream").body(body).unwrap(),
                        )
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

/// Time from sending a request to the first byte of its body, `n` times one after another.
pub async fn first_byte(addr: SocketAddr, path: &'static str, body: &'static str, n: usize) -> Vec<Duration> {
    let mut sender = connect(addr).await;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let req = Request::post(path)
            .header("host", "bench")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        sender.ready().await.unwrap();
        let t = Instant::now();
        let mut res = sender.send_request(req).await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        let _ = res.body_mut().frame().await;
        out.push(t.elapsed());
        let _ = res.into_body().collect().await;
    }
    out
}

/// The median of `v`.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
