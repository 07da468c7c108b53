//! Binding and serving on a real socket, for every server subcommand.
//!
//! `main` and the tests that need a socket both come through here, so "listening on <addr>" is
//! printed by the same code the harness reads it from.
//!
//! The accept loop is ours (on hyper's HTTP/1 connection builder) rather than `axum::serve`,
//! because a server facing untrusted clients needs knobs `axum::serve` does not have: a header read
//! timeout (slowloris), a cap on open connections (each waits for a permit before it is accepted,
//! so excess clients queue in the kernel's backlog instead of in our memory), and a shutdown that
//! stops accepting, lets in-flight requests finish for a bounded grace, then closes what is left.
//! A connection with no request in flight — idle, or still sending its head — is closed at once on
//! shutdown: half a request head must not hold a SIGTERM for the whole grace.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::config::Config;
use crate::http::{AppState, StartupError, app};
use crate::listen::{ClientLimits, Listen};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source} (is another process using the port? choose another with --port)")]
    Bind { addr: String, source: std::io::Error },
    #[error(
        "refusing to serve {addr} without API keys: anyone who reaches it could run code through the tools. \
         Set MINI_AGENT_API_KEYS (or MINI_AGENT_API_KEYS_FILE), bind 127.0.0.1, or pass --insecure-no-auth \
         if something in front of this server authenticates"
    )]
    OpenBindWithoutKeys { addr: SocketAddr },
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("server stopped with an error: {0}")]
    Serve(std::io::Error),
}

/// Binds `host:port` (port 0 picks a free one).
pub async fn bind(host: &str, port: u16) -> Result<(TcpListener, SocketAddr), ServeError> {
    let addr = format!("{host}:{port}");
    let listener = TcpListener::bind(&addr).await.map_err(|source| ServeError::Bind { addr: addr.clone(), source })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
    Ok((listener, local))
}

/// Binds where `listen` says, refusing a non-loopback address when the server has no API keys
/// (unless `--insecure-no-auth`, which is then warned about on every start). The check is on the
/// address actually bound, so a host name that resolves to a public address is caught too.
pub async fn bind_checked(listen: &Listen, has_keys: bool) -> Result<(TcpListener, SocketAddr), ServeError> {
    let (listener, local) = bind(&listen.host, listen.port).await?;
    if !local.ip().is_loopback() && !has_keys {
        if !listen.insecure_no_auth {
            return Err(ServeError::OpenBindWithoutKeys { addr: local });
        }
        tracing::warn!(
            addr = %local,
            "serving a non-loopback address WITHOUT authentication (--insecure-no-auth): anyone who reaches it \
             can run tools; set MINI_AGENT_API_KEYS unless a proxy in front authenticates"
        );
    }
    Ok((listener, local))
}

/// Logs `listening on <addr>` and serves `router` until `shutdown` resolves, then drains.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ClientLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let local = listener.local_addr().map_err(ServeError::Serve)?;
    tracing::info!("listening on {local}");
    let (stop, stopped) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    let mut workers = Workers::start(limits.workers);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            header_timeout: limits.header_timeout,
            stopped: stopped.clone(),
            permit,
        };
        match &mut workers {
            Some(workers) => workers.serve(stream, connection),
            None => {
                tokio::spawn(connection.serve(stream));
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    drain(&permits, limits.max_connections, limits.shutdown_grace).await;
    drop(workers);
    Ok(())
}

/// One accepted connection, to be served until it ends or the server stops.
struct Connection {
    router: Router,
    header_timeout: Duration,
    stopped: watch::Receiver<bool>,
    permit: tokio::sync::OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stream: tokio::net::TcpStream) {
        let Self { router, header_timeout, mut stopped, permit } = self;
        let busy = Arc::new(AtomicUsize::new(0));
        let service = Tracked { router, busy: busy.clone() };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut connection = std::pin::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            _ = stopped.changed() => {
                // Nothing in flight (idle, or half a head): close now. Otherwise finish what
                // is in flight (a stream included), then close.
                if busy.load(Ordering::Acquire) == 0 {
                    return drop(permit);
                }
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = ended {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        drop(permit);
    }
}

/// Threads with a single-threaded runtime each, that accepted connections are dealt to in turn.
/// A connection, its requests and the upstream connections they open all run on one thread, so a
/// request never waits for another thread to be woken to write its bytes (a multi-threaded
/// runtime moves tasks between its threads: with `MINI_AGENT_WORKERS=0`, chat at 50 connections
/// is served about a fifth slower, `benches/README.md`). The price is work-stealing: a thread busy
/// with one long computation delays its own connections, not the others'.
struct Workers {
    workers: Vec<Worker>,
    next: usize,
}

/// One worker thread: its runtime's handle, and how to stop it.
struct Worker {
    handle: tokio::runtime::Handle,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Workers {
    /// `n` worker threads, or `None` for none (0) or when they cannot be started (then the
    /// connections are served on the shared runtime, as with 0, and the log says why).
    fn start(n: usize) -> Option<Self> {
        let mut workers = Self { workers: Vec::with_capacity(n), next: 0 };
        for i in 0..n {
            match Worker::start(i) {
                Ok(worker) => workers.workers.push(worker),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start worker thread {i}; serving on the shared runtime (MINI_AGENT_WORKERS)");
                    return None;
                }
            }
        }
        (n > 0).then_some(workers)
    }

    /// Hands `stream` to the next worker, which serves it there.
    fn serve(&mut self, stream: tokio::net::TcpStream, connection: Connection) {
        // The stream leaves this runtime's reactor for the worker's.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => return tracing::warn!(error = %e, "cannot hand a connection to a worker; closed"),
        };
        let worker = &self.workers[self.next % self.workers.len()];
        self.next = self.next.wrapping_add(1);
        worker.handle.spawn(async move {
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => connection.serve(stream).await,
                Err(e) => tracing::warn!(error = %e, "a worker cannot take its connection; closed"),
            }
        });
    }
}

