//! Fakes the implementation under test calls out to, started by the suite on loopback.
//!
//! Their addresses are printed by the runner (and can be fixed by flag) so an external
//! implementation can be started pointing at them.

pub mod provider;
pub mod raw;
pub mod tools;

use std::net::SocketAddr;

pub use provider::ProviderFake;
pub use raw::RawToolsServer;
pub use tools::ToolsFake;

/// Every fake of one suite run.
pub struct Fakes {
    pub provider: ProviderFake,
    pub tools: ToolsFake,
    pub raw_tools: RawToolsServer,
}

/// Fixed addresses for the fakes (else free ports).
#[derive(Debug, Clone, Copy, Default)]
pub struct FakeAddrs {
    pub provider: Option<SocketAddr>,
    pub tools: Option<SocketAddr>,
    pub raw_tools: Option<SocketAddr>,
}

impl Fakes {
    pub async fn start(addrs: FakeAddrs) -> std::io::Result<Self> {
        Ok(Self {
            provider: ProviderFake::start(addrs.provider).await?,
            tools: ToolsFake::start(addrs.tools).await?,
            raw_tools: RawToolsServer::start(addrs.raw_tools)?,
        })
    }
}
