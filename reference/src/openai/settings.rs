//! How the OpenAI surface answers, from the server's environment.
//!
//! `MINI_AGENT_OPENAI_SHIM_MODE`: `proxy` (the default: a faithful proxy to the model's provider),
//! `echo` (a fixed reply, no provider: `MINI_AGENT_OPENAI_ECHO=1` too) or `agent` (the Python
//! original's behaviour: the agent runs with local tools and its final answer is the reply). A
//! request whose body names a `tool_backend` runs the agent whatever the mode.

use std::time::Duration;

use crate::env::Env;

/// Reply of echo mode when `MINI_AGENT_OPENAI_SHIM_REPLY` is unset.
pub const DEFAULT_SHIM_REPLY: &str = "shim ok";

/// What the surface says when it has nothing to call.
pub const NO_PROVIDER_GUIDANCE: &str = "mini-agent chat needs a provider: set OPENAI_API_KEY (and \
OPENAI_API_BASE for a compatible server), or bring up Ollama and set OLLAMA_BASE_URL + \
LITELLM_DEFAULT_MODEL=ollama/<tag>, or pass --config with a model_list. For a no-keys smoke test set \
MINI_AGENT_OPENAI_SHIM_MODE=echo (a stub reply) or MINI_AGENT_ALLOW_DUMMY=1 and use model \"dummy\".";

/// The closed set of modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Proxy,
    Echo,
    Agent,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Proxy => "proxy",
            Self::Echo => "echo",
            Self::Agent => "agent",
        }
    }
}

/// How the OpenAI surface answers.
#[derive(Debug, Clone)]
pub struct ShimSettings {
    pub mode: Mode,
    /// `MINI_AGENT_OPENAI_SHIM_REPLY`: the echo reply.
    pub reply: String,
    /// `MINI_AGENT_OPENAI_SHIM_DELAY_MS`: an artificial delay before answering, for testing clients.
    pub delay: Duration,
    /// `MINI_AGENT_SSE_KEEPALIVE_SEC` (10 s): the longest silence on a stream before a keep-alive
    /// comment is sent.
    pub keepalive: Duration,
}

impl ShimSettings {
    pub fn from_env(env: &Env) -> Self {
        let mode = match env.get("MINI_AGENT_OPENAI_SHIM_MODE").map(|m| m.trim().to_ascii_lowercase()) {
            None => Mode::Proxy,
            Some(m) if m == "proxy" => Mode::Proxy,
            Some(m) if m == "echo" => Mode::Echo,
            Some(m) if m == "agent" => Mode::Agent,
            Some(other) => {
                env.problem(format!("MINI_AGENT_OPENAI_SHIM_MODE must be proxy, echo or agent, got {other:?}"));
                Mode::Proxy
            }
        };
        Self {
            mode: if env.flag("MINI_AGENT_OPENAI_ECHO") { Mode::Echo } else { mode },
            reply: env.get("MINI_AGENT_OPENAI_SHIM_REPLY").unwrap_or_else(|| DEFAULT_SHIM_REPLY.to_owned()),
            delay: Duration::from_millis(env.parse("MINI_AGENT_OPENAI_SHIM_DELAY_MS", 0, "a number of milliseconds")),
            keepalive: env.secs("MINI_AGENT_SSE_KEEPALIVE_SEC", Duration::from_secs(10)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(pairs: &[(&str, &str)]) -> (Mode, usize) {
        let lookup = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        let env = Env::new(&lookup);
        let m = ShimSettings::from_env(&env).mode;
        (m, env.into_problems().len())
    }

    #[test]
    fn proxy_is_the_default_and_typos_are_problems() {
        assert_eq!(mode(&[]), (Mode::Proxy, 0));
        assert_eq!(mode(&[("MINI_AGENT_OPENAI_SHIM_MODE", "Agent")]), (Mode::Agent, 0));
        assert_eq!(mode(&[("MINI_AGENT_OPENAI_ECHO", "1")]), (Mode::Echo, 0));
        assert_eq!(mode(&[("MINI_AGENT_OPENAI_SHIM_MODE", "prxy")]), (Mode::Proxy, 1));
    }
}
