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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use http_body_util::BodyExt;

    use super::*;
    use crate::secret::Secret;

    /// A Redis URL nothing listens at (`password` in it when given).
    fn dead_redis(password: &str) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let auth = if password.is_empty() { String::new() } else { format!(":{password}@") };
        format!("redis://{auth}127.0.0.1:{}/", port.unwrap_or_else(|e| panic!("{e}")))
    }

    fn shared(url: &str, fail: FailMode) -> Limiter {
        let link = RedisLink::new(url, Duration::from_millis(200)).unwrap_or_else(|e| panic!("{e}"));
        Limiter::Shared(Box::new(RedisWindows::over(Arc::new(link))), fail)
    }

    fn auth(limiter: Limiter) -> Arc<Auth> {
        let keys = KeyRing::new(vec![
            ApiKey::new("limited", &Secret::new("sk-limited"), Some(5), None),
            ApiKey::new("unlimited", &Secret::new("sk-unlimited"), None, None),
        ]);
        Auth::with(keys, limiter, None)
    }

    /// The status and body `check` answers a request to `path` presenting `key` with, or `None` when
    /// the request passes (with its caller attached).
    async fn refusal(auth: &Auth, path: &str, key: &str) -> Option<(u16, String)> {
        let mut req = Request::get(path)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap_or_else(|e| panic!("{e}"));
        match check(auth, &mut req).await {
            Ok(()) => {
                assert!(req.extensions().get::<Caller>().is_some(), "a request that passes carries its caller");
                None
            }
            Err(response) => {
                let status = response.status().as_u16();
                let body = response.into_body().collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes();
                Some((status, String::from_utf8_lossy(&body).into_owned()))
            }
        }
    }

    #[tokio::test]
    async fn a_shared_limiter_that_cannot_reach_redis_refuses_when_closed_and_serves_when_open() {
        let url = dead_redis("");
        let closed = auth(shared(&url, FailMode::Closed));
        let (status, body) = refusal(&closed, "/v1/models", "sk-limited").await.unwrap_or_else(|| panic!("served"));
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("MINI_AGENT_REDIS_FAIL=closed") && body.contains(&url), "{body}");
        // The second request finds Redis skipped for a second: refused all the same.
        assert!(refusal(&closed, "/agent/run", "sk-limited").await.is_some_and(|(s, _)| s == 503));
        // A key without a limit never needs Redis.
        assert_eq!(refusal(&closed, "/v1/models", "sk-unlimited").await, None);

        let open = auth(shared(&dead_redis(""), FailMode::Open));
        assert_eq!(refusal(&open, "/v1/models", "sk-limited").await, None, "fail open serves");
        assert_eq!(refusal(&open, "/v1/models", "sk-limited").await, None);
    }

    #[test]
    fn the_limiter_says_where_it_counts_and_what_happens_when_redis_is_down() {
        let local = Limiter::new(&RedisSettings::default(), None).describe();
        assert!(local.contains("counted in this process") && local.contains("MINI_AGENT_REDIS_URL"), "{local}");
        let url = dead_redis("hunter2");
        let closed = shared(&url, FailMode::Closed).describe();
        let open = shared(&url, FailMode::Open).describe();
        for text in [&closed, &open] {
            assert!(text.contains("shared in Redis at redis://:***@127.0.0.1:"), "{text}");
            assert!(text.contains("MINI_AGENT_REDIS_FAIL") && !text.contains("hunter2"), "{text}");
        }
        assert!(closed.contains("refused with 503"), "{closed}");
        assert!(open.contains("served without a limit"), "{open}");
    }
}
