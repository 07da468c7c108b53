//! Fakes the implementation under test calls out to, started by the suite on loopback.
//!
//! Their addresses are printed by the runner (and can be fixed by flag) so an external
//! implementation can be started pointing at them.

pub mod provider;

use std::net::SocketAddr;

pub use provider::ProviderFake;

/// Every fake of one suite run.
pub struct Fakes {
    pub provider: ProviderFake,
}

impl Fakes {
    /// Starts every fake; `provider_addr` fixes the provider fake's address (else a free port).
    pub async fn start(provider_addr: Option<SocketAddr>) -> std::io::Result<Self> {
        Ok(Self { provider: ProviderFake::start(provider_addr).await? })
    }
}
