//! The live stack: the façade, exec-RPC, the sidecar in echo mode, the example tools server and the
//! scripted provider fake, each on a free loopback port, wired to each other, readiness-checked.
//!
//! Two ways to hold one: [`ProcessStack`] (children of a test, killed on drop) and the `e2e` binary
//! (`make e2e-up` / `e2e-down`: detached processes recorded in a state file). Both describe the
//! stack with the same [`Addresses`], which is what the live tests consume — they cannot tell a
//! process stack from a container stack.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{HarnessError, ServerProcess};

/// Where each part of a running stack answers (`http://127.0.0.1:PORT`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Addresses {
    pub facade: String,
    pub exec_rpc: String,
    pub sidecar: String,
    pub tools_stub: String,
    pub provider_fake: String,
}

/// The router config the stack's façade runs with: codex-agent through the sidecar under an alias,
/// and — when real credentials are in the environment — a `live` alias for a real model.
pub fn router_config(sidecar: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut text = format!(
        "model_list:\n  - model_name: codex-agent-1\n    litellm_params: {{model: mini, custom_llm_provider: codex-agent, api_base: \"{sidecar}\"}}\n"
    );
    let live_model = env("LIVE_MODEL");
    if env("OPENAI_API_KEY").is_some() {
        let model = live_model.unwrap_or_else(|| "gpt-4o-mini".to_owned());
        let base = env("LIVE_OPENAI_API_BASE").unwrap_or_else(|| "https://api.openai.com/v1".to_owned());
        text.push_str(&format!(
            "  - model_name: live\n    litellm_params: {{model: \"openai/{model}\", api_base: \"{base}\", api_key: os.environ/OPENAI_API_KEY}}\n"
        ));
    } else if let (Some(ollama), Some(model)) =
        (env("OLLAMA_BASE_URL"), live_model.or_else(|| env("LITELLM_DEFAULT_MODEL")))
    {
        text.push_str(&format!(
            "  - model_name: live\n    litellm_params: {{model: \"{model}\", api_base: \"{ollama}\"}}\n"
        ));
    }
    text
}

/// The façade's environment in the stack.
pub fn facade_env(provider_fake: &str, sidecar: &str) -> Vec<(String, String)> {
    [
        ("OPENAI_API_BASE", format!("{provider_fake}/v1")),
        ("LITELLM_ENABLE_CODEX_AGENT", "1".to_owned()),
        ("CODEX_AGENT_API_BASE", sidecar.to_owned()),
        ("NDSMOKE_SHORTCIRCUIT_CHUTES", "1".to_owned()),
        ("SCILLM_RETRY_META", "1".to_owned()),
        ("CODEX_AGENT_ENABLE_METRICS", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A stack of child processes, killed when dropped.
pub struct ProcessStack {
    pub addresses: Addresses,
    _processes: Vec<ServerProcess>,
    _dir: TempDir,
}

/// A directory removed on drop (the router config lives here).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl ProcessStack {
    /// Starts the stack from the `miniagent` and `conformance` binaries.
    pub fn start(miniagent: &Path, conformance: &Path) -> Result<Self, HarnessError> {
        let dir = std::env::temp_dir().join(format!("miniagent-stack-{}-{}", std::process::id(), crate::unique()));
        std::fs::create_dir_all(&dir).map_err(|e| HarnessError::Spawn { program: "mkdir".into(), source: e })?;
        let dir = TempDir(dir);
        let fake = ServerProcess::start(conformance, &["fakes"], &[])?;
        let tools = ServerProcess::start(miniagent, &["tools-stub", "--port", "0"], &[])?;
        let sidecar = ServerProcess::start(miniagent, &["sidecar", "--port", "0"], &[("CODEX_SIDECAR_ECHO", "1")])?;
        let exec_rpc = ServerProcess::start(miniagent, &["exec-rpc", "--port", "0"], &[])?;
        let config = dir.0.join("router.yaml");
        let env_lookup = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        std::fs::write(&config, router_config(&sidecar.base_url(), &env_lookup))
            .map_err(|e| HarnessError::Spawn { program: "router.yaml".into(), source: e })?;
        let env = facade_env(&fake.base_url(), &sidecar.base_url());
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let config_arg = config.display().to_string();
        let facade =
            ServerProcess::start(miniagent, &["serve", "--demo", "--port", "0", "--config", &config_arg], &env)?;
        let addresses = Addresses {
            facade: facade.base_url(),
            exec_rpc: exec_rpc.base_url(),
            sidecar: sidecar.base_url(),
            tools_stub: tools.base_url(),
            provider_fake: fake.base_url(),
        };
        Ok(Self { addresses, _processes: vec![facade, exec_rpc, sidecar, tools, fake], _dir: dir })
    }
}
