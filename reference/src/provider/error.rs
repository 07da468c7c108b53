//! Why a model call did not produce a completion. Variants before the network are the caller's
//! problem (400); the rest are the upstream's (502).

use std::time::Duration;

use super::kind::ProviderKind;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    InvalidModel(String),
    #[error("model `{model}` is disabled: set {variable}=1 to enable it")]
    Disabled { model: String, variable: &'static str },
    #[error("provider {provider} is not configured: {what}")]
    NotConfigured { provider: ProviderKind, what: String },
    #[error("provider {provider} returned HTTP {status}: {body}")]
    Upstream { provider: ProviderKind, status: u16, body: String, retry_after: Option<Duration> },
    #[error("provider {provider} could not be reached at {url}: {reason}")]
    Transport { provider: ProviderKind, url: String, reason: String },
    #[error("provider {provider} did not answer in time (MINI_AGENT_PROVIDER_TIMEOUT_SEC, or the alias's timeout)")]
    Timeout { provider: ProviderKind },
    #[error("provider {provider} answered something that is not a chat completion: {reason}")]
    InvalidResponse { provider: ProviderKind, reason: String },
    /// Every deployment of a router group is cooling down (or at its per-minute limits).
    #[error(
        "every deployment of `{model}` is cooling down after failures or at its rpm/tpm limit; retry in {} s",
        .retry_after.as_secs_f64().ceil().max(1.0)
    )]
    CoolingDown { model: String, retry_after: Duration },
}

impl ProviderError {
    /// True when the request named a model this server cannot use (400), false when the upstream
    /// failed (502).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::InvalidModel(_) | Self::Disabled { .. } | Self::NotConfigured { .. })
    }

    /// The wait to announce when the request may be retried later (429), if that is the error.
    pub fn cooling_retry_after(&self) -> Option<Duration> {
        match self {
            Self::CoolingDown { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// True when the provider did not answer in time (504 rather than 502).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}
