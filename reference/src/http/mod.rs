//! The HTTP façade: route table, shared state, and the handlers behind it.
//!
//! Reading order: [`routes`] (paths only) → [`front`] (one layer: request id, key, metrics and span,
//! access log) → [`extract`] (bounded body reading) → one module per area ([`health`],
//! [`agent_run`], [`openai`], [`responses`], [`messages`], [`deployments`]). Handlers extract, validate, call one
//! function that knows nothing of axum, and map the result.

pub(crate) mod agent_run;
pub(crate) mod deployments;
pub(crate) mod extract;
pub(crate) mod front;
pub(crate) mod health;
pub(crate) mod messages;
pub(crate) mod openai;
pub(crate) mod request_id;
pub(crate) mod responses;
pub(crate) mod routes;
pub(crate) mod sse;
pub(crate) mod state;

pub(crate) use routes::app;
pub(crate) use state::{AppState, StartupError};
