//! A credential that cannot leak by accident: its `Debug` never shows the value, so a settings
//! struct dumped into a log line or an error message prints `Secret(***)`.
//!
//! A leaf: everything that holds a key (provider settings, router aliases, API keys) uses it, and it
//! uses nothing of the crate.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
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
}
