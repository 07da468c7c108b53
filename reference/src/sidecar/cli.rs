//! Running the coding CLI for one request: the prompt in (stdin, a flag, or JSON), JSONL events
//! out, reduced to the last agent message.
//!
//! The CLI starts through the one process spawner ([`crate::process`]), as a process-group leader.
//! Two clocks bound it: an absolute timeout for the whole run and an idle timeout between output
//! lines; either kills the whole tree. Exit codes 70 and 75 (temporary failure, by BSD sysexits
//! convention) are retried through the transport layer's retry driver.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::time::Instant;

use crate::process::{self, Spec};
use crate::transport::retry::{self, Attempt, Jitter, RetryPolicy, Verdict};

/// How the prompt reaches the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// The prompt text on stdin.
    Stdin,
    /// The prompt as the last argument.
    Flag,
    /// `{"prompt", "messages", "model"}` as JSON on stdin.
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

/// Why a run produced no answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CliError {
    #[error("the CLI `{program}` could not be started: {reason} (set CODEX_CMD)")]
    Spawn { program: String, reason: String },
    #[error("the CLI was silent for {0:?} (IDLE_TIMEOUT_S); it was stopped")]
    Idle(Duration),
    #[error("the CLI did not finish within {0:?} (ABS_TIMEOUT_S); it was stopped")]
    Absolute(Duration),
    #[error("the CLI exited with code {code}: {stderr}")]
    Exit { code: i32, stderr: String },
    #[error("the CLI finished without an agent message in its output")]
    NoMessage,
}

impl CliError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Idle(_) | Self::Absolute(_))
    }
}

/// The text of an agent message event, in the JSONL shapes codex has used:
/// `{"type":"item.completed","item":{"type":"agent_message","text":…}}`,
/// `{"msg":{"type":"agent_message","message":…}}`, or a bare `{"type":"agent_message",…}`.
pub fn agent_message(event: &Value) -> Option<String> {
    let candidates = [event.get("item"), event.get("msg"), Some(event)];
    candidates.into_iter().flatten().find_map(|e| {
        (e.get("type").and_then(Value::as_str) == Some("agent_message"))
            .then(|| e.get("text").or_else(|| e.get("message")).and_then(Value::as_str).map(str::to_owned))
            .flatten()
    })
}

/// Runs the CLI once per attempt until an answer, a non-retryable failure, or the retries run out.
pub async fn run(settings: &CliSettings, prompt: &str, messages: &[Value], model: &str) -> Result<String, CliError> {
    let policy = RetryPolicy {
        max_retries: settings.retries,
        base: Duration::ZERO,
        max_backoff: Duration::ZERO,
        jitter: Jitter::None,
        retry_after_cap: Duration::ZERO,
    };
    let attempt = |_| run_once(settings, prompt, messages, model);
    retry::drive(&policy, attempt, classify).await.0
}

/// 70 (EX_SOFTWARE) and 75 (EX_TEMPFAIL) are worth another run; nothing else is.
fn classify(outcome: &Result<String, CliError>) -> Attempt {
    let verdict = match outcome {
        Ok(_) => Verdict::Done,
        Err(CliError::Exit { code: 70 | 75, .. }) => {
            tracing::info!("the CLI exited with a temporary failure; retrying");
            Verdict::Retry { retry_after: None }
        }
        Err(_) => Verdict::GiveUp,
    };
    Attempt { status: None, verdict }
}

fn spec(settings: &CliSettings, prompt: &str, messages: &[Value], model: &str) -> Spec {
    let program = settings.argv.first().cloned().unwrap_or_default();
    let mut spec = Spec::new(program, settings.abs_timeout).args(settings.argv.iter().skip(1));
    if settings.input == InputMode::Flag {
        spec = spec.arg(prompt);
    } else {
        let input = match settings.input {
            InputMode::Json => json!({"prompt": prompt, "messages": messages, "model": model}).to_string(),
            _ => prompt.to_owned(),
        };
        spec.stdin = Some(input.into_bytes());
    }
    spec.cwd.clone_from(&settings.cwd);
    // Wrappers around the CLI can read how the prompt arrives.
    spec.env("CODEX_INPUT_MODE", settings.input.name())
}

async fn run_once(settings: &CliSettings, prompt: &str, messages: &[Value], model: &str) -> Result<String, CliError> {
    let spec = spec(settings, prompt, messages, model);
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
    let last = last_agent_message(stdout, settings, deadline).await?;
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
    match status.code() {
        Some(0) => last.ok_or(CliError::NoMessage),
        code => {
            let tail: String = stderr.chars().rev().take(400).collect::<Vec<_>>().into_iter().rev().collect();
            Err(CliError::Exit { code: code.unwrap_or(-1), stderr: tail.trim().to_owned() })
        }
    }
}

/// Reads JSONL events until the CLI closes its output, keeping the last agent message; silence
/// longer than the idle timeout, or the deadline, ends the run.
async fn last_agent_message(
    stdout: impl tokio::io::AsyncRead + Unpin,
    settings: &CliSettings,
    deadline: Instant,
) -> Result<Option<String>, CliError> {
    let mut lines = BufReader::new(stdout).lines();
    let mut last = None;
    loop {
        let wait = settings.idle_timeout.min(deadline.saturating_duration_since(Instant::now()));
        match tokio::time::timeout(wait, lines.next_line()).await {
            Err(_) if Instant::now() >= deadline => return Err(CliError::Absolute(settings.abs_timeout)),
            Err(_) => return Err(CliError::Idle(settings.idle_timeout)),
            Ok(Ok(Some(line))) => {
                if let Some(text) = serde_json::from_str::<Value>(&line).ok().as_ref().and_then(agent_message) {
                    last = Some(text);
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) => return Ok(last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_messages_in_every_known_shape() {
        assert_eq!(
            agent_message(&json!({"type": "item.completed", "item": {"type": "agent_message", "text": "a"}}))
                .as_deref(),
            Some("a")
        );
        assert_eq!(agent_message(&json!({"msg": {"type": "agent_message", "message": "b"}})).as_deref(), Some("b"));
        assert_eq!(agent_message(&json!({"type": "agent_message", "text": "c"})).as_deref(), Some("c"));
        assert_eq!(agent_message(&json!({"type": "item.completed", "item": {"type": "reasoning", "text": "x"}})), None);
    }
}
