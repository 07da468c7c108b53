//! The languages exec-RPC runs, and how: source file name, compile steps, run step.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::process::plan::WORK_TOKEN;
use crate::process::sandbox::Sandbox;
use crate::process::{self, Setup, SpawnError, Spec};
use crate::tools::local::exec_shape;
use crate::tools::result::ToolResult;

/// The closed set of languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Language {
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
    pub(super) fn parse(name: &str) -> Option<Self> {
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

    pub(super) fn name(self) -> &'static str {
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

/// What the JVM needs to start under an address-space limit of `mem_mb`: its heap sized from the
/// limit (not the host's RAM), and its reservations (class space, code cache, GC threads) small.
fn jvm_flags(mem_mb: u64) -> Vec<String> {
    [
        format!("-XX:MaxRAM={mem_mb}m"),
        "-XX:+UseSerialGC".into(),
        "-XX:CompressedClassSpaceSize=64m".into(),
        "-XX:ReservedCodeCacheSize=64m".into(),
        "-XX:TieredStopAtLevel=1".into(),
        "-Xss1m".into(),
    ]
    .to_vec()
}

/// Source file name, compile steps and the run step. `mem_mb` is the tools' memory limit, which
/// the JVM must be told.
fn plan(language: Language, code: &str, mem_mb: u64) -> (String, Vec<Step>, Step) {
    let dir = WORK_TOKEN;
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
            let flags = jvm_flags(mem_mb);
            let mut javac: Vec<String> = flags.iter().map(|f| format!("-J{f}")).collect();
            javac.push(file.clone());
            let compile = Step { program: "javac", args: javac, env: Vec::new() };
            let mut java = flags;
            java.extend(["-cp".into(), ".".into(), class]);
            let run = Step { program: "java", args: java, env: Vec::new() };
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
pub(super) struct ExecResult {
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

/// Runs `code` in `sandbox` (the caller sets `t_ms`): the source file, the compile steps and the
/// run step in one sandboxed call, so the compiler's output is where the program runs.
pub(super) async fn run(
    language: Language,
    code: &str,
    timeout: Duration,
    output_cap: usize,
    sandbox: &Arc<Sandbox>,
) -> ExecResult {
    let (file, compile, run_step) = plan(language, code, sandbox.settings.mem_mb);
    let compile_timeout = timeout.max(MIN_COMPILE_TIMEOUT);
    let mut spec = Spec::new(run_step.program, timeout).args(run_step.args).sandboxed(sandbox);
    spec.env = run_step.env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    spec.output_cap = output_cap;
    spec.files = vec![(file, code.to_owned())];
    spec.setup = compile
        .into_iter()
        .map(|s| Setup {
            program: s.program.to_owned(),
            args: s.args,
            env: s.env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            timeout: compile_timeout,
        })
        .collect();
    match process::run(spec).await {
        Ok(outcome) => match outcome.setup_failed.clone() {
            Some(program) => {
                let mut r = exec_shape(&program, &outcome, compile_timeout);
                let why = r.error.take().unwrap_or_default();
                r.error = Some(format!("{} compile step `{program}` failed: {why}", language.name()));
                ExecResult::from_tool(r)
            }
            None => ExecResult::from_tool(exec_shape(language.name(), &outcome, timeout)),
        },
        Err(SpawnError::NotFound { program }) => ExecResult::failed(spawn_error(language, &program)),
        Err(e) => ExecResult::failed(e.to_string()),
    }
}

fn spawn_error(language: Language, program: &str) -> String {
    let program = program.strip_prefix("./").unwrap_or(program);
    format!(
        "toolchain for {} not found: `{program}` is not installed or not on PATH (Debian package: {})",
        language.name(),
        Language::package_for(program)
    )
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
