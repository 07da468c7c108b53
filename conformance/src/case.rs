//! What a conformance case is: a declared value with an id, the contract clause it checks, a
//! profile, the features it needs, and an async check.
//!
//! Cases are data so the runner can list, filter, skip (with a reason) and report them without
//! running anything, and so `cargo test` can turn each one into a named test.

use std::fmt;

use futures::future::BoxFuture;

use crate::failure::CaseResult;
use crate::features::Feature;
use crate::target::Ctx;

/// Contract profile: `core` is what every implementation must do; `extended` is our extension,
/// skipped (never failed) where the implementation lacks it; `openai` is the OpenAI surface (§1)
/// that any OpenAI-compatible gateway pointed at the provider fake can be held to; `router` is
/// §5 Routing against the router fakes (EXT, §10); `anthropic` is the Anthropic surface and the
/// `anthropic/` provider against the Anthropic upstream fake (EXT, §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Core,
    Extended,
    Openai,
    Router,
    Anthropic,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Extended => "extended",
            Self::Openai => "openai",
            Self::Router => "router",
            Self::Anthropic => "anthropic",
        }
    }

    /// Whether a run of this profile includes a case of profile `case`: `core` runs the core cases,
    /// `extended` (the full run) runs every case, `openai` only the OpenAI-surface cases — a
    /// gateway that is not miniagent has no `/agent/run` to be held to.
    pub fn includes(self, case: Profile) -> bool {
        match self {
            Self::Core => case == Self::Core,
            Self::Extended => true,
            Self::Openai => case == Self::Openai,
            Self::Router => case == Self::Router,
            Self::Anthropic => case == Self::Anthropic,
        }
    }
}

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
