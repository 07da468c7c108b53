//! Short excerpts of long texts, for error messages, previews and logs: never more than asked,
//! never cut inside a character, and marked with `…` when something was left out.
//!
//! A leaf; the one place that decides how a long text is shortened.

use serde_json::Value;

/// The first `max` characters of `text`, with `…` when it was longer.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The first `max` characters of a body, decoded lossily.
pub(crate) fn excerpt_bytes(bytes: &[u8], max: usize) -> String {
    excerpt(&String::from_utf8_lossy(bytes), max)
}

/// At most `max` characters of a value's JSON text (a string's own text).
pub(crate) fn preview(v: &Value, max: usize) -> String {
    match v {
        Value::String(s) => excerpt(s, max),
        other => excerpt(&other.to_string(), max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn excerpts_mark_what_they_leave_out() {
        assert_eq!(excerpt("héllo", 2), "hé…");
        assert_eq!(excerpt("hé", 2), "hé");
        assert_eq!(preview(&json!({"a": 1}), 3), "{\"a…");
        assert_eq!(preview(&json!("plain"), 10), "plain");
        assert_eq!(excerpt_bytes(b"a\xffb", 10), "a\u{fffd}b");
    }
}
