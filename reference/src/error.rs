//! The one error type at the HTTP boundary, deciding status, body shape and log level per variant.
//!
//! Two body shapes, one type: `/agent/run` and the other façade routes answer `{"detail": …}`
//! (the shape FastAPI clients of the original expect); the OpenAI routes wrap the same error in
//! [`OpenAiError`] and answer `{"error":{"message","type","param","code"}}`, the shape OpenAI SDKs parse.
//! Internal details never reach a 5xx body: they are logged, the client gets a stable sentence.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::provider::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is larger than `--max-body-bytes`.
    #[error("request body is larger than the limit of {limit} bytes (set --max-body-bytes to change it)")]
    BodyTooLarge { limit: usize },
    /// The body could not be read at all (client went away mid-body, bad chunking).
    #[error("request body could not be read: {0}")]
    BodyUnreadable(String),
    /// The body is not JSON.
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// JSON, but not the schema: a missing field, a wrong type, a value out of range.
    #[error("{message}")]
    Schema { message: String, field: Option<String> },
    /// Schema-valid but meaningless: an unknown backend, a backend missing its URL.
    #[error("{message}")]
    BadRequest { message: String, field: Option<String> },
    /// A model provider failed, or the model cannot be used here.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// A bug or an environment failure; the message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn schema(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self::Schema { message: format!("{field}: {}", message.into()), field: Some(field) }
    }

    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest { message: message.into(), field: Some(field.into()) }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable(_) | Self::MalformedJson(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Schema { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Provider(e) if e.is_client_error() => StatusCode::BAD_REQUEST,
            Self::Provider(_) => StatusCode::BAD_GATEWAY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The sentence the client sees. Internal errors are replaced; everything else is already
    /// written for the client (provider errors carry no secrets: keys never enter messages).
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; the server log has the details".to_owned(),
            other => other.to_string(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Schema { field, .. } | Self::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    fn log(&self) {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "request rejected");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        (self.status(), Json(json!({ "detail": self.public_message() }))).into_response()
    }
}

/// An [`ApiError`] rendered in OpenAI's error shape, for `/v1/chat/completions`.
#[derive(Debug)]
pub struct OpenAiError(pub ApiError);

impl From<ApiError> for OpenAiError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let status = e.status();
        let (kind, code) = match &e {
            ApiError::Provider(p) if p.is_client_error() => ("invalid_request_error", "model_not_available"),
            ApiError::Provider(_) => ("api_error", "upstream_error"),
            ApiError::BodyTooLarge { .. } => ("invalid_request_error", "request_too_large"),
            ApiError::NotFound(_) => ("invalid_request_error", "not_found"),
            _ if status.is_client_error() => ("invalid_request_error", "invalid_request"),
            _ => ("api_error", "internal_error"),
        };
        let body = json!({
            "error": {"message": e.public_message(), "type": kind, "param": e.field(), "code": code}
        });
        (status, Json(body)).into_response()
    }
}
