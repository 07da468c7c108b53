//! `GET /v1/deployments` (CONTRACT §5 Routing): every router deployment with its live figures, and
//! the headers that say which deployment served an answer. Never a key, nor a base URL's
//! credentials (the rows are built without them: [`crate::provider::router::DeploymentStatus`]).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::state::SharedState;
use crate::provider::router::Ticket;

/// The deployment that served (`x-miniagent-deployment`).
pub(crate) const DEPLOYMENT_HEADER: &str = "x-miniagent-deployment";
/// Router-level attempts the answer took (`x-miniagent-attempts`).
pub(crate) const ATTEMPTS_HEADER: &str = "x-miniagent-attempts";

pub(crate) async fn deployments(State(state): State<SharedState>) -> Json<Value> {
    let settings = &state.providers.router().settings;
    Json(json!({
        "object": "list",
        "routing_strategy": settings.strategy.name(),
        "data": state.providers.deployment_statuses(),
    }))
}

/// The routing headers of an answer a router deployment served (none for a `provider/model` name).
pub(crate) fn routing_headers(ticket: &Ticket) -> Vec<(HeaderName, HeaderValue)> {
    served_headers(ticket.deployment(), ticket.attempts)
}

/// The routing headers for `deployment` after `attempts`.
pub(crate) fn served_headers(deployment: Option<&str>, attempts: u32) -> Vec<(HeaderName, HeaderValue)> {
    let Some(id) = deployment.and_then(|d| HeaderValue::from_str(d).ok()) else { return Vec::new() };
    vec![
        (HeaderName::from_static(DEPLOYMENT_HEADER), id),
        (HeaderName::from_static(ATTEMPTS_HEADER), HeaderValue::from(attempts)),
    ]
}
