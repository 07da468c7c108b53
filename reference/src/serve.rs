//! Binding and serving on a real socket, for every server subcommand.
//!
//! `main` and the tests that need a socket both come through here, so "listening on <addr>" is
//! printed by the same code the harness reads it from.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{AppState, StartupError, app};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source} (is another process using the port? choose another with --port)")]
    Bind { addr: String, source: std::io::Error },
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

/// Logs `listening on <addr>` and serves `router` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let local = listener.local_addr().map_err(ServeError::Serve)?;
    tracing::info!("listening on {local}");
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await.map_err(ServeError::Serve)
}

/// The façade: binds, records the real port in the config (so `/healthz` reports it), serves.
pub async fn serve(mut config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    let (listener, local) = bind(&config.listen.host, config.listen.port).await?;
    config.listen.port = local.port();
    let state = AppState::new(config)?;
    run(listener, app(state), shutdown).await
}
