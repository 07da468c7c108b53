//! The agent: what one `/agent/run` does between a validated [`crate::api::RunSpec`] and an
//! outcome. Knows nothing of HTTP and builds no envelope.
//!
//! Reading order: [`run`] (one-shot vs loop, per backend) → [`run_loop`] (the loop and the budget
//! stop) → [`state`] / [`budget`] (a run in progress, its clock and escalation) → [`prune`],
//! [`codeblock`], [`calls`] (one iteration's tool calls, in order) → [`invocation`] and [`outcome`]
//! (the typed records) → [`model`] (the trait the loop calls models through), [`error`],
//! [`settings`].
//!
//! **Invariant:** failures of tools are data in the outcome; only a provider failure is an `Err`.

pub mod budget;
pub mod calls;
pub mod codeblock;
pub mod error;
pub mod invocation;
pub mod model;
pub mod outcome;
pub mod prune;
pub mod run;
pub mod run_loop;
pub mod settings;
pub mod state;

pub use error::AgentError;
pub use model::ChatModel;
pub use outcome::{IterationRecord, RunOutcome, StoppedReason};
pub use run::{Deps, run};
pub use run_loop::run_loop;
pub use settings::LoopEnv;
