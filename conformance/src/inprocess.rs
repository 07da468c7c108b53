//! The reference as a target, in-process: one `app()` per case, configured to have exactly the
//! features the case needs.

use std::path::PathBuf;
use std::sync::Arc;

use miniagent::{AppState, Config, app};

use crate::case::{Case, Failure, Feature};
use crate::fakes::Fakes;
use crate::snapshot::SnapshotCheck;
use crate::target::{Conn, Ctx};

/// `MINI_AGENT_TOOL_HTTP_HEADERS` for the `tool-env-headers` feature.
pub const ENV_TOOL_HEADERS: &str = r#"{"X-Env-Header":"from-env","X-Override":"env"}"#;

/// The OpenAI key the in-process reference runs with, so cases can check it never leaks.
pub const SECRET_KEY: &str = "sk-conformance-secret-7f3a9c";

/// Cases per property in-process (the runner's `--proptest-cases` sets it against a URL).
pub const PROPERTY_CASES: u32 = 12;

/// A case's context and the temporary directory its trace file lives in (removed on drop).
pub struct InProcess {
    pub ctx: Ctx,
    _dir: tempfile::TempDir,
}

/// The configuration that gives the reference the case's features.
pub fn config_for(features: &[Feature], fakes: &Fakes, trace_path: Option<PathBuf>) -> Config {
    let base = fakes.provider.base_url();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if !features.contains(&Feature::ShimNoProvider) {
        pairs.extend([
            ("MINI_AGENT_ALLOW_DUMMY", "1"),
            ("MINI_AGENT_OPENAI_SHIM_MODE", "echo"),
            ("OPENAI_API_KEY", SECRET_KEY),
            // Every openai/… model goes to the fake: an in-process case never reaches the internet.
            ("OPENAI_API_BASE", base.as_str()),
            // Short, so the timeout cases do not wait the default 10 s.
            ("MINI_AGENT_TOOL_TIMEOUT_SEC", "2"),
            ("MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC", "2"),
            ("MINI_AGENT_TOOL_HTTP_HEADERS", ENV_TOOL_HEADERS),
        ]);
    }
    if features.contains(&Feature::ShortcircuitChutes) {
        pairs.push(("NDSMOKE_SHORTCIRCUIT_CHUTES", "1"));
    }
    let mut config = Config::from_pairs(pairs);
    config.traces.path = trace_path;
    config
}

pub fn ctx_for(case: &Case, fakes: Arc<Fakes>, snapshots: Arc<dyn SnapshotCheck>) -> Result<InProcess, Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure(format!("cannot make a temp dir: {e}")))?;
    let trace_file = case.features.contains(&Feature::Traces).then(|| dir.path().join("traces.jsonl"));
    let config = config_for(case.features, &fakes, trace_file.clone());
    let state = AppState::new(config).map_err(|e| Failure(format!("cannot build the reference: {e}")))?;
    let exec_rpc = Some(Conn::InProcess(miniagent::exec_rpc::app(miniagent::exec_rpc::ExecState::new(
        Default::default(),
        Default::default(),
        Arc::new(miniagent::process::sandbox::Sandbox::new(Default::default())),
    ))));
    let ctx = Ctx {
        conn: Conn::InProcess(app(state)),
        snapshots,
        fakes: Some(fakes),
        trace_file,
        exec_rpc,
        property_cases: PROPERTY_CASES,
    };
    Ok(InProcess { ctx, _dir: dir })
}
