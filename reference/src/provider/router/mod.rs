//! The router (CONTRACT §5 Routing, LiteLLM's Router semantics): a router file's groups of
//! deployments, and how one request becomes attempts on them.
//!
//! Reading order: [`config`] (the file: deployments, groups, ids) and [`settings`] (strategy,
//! retries, cooldowns, fallbacks); [`health`] (one deployment's failures, cooldown, latency and
//! usage, pure) and [`strategy`] (choosing among available deployments, pure); [`state`] (the live
//! [`Router`]: every deployment's health, the one place a deployment is picked); [`shared`] (the
//! same view shared by replicas through Redis); [`drive`] (retries, cooldowns and fallbacks around
//! any attempt the caller passes).
//!
//! Knows nothing of HTTP and does not build requests: a deployment resolves to the same
//! [`super::Route`] any model name does, and the caller's attempt makes the call.

pub(crate) mod config;
pub(crate) mod drive;
pub(crate) mod health;
pub(crate) mod settings;
pub(crate) mod shared;
pub(crate) mod state;
pub(crate) mod strategy;

pub(crate) use config::{Deployment, ResponsesMode, RouterConfig};
pub(crate) use drive::{Fault, Routed, Ticket, drive, fault_of, fault_of_status};
pub(crate) use state::{DeploymentStatus, Router};

#[cfg(test)]
mod tests;
