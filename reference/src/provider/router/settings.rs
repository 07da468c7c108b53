//! The router's settings: `router_settings` and `litellm_settings` of a LiteLLM router file, read
//! into one typed [`RouterSettings`] (strategy, retries, cooldowns, the four kinds of fallbacks).
//!
//! LiteLLM reads fallbacks and `num_retries` from either section, so both are read here: a key in
//! `router_settings` wins over the same key in `litellm_settings`. Keys this contract does not name
//! are ignored, so one file serves both tools; a key it names with a value of the wrong type is a
//! problem naming the key (a typo in `num_retries` must not silently mean "no retries").

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

/// How a deployment is chosen among the available ones of a group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Random, weighted by `weight`, else `rpm`, else `tpm`, else uniform.
    SimpleShuffle,
    /// Fewest requests in flight.
    LeastBusy,
    /// Lowest mean latency over the recent window; deployments within `buffer` (a fraction) of the
    /// lowest are equally good.
    LatencyBased { ttl: Duration, buffer: f64 },
    /// Lowest tokens used this minute among deployments under their `rpm`/`tpm`.
    UsageBased,
}

impl Strategy {
    /// The name LiteLLM gives it (and `/v1/deployments` shows).
    pub fn name(&self) -> &'static str {
        match self {
            Self::SimpleShuffle => "simple-shuffle",
            Self::LeastBusy => "least-busy",
            Self::LatencyBased { .. } => "latency-based-routing",
            Self::UsageBased => "usage-based-routing-v2",
        }
    }
}

/// Everything the router does besides knowing its deployments.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    pub strategy: Strategy,
    /// More attempts after the first, within the requested group (default 2).
    pub num_retries: u32,
    /// Failures within a minute that put a deployment in cooldown (default 3).
    pub allowed_fails: u32,
    /// How long a cooldown lasts (default 5 s; a 429's `Retry-After` when longer).
    pub cooldown_time: Duration,
    /// Group → the groups tried, in order, when it has no available deployment left.
    pub fallbacks: HashMap<String, Vec<String>>,
    /// Tried when a group has no entry in `fallbacks`.
    pub default_fallbacks: Vec<String>,
    /// Group → groups for a provider 400 that says the context is too long.
    pub context_window_fallbacks: HashMap<String, Vec<String>>,
    /// Group → groups for a content-policy refusal.
    pub content_policy_fallbacks: HashMap<String, Vec<String>>,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            strategy: Strategy::SimpleShuffle,
            num_retries: 2,
            allowed_fails: 3,
            cooldown_time: Duration::from_secs(5),
            fallbacks: HashMap::new(),
            default_fallbacks: Vec::new(),
            context_window_fallbacks: HashMap::new(),
            content_policy_fallbacks: HashMap::new(),
        }
    }
}

/// LiteLLM's default `routing_strategy_args.ttl`: latencies older than an hour are forgotten.
const DEFAULT_LATENCY_TTL: Duration = Duration::from_secs(3600);

/// The two sections, `router_settings` first.
struct Sections<'a> {
    router: Option<&'a Value>,
    litellm: Option<&'a Value>,
}

impl<'a> Sections<'a> {
    /// `key` from `router_settings`, else from `litellm_settings`, with where it was found.
    fn get(&self, key: &str) -> Option<(String, &'a Value)> {
        let found = |section: Option<&'a Value>, name: &str| {
            section.and_then(|s| s.get(key)).filter(|v| !v.is_null()).map(|v| (format!("{name}.{key}"), v))
        };
        found(self.router, "router_settings").or_else(|| found(self.litellm, "litellm_settings"))
    }
}

impl RouterSettings {
    /// Reads the settings from a file's `router_settings` and `litellm_settings` (either may be
    /// absent); `Err` names the key and what it must be.
    pub fn from_sections(router: Option<&Value>, litellm: Option<&Value>) -> Result<Self, String> {
        let s = Sections { router, litellm };
        let mut out = Self::default();
        if let Some((at, v)) = s.get("num_retries") {
            out.num_retries = count(&at, v)?;
        }
        if let Some((at, v)) = s.get("allowed_fails") {
            out.allowed_fails = count(&at, v)?;
        }
        if let Some((at, v)) = s.get("cooldown_time") {
            out.cooldown_time = seconds(&at, v)?;
        }
        out.strategy = strategy(&s)?;
        out.fallbacks = fallback_map(&s, "fallbacks")?;
        out.context_window_fallbacks = fallback_map(&s, "context_window_fallbacks")?;
        out.content_policy_fallbacks = fallback_map(&s, "content_policy_fallbacks")?;
        if let Some((at, v)) = s.get("default_fallbacks") {
            out.default_fallbacks = names(&at, v)?;
        }
        Ok(out)
    }

    /// Every group a fallback names, for the check that they exist.
    pub fn fallback_targets(&self) -> impl Iterator<Item = &str> {
        let maps = [&self.fallbacks, &self.context_window_fallbacks, &self.content_policy_fallbacks];
        maps.into_iter().flat_map(|m| m.values().flatten()).chain(&self.default_fallbacks).map(String::as_str)
    }
}

