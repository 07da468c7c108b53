//! The one error type at the HTTP boundary of every server in this crate (the façade, exec-RPC, the
//! sidecar, the tools stub), deciding status, body shape and log level per variant.
//!
//! Statuses are chosen in one `match` ([`ApiError::status`]). Three body shapes, one type: the
//! façade and exec-RPC answer `{"detail": …}` (the shape FastAPI clients of the original expect);
//! the OpenAI routes wrap the same error in [`OpenAiError`] and answer
//! `{"error":{"message","type","param","code"}}`, the shape OpenAI SDKs parse; the tools stub wraps
//! it in [`ToolError`] and answers the tools protocol's `{"ok":false,"error":…}`. Internal details
//! never reach a 5xx body: they are logged, the client gets a stable sentence.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::agent::error::AgentError;
use crate::api::RequestError;
use crate::provider::ProviderError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The body is larger than `--max-body-bytes`.
    #[error("request body is larger than the limit of {limit} bytes (set --max-body-bytes to change it)")]
    BodyTooLarge { limit: usize },
    /// The body could not be read at all (client went away mid-body, bad chunking).
    #[error("request body could not be read: {0}")]
    BodyUnreadable(String),
    /// Not JSON (400), the wrong shape (422), or meaningless (400).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A model provider failed, or the model cannot be used here.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Credentials the server needs are missing (the sidecar's auth file).
    #[error("{0}")]
    CredentialsMissing(String),
    /// No API key, or a wrong one.
    #[error("{0}")]
    Unauthorized(String),
    /// The API key may not do this (a backend outside its list).
    #[error("{0}")]
    Forbidden(String),
    /// The API key is over its requests per minute.
    #[error("{message}")]
    RateLimited { message: String, retry_after: std::time::Duration },
    /// The client did not send its body in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// What this server runs for the request (a CLI) failed.
    #[error("{0}")]
    Upstream(String),
    /// What this server runs for the request did not finish in time.
    #[error("{0}")]
    Timeout(String),
    /// The server is shutting down.
    #[error("{0}")]
    Unavailable(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// `GET /v1/models/{id}` for a model this server does not list: OpenAI's 404 `model_not_found`
    /// (`param` null, as OpenAI answers it).
    #[error("The model `{0}` does not exist")]
    ModelNotFound(String),
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// A provider's own error answer on the OpenAI surface: its status (a 4xx as it is, anything else
    /// as 502), its error object and its `Retry-After`.
    #[error("{}", .error["message"].as_str().unwrap_or("the provider failed"))]
    Passthrough { status: u16, error: serde_json::Value, retry_after: Option<String> },
    /// A bug or an environment failure; the message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 naming the field.
    pub(crate) fn schema(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Request(RequestError::schema(field, message))
    }

    /// A 400 naming the field.
    pub(crate) fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Request(RequestError::invalid(field, message))
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            Self::Request(RequestError::Schema { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Request(RequestError::Malformed(_) | RequestError::Invalid { .. }) => StatusCode::BAD_REQUEST,
            Self::Request(RequestError::TooComplex(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Provider(e) if e.cooling_retry_after().is_some() => StatusCode::TOO_MANY_REQUESTS,
            Self::Provider(e) if e.is_client_error() => StatusCode::BAD_REQUEST,
            Self::Provider(e) if e.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            Self::Provider(_) | Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::CredentialsMissing(_) | Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound(_) | Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            // Anthropic's 529 `overloaded_error` is a 503 on the OpenAI surface (CONTRACT §5), not
            // an unreachable provider.
            Self::Passthrough { status: 503, error, .. } if error["type"] == "overloaded_error" => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Passthrough { status, .. } if (400..500).contains(status) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Self::Passthrough { .. } => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The sentence the client sees. Internal errors are replaced; everything else is already
    /// written for the client (provider errors carry no secrets: keys never enter messages).
    pub(crate) fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; the server log has the details".to_owned(),
            other => other.to_string(),
        }
    }

    /// The request field the error names, if any.
    pub(crate) fn field(&self) -> Option<&str> {
        match self {
            Self::Request(e) => e.field(),
            _ => None,
        }
    }

    /// OpenAI's `type` and `code` for this error.
    fn openai_kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::Provider(p) if p.cooling_retry_after().is_some() => ("rate_limit_error", "deployments_cooling_down"),
            Self::Provider(p) if p.is_client_error() => ("invalid_request_error", "model_not_available"),
            Self::Provider(_) | Self::Upstream(_) => ("api_error", "upstream_error"),
            Self::BodyTooLarge { .. } | Self::Request(RequestError::TooComplex(_)) => {
                ("invalid_request_error", "request_too_large")
            }
            Self::NotFound(_) => ("invalid_request_error", "not_found"),
            Self::ModelNotFound(_) => ("invalid_request_error", "model_not_found"),
            Self::CredentialsMissing(_) => ("authentication_error", "auth_missing"),
            Self::Unauthorized(_) => ("authentication_error", "invalid_api_key"),
            Self::Forbidden(_) => ("permission_error", "backend_not_allowed"),
            Self::RateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded"),
            Self::RequestTimeout(_) => ("invalid_request_error", "request_timeout"),
            Self::Timeout(_) => ("api_error", "timeout"),
            Self::Unavailable(_) => ("api_error", "unavailable"),
            _ if self.status().is_client_error() => ("invalid_request_error", "invalid_request"),
            _ => ("api_error", "internal_error"),
        }
    }

    /// Headers the status calls for: `WWW-Authenticate` on a 401, `Retry-After` on a 429.
    fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match self {
            Self::Unauthorized(_) => vec![(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            Self::RateLimited { retry_after, .. } => retry_after_header(*retry_after),
            Self::Provider(p) if p.cooling_retry_after().is_some() => {
                p.cooling_retry_after().map(retry_after_header).unwrap_or_default()
            }
            Self::Passthrough { retry_after: Some(value), .. } => {
                HeaderValue::from_str(value).map(|v| vec![(header::RETRY_AFTER, v)]).unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// `body` with this error's status and headers — and without any known secret: a provider's
    /// error text is not ours to trust (see [`crate::secret`]).
    fn respond(&self, body: serde_json::Value) -> Response {
        let text = body.to_string();
        let body: serde_json::Value = match crate::secret::redact(&text) {
            std::borrow::Cow::Borrowed(_) => body,
            std::borrow::Cow::Owned(clean) => serde_json::from_str(&clean).unwrap_or(body),
        };
        let mut response = (self.status(), Json(body)).into_response();
        response.headers_mut().extend(self.headers());
        response
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

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::Provider(p) => Self::Provider(p),
            AgentError::BadToolServer(m) => Self::bad_request("tool_backend", m),
            AgentError::Refused { field, message } => Self::bad_request(field, message),
            AgentError::ToolsRefused(why) => Self::Unavailable(why),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        self.respond(json!({ "detail": self.public_message() }))
    }
}

/// `Retry-After` in whole seconds, at least 1.
fn retry_after_header(wait: std::time::Duration) -> Vec<(HeaderName, HeaderValue)> {
    let secs = (wait.as_secs_f64().ceil() as u64).max(1);
    vec![(header::RETRY_AFTER, HeaderValue::from(secs))]
}

/// An [`ApiError`] rendered in OpenAI's error shape, for the OpenAI routes.
#[derive(Debug)]
pub(crate) struct OpenAiError(pub ApiError);

impl<E: Into<ApiError>> From<E> for OpenAiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let body = match &e {
            ApiError::Passthrough { error, .. } => json!({ "error": error }),
            _ => {
                let (kind, code) = e.openai_kind();
                json!({"error": {"message": e.public_message(), "type": kind, "param": e.field(), "code": code}})
            }
        };
        let mut response = e.respond(body);
        // OpenAI answers a request it cannot parse with 400, not 422; SDKs map 400 to BadRequestError.
        if response.status() == StatusCode::UNPROCESSABLE_ENTITY {
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
        response
    }
}

/// An [`ApiError`] rendered in Anthropic's error shape `{"type":"error","error":{"type","message"}}`,
/// for `/v1/messages`. A provider's own error (OpenAI-shaped, from a bridged provider) keeps its
/// status and message; Anthropic's 529 keeps its status.
#[derive(Debug)]
pub(crate) struct AnthropicError(pub ApiError);

impl<E: Into<ApiError>> From<E> for AnthropicError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

/// Anthropic's error `type` for a status.
pub(crate) fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

impl IntoResponse for AnthropicError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let message = match &e {
            ApiError::Passthrough { error, .. } => {
                error["message"].as_str().map_or_else(|| error.to_string(), str::to_owned)
            }
            other => other.public_message(),
        };
        let status = match &e {
            ApiError::Passthrough { status: 529, .. } => 529,
            _ if e.status() == StatusCode::UNPROCESSABLE_ENTITY => 400,
            _ => e.status().as_u16(),
        };
        let kind = match &e {
            ApiError::Passthrough { error, .. } if error["type"] == "overloaded_error" => "overloaded_error",
            _ => anthropic_error_type(status),
        };
        let mut response = e.respond(json!({"type": "error", "error": {"type": kind, "message": message}}));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        response
    }
}

/// Whether `path` answers errors in Anthropic's shape: `/v1/messages` and below.
pub(crate) fn is_anthropic_path(path: &str) -> bool {
    path == "/v1/messages" || path.starts_with("/v1/messages/")
}

/// Whether `path` answers errors in OpenAI's shape: `/v1/*` and `/chat/completions`.
pub(crate) fn is_openai_path(path: &str) -> bool {
    path.starts_with("/v1/") || path == "/v1" || path == "/chat/completions"
}

/// `e` in the shape of the route it answers.
pub(crate) fn respond(path: &str, e: ApiError) -> Response {
    if is_anthropic_path(path) {
        AnthropicError(e).into_response()
    } else if is_openai_path(path) {
        OpenAiError(e).into_response()
    } else {
        e.into_response()
    }
}

/// An [`ApiError`] rendered in the HTTP tools protocol's shape `{"ok":false,"error":…}`.
#[derive(Debug)]
pub(crate) struct ToolError(pub ApiError);

impl<E: Into<ApiError>> From<E> for ToolError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ToolError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        e.respond(json!({"ok": false, "error": e.public_message()}))
    }
}
