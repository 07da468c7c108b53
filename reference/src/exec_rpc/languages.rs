//! The languages exec-RPC runs, and how: source file name, compile steps, run step.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::process::sandbox::Sandbox;
use crate::process::{self, Exit, SpawnError, Spec};
use crate::tools::local::exec_shape;
use crate::tools::result::ToolResult;

/// The closed set of languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    JavaScript,
    TypeScript,
    C,
    Cpp,
    Go,
    Java,
    Rust,
    Asm,
}

impl Language {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "python" | "py" | "python3" => Self::Python,
            "js" | "javascript" | "node" => Self::JavaScript,
            "ts" | "typescript" => Self::TypeScript,
            "c" => Self::C,
            "cpp" | "c++" | "cc" | "cxx" => Self::Cpp,
            "go" | "golang" => Self::Go,
            "java" => Self::Java,
            "rust" | "rs" => Self::Rust,
            "asm" | "nasm" => Self::Asm,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::JavaScript => "javascript",
            Self::TypeScript => "typescript",
            Self::C => "c",
            Self::Cpp => "cpp",
            Self::Go => "go",
            Self::Java => "java",
            Self::Rust => "rust",
            Self::Asm => "asm",
        }
    }

    /// The Debian package that provides a missing program, for the error message.
    fn package_for(program: &str) -> &'static str {
        match program {
            "python3" => "python3",
            "node" => "nodejs",
            "tsc" => "node-typescript",
            "gcc" => "gcc",
            "g++" => "g++",
            "go" => "golang-go",
            "javac" | "java" => "default-jdk",
            "rustc" => "rustc (or rustup)",
            "nasm" => "nasm",
            "ld" => "binutils",
            _ => "the toolchain",
        }
    }
}

/// One program invocation of a plan.
struct Step {
    program: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

fn step(program: &'static str, args: &[&str]) -> Step {
    Step { program, args: args.iter().map(|s| (*s).to_owned()).collect(), env: Vec::new() }
}

/// The public class a Java snippet declares (its file must carry that name), else `Main`.
fn java_class(code: &str) -> String {
    code.split("public class ")
        .nth(1)
        .and_then(|rest| {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            (!name.is_empty()).then_some(name)
        })
        .unwrap_or_else(|| "Main".to_owned())
}

/// Source file name, compile steps and the run step. `mem_mb` is the tools' memory limit, which
/// the JVM must be told (its default heap follows the host's RAM, not the limit).
fn plan(language: Language, code: &str, dir: &str, mem_mb: u64) -> (String, Vec<Step>, Step) {
    match language {
        Language::Python => ("main.py".into(), vec![], step("python3", &["main.py"])),
        Language::JavaScript => ("main.js".into(), vec![], step("node", &["main.js"])),
        Language::TypeScript => (
            "main.ts".into(),
            vec![step("tsc", &["--strict", "--target", "es2020", "--module", "commonjs", "main.ts"])],
            step("node", &["main.js"]),
        ),
        Language::C => {
            ("main.c".into(), vec![step("gcc", &["-O1", "-o", "main", "main.c", "-lm"])], step("./main", &[]))
        }
        Language::Cpp => {
            ("main.cpp".into(), vec![step("g++", &["-O1", "-o", "main", "main.cpp"])], step("./main", &[]))
        }
        Language::Go => {
            let mut build = step("go", &["build", "-o", "main", "main.go"]);
            build.env = vec![
                ("GOCACHE", format!("{dir}/.gocache")),
                ("GOPATH", format!("{dir}/.gopath")),
                ("GO111MODULE", "off".into()),
            ];
            ("main.go".into(), vec![build], step("./main", &[]))
        }
        Language::Java => {
            let class = java_class(code);
            let file = format!("{class}.java");
            let max_ram = format!("-XX:MaxRAM={mem_mb}m");
            let compile = Step { program: "javac", args: vec![format!("-J{max_ram}"), file.clone()], env: Vec::new() };
            let run = Step { program: "java", args: vec![max_ram, "-cp".into(), ".".into(), class], env: Vec::new() };
            (file, vec![compile], run)
        }
        Language::Rust => (
            "main.rs".into(),
            vec![step("rustc", &["--edition", "2021", "-o", "main", "main.rs"])],
            step("./main", &[]),
        ),
        Language::Asm => (
            "main.asm".into(),
            vec![step("nasm", &["-f", "elf64", "-o", "main.o", "main.asm"]), step("ld", &["-o", "main", "main.o"])],
            step("./main", &[]),
        ),
    }
}

/// Compile steps get at least this long: a cold `rustc` or `javac` is slow, and a snippet's run
/// timeout is about the snippet, not the compiler.
const MIN_COMPILE_TIMEOUT: Duration = Duration::from_secs(60);

/// What `POST /exec` answers: the contract's keys in order, truncation counts when a stream hit
/// its cap, and `t_ms`.
#[derive(Debug, Clone, Serialize)]
pub struct ExecResult {
    pub ok: bool,
    pub rc: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub error: Option<String>,
    #[serde(flatten)]
    pub truncated: Map<String, Value>,
    pub t_ms: f64,
}

impl ExecResult {
    fn failed(error: String) -> Self {
        Self {
            ok: false,
            rc: None,
            stdout: String::new(),
            stderr: String::new(),
            error: Some(error),
            truncated: Map::new(),
            t_ms: 0.0,
        }
    }

