//! Why a case did not pass: it failed (a contract break, with the evidence), or the target does not
//! have the (extended) behaviour at all, which the runner reports as a skip with the reason.
//!
//! A leaf: every other module of the crate uses it, it uses none of them. It also owns the
//! `ensure!`/`ensure_eq!` macros case bodies are written with, and [`excerpt`], the bound on how
//! much of a reply a message quotes.

use std::fmt;

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A sentence a maintainer can act on, with the evidence.
    Failed(String),
    /// The target answered in a way that shows it lacks the behaviour (an unknown route or
    /// backend): a skip with this reason, never a failure.
    Unsupported(String),
}

impl Failure {
    pub fn failed(message: impl fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    pub fn unsupported(reason: impl fmt::Display) -> Self {
        Self::Unsupported(reason.to_string())
    }

    /// The message, whichever kind this is.
    pub fn message(&self) -> &str {
        match self {
            Self::Failed(m) | Self::Unsupported(m) => m,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(m) => f.write_str(m),
            Self::Unsupported(m) => write!(f, "unsupported: {m}"),
        }
    }
}

impl std::error::Error for Failure {}

/// What a case (or a step of one) returns.
pub type CaseResult = Result<(), Failure>;

/// At most 300 characters of a text, for failure messages.
pub fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(300).collect();
    if text.chars().nth(300).is_some() {
        out.push('…');
    }
    out
}

/// Fails the case with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::failure::Failure::Failed(format!($($msg)+)));
        }
    };
}

/// Fails the case unless the two values are equal, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        match (&$left, &$right) {
            (l, r) if l != r => {
                return Err($crate::failure::Failure::Failed(format!(
                    "{}: expected {:?}, got {:?}",
                    format!($($msg)+),
                    r,
                    l
                )));
            }
            _ => {}
        }
    }};
}

// Crate-visible by path (`use crate::failure::ensure`) rather than `#[macro_export]`ed at the crate
// root: importing from the root would make every case file depend on `lib.rs`, which re-exports
// the modules those files are part of.
pub(crate) use {ensure, ensure_eq};

#[cfg(test)]
mod tests {
    use super::*;

    fn check(n: u32) -> CaseResult {
        ensure!(n > 1, "n is {n}");
        ensure_eq!(n, 3, "n");
        Ok(())
    }

    #[test]
    fn the_macros_produce_failed_and_display_says_which_kind() {
        assert_eq!(check(0), Err(Failure::Failed("n is 0".into())));
        assert_eq!(check(2), Err(Failure::Failed("n: expected 3, got 2".into())));
        assert_eq!(check(3), Ok(()));
        assert_eq!(Failure::unsupported("no route").to_string(), "unsupported: no route");
        assert_eq!(Failure::unsupported("no route").message(), "no route");
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"x".repeat(301)).chars().count(), 301);
    }
}
