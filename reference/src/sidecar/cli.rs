//! Running the coding CLI for one request: the prompt in (stdin, after `--` on the command line,
//! or JSON), the system messages as Codex's developer instructions, JSONL events out
//! ([`super::jsonl`]): each agent message as it arrives, the last one as the answer, the usage.
//!
//! The CLI starts through the one process spawner ([`crate::process`]), as a process-group leader.
//! Two clocks bound it: an absolute timeout for the whole run and an idle timeout between output
//! lines; either kills the whole tree. Exit codes 70 and 75 (temporary failure, by BSD sysexits
//! convention) are retried through the transport layer's retry driver — unless the run already
//! streamed a message, which a client cannot take back.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::jsonl::{Transcript, Usage};
use crate::process::{self, Spec};
use crate::transport::retry::{self, Attempt, Jitter, RetryPolicy, Verdict};

/// How the prompt reaches the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// The prompt text on stdin.
    Stdin,
    /// The prompt as the last argument, after `--` so a prompt starting with `-` is never an option.
    Flag,
    /// `{"prompt", "instructions", "messages", "model"}` as JSON on stdin.
    Json,
}

impl InputMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stdin => "stdin",
            Self::Flag => "flag",
            Self::Json => "json",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "stdin" | "" => Some(Self::Stdin),
            "flag" | "arg" => Some(Self::Flag),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CliSettings {
    /// `CODEX_CMD`, split into words (no shell).
    pub argv: Vec<String>,
    pub input: InputMode,
    pub abs_timeout: Duration,
    pub idle_timeout: Duration,
    pub retries: u32,
    pub cwd: Option<PathBuf>,
}

/// What one request gives the CLI.
#[derive(Debug, Clone)]
pub(super) struct Input {
    /// The conversation without its system messages.
    pub prompt: String,
    /// The system (and developer) messages, for Codex's `developer_instructions`.
    pub instructions: Option<String>,
    pub messages: Vec<Value>,
    pub model: String,
}

/// A run's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outcome {
    /// The last agent message.
    pub text: String,
    pub usage: Option<Usage>,
}

/// Why a run produced no answer. `reported` is the failure the CLI itself wrote in its JSONL
/// (Codex's `turn.failed` / `error`), which says more than the end of its stderr.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum CliError {
    #[error("the CLI `{program}` could not be started: {reason} (set CODEX_CMD)")]
    Spawn { program: String, reason: String },
    #[error("the CLI was silent for {0:?} (IDLE_TIMEOUT_S); it was stopped")]
    Idle(Duration),
    #[error("the CLI did not finish within {0:?} (ABS_TIMEOUT_S); it was stopped")]
    Absolute(Duration),
    #[error("the CLI exited with code {code}: {}", failure(.reported, .stderr))]
    Exit { code: i32, reported: Option<String>, stderr: String },
    #[error("the CLI finished without an agent message in its output{}", .reported.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    NoMessage { reported: Option<String> },
}

/// The CLI's own report first, then what its stderr ended with.
fn failure(reported: &Option<String>, stderr: &str) -> String {
    match (reported, stderr.is_empty()) {
        (Some(r), true) => r.clone(),
        (Some(r), false) => format!("{r} (stderr: {stderr})"),
        (None, _) => stderr.to_owned(),
    }
}

impl CliError {
    pub(super) fn is_timeout(&self) -> bool {
        matches!(self, Self::Idle(_) | Self::Absolute(_))
    }
}

/// Runs the CLI once per attempt until an answer, a non-retryable failure, or the retries run out;
/// each agent message goes to `progress` as it arrives.
pub(super) async fn run(
    settings: &CliSettings,
    input: &Input,
    progress: Option<mpsc::Sender<String>>,
) -> Result<Outcome, CliError> {
    let policy = RetryPolicy {
        max_retries: settings.retries,
        base: Duration::ZERO,
        max_backoff: Duration::ZERO,
        jitter: Jitter::None,
        retry_after_cap: Duration::ZERO,
    };
    let streamed = AtomicBool::new(false);
    let attempt = |_| run_once(settings, input, progress.as_ref(), &streamed);
    let classify = |outcome: &Result<Outcome, CliError>| {
        let verdict = match outcome {
            Ok(_) => Verdict::Done,
            Err(CliError::Exit { code: 70 | 75, .. }) if !streamed.load(Ordering::Relaxed) => {
                tracing::info!("the CLI exited with a temporary failure; retrying");
                Verdict::Retry { retry_after: None }
            }
            Err(_) => Verdict::GiveUp,
        };
        Attempt { status: None, verdict }
    };
    retry::drive(&policy, attempt, classify).await.0
}

