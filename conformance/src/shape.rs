//! Redaction of volatile fields, asserting the format of what it hides.
//!
//! A snapshot must not change between runs, so timings, ids and clocks are replaced by
//! placeholders — but only after checking they have the right form: a `ttotal_ms` that is a string,
//! or a `created` that is negative, is a contract break the snapshot would otherwise hide.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::failure::Failure;

/// What a redacted field must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volatile {
    /// A non-negative number of milliseconds → `"[ms]"`.
    Millis,
    /// Unix seconds within a day of now (integer or float) → `"[unix]"`.
    UnixSeconds,
    /// An integer TCP port 1..=65535 → `"[port]"`.
    Port,
    /// A non-empty string id → `"[id]"`.
    Id,
    /// A non-empty string whose text is implementation-specific (an error message) → `"[message]"`.
    Message,
    /// A boolean whose value depends on the target's configuration → `"[bool]"`.
    Bool,
    /// A string (possibly empty) whose value depends on configuration → `"[string]"`.
    Text,
}

impl Volatile {
    fn placeholder(self) -> &'static str {
        match self {
            Self::Millis => "[ms]",
            Self::UnixSeconds => "[unix]",
            Self::Port => "[port]",
            Self::Id => "[id]",
            Self::Message => "[message]",
            Self::Bool => "[bool]",
            Self::Text => "[string]",
        }
    }

    fn check(self, v: &Value) -> Result<(), String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let ok = match self {
            Self::Millis => v.as_f64().is_some_and(|n| n >= 0.0 && n.is_finite()),
            Self::UnixSeconds => v.as_f64().is_some_and(|n| (n - now).abs() < 86_400.0),
            Self::Port => v.as_u64().is_some_and(|n| (1..=65_535).contains(&n)),
            Self::Id | Self::Message => v.as_str().is_some_and(|s| !s.trim().is_empty()),
            Self::Bool => v.is_boolean(),
            Self::Text => v.is_string(),
        };
        if ok { Ok(()) } else { Err(format!("{v} is not {}", self.describe())) }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Millis => "a non-negative number of milliseconds",
            Self::UnixSeconds => "unix seconds near the current time",
            Self::Port => "a TCP port number",
            Self::Id => "a non-empty string id",
            Self::Message => "a non-empty message string",
            Self::Bool => "a boolean",
            Self::Text => "a string",
        }
    }
}

/// Replaces the fields at `paths` (JSON pointers where `*` matches any array index or key) after
/// checking each one's format. A listed path that is absent is left alone: presence is the
/// snapshot's business, format is this function's.
pub fn redact(value: &Value, rules: &[(&str, Volatile)]) -> Result<Value, Failure> {
    let mut out = value.clone();
    for (pattern, kind) in rules {
        let segments: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
        apply(&mut out, &segments, *kind, pattern)?;
    }
    Ok(out)
}

fn apply(v: &mut Value, segments: &[&str], kind: Volatile, pattern: &str) -> Result<(), Failure> {
    let Some((head, rest)) = segments.split_first() else {
        kind.check(v).map_err(|why| Failure::failed(format!("{pattern}: {why}")))?;
        *v = Value::String(kind.placeholder().to_owned());
        return Ok(());
    };
    match (v, *head) {
        (Value::Array(items), "*") => items.iter_mut().try_for_each(|i| apply(i, rest, kind, pattern)),
        (Value::Object(map), "*") => map.values_mut().try_for_each(|i| apply(i, rest, kind, pattern)),
        (Value::Array(items), idx) => match idx.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
            Some(item) => apply(item, rest, kind, pattern),
            None => Ok(()),
        },
        (Value::Object(map), key) => match map.get_mut(key) {
            Some(item) => apply(item, rest, kind, pattern),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Compact JSON text; with `preserve_order` it keeps key order, so equal text means equal shape
/// *and* order (map equality alone ignores order).
pub fn ordered_text(v: &Value) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_after_checking_the_format() {
        let v = json!({"metrics": {"ttotal_ms": 1.25}, "data": [{"id": "a"}, {"id": "b"}]});
        let r = redact(&v, &[("/metrics/ttotal_ms", Volatile::Millis), ("/data/*/id", Volatile::Id)]).expect("ok");
        assert_eq!(r, json!({"metrics": {"ttotal_ms": "[ms]"}, "data": [{"id": "[id]"}, {"id": "[id]"}]}));
    }

    #[test]
    fn a_wrong_format_is_a_failure_not_a_placeholder() {
        let v = json!({"metrics": {"ttotal_ms": "fast"}});
        let err = redact(&v, &[("/metrics/ttotal_ms", Volatile::Millis)]).expect_err("string is not ms");
        assert!(err.message().contains("/metrics/ttotal_ms"), "{err}");
        assert!(redact(&json!({"created": 5}), &[("/created", Volatile::UnixSeconds)]).is_err());
        assert!(redact(&json!({"port": 0}), &[("/port", Volatile::Port)]).is_err());
    }
}
