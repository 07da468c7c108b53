//! The closed set of providers this build can call, the model-name prefixes that select them, and
//! the wire each one speaks.
//!
//! A provider whose wire is not OpenAI's (Anthropic's Messages API) has one home under
//! `provider/<name>/` — its settings, its request, its answer, stream and error translation — and is
//! reached through [`Wire`]: everything above this layer (the chat proxy, the agent loop, the
//! router, batch) sees OpenAI-shaped completions.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Dummy,
    OpenAi,
    Ollama,
    Chutes,
    CodexAgent,
    Anthropic,
}

/// The wire format a provider speaks: how a chat request is written and its answer read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI's chat completions: requests and answers go as they are.
    OpenAi,
    /// Anthropic's Messages API: translated both ways by [`crate::provider::anthropic`].
    Anthropic,
}

/// One call on a provider of another wire, as the OpenAI-wire callers describe it
/// ([`crate::provider::wire::exchange`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exchange<'a> {
    /// `chat/completions` (translated), `messages` or `messages/count_tokens` (native).
    pub path: &'a str,
    pub body: &'a [u8],
    /// The caller's headers for the provider (hop-by-hop ones and credentials are dropped).
    pub headers: &'a [(String, String)],
    /// The whole exchange's timeout (none for a stream, whose idle gaps are bounded above).
    pub timeout: Option<Duration>,
    pub max_reply_bytes: usize,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dummy => "dummy",
            Self::OpenAi => "openai",
            Self::Ollama => "ollama",
            Self::Chutes => "chutes",
            Self::CodexAgent => "codex-agent",
            Self::Anthropic => "anthropic",
        }
    }

    /// The wire this provider speaks.
    pub fn wire(self) -> Wire {
        match self {
            Self::Dummy | Self::OpenAi | Self::Ollama | Self::Chutes | Self::CodexAgent => Wire::OpenAi,
            Self::Anthropic => Wire::Anthropic,
        }
    }

    pub fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "openai" => Some(Self::OpenAi),
            "ollama" | "ollama_chat" => Some(Self::Ollama),
            "chutes" => Some(Self::Chutes),
            "dummy" | "noop" => Some(Self::Dummy),
            "codex-agent" | "codex_cli_agent" | "codex_agent" => Some(Self::CodexAgent),
            "anthropic" => Some(Self::Anthropic),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
