//! The one Redis link of a server: a lazily connected, auto-reconnecting connection whose every
//! call is bounded, shared by what replicas keep in Redis — the per-key rate-limit windows
//! (`auth::redis`) and the router's cooldowns and per-minute usage (`provider::router::shared`).
//!
//! Redis down is never a hang: each call is bounded by `MINI_AGENT_REDIS_TIMEOUT_MS`, and a failure
//! makes every user skip Redis for a second (a black-holed Redis costs one timeout per second, not
//! one per request). Going down and coming back are each logged once, whoever noticed.
//!
//! Scripts only: each use is one atomic Lua script on Redis's own clock (replicas' clocks may
//! disagree; Redis's is one), so one call is one round trip.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long a failure keeps the users from asking Redis again.
const BACKOFF: Duration = Duration::from_secs(1);

/// A shared, bounded connection to one Redis.
pub struct RedisLink {
    client: redis::Client,
    where_: String,
    timeout: Duration,
    conn: tokio::sync::OnceCell<ConnectionManager>,
    health: Mutex<Health>,
}

#[derive(Debug, Default)]
struct Health {
    /// Skip Redis until then (after a failure).
    skip_until: Option<Instant>,
    /// Whether the last call failed (to log transitions only).
    down: bool,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink").field("at", &self.where_).finish_non_exhaustive()
    }
}

impl RedisLink {
    /// A link to `url` (nothing is connected before the first call).
    pub fn new(url: &str, timeout: Duration) -> redis::RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            where_: redacted(url),
            timeout,
            conn: tokio::sync::OnceCell::new(),
            health: Mutex::new(Health::default()),
        })
    }

    /// Where Redis is, password hidden.
    pub fn location(&self) -> &str {
        &self.where_
    }

    /// Runs `script` with `keys` and `args`: one round trip, bounded; `Err` says why Redis could not
    /// answer (unreachable, too slow, or skipped for a second after a failure).
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, String> {
        if self.health().skip_until.is_some_and(|t| Instant::now() < t) {
            return Err("Redis failed less than a second ago".to_owned());
        }
        let outcome = tokio::time::timeout(self.timeout.saturating_mul(2), self.invoke(script, keys, args)).await;
        let outcome = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms (MINI_AGENT_REDIS_TIMEOUT_MS)", self.timeout.as_millis())),
        };
        let mut health = self.health();
        match &outcome {
            Ok(_) => {
                if health.down {
                    tracing::info!(redis = %self.where_, "Redis answers again: rate limits and routing state are shared again");
                }
                *health = Health::default();
            }
            Err(reason) => {
                if !health.down {
                    tracing::error!(redis = %self.where_, %reason, "Redis is unreachable: each replica counts rate limits and routes on its own view until it is back");
                }
                health.down = true;
                health.skip_until = Some(Instant::now() + BACKOFF);
            }
        }
        outcome
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&str],
    ) -> redis::RedisResult<T> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await?;
        let mut conn = conn.clone();
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(*k);
        }
        for a in args {
            invocation.arg(*a);
        }
        invocation.invoke_async(&mut conn).await
    }
}

/// Where to say a Redis URL is, without its password.
pub(crate) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_where_the_url_is_shown() {
        assert_eq!(redacted("redis://:hunter2@10.0.0.5:6379/0"), "redis://:***@10.0.0.5:6379/0");
        assert_eq!(redacted("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
        assert!(!redacted("not a url hunter2").contains("hunter2"));
    }

    #[tokio::test]
    async fn a_redis_that_is_not_there_fails_fast_and_is_then_skipped() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let link = RedisLink::new(&format!("redis://127.0.0.1:{}/", port.unwrap_or(1)), Duration::from_millis(200))
            .expect("a valid URL");
        let script = redis::Script::new("return 1");
        let started = Instant::now();
        let first: Result<i64, String> = link.run(&script, &[], &[]).await;
        assert!(first.is_err() && started.elapsed() < Duration::from_secs(2), "{first:?}");
        let second: Result<i64, String> = link.run(&script, &[], &[]).await;
        assert_eq!(second, Err("Redis failed less than a second ago".to_owned()));
    }
}
