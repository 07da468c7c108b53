//! Every case, one file per contract area. A case names the clause it checks.

pub mod agent_loop;
pub mod envelope;
pub mod errors;
pub mod exec_rpc;
pub mod health;
pub mod http_tools;
pub mod mcp;
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
    ]
    .concat()
}

/// Shared helpers for case bodies.
pub(crate) mod util {
    use serde_json::{Value, json};

    use crate::case::Failure;
    use crate::target::{Reply, excerpt};

    /// The contents of an envelope's tool messages, in order.
    pub fn tool_contents(env: &Value) -> Vec<String> {
        env["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// A minimal `/agent/run` body on the dummy model.
    pub fn run_body(backend: &str, text: &str) -> Value {
        json!({"model": "dummy", "tool_backend": backend, "messages": [{"role": "user", "content": text}]})
    }

    /// Fails unless the reply has `status`.
    pub fn expect_status(reply: &Reply, status: u16, what: &str) -> Result<(), Failure> {
        if reply.status == status {
            Ok(())
        } else {
            Err(Failure(format!("{what}: expected HTTP {status}, got {}: {}", reply.status, excerpt(&reply.text()))))
        }
    }

    /// The `detail` string of a façade error, or a failure saying what the body was instead.
    pub fn detail(reply: &Reply) -> Result<String, Failure> {
        let body = reply.json()?;
        match body.get("detail") {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(Failure(format!(
                "HTTP {}: expected {{\"detail\": \"<human-readable message>\"}}, got {}",
                reply.status,
                excerpt(&body.to_string())
            ))),
        }
    }

    /// A 4xx whose `detail` mentions every needle (case-insensitive).
    pub fn expect_detail(reply: &Reply, status: Option<u16>, needles: &[&str], what: &str) -> Result<(), Failure> {
        match status {
            Some(s) => expect_status(reply, s, what)?,
            None if (400..500).contains(&reply.status) => {}
            None => {
                return Err(Failure(format!(
                    "{what}: expected a 4xx, got {}: {}",
                    reply.status,
                    excerpt(&reply.text())
                )));
            }
        }
        let d = detail(reply)?;
        let lower = d.to_lowercase();
        for n in needles {
            if !lower.contains(&n.to_lowercase()) {
                return Err(Failure(format!("{what}: detail should mention `{n}`, got: {d}")));
            }
        }
        Ok(())
    }
}