impl Worker {
    fn start(i: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = runtime.handle().clone();
        let thread = std::thread::Builder::new().name(format!("miniagent-worker-{i}")).spawn(move || {
            let _ = runtime.block_on(stopped);
            // What is still running once the server has drained is dropped, as on the shared
            // runtime; a blocking task is not waited for past this.
            runtime.shutdown_timeout(Duration::from_millis(100));
        })?;
        Ok(Self { handle, stop, thread })
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // All are told first, so they stop together; then each is waited for.
        let threads: Vec<_> = self
            .workers
            .drain(..)
            .map(|worker| {
                let _ = worker.stop.send(());
                worker.thread
            })
            .collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Waits for in-flight connections to finish (every permit back), at most `grace`.
async fn drain(permits: &Semaphore, max_connections: usize, grace: Duration) {
    tracing::info!(grace_secs = grace.as_secs_f64(), "no longer accepting; draining in-flight requests");
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    match tokio::time::timeout(grace, permits.acquire_many(all)).await {
        Ok(_) => tracing::info!("drained; exiting"),
        Err(_) => tracing::warn!(
            grace_secs = grace.as_secs_f64(),
            "connections still open after the shutdown grace (MINI_AGENT_SHUTDOWN_GRACE_SEC); closing them"
        ),
    }
}

/// The router, counting the requests of one connection that are in flight — from the call until
/// the response body is done (a stream counts until its last event).
#[derive(Clone)]
struct Tracked {
    router: Router,
    busy: Arc<AtomicUsize>,
}

/// Decrements its connection's count when the response body is dropped.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds its request's [`InFlight`].
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl tower::Service<axum::extract::Request<hyper::body::Incoming>> for Tracked {
    type Response = axum::http::Response<TrackedBody>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request<hyper::body::Incoming>) -> Self::Future {
        self.busy.fetch_add(1, Ordering::AcqRel);
        let in_flight = InFlight(self.busy.clone());
        let call = tower::Service::call(&mut self.router, req.map(Body::new));
        Box::pin(async move {
            let response = call.await?;
            Ok(response.map(|body| TrackedBody { body, _in_flight: in_flight }))
        })
    }
}

/// The façade: binds, records the real port in the config (so `/healthz` reports it), serves.
pub async fn serve(mut config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    // A configuration that cannot run is said before anything binds: a bad port must not be
    // reported as "address in use" because the default one was taken first.
    if !config.problems.is_empty() {
        return Err(StartupError::Config(config.problems).into());
    }
    let (listener, local) = bind_checked(&config.listen, !config.keys.is_empty()).await?;
    config.listen.port = local.port();
    config.outbound.server_on_loopback = local.ip().is_loopback();
    let limits = config.listen.limits;
    let state = AppState::new(config)?;
    run(listener, app(state), limits, shutdown).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods, reason = "the test is a real client on loopback")]
    use super::*;

    /// The name of the thread that served `GET /` on a fresh connection.
    async fn served_by(addr: SocketAddr) -> String {
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr).expect("connects");
            stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("writes");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).expect("reads");
            answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or(answer)
        })
        .await
        .expect("the client thread ends")
    }

    /// With workers, each connection is served on the next worker's thread in turn; with none,
    /// on the shared runtime. Either way the server stops when told.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_are_dealt_to_the_workers_in_turn() {
        for (workers, expected) in [
            (2, ["miniagent-worker-0", "miniagent-worker-1", "miniagent-worker-0", "miniagent-worker-1"]),
            (0, ["the shared runtime"; 4]),
        ] {
            let thread = || async {
                let name = std::thread::current().name().unwrap_or_default().to_owned();
                if name.starts_with("miniagent-worker-") { name } else { "the shared runtime".to_owned() }
            };
            let router = Router::new().route("/", axum::routing::get(thread));
            let (listener, addr) = bind("127.0.0.1", 0).await.expect("binds");
            let limits = ClientLimits { workers, ..ClientLimits::default() };
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(run(listener, router, limits, async {
                let _ = stopped.await;
            }));
            let mut names = Vec::new();
            for _ in 0..4 {
                names.push(served_by(addr).await);
            }
            assert_eq!(names, expected, "MINI_AGENT_WORKERS={workers}");
            let _ = stop.send(());
            let ended = tokio::time::timeout(Duration::from_secs(5), server).await;
            assert!(matches!(ended, Ok(Ok(Ok(())))), "MINI_AGENT_WORKERS={workers}: {ended:?}");
        }
    }
}
