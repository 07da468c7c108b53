//! What a conformance case is: a declared value with an id, the contract clause it checks, a
//! profile, a level, the features it needs, and an async check — built by [`Case::new`], the one
//! way every file declares its cases (gateway-api's single `ConformanceTest{…}` literal).
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

/// How much a case matters to someone choosing a gateway (CONTRACT §10, turn 3; gateway-api's support
/// levels). A run's exit code follows `required` failures only, unless `--strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// An official SDK or a mainstream framework breaks or silently loses data without it; the
    /// case's description says which client and what happens (`required: <client> …`).
    Required,
    /// This contract's considered choice: what a careful gateway does.
    Recommended,
    /// Pass-through purity: the provider's bytes, fields and headers exactly as they were.
    Faithful,
}

impl Level {
    /// Every level, in report order (an exhaustive `match` in [`Level::name`] keeps it whole).
    pub const ALL: [Level; 3] = [Self::Required, Self::Recommended, Self::Faithful];

    pub fn name(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Recommended => "recommended",
            Self::Faithful => "faithful",
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
    pub level: Level,
    pub features: &'static [Feature],
    pub run: CaseFn,
}

impl Case {
    /// The one way to declare a case; it needs no feature until [`Case::needs`] says so. A
    /// `required` case's description ends with `required: <the client> <what breaks>` (a test holds
    /// every case to it).
    pub const fn new(
        id: &'static str,
        profile: Profile,
        level: Level,
        clause: &'static str,
        description: &'static str,
        run: CaseFn,
    ) -> Self {
        Self { id, description, clause, profile, level, features: &[], run }
    }

    /// The same case, skipped (with how to enable them) where the target lacks `features`.
    pub const fn needs(self, features: &'static [Feature]) -> Self {
        Self { features, ..self }
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("profile", &self.profile)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}
