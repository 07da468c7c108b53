//! What the loop calls models through. A trait so the loop's timing (budget, escalation) can be
//! tested with a scripted model under paused time; the server passes [`Providers`].

use std::future::Future;

use crate::provider::{ChatRequest, Completion, ProviderError, Providers};

pub trait ChatModel: Send + Sync {
    fn complete(
        &self,
        model: &str,
        request: &ChatRequest<'_>,
    ) -> impl Future<Output = Result<Completion, ProviderError>> + Send;
}

impl ChatModel for Providers {
    fn complete(
        &self,
        model: &str,
        request: &ChatRequest<'_>,
    ) -> impl Future<Output = Result<Completion, ProviderError>> + Send {
        Providers::complete(self, model, request)
    }
}
