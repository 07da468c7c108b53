//! The router's view shared by replicas through Redis (`MINI_AGENT_REDIS_URL`): which deployments
//! are cooling down, their failures this minute, and their requests and tokens per minute — so a
//! deployment that failed on replica A receives nothing from replica B until its cooldown ends.
//!
//! Two scripts, each one round trip over the server's one [`RedisLink`]: [`SharedHealth::read`]
//! before a group's routing decision (every deployment of the group at once), and
//! [`SharedHealth::write`] after an attempt (a failure is written before the next decision; a
//! success's usage after the answer, off the request's path). Keys carry the deployment id:
//! `miniagent:route:cd:<id>` (a cooldown, its TTL the time left), `…:fails:<id>` (failures in the
//! current minute), `…:use:<id>:<minute>` (`rpm`, `tpm`). Minutes are Redis's clock.
//!
//! Keys are built inside the scripts, so this assumes one Redis, not a cluster.

use std::sync::Arc;
use std::time::Duration;

use crate::transport::redis::RedisLink;

/// Reads every deployment named in ARGV: the current minute, then per deployment the cooldown's
/// remaining ms (PTTL: negative when none), requests and tokens of this minute.
const READ: &str = r"
local t = redis.call('TIME')
local minute = math.floor(tonumber(t[1]) / 60)
local out = {minute}
for _, id in ipairs(ARGV) do
  out[#out + 1] = redis.call('PTTL', 'miniagent:route:cd:' .. id)
  local u = redis.call('HMGET', 'miniagent:route:use:' .. id .. ':' .. minute, 'rpm', 'tpm')
  out[#out + 1] = tonumber(u[1] or 0) or 0
  out[#out + 1] = tonumber(u[2] or 0) or 0
end
return out
";

/// ARGV: id, requests, tokens, failed (0|1), cooldown ms asked for (a 429; 0 for none),
/// allowed_fails, cooldown_time ms. Counts usage, counts a failure, starts (or lengthens) the
/// cooldown when asked or when the failures reach allowed_fails; returns the cooldown ms started.
const WRITE: &str = r"
local t = redis.call('TIME')
local minute = math.floor(tonumber(t[1]) / 60)
local id = ARGV[1]
local use = 'miniagent:route:use:' .. id .. ':' .. minute
if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', use, 'rpm', ARGV[2]) end
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', use, 'tpm', ARGV[3]) end
redis.call('EXPIRE', use, 120)
local cool = tonumber(ARGV[5])
local fails = 'miniagent:route:fails:' .. id
if ARGV[4] == '1' then
  local n = redis.call('INCR', fails)
  if n == 1 then redis.call('PEXPIRE', fails, 60000) end
  if n >= math.max(tonumber(ARGV[6]), 1) then cool = math.max(cool, tonumber(ARGV[7])) end
end
if cool > 0 then
  local cd = 'miniagent:route:cd:' .. id
  if redis.call('PTTL', cd) < cool then redis.call('SET', cd, '1', 'PX', cool) end
  redis.call('DEL', fails)
end
return cool
";

/// What Redis says about one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Time left of its cooldown, if cooling.
    pub cooling_for: Option<Duration>,
    pub rpm_used: u64,
    pub tpm_used: u64,
}

/// One attempt's outcome, as written to Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub requests: u64,
    pub tokens: u64,
    pub failed: bool,
    /// A cooldown asked for outright (a 429), in ms.
    pub cooldown_ms: u64,
}

/// The router's shared view.
#[derive(Debug)]
pub struct SharedHealth {
    link: Arc<RedisLink>,
    read: redis::Script,
    write: redis::Script,
}

impl SharedHealth {
    pub fn new(link: Arc<RedisLink>) -> Self {
        Self { link, read: redis::Script::new(READ), write: redis::Script::new(WRITE) }
    }

    pub fn location(&self) -> &str {
        self.link.location()
    }

    /// The minute and what Redis says about each of `ids` (in order); `Err` when it cannot be
    /// asked (then the replica routes on its own view).
    pub async fn read(&self, ids: &[&str]) -> Result<(u64, Vec<Seen>), String> {
        let raw: Vec<i64> = self.link.run(&self.read, &[], ids).await?;
        let (minute, rest) = raw.split_first().ok_or("an empty answer")?;
        if rest.len() != ids.len() * 3 {
            return Err(format!("{} numbers for {} deployments", rest.len(), ids.len()));
        }
        let seen = rest
            .chunks_exact(3)
            .map(|c| Seen {
                cooling_for: u64::try_from(c[0]).ok().filter(|ms| *ms > 0).map(Duration::from_millis),
                rpm_used: c[1].max(0).unsigned_abs(),
                tpm_used: c[2].max(0).unsigned_abs(),
            })
            .collect();
        Ok((minute.max(&0).unsigned_abs(), seen))
    }

    /// Writes one attempt's outcome for deployment `id` under the cooldown rules; returns the
    /// cooldown Redis started (a deployment that failed on several replicas cools everywhere).
    pub async fn write(
        &self,
        id: &str,
        report: Report,
        allowed_fails: u32,
        cooldown_time: Duration,
    ) -> Result<Option<Duration>, String> {
        let args = [
            id.to_owned(),
            report.requests.to_string(),
            report.tokens.to_string(),
            if report.failed { "1" } else { "0" }.to_owned(),
            report.cooldown_ms.to_string(),
            allowed_fails.to_string(),
            (cooldown_time.as_millis() as u64).to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ms: i64 = self.link.run(&self.write, &[], &args).await?;
        Ok(u64::try_from(ms).ok().filter(|ms| *ms > 0).map(Duration::from_millis))
    }
}
