//! The miniagent contract in executable form.
//!
//! Reading order:
//! - [`case`] — what a case is (id, clause, profile, features, check) and the `ensure!` macros.
//! - [`cases`] — every case, one file per contract area.
//! - [`target`] — the implementation under test: in-process `Router` or a URL, one interface.
//! - [`inprocess`] — the reference configured per case.
//! - [`fakes`] — what the implementation calls out to (a scripted provider), on loopback.
//! - [`shape`] — format-asserting redaction of volatile fields.
//! - [`snapshot`] — stored shapes, checked by insta in tests and by text comparison in the runner.
//! - [`runner`] / [`report`] — selection, skips with reasons, outcomes and counts (pretty, JSON, JUnit).
//! - [`baseline`] — expected failures, with stale entries failing the run.

pub mod baseline;
pub mod case;
pub mod cases;
pub mod fakes;
pub mod inprocess;
pub mod report;
pub mod runner;
pub mod shape;
pub mod snapshot;
pub mod target;

pub use case::{Case, Failure, Feature, Profile};