/// `text` as a TOML basic string, the form Codex's `-c key=value` reads.
pub(super) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn spec(settings: &CliSettings, input: &Input) -> Spec {
    let program = settings.argv.first().cloned().unwrap_or_default();
    let mut spec = Spec::new(program, settings.abs_timeout).args(settings.argv.iter().skip(1));
    match (settings.input, &input.instructions) {
        (InputMode::Json, _) | (_, None) => {}
        (_, Some(instructions)) => {
            // Codex's own system prompt stays; the client's system messages are added to it.
            spec = spec.arg("-c").arg(format!("developer_instructions={}", toml_string(instructions)));
        }
    }
    match settings.input {
        InputMode::Flag => spec = spec.arg("--").arg(&input.prompt),
        InputMode::Json => {
            let json = json!({"prompt": input.prompt, "instructions": input.instructions, "messages": input.messages, "model": input.model});
            spec.stdin = Some(json.to_string().into_bytes());
        }
        InputMode::Stdin => spec.stdin = Some(input.prompt.clone().into_bytes()),
    }
    spec.cwd.clone_from(&settings.cwd);
    // Wrappers around the CLI can read how the prompt arrives.
    spec.env("CODEX_INPUT_MODE", settings.input.name())
}

async fn run_once(
    settings: &CliSettings,
    input: &Input,
    progress: Option<&mpsc::Sender<String>>,
    streamed: &AtomicBool,
) -> Result<Outcome, CliError> {
    let spec = spec(settings, input);
    let program = spec.program.to_string_lossy().into_owned();
    // Whatever happens below — answer, timeout, or the client hanging up — dropping the child kills
    // its tree.
    let mut child =
        process::spawn(&spec).map_err(|e| CliError::Spawn { program: program.clone(), reason: e.to_string() })?;
    let stderr = child.stderr.take().map(|mut s| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = (&mut s).take(64 * 1024).read_to_end(&mut buf).await;
            String::from_utf8_lossy(&buf).into_owned()
        })
    });
    let Some(stdout) = child.stdout.take() else {
        return Err(CliError::Spawn { program, reason: "no stdout".into() });
    };
    let deadline = Instant::now() + settings.abs_timeout;
    let transcript = read_events(stdout, settings, deadline, progress, streamed).await?;
    let remaining = deadline.saturating_duration_since(Instant::now());
    let status = match tokio::time::timeout(remaining, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(CliError::Spawn { program, reason: e.to_string() }),
        Err(_) => return Err(CliError::Absolute(settings.abs_timeout)),
    };
    let stderr = match stderr {
        Some(h) => tokio::time::timeout(Duration::from_secs(2), h).await.ok().and_then(Result::ok).unwrap_or_default(),
        None => String::new(),
    };
    let Transcript { last_message, reported, usage, .. } = transcript;
    match (status.code(), last_message) {
        (Some(0), Some(text)) => Ok(Outcome { text, usage }),
        (Some(0), None) => Err(CliError::NoMessage { reported }),
        (code, _) => {
            let tail: String = stderr.chars().rev().take(400).collect::<Vec<_>>().into_iter().rev().collect();
            Err(CliError::Exit { code: code.unwrap_or(-1), reported, stderr: tail.trim().to_owned() })
        }
    }
}

/// Reads JSONL events until the CLI closes its output, passing each agent message on as it comes;
/// silence longer than the idle timeout, or the deadline, ends the run.
async fn read_events(
    stdout: impl tokio::io::AsyncRead + Unpin,
    settings: &CliSettings,
    deadline: Instant,
    progress: Option<&mpsc::Sender<String>>,
    streamed: &AtomicBool,
) -> Result<Transcript, CliError> {
    let mut lines = BufReader::new(stdout).lines();
    let mut transcript = Transcript::default();
    loop {
        let wait = settings.idle_timeout.min(deadline.saturating_duration_since(Instant::now()));
        match tokio::time::timeout(wait, lines.next_line()).await {
            Err(_) if Instant::now() >= deadline => return Err(CliError::Absolute(settings.abs_timeout)),
            Err(_) => return Err(CliError::Idle(settings.idle_timeout)),
            Ok(Ok(Some(line))) => {
                if let (Some(text), Some(tx)) = (transcript.read(&line), progress) {
                    streamed.store(true, Ordering::Relaxed);
                    // A client that went away stops listening; the run still ends normally.
                    let _ = tx.send(text).await;
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) => return Ok(transcript),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(input: InputMode) -> CliSettings {
        CliSettings {
            argv: vec!["codex".into(), "exec".into()],
            input,
            abs_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            retries: 0,
            cwd: None,
        }
    }

    fn input(prompt: &str, instructions: Option<&str>) -> Input {
        Input {
            prompt: prompt.into(),
            instructions: instructions.map(str::to_owned),
            messages: Vec::new(),
            model: "m".into(),
        }
    }

    #[test]
    fn the_prompt_follows_a_double_dash_and_instructions_are_a_config_override() {
        let s = spec(&settings(InputMode::Flag), &input("--help me", Some("be \"terse\"\nalways")));
        let args: Vec<String> = s.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["exec", "-c", "developer_instructions=\"be \\\"terse\\\"\\nalways\"", "--", "--help me"]);
        assert_eq!(s.stdin, None);
        let s = spec(&settings(InputMode::Json), &input("p", Some("sys")));
        assert_eq!(s.args.len(), 1, "json mode carries the instructions in its document");
        let doc: Value = serde_json::from_slice(s.stdin.as_deref().unwrap_or_default()).unwrap_or_default();
        assert_eq!((doc["prompt"].as_str(), doc["instructions"].as_str()), (Some("p"), Some("sys")));
        assert_eq!(toml_string("a\u{7f}b"), "\"a\\u007Fb\"");
    }
}
