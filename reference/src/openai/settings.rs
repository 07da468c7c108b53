//! How the OpenAI surface answers, from the server's environment.
//!
//! `MINI_AGENT_OPENAI_SHIM_MODE`: `proxy` (the default: a faithful proxy to the model's provider),
//! `echo` (a fixed reply, no provider: `MINI_AGENT_OPENAI_ECHO=1` too) or `agent` (the Python
//! original's behaviour: the agent runs with local tools and its final answer is the reply). A
//! request whose body names a `tool_backend` runs the agent whatever the mode.
//!
//! `/v1/responses` has two more: `MINI_AGENT_RESPONSES_MODE` (`auto`, `bridge` or `passthrough`:
//! whether a Responses request is bridged onto the provider's chat completions or sent to its own
//! `/responses`; [`crate::openai::responses::mode`] decides per route) and
//! `MINI_AGENT_RESPONSES_HOSTED_TOOLS` (`warn`, the default: hosted tools are left out of a bridged
//! request with a warning; `reject`: a 400 naming the tool).

use std::time::Duration;

pub(crate) use crate::anthropic::request::Thinking;
use crate::env::Env;

/// Reply of echo mode when `MINI_AGENT_OPENAI_SHIM_REPLY` is unset.
pub(crate) const DEFAULT_SHIM_REPLY: &str = "shim ok";

/// What the surface says when it has nothing to call.
pub(crate) const NO_PROVIDER_GUIDANCE: &str = "mini-agent chat needs a provider: set OPENAI_API_KEY (and \
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

/// How `/v1/responses` reaches a provider, as the operator wrote it: one type for the global
/// `MINI_AGENT_RESPONSES_MODE` and a deployment's `responses_mode` in the router file.
pub(crate) use crate::provider::router::ResponsesMode;

/// What a bridged request does with a hosted tool (`web_search`, `file_search`, …), which no chat
/// provider can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostedTools {
    /// Left out of the upstream request, named in `x-miniagent-warnings` and the log: clients that
    /// always offer them (Codex offers `web_search`) keep working.
    Warn,
    /// A 400 naming the tool.
    Reject,
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
    /// `MINI_AGENT_RESPONSES_MODE` (`auto`).
    pub responses_mode: ResponsesMode,
    /// `MINI_AGENT_RESPONSES_HOSTED_TOOLS` (`warn`).
    pub hosted_tools: HostedTools,
    /// `MINI_AGENT_ANTHROPIC_DEFAULT_MODEL`: the model `/v1/messages` uses for a name no route knows
    /// (Claude Code's `claude-…` names), so clients need not be told a model.
    pub anthropic_default_model: Option<String>,
    /// `MINI_AGENT_ANTHROPIC_THINKING` (`drop`): what a bridged `/v1/messages` does with `thinking`.
    pub anthropic_thinking: Thinking,
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
        let responses_mode = env.get("MINI_AGENT_RESPONSES_MODE").map_or(ResponsesMode::Auto, |m| {
            ResponsesMode::parse(&m).unwrap_or_else(|| {
                env.problem(format!("MINI_AGENT_RESPONSES_MODE must be auto, bridge or passthrough, got {m:?}"));
                ResponsesMode::Auto
            })
        });
        let hosted_tools =
            match env.get("MINI_AGENT_RESPONSES_HOSTED_TOOLS").map(|m| m.trim().to_ascii_lowercase()).as_deref() {
                None | Some("warn" | "drop") => HostedTools::Warn,
                Some("reject") => HostedTools::Reject,
                Some(other) => {
                    env.problem(format!("MINI_AGENT_RESPONSES_HOSTED_TOOLS must be warn or reject, got {other:?}"));
                    HostedTools::Warn
                }
            };
        Self {
            mode: if env.flag("MINI_AGENT_OPENAI_ECHO") { Mode::Echo } else { mode },
            reply: env.get("MINI_AGENT_OPENAI_SHIM_REPLY").unwrap_or_else(|| DEFAULT_SHIM_REPLY.to_owned()),
            delay: Duration::from_millis(env.parse("MINI_AGENT_OPENAI_SHIM_DELAY_MS", 0, "a number of milliseconds")),
            keepalive: env.secs("MINI_AGENT_SSE_KEEPALIVE_SEC", Duration::from_secs(10)),
            responses_mode,
            hosted_tools,
            anthropic_default_model: env.get("MINI_AGENT_ANTHROPIC_DEFAULT_MODEL"),
            anthropic_thinking: match env
                .get("MINI_AGENT_ANTHROPIC_THINKING")
                .map(|m| m.trim().to_ascii_lowercase())
                .as_deref()
            {
                None | Some("drop" | "warn") => Thinking::Drop,
                Some("reject") => Thinking::Reject,
                Some(other) => {
                    env.problem(format!("MINI_AGENT_ANTHROPIC_THINKING must be drop or reject, got {other:?}"));
                    Thinking::Drop
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> (ShimSettings, usize) {
        let lookup = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        let env = Env::new(&lookup);
        let s = ShimSettings::from_env(&env);
        (s, env.into_problems().len())
    }

    fn mode(pairs: &[(&str, &str)]) -> (Mode, usize) {
        let (s, problems) = settings(pairs);
        (s.mode, problems)
    }

    #[test]
    fn responses_settings_default_to_auto_and_warn_and_typos_are_problems() {
        let (s, problems) = settings(&[]);
        assert_eq!((s.responses_mode, s.hosted_tools, problems), (ResponsesMode::Auto, HostedTools::Warn, 0));
        for (value, want) in [
            ("bridge", ResponsesMode::Bridge),
            (" Passthrough ", ResponsesMode::Passthrough),
            ("auto", ResponsesMode::Auto),
        ] {
            assert_eq!(settings(&[("MINI_AGENT_RESPONSES_MODE", value)]).0.responses_mode, want, "{value}");
        }
        assert_eq!(settings(&[("MINI_AGENT_RESPONSES_HOSTED_TOOLS", "REJECT")]).0.hosted_tools, HostedTools::Reject);
        assert_eq!(settings(&[("MINI_AGENT_RESPONSES_MODE", "bridged")]).1, 1);
        assert_eq!(settings(&[("MINI_AGENT_RESPONSES_HOSTED_TOOLS", "drop-silently")]).1, 1);
    }

    #[test]
    fn proxy_is_the_default_and_typos_are_problems() {
        assert_eq!(mode(&[]), (Mode::Proxy, 0));
        assert_eq!(mode(&[("MINI_AGENT_OPENAI_SHIM_MODE", "Agent")]), (Mode::Agent, 0));
        assert_eq!(mode(&[("MINI_AGENT_OPENAI_ECHO", "1")]), (Mode::Echo, 0));
        assert_eq!(mode(&[("MINI_AGENT_OPENAI_SHIM_MODE", "prxy")]), (Mode::Proxy, 1));
    }
}
