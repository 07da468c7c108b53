//! The front door (CONTRACT §11): with API keys configured, every route but the open ones (health
//! and metrics) needs `Authorization: Bearer <key>` or `x-api-key: <key>`; a key's `rpm` is
//! enforced here, and its `backends` are checked by the handlers once they know the backend (the
//! [`Caller`] travels in the request's extensions).
//!
//! Refusals use the route's error shape: OpenAI's on `/v1/*` and `/chat/completions`, `detail`
//! elsewhere. Without keys the layer lets everything through — the server then refuses to bind
//! anything but loopback (see [`crate::serve::bind_checked`]).

pub(crate) mod keys;
pub(crate) mod ratelimit;
pub(crate) mod redis;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::api::BackendKind;
use crate::error::{ApiError, respond};
use crate::telemetry::metrics::Metrics;
use crate::transport::redis::RedisLink;
use keys::{ApiKey, KeyRing};
use ratelimit::LocalWindows;
use redis::{Count, FailMode, RedisSettings, RedisWindows};

/// Routes that stay open with keys configured: probes must not need a secret.
pub(crate) const OPEN_PATHS: [&str; 4] = ["/ready", "/healthz", "/health", "/metrics"];

/// Where rate-limit counters live.
#[derive(Debug)]
pub enum Limiter {
    /// In this process (each replica counts for itself).
    Local(LocalWindows),
    /// In Redis, shared by every replica; what to do when it cannot be asked.
    Shared(Box<RedisWindows>, FailMode),
}

impl Limiter {
    /// Shared over `link` (the server's link to `MINI_AGENT_REDIS_URL`) when there is one, local
    /// otherwise.
    pub fn new(settings: &RedisSettings, link: Option<Arc<RedisLink>>) -> Self {
        match link {
            None => Self::Local(LocalWindows::default()),
            Some(link) => Self::Shared(Box::new(RedisWindows::over(link)), settings.fail),
        }
    }

    /// Counts one request of `key` against its `rpm`.
    pub async fn hit(&self, key: &str, rpm: u32) -> Count {
        match self {
            Self::Local(windows) => match windows.hit(key, rpm) {
                Ok(()) => Count::Allowed,
                Err(wait) => Count::Over(wait),
            },
            Self::Shared(windows, _) => windows.hit(key, rpm).await,
        }
    }

    /// Where the counters are, for the startup log.
    pub fn describe(&self) -> String {
        match self {
            Self::Local(_) => {
                "rate limits are counted in this process (set MINI_AGENT_REDIS_URL to share them between replicas)"
                    .to_owned()
            }
            Self::Shared(w, fail) => format!(
                "rate limits are shared in Redis at {}; when it cannot be asked requests are {} (MINI_AGENT_REDIS_FAIL)",
                w.location(),
                match fail {
                    FailMode::Open => "served without a limit",
                    FailMode::Closed => "refused with 503",
                }
            ),
        }
    }
}

/// What the auth layer needs.
#[derive(Debug)]
pub struct Auth {
    pub keys: KeyRing,
    pub limiter: Limiter,
    /// Counts refusals when the server keeps metrics.
    pub metrics: Option<Metrics>,
}

impl Auth {
    /// Keys with per-process limits and no metrics (the exec-RPC server, the sidecar).
    pub fn new(keys: KeyRing) -> Arc<Self> {
        Arc::new(Self { keys, limiter: Limiter::Local(LocalWindows::default()), metrics: None })
    }

    pub fn with(keys: KeyRing, limiter: Limiter, metrics: Option<Metrics>) -> Arc<Self> {
        Arc::new(Self { keys, limiter, metrics })
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub ApiKey);

impl Caller {
    /// `Ok` when the caller may run `backend`, else the 403 saying which backends it may run.
    pub(crate) fn check_backend(caller: Option<&Caller>, backend: BackendKind) -> Result<(), ApiError> {
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

/// The refusal for a request of `key` over its `rpm` (or, with Redis down and
/// `MINI_AGENT_REDIS_FAIL=closed`, for any limited request).
async fn limit(auth: &Auth, key: &str, rpm: u32) -> Option<ApiError> {
    match auth.limiter.hit(key, rpm).await {
        Count::Allowed => None,
        Count::Over(wait) => {
            tracing::info!(key, rpm, "rate limit reached");
            if let Some(m) = &auth.metrics {
                m.rate_limited(key);
            }
            let message = format!("API key `{key}` is over its limit of {rpm} requests per minute");
            Some(ApiError::RateLimited { message, retry_after: wait })
        }
        Count::Unavailable(reason) => match &auth.limiter {
            Limiter::Shared(w, FailMode::Closed) => Some(ApiError::Unavailable(format!(
                "the rate limiter cannot reach Redis at {} ({reason}); requests with a limit are refused while it \
                 is down (MINI_AGENT_REDIS_FAIL=closed; set it to open to serve them unlimited instead)",
                w.location()
            ))),
            _ => None,
        },
    }
}

/// Authenticates and rate-limits `req`, putting its [`Caller`] in its extensions; the refusal, in
/// the route's error shape, when it may not pass. Open paths and a server without keys pass as is.
pub(crate) async fn check(auth: &Auth, req: &mut Request) -> Result<(), Response> {
    if auth.keys.is_empty() || OPEN_PATHS.contains(&req.uri().path()) {
        return Ok(());
    }
    let path = req.uri().path();
    let key = match presented(req.headers()) {
        None => {
            let why = "missing API key: send `Authorization: Bearer <key>` (or `x-api-key: <key>`)";
            return Err(respond(path, ApiError::Unauthorized(why.to_owned())));
        }
        Some(p) => match auth.keys.find(p) {
            Some(key) => key.clone(),
            None => return Err(respond(path, ApiError::Unauthorized("invalid API key".to_owned()))),
        },
    };
    if let Some(rpm) = key.rpm
        && let Some(refusal) = limit(auth, &key.name, rpm).await
    {
        return Err(respond(req.uri().path(), refusal));
    }
    req.extensions_mut().insert(Caller(key));
    Ok(())
}

/// The middleware of the servers without a front layer of their own (exec-RPC, the sidecar).
pub(crate) async fn require_key(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    match check(&auth, &mut req).await {
        Ok(()) => next.run(req).await,
        Err(refusal) => refusal,
    }
}
