//! The route table: paths and methods only, no logic.

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use super::state::SharedState;
use super::{agent_run, deployments, front, health, messages, openai, responses};

/// The façade as a `Router`, so tests drive it with `oneshot` and no socket.
pub fn app(state: SharedState) -> Router {
    Router::new()
        .route("/ready", get(health::ready))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{*id}", get(openai::model))
        .route("/agent/run", post(agent_run::agent_run))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/chat/completions", post(openai::chat_completions))
        .route("/v1/responses", post(responses::responses))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/messages", post(messages::messages))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/deployments", get(deployments::deployments))
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), front::front))
        .with_state(state)
}