fn strategy(s: &Sections<'_>) -> Result<Strategy, String> {
    let Some((at, v)) = s.get("routing_strategy") else { return Ok(Strategy::SimpleShuffle) };
    let name = v.as_str().ok_or_else(|| format!("{at} must be a string"))?;
    match name.trim() {
        // LiteLLM's cost-based routing needs its price table; shuffling is the safe reading.
        "simple-shuffle" | "cost-based-routing" => Ok(Strategy::SimpleShuffle),
        "least-busy" => Ok(Strategy::LeastBusy),
        // v1 of usage-based routing is the same rule, counted less carefully.
        "usage-based-routing-v2" | "usage-based-routing" => Ok(Strategy::UsageBased),
        "latency-based-routing" => {
            let args = s.get("routing_strategy_args");
            let arg = |key: &str| args.as_ref().and_then(|(_, a)| a.get(key)).filter(|v| !v.is_null());
            let ttl = match arg("ttl") {
                Some(v) => seconds("routing_strategy_args.ttl", v)?,
                None => DEFAULT_LATENCY_TTL,
            };
            let buffer = match arg("lowest_latency_buffer") {
                Some(v) => v
                    .as_f64()
                    .filter(|b| b.is_finite() && *b >= 0.0)
                    .ok_or("routing_strategy_args.lowest_latency_buffer must be a number ≥ 0")?,
                None => 0.0,
            };
            Ok(Strategy::LatencyBased { ttl, buffer })
        }
        other => Err(format!(
            "{at} `{other}` is not a routing strategy: use simple-shuffle, least-busy, latency-based-routing or \
             usage-based-routing-v2"
        )),
    }
}

fn count(at: &str, v: &Value) -> Result<u32, String> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{at} must be a whole number ≥ 0, got {v}"))
}

fn seconds(at: &str, v: &Value) -> Result<Duration, String> {
    v.as_f64()
        .filter(|f| f.is_finite() && *f >= 0.0 && *f <= 86_400.0 * 365.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{at} must be a number of seconds ≥ 0, got {v}"))
}

fn names(at: &str, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| format!("{at} must list model names, got {i}")))
            .collect(),
        other => Err(format!("{at} must be a list of model names, got {other}")),
    }
}

/// LiteLLM's `[{"group": ["fallback", …]}, …]` (a single map is read the same way).
fn fallback_map(s: &Sections<'_>, key: &str) -> Result<HashMap<String, Vec<String>>, String> {
    let Some((at, v)) = s.get(key) else { return Ok(HashMap::new()) };
    let maps: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![v],
        other => return Err(format!("{at} must be a list like [{{\"group\": [\"fallback\"]}}], got {other}")),
    };
    let mut out = HashMap::new();
    for m in maps {
        let obj = m.as_object().ok_or_else(|| format!("{at} must hold maps of group → fallbacks, got {m}"))?;
        for (group, targets) in obj {
            out.insert(group.clone(), names(&format!("{at}.{group}"), targets)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_contracts() {
        let s = RouterSettings::from_sections(None, None).expect("defaults");
        assert_eq!((s.num_retries, s.allowed_fails, s.cooldown_time), (2, 3, Duration::from_secs(5)));
        assert_eq!(s.strategy, Strategy::SimpleShuffle);
    }

    #[test]
    fn both_sections_are_read_and_router_settings_win() {
        let router = json!({"routing_strategy": "latency-based-routing",
            "routing_strategy_args": {"ttl": 60, "lowest_latency_buffer": 0.5}, "num_retries": 4, "some_new_key": 1});
        let litellm = json!({"num_retries": 9, "fallbacks": [{"a": ["b", "c"]}], "default_fallbacks": ["d"],
            "context_window_fallbacks": [{"a": ["big"]}], "content_policy_fallbacks": {"a": "safe"},
            "cooldown_time": 0.5, "allowed_fails": 1, "drop_params": true});
        let s = RouterSettings::from_sections(Some(&router), Some(&litellm)).expect("valid");
        assert_eq!(s.strategy, Strategy::LatencyBased { ttl: Duration::from_secs(60), buffer: 0.5 });
        assert_eq!((s.num_retries, s.allowed_fails, s.cooldown_time), (4, 1, Duration::from_millis(500)));
        assert_eq!(s.fallbacks["a"], ["b", "c"]);
        assert_eq!(s.default_fallbacks, ["d"]);
        assert_eq!(s.context_window_fallbacks["a"], ["big"]);
        assert_eq!(s.content_policy_fallbacks["a"], ["safe"]);
        let mut targets: Vec<&str> = s.fallback_targets().collect();
        targets.sort_unstable();
        assert_eq!(targets, ["b", "big", "c", "d", "safe"]);
    }

    #[test]
    fn every_strategy_name_litellm_accepts_is_read() {
        let cases = [
            ("simple-shuffle", "simple-shuffle"),
            ("least-busy", "least-busy"),
            ("usage-based-routing-v2", "usage-based-routing-v2"),
            ("usage-based-routing", "usage-based-routing-v2"),
            ("cost-based-routing", "simple-shuffle"),
            ("latency-based-routing", "latency-based-routing"),
        ];
        for (given, read) in cases {
            let s = RouterSettings::from_sections(Some(&json!({"routing_strategy": given})), None).expect(given);
            assert_eq!(s.strategy.name(), read);
        }
    }

    #[test]
    fn wrong_values_name_the_key() {
        let cases = [
            (json!({"num_retries": "two"}), "router_settings.num_retries"),
            (json!({"num_retries": -1}), "router_settings.num_retries"),
            (json!({"cooldown_time": "5s"}), "router_settings.cooldown_time"),
            (json!({"routing_strategy": "round-robin"}), "is not a routing strategy"),
            (json!({"fallbacks": "b"}), "router_settings.fallbacks must be a list"),
            (json!({"fallbacks": [{"a": [1]}]}), "router_settings.fallbacks.a must list model names"),
        ];
        for (router, needle) in cases {
            let err = RouterSettings::from_sections(Some(&router), None).expect_err(needle);
            assert!(err.contains(needle), "{err}");
        }
    }
}
