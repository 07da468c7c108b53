//! Bounded body reading with our error shape.
//!
//! The limit is enforced while reading, not trusted from `Content-Length`. An oversized body is
//! still read to its end (up to [`DRAIN_CAP`]) and discarded before the 413 goes out: a client that
//! is still sending when the server answers and closes gets a reset instead of the 413, and then
//! cannot tell "too big" from "server crashed". The whole body must arrive within the body read
//! timeout (a client trickling bytes gets a 408, not a worker forever). Content-Type is not required: `curl -d` sends
//! form-encoded headers with a JSON body, and that is how people try the API first.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::state::SharedState;
use crate::error::ApiError;
use crate::listen::Listen;

/// Bytes past the limit that are read and dropped so the client sees the 413; beyond this the
/// connection is simply closed.
pub(crate) const DRAIN_CAP: usize = 64 * 1024 * 1024;

/// A request body no larger than the configured limit.
#[derive(Debug)]
pub(crate) struct LimitedBody(pub Bytes);

/// A server state that knows its body limits.
pub(crate) trait HasBodyLimit {
    /// The server's `Listen` (body size limit and read timeout).
    fn listen(&self) -> &Listen;
}

impl HasBodyLimit for SharedState {
    fn listen(&self) -> &Listen {
        &self.config.listen
    }
}

impl<S: HasBodyLimit + Send + Sync> FromRequest<S> for LimitedBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let listen = state.listen();
        let timeout = listen.limits.body_timeout;
        match tokio::time::timeout(timeout, read_limited(req.into_body(), listen.max_body_bytes)).await {
            Ok(read) => read.map(LimitedBody),
            Err(_) => Err(ApiError::RequestTimeout(format!(
                "the request body was not received within {}s (MINI_AGENT_BODY_TIMEOUT_SEC)",
                timeout.as_secs_f64()
            ))),
        }
    }
}

/// Reads `body` whole if it fits in `limit` bytes.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    let mut overflow: Option<usize> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BodyUnreadable(e.to_string()))?;
        match overflow.as_mut() {
            Some(dropped) => {
                *dropped += chunk.len();
                if *dropped > DRAIN_CAP {
                    break;
                }
            }
            None if buf.len() + chunk.len() > limit => {
                overflow = Some(buf.len() + chunk.len());
                buf = BytesMut::new();
            }
            None => buf.extend_from_slice(&chunk),
        }
    }
    match overflow {
        Some(_) => Err(ApiError::BodyTooLarge { limit }),
        None => Ok(buf.freeze()),
    }
}
