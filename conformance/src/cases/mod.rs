//! Every case, one file per contract area. A case names the clause it checks.

pub mod agent_loop;
pub mod anthropic;
pub mod anthropic_bridged;
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
        anthropic_bridged::CASES,
        anthropic_provider::CASES,
    ]
    .concat()
}

/// The clients a `required` case may name: the real ones `make test` drives (tests/python_clients.rs,
/// tests/codex_cli.rs, tests/anthropic_clients.rs, the MCP peers). A required case that names none
/// of them is a level without a reason.
pub const CLIENTS: &[&str] = &[
    "openai Python SDK",
    "openai SDK",
    "litellm",
    "LiteLLM",
    "langchain-openai",
    "openai-agents",
    "Codex CLI",
    "MCP",
    "anthropic Python SDK",
    "Claude Code",
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::case::Level;

    #[test]
    fn ids_are_unique() {
        let all = all();
        let ids: HashSet<&str> = all.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), all.len(), "a case id is declared twice");
    }

    #[test]
    fn a_required_case_names_the_client_and_the_symptom() {
        for case in all() {
            let reason = case.description.split_once(" — required: ").map(|(_, why)| why);
            match (case.level, reason) {
                (Level::Required, Some(why)) => assert!(
                    CLIENTS.iter().any(|c| why.contains(c)) && why.contains(':'),
                    "{}: `required: …` names no client of {CLIENTS:?} and its symptom (`<client> …: <what breaks>`)",
                    case.id
                ),
                (Level::Required, None) => {
                    panic!("{} is required but its description gives no `— required: …`", case.id)
                }
                (_, Some(_)) => panic!("{} gives a `required:` reason but is {:?}", case.id, case.level),
                (_, None) => {}
            }
        }
    }

    #[test]
    fn every_level_is_used() {
        let all = all();
        for level in Level::ALL {
            assert!(all.iter().any(|c| c.level == level), "no case is {}", level.name());
        }
    }
}
