//! `x-request-id` on every response: the client's own when it sent a usable one, else a fresh
//! `req_…` — handed to handlers (the proxy sends it upstream, logs name it) as a [`RequestId`].

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The id of the request being handled.
#[derive(Debug, Clone)]
pub struct RequestId {
    pub id: String,
    /// Whether the client chose it (then it is answered back as is).
    pub from_client: bool,
}

/// Longest client id taken as is; longer or non-printable ones are replaced.
const MAX_LEN: usize = 200;

pub async fn request_id(mut req: Request, next: Next) -> Response {
    let client = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned);
    let id = RequestId {
        from_client: client.is_some(),
        id: client.unwrap_or_else(|| format!("req_{}", uuid::Uuid::new_v4().simple())),
    };
    let value = HeaderValue::from_str(&id.id).ok();
    req.extensions_mut().insert(id);
    let mut response = next.run(req).await;
    if let Some(value) = value
        && !response.headers().contains_key("x-request-id")
    {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
