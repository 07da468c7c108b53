//! The HTTP façade: route table, shared state, and the handlers behind it.
//!
//! Reading order: [`routes`] (paths only) → [`front`] (one layer: request id, key, metrics and span,
//! access log) → [`extract`] (bounded body reading) → one module per area ([`health`],
//! [`agent_run`], [`openai`], [`responses`], [`messages`], [`deployments`]). Handlers extract, validate, call one
//! function that knows nothing of axum, and map the result.

pub mod agent_run;
pub mod deployments;
pub mod extract;
pub mod front;
pub mod health;
pub mod messages;
pub mod openai;
pub mod request_id;
pub mod responses;
pub mod routes;
pub mod sse;
pub mod state;

pub use routes::app;
pub use state::{AppState, SharedState, StartupError};
