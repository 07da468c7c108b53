//! The front door (CONTRACT §11): with API keys configured, every route but the open ones (health
//! and metrics) needs `Authorization: Bearer <key>` or `x-api-key: <key>`; a key's `rpm` is
//! enforced here, and its `backends` are checked by the handlers once they know the backend (the
//! [`Caller`] travels in the request's extensions).
//!
//! Refusals use the route's error shape: OpenAI's on `/v1/*` and `/chat/completions`, `detail`
//! elsewhere. Without keys the layer lets everything through — the server then refuses to bind
//! anything but loopback (see [`crate::serve::bind_checked`]).

pub mod keys;
pub mod ratelimit;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::api::BackendKind;
use crate::error::{ApiError, respond};
use keys::{ApiKey, KeyRing};
use ratelimit::LocalWindows;

/// Routes that stay open with keys configured: probes must not need a secret.
pub const OPEN_PATHS: [&str; 4] = ["/ready", "/healthz", "/health", "/metrics"];

/// Where rate-limit counters live.
#[derive(Debug)]
pub enum Limiter {
    /// In this process (each replica counts for itself).
    Local(LocalWindows),
}

impl Limiter {
    /// Counts one request of `key`; `Err(wait)` when over its `rpm`.
    pub async fn hit(&self, key: &str, rpm: u32) -> Result<(), std::time::Duration> {
        match self {
            Self::Local(windows) => windows.hit(key, rpm),
        }
    }
}

/// What the auth layer needs.
#[derive(Debug)]
pub struct Auth {
    pub keys: KeyRing,
    pub limiter: Limiter,
}

impl Auth {
    pub fn new(keys: KeyRing) -> Arc<Self> {
        Arc::new(Self { keys, limiter: Limiter::Local(LocalWindows::default()) })
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKey);

impl Caller {
    /// `Ok` when the caller may run `backend`, else the 403 saying which backends it may run.
    pub fn check_backend(caller: Option<&Caller>, backend: BackendKind) -> Result<(), ApiError> {
        match caller {
            Some(Caller(key)) if !key.allows(backend) => {
                let allowed: Vec<&str> = key.backends.iter().flatten().map(|b| b.name()).collect();
                Err(ApiError::Forbidden(format!(
                    "API key `{}` may not run tool_backend `{}`; it may run: {}",
                    key.name,
                    backend.name(),
                    allowed.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }
}

/// The key a request presents: `Authorization: Bearer <key>`, else `x-api-key`.
fn presented(headers: &axum::http::HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim))
}

/// The middleware: authenticate, rate-limit, and pass the caller on.
pub async fn require_key(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if auth.keys.is_empty() || OPEN_PATHS.contains(&path.as_str()) {
        return next.run(req).await;
    }
    let key = match presented(req.headers()) {
        None => {
            let why = "missing API key: send `Authorization: Bearer <key>` (or `x-api-key: <key>`)";
            return respond(&path, ApiError::Unauthorized(why.to_owned()));
        }
        Some(p) => match auth.keys.find(p) {
            Some(key) => key.clone(),
            None => return respond(&path, ApiError::Unauthorized("invalid API key".to_owned())),
        },
    };
    if let Some(rpm) = key.rpm
        && let Err(wait) = auth.limiter.hit(&key.name, rpm).await
    {
        tracing::info!(key = %key.name, rpm, "rate limit reached");
        let message = format!("API key `{}` is over its limit of {rpm} requests per minute", key.name);
        return respond(&path, ApiError::RateLimited { message, retry_after: wait });
    }
    req.extensions_mut().insert(Caller(key));
    next.run(req).await
}
