//! A request's id: the client's own `x-request-id` when it sent a usable one, else a fresh `req_…`
//! — set by [`super::front`], handed to handlers (the proxy sends it upstream, logs name it) and
//! answered back on every response.

pub(crate) use crate::openai::proxy::X_REQUEST_ID;

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
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= MAX_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned);
        Self { from_client: client.is_some(), id: client.unwrap_or_else(fresh) }
    }
}

/// A fresh `req_<32 hex digits>` (a v4 UUID), written straight into its string: through `format!`
/// it cost 600 instructions a request (callgrind).
pub(crate) fn fresh() -> String {
    let mut hex = [0u8; uuid::fmt::Simple::LENGTH];
    let hex = uuid::Uuid::new_v4().simple().encode_lower(&mut hex);
    let mut id = String::with_capacity(4 + hex.len());
    id.push_str("req_");
    id.push_str(hex);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(value: Option<&str>) -> RequestId {
        let mut headers = axum::http::HeaderMap::new();
        if let Some(v) = value {
            headers.insert(X_REQUEST_ID.clone(), v.parse().expect("a header value"));
        }
        RequestId::of(&headers)
    }

    #[test]
    fn a_fresh_id_is_req_and_32_lowercase_hex_digits_and_never_the_same() {
        let (a, b) = (of(None), of(None));
        for id in [&a, &b] {
            let hex = id.id.strip_prefix("req_").expect("req_ prefix");
            assert!(hex.len() == 32 && hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')), "{}", id.id);
            assert!(!id.from_client);
        }
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn a_usable_client_id_is_kept_and_the_rest_replaced() {
        let kept = of(Some("trace-42"));
        assert_eq!((kept.id.as_str(), kept.from_client), ("trace-42", true));
        for bad in ["", "has space", &"x".repeat(MAX_LEN + 1)] {
            let id = of(Some(bad));
            assert!(id.id.starts_with("req_") && !id.from_client, "{bad:?} → {}", id.id);
        }
        assert_eq!(of(Some(&"x".repeat(MAX_LEN))).id.len(), MAX_LEN, "the bound itself is kept");
    }
}
