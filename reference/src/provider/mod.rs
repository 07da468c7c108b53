//! Model providers: turning a model name into one chat-completion call.
//!
//! Reading order: [`settings`] (the environment), [`kind`] (the closed provider set), [`route`]
//! (model name → which provider, which upstream name, which base, key and retry policy; pure),
//! [`router`] (the router file's deployments, and routing among them: strategies, retries,
//! cooldowns, fallbacks), [`chat`] (the request and the answer), [`openai`] (the one
//! OpenAI-compatible wire call and its retry classifier), [`wire`] (a chat call in the provider's own
//! wire), [`stream`] (server-sent chunks and their
//! aggregation), [`dummy`] (the offline model), [`client`] ([`Providers`]: dispatch and retries),
//! [`direct`] (hyper's client for the chat proxy's plain-HTTP providers),
//! [`observe`] (each call's span and metrics), [`anthropic`] (a provider of another wire: its
//! settings and its translation both ways, behind [`kind::Wire`]).
//!
//! Knows nothing of HTTP servers or envelopes.

pub(crate) mod anthropic;
pub(crate) mod chat;
pub(crate) mod client;
pub(crate) mod direct;
pub(crate) mod dummy;
pub(crate) mod error;
pub(crate) mod kind;
pub(crate) mod observe;
pub(crate) mod openai;
pub(crate) mod route;
pub(crate) mod router;
pub(crate) mod settings;
pub(crate) mod stream;
pub(crate) mod wire;

pub(crate) use chat::{ChatRequest, Completion};
pub(crate) use client::Providers;
pub(crate) use error::ProviderError;
