//! The one transport layer every outbound call shares: when to try again and how long to wait.
//!
//! - [`retry`] — the retry driver (a policy, a classifier of each attempt's outcome, and the attempt
//!   itself), its wait schedule and the statistics it keeps. Waits are `tokio::time` sleeps, so tests
//!   drive retries under paused time.
//! - [`retry_after`] — the one `Retry-After` parser (seconds or an HTTP date).
//! - [`tls`] — the one way to build a reqwest client ([`tls::http_client`]: ring installed first as the crypto provider).
//! - [`redis`] — the server's one bounded Redis link, shared by the rate limiter and the router.
//!
//! Callers: the providers (plain and streaming calls), the HTTP tools invoker (429 only) and the
//! codex sidecar (exit codes 70/75). None of them loops by itself.

pub(crate) mod redis;
pub(crate) mod retry;
pub(crate) mod retry_after;
pub(crate) mod tls;
