//! `Retry-After` (RFC 9110 §10.2.3): a number of seconds or an HTTP date. The one parser; the
//! provider calls and the HTTP tools invoker both read the header through it.

use std::time::{Duration, SystemTime};

/// The wait a `Retry-After` value asks for, measured from `now`. A date in the past means "now";
/// a value that is neither form is `None` (the caller falls back to its own backoff).
pub(crate) fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .or_else(|| httpdate::parse_http_date(v).ok().map(|at| at.duration_since(now).unwrap_or(Duration::ZERO)))
}

/// The header's value from a `reqwest`/`http` header map, parsed against the current time.
pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<Duration> {
    headers.get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse(v, SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_dates_and_garbage() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse("0.25", now), Some(Duration::from_millis(250)));
        assert_eq!(parse(" 30 ", now), Some(Duration::from_secs(30)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(2));
        assert_eq!(parse(&later, now), Some(Duration::from_secs(2)));
        assert_eq!(parse("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::ZERO), "a past date means now");
        assert_eq!(parse("soon", now), None);
        assert_eq!(parse("-1", now), None);
        assert_eq!(parse("999999999", now), Some(Duration::from_secs(999_999_999)));
        assert_eq!(parse("1000000000", now), None, "a billion seconds or more is not a wait");
    }
}
