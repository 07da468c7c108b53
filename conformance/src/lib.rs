//! The miniagent contract in executable form.
//!
//! Reading order:
//! - [`failure`] — why a case did not pass (failed, or unsupported → skipped), and the `ensure!` macros.
//! - [`features`] — what cases need beyond the core routes, and the one table of them: per feature
//!   the environment it takes, how it is probed, and whether the in-process tests start the
//!   reference with it (read by the tests' adapter, the probes, skip messages, `conformance
//!   features` and docs/conformance.md).
//! - [`case`] — what a case is: id, clause, profile, level, features, check; [`Case::new`] builds one.
//! - [`cases`] — every case, one file per contract area; [`checks`] — helpers their bodies share.
//! - [`transport`] — how requests reach an implementation: a small trait, and its URL form.
//! - [`target`] — [`target::Ctx`], everything a case runs against.
//! - [`socket`] — raw bytes to the target's socket (half a request), for the slow-client cases.
//! - [`fakes`] — what the implementation calls out to (a scripted provider, tools servers), on loopback.
//! - [`probe`] — discovering a target's features by running the table's probes ([`probe::each`]).
//! - [`routing`] — the `router` profile's router files (one per strategy) and their probe.
//! - [`shape`] — format-asserting redaction of volatile fields.
//! - [`snapshot`] — stored shapes, checked by insta in tests and by text comparison in the runner.
//! - [`runner`] / [`report`] — selection, skips with reasons, outcomes, whether the run failed
//!   (`required` failures, or any with `--strict`) and counts per profile and level (pretty, JSON,
//!   JUnit).
//! - [`html`] — the same report as one self-contained page.
//! - [`matrix`] — the compatibility matrix (`reports/README.md`) generated from stored runs.
//! - [`baseline`] — expected failures, with stale entries failing the run.
//!
//! The library knows no implementation: targets are reached through [`transport::Transport`]
//! only. The in-process adapter for the reference lives with the tests.
#![allow(
    clippy::disallowed_methods,
    reason = "clippy.toml holds the service's boundaries (reference/); the conformance suite is a client that starts its own fakes and reads its own settings"
)]

pub mod baseline;
pub mod case;
pub mod cases;
pub mod checks;
pub mod failure;
pub mod fakes;
pub mod features;
pub mod html;
pub mod matrix;
pub mod probe;
pub mod report;
pub mod routing;
pub mod runner;
pub mod shape;
pub mod snapshot;
pub mod socket;
pub mod target;
pub mod transport;

pub use case::{Case, Level, Profile};
pub use failure::Failure;
pub use features::Feature;
