//! Binding and serving on a real socket, for every server subcommand.
//!
//! `main` and the tests that need a socket both come through here, so "listening on <addr>" is
//! printed by the same code the harness reads it from.
//!
//! The accept loop is ours (on hyper's HTTP/1 connection builder) rather than `axum::serve`,
//! because a server facing untrusted clients needs knobs `axum::serve` does not have: a header read
//! timeout (slowloris), a cap on open connections (each waits for a permit before it is accepted,
//! so excess clients queue in the kernel's backlog instead of in our memory), and a shutdown that
//! stops accepting, lets in-flight requests finish for a bounded grace, then closes what is left —
//! one half-sent request must not hold a SIGTERM forever.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

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
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
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
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    drain(graceful, limits.shutdown_grace).await;
    Ok(())
}

/// Waits for in-flight connections to finish, at most `grace`.
async fn drain(graceful: GracefulShutdown, grace: Duration) {
    tracing::info!(grace_secs = grace.as_secs_f64(), "no longer accepting; draining in-flight requests");
    match tokio::time::timeout(grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("drained; exiting"),
        Err(_) => tracing::warn!(
            grace_secs = grace.as_secs_f64(),
            "connections still open after the shutdown grace (MINI_AGENT_SHUTDOWN_GRACE_SEC); closing them"
        ),
    }
}

/// The façade: binds, records the real port in the config (so `/healthz` reports it), serves.
pub async fn serve(mut config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    let (listener, local) = bind_checked(&config.listen, !config.keys.is_empty()).await?;
    config.listen.port = local.port();
    config.outbound.server_on_loopback = local.ip().is_loopback();
    let limits = config.listen.limits;
    let state = AppState::new(config)?;
    run(listener, app(state), limits, shutdown).await
}
