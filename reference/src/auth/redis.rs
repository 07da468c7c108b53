//! The per-key `rpm` window in Redis, so every replica behind a balancer counts the same requests
//! (CONTRACT §12). Same semantics as [`super::ratelimit::LocalWindows`] — at most `rpm` requests in
//! any 60 seconds — kept as a sorted set per key (`miniagent:rpm:<key name>`) and updated by one
//! Lua script, atomically, on Redis's own clock (replicas' clocks may disagree; Redis's is one).
//!
//! Redis down is never a hang: calls go over the server's one [`RedisLink`] (bounded by
//! `MINI_AGENT_REDIS_TIMEOUT_MS`, skipped for a second after a failure, going down and coming back
//! logged once), and `MINI_AGENT_REDIS_FAIL` says what a request meets meanwhile: `open` (the
//! default: served without a limit) or `closed` (refused with 503).

use std::sync::Arc;
use std::time::Duration;

use crate::env::Env;
use crate::secret::Secret;
use crate::transport::redis::RedisLink;

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

/// Shared windows in Redis, over the server's one [`RedisLink`].
#[derive(Debug)]
pub struct RedisWindows {
    link: Arc<RedisLink>,
    script: redis::Script,
}

impl RedisWindows {
    pub fn new(url: &str, timeout: Duration) -> redis::RedisResult<Self> {
        Ok(Self::over(Arc::new(RedisLink::new(url, timeout)?)))
    }

    /// Windows over a link the server shares with its other users of Redis.
    pub fn over(link: Arc<RedisLink>) -> Self {
        Self { link, script: redis::Script::new(SCRIPT) }
    }

    /// Where the windows live, password hidden.
    pub fn location(&self) -> &str {
        self.link.location()
    }

    /// Counts one request of `key` against `rpm`.
    pub async fn hit(&self, key: &str, rpm: u32) -> Count {
        let member = uuid::Uuid::new_v4().simple().to_string();
        let window = (super::ratelimit::WINDOW.as_micros() as u64).to_string();
        let (key, rpm) = (format!("miniagent:rpm:{key}"), rpm.to_string());
        match self.link.run::<i64>(&self.script, &[&key], &[&window, &rpm, &member]).await {
            Ok(wait_us) if wait_us < 0 => Count::Allowed,
            Ok(wait_us) => Count::Over(Duration::from_micros(wait_us.unsigned_abs())),
            Err(reason) => Count::Unavailable(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for Redis on a loopback port: answers the rate-limit script's call (`EVALSHA`)
    /// with each of `replies` in turn and any other command (the client's connection setup) with OK.
    async fn scripted_redis(replies: Vec<i64>) -> String {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("redis://{}/", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        tokio::spawn(async move {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            let mut replies = replies.into_iter();
            let mut line = String::new();
            loop {
                line.clear();
                if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let n: usize = line.trim_start_matches('*').trim().parse().unwrap_or(0);
                let mut words = Vec::new();
                for _ in 0..n {
                    line.clear();
                    let _ = read.read_line(&mut line).await;
                    let len: usize = line.trim_start_matches('$').trim().parse().unwrap_or(0);
                    let mut word = vec![0; len + 2];
                    let _ = read.read_exact(&mut word).await;
                    words.push(String::from_utf8_lossy(&word[..len]).to_ascii_uppercase());
                }
                let answer = match words.first().map(String::as_str) {
                    Some("EVALSHA") => format!(":{}\r\n", replies.next().unwrap_or(-1)),
                    _ => "+OK\r\n".to_owned(),
                };
                if write.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
        url
    }

    #[tokio::test]
    async fn a_request_is_allowed_exactly_when_redis_says_so_and_otherwise_waits_what_it_says() {
        let url = scripted_redis(vec![-1, 1_500_000, 1, -1]).await;
        let windows = RedisWindows::new(&url, Duration::from_secs(2)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(windows.hit("k", 2).await, Count::Allowed, "-1: recorded, allowed");
        assert_eq!(windows.hit("k", 2).await, Count::Over(Duration::from_millis(1500)), "the wait in microseconds");
        assert_eq!(windows.hit("k", 2).await, Count::Over(Duration::from_micros(1)));
        assert_eq!(windows.hit("k", 2).await, Count::Allowed);
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

    #[test]
    fn settings_take_open_closed_and_timeouts_from_1_to_60000_ms() {
        let read = |pairs: &[(&str, &str)]| {
            let var = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
            let env = Env::new(&var);
            let s = RedisSettings::from_env(&env);
            (s, env.into_problems())
        };
        let (s, problems) = read(&[]);
        assert_eq!((s, problems), (RedisSettings::default(), Vec::new()));
        for (fail, mode) in [("open", FailMode::Open), ("closed", FailMode::Closed), (" Closed ", FailMode::Closed)] {
            let (s, problems) = read(&[("MINI_AGENT_REDIS_FAIL", fail)]);
            assert_eq!((s.fail, problems.len()), (mode, 0), "{fail}: {problems:?}");
        }
        let (s, problems) = read(&[("MINI_AGENT_REDIS_URL", "redis://:pw@10.0.0.5:6379/0")]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.url.as_ref().map(|u| u.expose().to_owned()), Some("redis://:pw@10.0.0.5:6379/0".to_owned()));
        for (ms, ok) in [("1", true), ("60000", true), ("0", false), ("60001", false)] {
            let (s, problems) = read(&[("MINI_AGENT_REDIS_TIMEOUT_MS", ms)]);
            assert_eq!(problems.is_empty(), ok, "{ms}: {problems:?}");
            let expected = if ok { ms.parse().unwrap_or(0) } else { 250 };
            assert_eq!(s.timeout, Duration::from_millis(expected), "{ms}");
        }
    }
}
