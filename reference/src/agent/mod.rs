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

pub(crate) mod budget;
pub(crate) mod calls;
pub(crate) mod codeblock;
pub(crate) mod error;
pub(crate) mod invocation;
pub(crate) mod model;
pub(crate) mod outcome;
pub(crate) mod prune;
pub(crate) mod run;
pub(crate) mod run_loop;
pub(crate) mod settings;
pub(crate) mod state;

pub(crate) use run::run;
