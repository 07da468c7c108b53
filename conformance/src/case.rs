//! What a conformance case is: a declared value with an id, the contract clause it checks, a
//! profile, the features it needs, and an async check.
//!
//! Cases are data so the runner can list, filter, skip (with a reason) and report them without
//! running anything, and so `cargo test` can turn each one into a named test.

use std::fmt;

use futures::future::BoxFuture;

use crate::target::Ctx;

/// Contract profile: `core` is what every implementation must do; `extended` is our extension,
/// skipped (never failed) where the implementation lacks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Core,
    Extended,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Extended => "extended",
        }
    }
}

/// Something a case needs from the target beyond the core routes. In-process, the reference is
/// configured to have it; against a URL it is declared by flag or discovered from `/ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// `MINI_AGENT_ALLOW_DUMMY=1`: the `dummy` model answers.
    Dummy,
    /// The shim runs in echo mode with the default reply `shim ok`.
    ShimEcho,
    /// The shim is not in echo mode and no provider is configured.
    ShimNoProvider,
    /// The target's `OPENAI_API_BASE` points at the suite's provider fake.
    ProviderFake,
    /// The suite can read the target's trace file.
    Traces,
    /// The `local` backend runs the agent loop with local tools (python3 on the target's machine).
    LocalTools,
    /// `NDSMOKE_SHORTCIRCUIT_CHUTES=1` on the target.
    ShortcircuitChutes,
    /// The target runs with `MINI_AGENT_TOOL_HTTP_HEADERS` = [`crate::inprocess::ENV_TOOL_HEADERS`].
    ToolEnvHeaders,
    /// The implementation's exec-RPC server is reachable (`--exec-rpc-url`).
    ExecRpc,
    /// The suite runs a real MCP server (`--mcp-python`) for `tool_backend:"mcp"`.
    Mcp,
}

impl Feature {
    pub const ALL: [Feature; 10] = [
        Self::Dummy,
        Self::ShimEcho,
        Self::ShimNoProvider,
        Self::ProviderFake,
        Self::Traces,
        Self::LocalTools,
        Self::ShortcircuitChutes,
        Self::ToolEnvHeaders,
        Self::ExecRpc,
        Self::Mcp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Dummy => "dummy",
            Self::ShimEcho => "shim-echo",
            Self::ShimNoProvider => "shim-no-provider",
            Self::ProviderFake => "provider-fake",
            Self::Traces => "traces",
            Self::LocalTools => "local-tools",
            Self::ShortcircuitChutes => "shortcircuit-chutes",
            Self::ToolEnvHeaders => "tool-env-headers",
            Self::ExecRpc => "exec-rpc",
            Self::Mcp => "mcp",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name.trim())
    }
}

/// Why a case failed: a sentence a maintainer can act on, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

/// Marks a [`Failure`] that is really "the target does not have this (extended) feature": the
/// runner reports it as a skip with the reason, never a failure.
const UNSUPPORTED: &str = "\u{0}unsupported: ";

impl Failure {
    /// The target answered in a way that shows it lacks the feature (an unknown route or backend).
    pub fn unsupported(reason: impl std::fmt::Display) -> Self {
        Self(format!("{UNSUPPORTED}{reason}"))
    }

    /// The reason, when this is an "unsupported" rather than a failure.
    pub fn unsupported_reason(&self) -> Option<&str> {
        self.0.strip_prefix(UNSUPPORTED)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

pub type CaseResult = Result<(), Failure>;

/// The check of a case.
pub type CaseFn = for<'a> fn(&'a Ctx) -> BoxFuture<'a, CaseResult>;

/// One conformance case.
#[derive(Clone, Copy)]
pub struct Case {
    /// Dotted id, `area.subject.behaviour` (`envelope.echo.minimal`).
    pub id: &'static str,
    pub description: &'static str,
    /// The CONTRACT.md clause checked, e.g. `§1 POST /agent/run — bad input`.
    pub clause: &'static str,
    pub profile: Profile,
    pub features: &'static [Feature],
    pub run: CaseFn,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case").field("id", &self.id).field("profile", &self.profile).finish_non_exhaustive()
    }
}

/// Fails the case with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::case::Failure(format!($($msg)+)));
        }
    };
}

/// Fails the case unless the two values are equal, showing both.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        match (&$left, &$right) {
            (l, r) if l != r => {
                return Err($crate::case::Failure(format!("{}: expected {:?}, got {:?}", format!($($msg)+), r, l)));
            }
            _ => {}
        }
    }};
}
