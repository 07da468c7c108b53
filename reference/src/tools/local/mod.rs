//! The in-process tools: `exec_python`, `exec_shell`, `research_echo`, `compress_runs`.
//!
//! A closed set, dispatched by an exhaustive `match`. `exec_code` and `python` are aliases of
//! `exec_python` (models trained on other agents ask for them).

mod exec;
mod text;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::env::Env;
use crate::process::DEFAULT_OUTPUT_CAP;
use crate::process::sandbox::Sandbox;
use crate::tools::ToolBackend;
use crate::tools::call::ToolCall;
use crate::tools::result::ToolResult;

pub(crate) use exec::shape as exec_shape;

/// Settings of the local tools, from server configuration (never from a request: a client must not
/// be able to widen what runs).
#[derive(Debug, Clone)]
pub struct LocalSettings {
    /// The Python interpreter (`MINI_AGENT_PYTHON`, default `python3`).
    pub python: String,
    /// Per-call timeout (`MINI_AGENT_TOOL_TIMEOUT_SEC`, default 10 s).
    pub timeout: Duration,
    /// Programs `exec_shell` may run, compared exactly with `argv[0]` (`MINI_AGENT_SHELL_ALLOW`).
    pub shell_allow: Vec<String>,
    /// Cap per output stream.
    pub output_cap: usize,
}

impl Default for LocalSettings {
    fn default() -> Self {
        Self {
            python: "python3".to_owned(),
            timeout: Duration::from_secs(10),
            shell_allow: vec!["echo".to_owned()],
            output_cap: DEFAULT_OUTPUT_CAP,
        }
    }
}

impl LocalSettings {
    /// `MINI_AGENT_PYTHON`, `MINI_AGENT_TOOL_TIMEOUT_SEC`, `MINI_AGENT_SHELL_ALLOW`,
    /// `MINI_AGENT_TOOL_OUTPUT_MAX_BYTES`.
    pub fn from_env(env: &Env) -> Self {
        let d = Self::default();
        Self {
            python: env.get("MINI_AGENT_PYTHON").unwrap_or(d.python),
            timeout: env.secs("MINI_AGENT_TOOL_TIMEOUT_SEC", d.timeout),
            shell_allow: env.get("MINI_AGENT_SHELL_ALLOW").map_or(d.shell_allow, |v| {
                v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
            }),
            output_cap: env.parse_where(
                "MINI_AGENT_TOOL_OUTPUT_MAX_BYTES",
                d.output_cap,
                "a number of bytes ≥ 1",
                |n| *n >= 1,
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalTool {
    ExecPython,
    ExecShell,
    ResearchEcho,
    CompressRuns,
}

impl LocalTool {
    const ALL: [LocalTool; 4] = [Self::ExecPython, Self::ExecShell, Self::ResearchEcho, Self::CompressRuns];

    fn name(self) -> &'static str {
        match self {
            Self::ExecPython => "exec_python",
            Self::ExecShell => "exec_shell",
            Self::ResearchEcho => "research_echo",
            Self::CompressRuns => "compress_runs",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "exec_code" | "python" => Some(Self::ExecPython),
            _ => Self::ALL.into_iter().find(|t| t.name() == name),
        }
    }

    fn definition(self) -> Value {
        let (description, param, param_doc) = match self {
            Self::ExecPython => {
                ("Run Python 3 code and return its exit code, stdout and stderr.", "code", "Python source")
            }
            Self::ExecShell => (
                "Run one allowlisted program with arguments (no shell: pipes, `;` and `$()` are literal text).",
                "cmd",
                "the command line, split like a shell would",
            ),
            Self::ResearchEcho => {
                ("Echo a research query back (a hermetic stand-in for a search tool).", "query", "the query")
            }
            Self::CompressRuns => ("Run-length encode a string (`aaab` → `a3b1`).", "s", "the string"),
        };
        json!({
            "type": "function",
            "function": {
                "name": self.name(),
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": {param: {"type": "string", "description": param_doc}},
                    "required": [param]
                }
            }
        })
    }
}

/// The local tool backend.
#[derive(Debug, Clone)]
pub struct LocalTools {
    pub settings: LocalSettings,
    /// Where the subprocess tools run (bubblewrap when it works here).
    pub sandbox: Arc<Sandbox>,
}

impl LocalTools {
    pub fn new(settings: LocalSettings, sandbox: Arc<Sandbox>) -> Self {
        Self { settings, sandbox }
    }

    /// The definitions of every local tool.
    pub fn definitions() -> Vec<Value> {
        LocalTool::ALL.into_iter().map(LocalTool::definition).collect()
    }
}

impl ToolBackend for LocalTools {
    async fn list(&self) -> Result<Vec<Value>, String> {
        Ok(Self::definitions())
    }

    fn resolve(&self, requested: &str, _listed: &[Value]) -> Option<String> {
        LocalTool::parse(requested).map(|t| t.name().to_owned())
    }

    async fn invoke(&self, call: &ToolCall) -> ToolResult {
        let Some(tool) = LocalTool::parse(&call.name) else {
            return ToolResult::failure(&call.name, format!("unsupported tool '{}'", call.name));
        };
        match tool {
            LocalTool::ExecPython => exec::python(call, &self.settings, &self.sandbox).await,
            LocalTool::ExecShell => exec::shell(call, &self.settings, &self.sandbox).await,
            LocalTool::ResearchEcho => text::research_echo(call),
            LocalTool::CompressRuns => text::compress_runs(call),
        }
    }
}
