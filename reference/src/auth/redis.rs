//! The per-key `rpm` window in Redis, so every replica behind a balancer counts the same requests
//! (CONTRACT §12). Same semantics as [`super::ratelimit::LocalWindows`] — at most `rpm` requests in
//! any 60 seconds — kept as a sorted set per key (`miniagent:rpm:<key name>`) and updated by one
//! Lua script, atomically, on Redis's own clock (replicas' clocks may disagree; Redis's is one).
//!
//! Redis down is never a hang: every call is bounded by `MINI_AGENT_REDIS_TIMEOUT_MS`, a failure
//! makes the limiter skip Redis for a second (so a black-holed Redis costs one timeout per second,
//! not one per request), and `MINI_AGENT_REDIS_FAIL` says what a request meets meanwhile: `open`
//! (the default: served without a limit) or `closed` (refused with 503). Going down and coming back
//! are each logged once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::env::Env;
use crate::secret::Secret;

/// What requests meet while Redis cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Served, unlimited (availability first).
    Open,
    /// Refused with 503 (the limit first).
    Closed,
}

/// `MINI_AGENT_REDIS_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `MINI_AGENT_REDIS_URL` (`redis://[:password@]host:port[/db]`); `None` keeps limits local.
    /// A secret: it may hold Redis's password.
    pub url: Option<Secret>,
    pub fail: FailMode,
    /// Bound on connecting and on each call.
    pub timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self { url: None, fail: FailMode::Open, timeout: Duration::from_millis(250) }
    }
}

impl RedisSettings {
    pub fn from_env(env: &Env) -> Self {
        let url = env.get("MINI_AGENT_REDIS_URL");
        if let Some(u) = &url
            && let Err(e) = redis::Client::open(u.as_str())
        {
            env.problem(format!(
                "MINI_AGENT_REDIS_URL is not a Redis URL ({e}): use redis://host:port/ (or rediss://)"
            ));
        }
        let fail = match env.get("MINI_AGENT_REDIS_FAIL").map(|v| v.trim().to_ascii_lowercase()) {
            None => FailMode::Open,
            Some(v) if v == "open" => FailMode::Open,
            Some(v) if v == "closed" => FailMode::Closed,
            Some(v) => {
                env.problem(format!("MINI_AGENT_REDIS_FAIL={v} must be open or closed"));
                FailMode::Open
            }
        };
        let ms = env.parse_where("MINI_AGENT_REDIS_TIMEOUT_MS", 250u64, "milliseconds between 1 and 60000", |v| {
            (1..=60_000).contains(v)
        });
        Self { url: url.map(Secret::new), fail, timeout: Duration::from_millis(ms) }
    }
}

/// Where to say a Redis URL is, without its password.
pub fn redacted(url: &str) -> String {
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

/// The outcome of counting one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Count {
    Allowed,
    /// Over the limit: the wait until the oldest counted request leaves the window.
    Over(Duration),
    /// Redis could not be asked (the reason, for the log).
    Unavailable(String),
}

/// The window as one atomic step: drop what left the window, refuse with the wait when full, else
/// record this request. Times are Redis's `TIME`, in microseconds.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(tonumber(oldest[2]) + window - now, 0)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return -1
";

/// Shared windows in Redis.
pub struct RedisWindows {
    client: redis::Client,
    where_: String,
    timeout: Duration,
    script: redis::Script,
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

impl std::fmt::Debug for RedisWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWindows").field("at", &self.where_).finish_non_exhaustive()
    }
}

/// How long a failure keeps the limiter from asking Redis again.
const BACKOFF: Duration = Duration::from_secs(1);

impl RedisWindows {
    pub fn new(url: &str, timeout: Duration) -> redis::RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            where_: redacted(url),
            timeout,
            script: redis::Script::new(SCRIPT),
            conn: tokio::sync::OnceCell::new(),
            health: Mutex::new(Health::default()),
        })
    }

    /// Where the windows live, password hidden.
    pub fn location(&self) -> &str {
        &self.where_
    }

    /// Counts one request of `key` against `rpm`.
    pub async fn hit(&self, key: &str, rpm: u32) -> Count {
        if self.health().skip_until.is_some_and(|t| Instant::now() < t) {
            return Count::Unavailable("Redis failed less than a second ago".to_owned());
        }
        let outcome = tokio::time::timeout(self.timeout.saturating_mul(2), self.ask(key, rpm)).await;
        let outcome = match outcome {
            Ok(Ok(wait_us)) => Ok(wait_us),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms (MINI_AGENT_REDIS_TIMEOUT_MS)", self.timeout.as_millis())),
        };
        let mut health = self.health();
        match outcome {
            Ok(wait_us) => {
                if health.down {
                    tracing::info!(redis = %self.where_, "Redis answers again: rate limits are shared again");
                }
                *health = Health::default();
                if wait_us < 0 { Count::Allowed } else { Count::Over(Duration::from_micros(wait_us.unsigned_abs())) }
            }
            Err(reason) => {
                if !health.down {
                    tracing::error!(redis = %self.where_, %reason, "Redis is unreachable: rate limits cannot be counted");
                }
                health.down = true;
                health.skip_until = Some(Instant::now() + BACKOFF);
                Count::Unavailable(reason)
            }
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn ask(&self, key: &str, rpm: u32) -> redis::RedisResult<i64> {
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
        let member = uuid::Uuid::new_v4().simple().to_string();
        self.script
            .key(format!("miniagent:rpm:{key}"))
            .arg(super::ratelimit::WINDOW.as_micros() as u64)
            .arg(rpm)
            .arg(member)
            .invoke_async(&mut conn)
            .await
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

    #[test]
    fn settings_say_what_is_wrong() {
        let map = [("MINI_AGENT_REDIS_URL", "http://x"), ("MINI_AGENT_REDIS_FAIL", "sometimes")];
        let var = |k: &str| map.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        let env = Env::new(&var);
        let s = RedisSettings::from_env(&env);
        let problems = env.into_problems();
        assert_eq!(s.fail, FailMode::Open);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("redis://host:port/"));
        assert!(problems[1].contains("open or closed"));
    }
}
