//! The loop's server-side switches: settings of the server, never request fields.

use crate::env::Env;

/// Server-side switches of the loop (not request fields).
#[derive(Debug, Clone, Default)]
pub struct LoopEnv {
    /// `NDSMOKE_SHORTCIRCUIT_CHUTES=1`: an escalation to a `chutes/…` model is not sent (testing only).
    pub shortcircuit_chutes: bool,
}

impl LoopEnv {
    pub fn from_env(env: &Env) -> Self {
        Self { shortcircuit_chutes: env.flag("NDSMOKE_SHORTCIRCUIT_CHUTES") }
    }
}
