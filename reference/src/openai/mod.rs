//! The OpenAI surface (CONTRACT §1): what clients built for OpenAI talk to, free of axum.
//!
//! Reading order: [`settings`] (the mode: `proxy` by default, `echo`, `agent`), [`raw`] (a body as
//! its raw top-level fields), [`chat`] (which mode answers a chat request, the agent's and echo's
//! cold paths boxed), [`proxy`] (forwarding to the provider the model resolves to, errors with their
//! real statuses), [`byte_relay`] (the chat proxy's event stream at the wire's pace) and [`relay`]
//! (a provider's events one by one, for what converts them), [`models`] (the model list, with the
//! provider's own models cached), [`agent`] (the agent behind the OpenAI shape, for `agent` mode and
//! `tool_backend` requests), [`responses`] (the Responses API bridged onto chat completions) and
//! [`passthrough`] (a provider's own Responses stream, relayed byte for byte). The handlers in
//! [`crate::http::openai`] and [`crate::http::responses`] call these.

pub(crate) mod agent;
pub(crate) mod byte_relay;
pub(crate) mod chat;
pub(crate) mod models;
pub(crate) mod passthrough;
pub(crate) mod proxy;
pub(crate) mod raw;
pub(crate) mod relay;
pub(crate) mod responses;
pub(crate) mod settings;
