//! Why a run ended without an outcome: only what the caller cannot recover from. Tool failures are
//! data in the outcome, never an error.

use crate::provider::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A model provider failed after its retries (or the model cannot be used here).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The request's tools server settings cannot be used (a header the client cannot send).
    #[error("{0}")]
    BadToolServer(String),
    /// The request's tools server URL is outside what the server may reach.
    #[error("{message}")]
    Refused { field: &'static str, message: String },
    /// The local tools cannot run here (the tool sandbox cannot be set up and is not turned off).
    #[error("{0}")]
    ToolsRefused(String),
}
