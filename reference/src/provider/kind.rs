//! The closed set of providers this build can call, and the model-name prefixes that select them.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Dummy,
    OpenAi,
    Ollama,
    Chutes,
    CodexAgent,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dummy => "dummy",
            Self::OpenAi => "openai",
            Self::Ollama => "ollama",
            Self::Chutes => "chutes",
            Self::CodexAgent => "codex-agent",
        }
    }

    pub fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "openai" => Some(Self::OpenAi),
            "ollama" | "ollama_chat" => Some(Self::Ollama),
            "chutes" => Some(Self::Chutes),
            "dummy" | "noop" => Some(Self::Dummy),
            "codex-agent" | "codex_cli_agent" | "codex_agent" => Some(Self::CodexAgent),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
