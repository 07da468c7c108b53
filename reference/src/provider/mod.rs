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

pub mod anthropic;
pub mod chat;
pub mod client;
pub mod direct;
pub mod dummy;
pub mod error;
pub mod kind;
pub mod observe;
pub mod openai;
pub mod route;
pub mod router;
pub mod settings;
pub mod stream;
pub mod wire;

pub use chat::{ChatRequest, Completion};
pub use client::{Providers, Target};
pub use error::ProviderError;
pub use kind::ProviderKind;
pub use route::{Overrides, Route};
pub use settings::ProviderSettings;
