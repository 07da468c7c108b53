//! Every case, one file per contract area. A case names the clause it checks.

pub mod agent_loop;
pub mod anthropic;
pub mod anthropic_provider;
pub mod auth;
pub mod envelope;
pub mod errors;
pub mod exec_rpc;
pub mod health;
pub mod http_tools;
pub mod loop_clauses;
pub mod mcp;
pub mod openai;
pub mod openai_responses;
pub mod openai_responses_fields;
pub mod openai_responses_passthrough;
pub mod openai_responses_tools;
pub mod openai_stream;
pub mod properties;
pub mod router;
pub mod router_spread;
pub mod shim;
pub mod traces;
pub mod trust;

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
        loop_clauses::CASES,
        http_tools::CASES,
        mcp::CASES,
        exec_rpc::CASES,
        properties::CASES,
        auth::CASES,
        trust::CASES,
        openai::CASES,
        openai_stream::CASES,
        openai_responses::CASES,
        openai_responses_tools::CASES,
        openai_responses_fields::CASES,
        openai_responses_passthrough::CASES,
        router_spread::CASES,
        router::CASES,
        anthropic::CASES,
        anthropic_provider::CASES,
    ]
    .concat()
}
