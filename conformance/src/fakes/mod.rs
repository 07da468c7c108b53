//! Fakes the implementation under test calls out to, started by the suite on loopback.
//!
//! Their addresses are printed by the runner (and can be fixed by flag) so an external
//! implementation can be started pointing at them.

pub mod anthropic;
pub mod auto_model;
pub mod auto_responses;
pub mod mcp;
pub mod openai_upstream;
pub mod provider;
pub mod raw;
pub mod router;
pub mod tools;
pub mod upstream_reply;

use std::net::SocketAddr;

pub use anthropic::AnthropicFake;
pub use provider::ProviderFake;
pub use raw::RawToolsServer;
pub use router::RouterFakes;
pub use tools::ToolsFake;

/// Every fake of one suite run.
pub struct Fakes {
    pub provider: ProviderFake,
    pub tools: ToolsFake,
    pub raw_tools: RawToolsServer,
    /// The three provider fakes of the `router` profile.
    pub router: RouterFakes,
    /// A real MCP server, when the suite was given a Python with the `mcp` package.
    pub mcp: Option<mcp::McpServer>,
    /// The Anthropic Messages API upstream of the `anthropic` profile.
    pub anthropic: AnthropicFake,
}

/// Fixed addresses for the fakes (else free ports).
#[derive(Debug, Clone, Default)]
pub struct FakeAddrs {
    pub provider: Option<SocketAddr>,
    pub tools: Option<SocketAddr>,
    pub raw_tools: Option<SocketAddr>,
    /// The router fakes (alpha, beta, gamma).
    pub router: [Option<SocketAddr>; 3],
    /// A Python with the `mcp` package, to start the MCP server.
    pub mcp_python: Option<std::path::PathBuf>,
    pub anthropic: Option<SocketAddr>,
}

impl Fakes {
    pub async fn start(addrs: FakeAddrs) -> std::io::Result<Self> {
        Ok(Self {
            provider: ProviderFake::start(addrs.provider).await?,
            tools: ToolsFake::start(addrs.tools).await?,
            raw_tools: RawToolsServer::start(addrs.raw_tools)?,
            router: RouterFakes::start(addrs.router).await?,
            mcp: match &addrs.mcp_python {
                Some(python) => Some(mcp::McpServer::start(python)?),
                None => None,
            },
            anthropic: AnthropicFake::start(addrs.anthropic).await?,
        })
    }
}
