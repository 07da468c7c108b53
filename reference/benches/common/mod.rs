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
/// latency from when it was due (so a slow answer delays what follows, as a real load would).
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
        let _ = tx.send(next).await;
        next += interval;
    }
    drop(tx);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}
