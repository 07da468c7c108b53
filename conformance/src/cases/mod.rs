//! Every case, one file per contract area. A case names the clause it checks.

pub mod agent_loop;
pub mod envelope;
pub mod errors;
pub mod exec_rpc;
pub mod health;
pub mod http_tools;
pub mod mcp;
pub mod openai;
pub mod openai_responses;
pub mod openai_stream;
pub mod properties;
pub mod shim;
pub mod traces;

use crate::case::Case;

/// All cases in a stable order (area by area, as the contract reads).
pub fn all() -> Vec<Case> {
    [
        health::CASES,
        envelope::CASES,
        errors::CASES,
        shim::CASES,
        traces::CASES,
        agent_loop::CASES,
        http_tools::CASES,
        mcp::CASES,
        exec_rpc::CASES,
        properties::CASES,
        openai::CASES,
        openai_stream::CASES,
        openai_responses::CASES,
    ]
    .concat()
}