    fn from_tool(r: ToolResult) -> Self {
        Self {
            ok: r.ok,
            rc: r.rc,
            stdout: r.stdout.unwrap_or_default(),
            stderr: r.stderr.unwrap_or_default(),
            error: r.error,
            truncated: r.extra.into_iter().filter(|(k, _)| k.ends_with("_truncated")).collect(),
            t_ms: 0.0,
        }
    }
}

/// Runs `code` in `sandbox` (the caller sets `t_ms`).
pub async fn run(
    language: Language,
    code: &str,
    timeout: Duration,
    output_cap: usize,
    sandbox: &Arc<Sandbox>,
) -> ExecResult {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return ExecResult::failed(format!("cannot create a working directory: {e}")),
    };
    let dir_text = dir.path().display().to_string();
    let (file, compile, run_step) = plan(language, code, &dir_text, sandbox.settings.mem_mb);
    if let Err(e) = std::fs::write(dir.path().join(&file), code) {
        return ExecResult::failed(format!("cannot write the source file: {e}"));
    }
    let compile_timeout = timeout.max(MIN_COMPILE_TIMEOUT);
    for s in compile {
        let program = s.program;
        match execute(s, dir.path(), compile_timeout, output_cap, sandbox).await {
            Ok(outcome) if outcome.exit == Exit::Code(0) => {}
            Ok(outcome) => {
                let mut r = exec_shape(program, &outcome, compile_timeout);
                let why = r.error.take().unwrap_or_default();
                r.error = Some(format!("{} compile step `{program}` failed: {why}", language.name()));
                return ExecResult::from_tool(r);
            }
            Err(e) => return ExecResult::failed(spawn_error(language, program, &e)),
        }
    }
    let program = run_step.program;
    match execute(run_step, dir.path(), timeout, output_cap, sandbox).await {
        Ok(outcome) => ExecResult::from_tool(exec_shape(language.name(), &outcome, timeout)),
        Err(e) => ExecResult::failed(spawn_error(language, program, &e)),
    }
}

async fn execute(
    s: Step,
    dir: &std::path::Path,
    timeout: Duration,
    output_cap: usize,
    sandbox: &Arc<Sandbox>,
) -> Result<process::Outcome, SpawnError> {
    let program =
        if s.program.starts_with("./") { dir.join(&s.program[2..]).into_os_string() } else { s.program.into() };
    let mut spec = Spec::new(program, timeout).args(s.args).sandboxed(sandbox, dir);
    spec.output_cap = output_cap;
    spec.env = s.env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    process::run(spec).await
}

fn spawn_error(language: Language, program: &str, e: &SpawnError) -> String {
    match e {
        SpawnError::NotFound { .. } => format!(
            "toolchain for {} not found: `{program}` is not installed or not on PATH (Debian package: {})",
            language.name(),
            Language::package_for(program)
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_java_class_names() {
        assert_eq!(Language::parse(" C++ "), Some(Language::Cpp));
        assert_eq!(Language::parse("rs"), Some(Language::Rust));
        assert_eq!(Language::parse("cobol"), None);
        assert_eq!(java_class("public class Hello { }"), "Hello");
        assert_eq!(java_class("class X {}"), "Main");
    }
}
