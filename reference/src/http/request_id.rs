//! A request's id: the client's own `x-request-id` when it sent a usable one, else a fresh `req_…`
//! — set by [`super::front`], handed to handlers (the proxy sends it upstream, logs name it) and
//! answered back on every response.

/// The id of the request being handled.
#[derive(Debug, Clone)]
pub(crate) struct RequestId {
    pub id: String,
    /// Whether the client chose it (then it is answered back as is).
    pub from_client: bool,
}

/// Longest client id taken as is; longer or non-printable ones are replaced.
const MAX_LEN: usize = 200;

impl RequestId {
    /// The client's usable `x-request-id`, else a fresh `req_…`.
    pub(crate) fn of(headers: &axum::http::HeaderMap) -> Self {
        let client = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= MAX_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned);
        Self {
            from_client: client.is_some(),
            id: client.unwrap_or_else(|| format!("req_{}", uuid::Uuid::new_v4().simple())),
        }
    }
}
