//! A credential that cannot leak by accident: its `Debug` never shows the value, so a settings
//! struct dumped into a log line or an error message prints `Secret(***)`.
//!
//! And the **known secrets** of this process — every provider key and client key the configuration
//! holds, registered when it is read ([`Secret::new`] of a long enough value registers it) — with
//! [`redact`]: what an upstream sends back is not ours to trust, and a provider that reflects the
//! `Authorization` header it received would otherwise hand our key to the client and to the log.
//! Error bodies, proxied answers (plain and streamed) and every log line pass through it.
//!
//! A leaf: everything that holds a key (provider settings, router aliases, API keys) uses it, and it
//! uses nothing of the crate.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

use aho_corasick::AhoCorasick;

/// Shorter values are not registered: redacting a 3-character test key would mangle every text
/// that happens to contain those letters, and no real credential is that short.
const MIN_REDACTED_LEN: usize = 8;
/// What a redacted secret becomes.
pub(crate) const REDACTED: &str = "***";

/// The registered values and their automaton (rebuilt on each registration, which happens at
/// startup; reads are a lock-free clone of the `Arc`).
static KNOWN: RwLock<Option<(Vec<String>, Arc<AhoCorasick>)>> = RwLock::new(None);

fn register(value: &str) {
    if value.len() < MIN_REDACTED_LEN {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut values = known.as_ref().map(|(v, _)| v.clone()).unwrap_or_default();
    if values.iter().any(|v| v == value) {
        return;
    }
    values.push(value.to_owned());
    if let Ok(automaton) = AhoCorasick::new(&values) {
        *known = Some((values, Arc::new(automaton)));
    }
}

fn automaton() -> Option<Arc<AhoCorasick>> {
    KNOWN.read().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref().map(|(_, a)| a.clone())
}

/// `text` with every known secret replaced by [`REDACTED`] (borrowed when there is none).
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    match automaton() {
        Some(a) if a.is_match(text) => Cow::Owned(a.replace_all(text, &vec![REDACTED; a.patterns_len()])),
        _ => Cow::Borrowed(text),
    }
}

/// [`redact`] for bytes (a proxied body).
pub(crate) fn redact_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    match automaton() {
        Some(a) if a.is_match(bytes) => {
            Cow::Owned(a.replace_all_bytes(bytes, &vec![REDACTED.as_bytes(); a.patterns_len()]))
        }
        _ => Cow::Borrowed(bytes),
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A credential, registered as a known secret (see the module header).
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Self(value)
    }

    /// The value, for the few places that put it on the wire or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        assert_eq!(format!("{:?}", Secret::new("sk-1")), "Secret(***)");
        assert_eq!(Secret::new("sk-1").expose(), "sk-1");
    }

    #[test]
    fn known_secrets_are_redacted_wherever_they_come_back() {
        let key = Secret::new("sk-reflected-by-upstream-42");
        let echoed = format!("{{\"headers\":{{\"authorization\":\"Bearer {}\"}}}}", key.expose());
        assert_eq!(redact(&echoed), r#"{"headers":{"authorization":"Bearer ***"}}"#);
        assert_eq!(redact_bytes(echoed.as_bytes()).as_ref(), br#"{"headers":{"authorization":"Bearer ***"}}"#);
        assert!(matches!(redact("nothing secret here"), Cow::Borrowed(_)));
        Secret::new("short");
        assert_eq!(redact("a short word"), "a short word", "too short to be a credential: not registered");
    }
}
