//! Running the coding CLI for one request: the prompt in (stdin, a flag, or JSON), JSONL events
//! out, reduced to the last agent message.
//!
//! The CLI runs as a process-group leader. Two clocks bound it: an absolute timeout for the whole
//! run and an idle timeout between output lines; either kills the whole tree. Exit codes 70 and 75
//! (temporary failure, by BSD sysexits convention) are retried.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

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
    let mut attempt = 0;
    loop {
        match run_once(settings, prompt, messages, model).await {
            Err(CliError::Exit { code: 70 | 75, .. }) if attempt < settings.retries => {
                attempt += 1;
                tracing::info!(attempt, "the CLI exited with a temporary failure; retrying");
            }
            other => return other,
        }
    }
}

async fn run_once(settings: &CliSettings, prompt: &str, messages: &[Value], model: &str) -> Result<String, CliError> {
    let program = settings.argv.first().cloned().unwrap_or_default();
    let mut cmd = Command::new(&program);
    cmd.args(&settings.argv[1..]).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
    if settings.input == InputMode::Flag {
        cmd.arg(prompt);
    }
    cmd.stdin(if settings.input == InputMode::Flag { Stdio::null() } else { Stdio::piped() });
    if let Some(dir) = &settings.cwd {
        cmd.current_dir(dir);
    }
    // Wrappers around the CLI can read how the prompt arrives.
    cmd.env("CODEX_INPUT_MODE", settings.input.name());
    let mut child = cmd.spawn().map_err(|e| CliError::Spawn { program: program.clone(), reason: e.to_string() })?;
    let pgid = child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
    // Whatever happens below — answer, timeout, or the client hanging up — the tree goes.
    let _guard = KillGroup(pgid);
    if let Some(mut stdin) = child.stdin.take() {
        let input = match settings.input {
            InputMode::Json => json!({"prompt": prompt, "messages": messages, "model": model}).to_string(),
            _ => prompt.to_owned(),
        };
        tokio::spawn(async move {
            let _ = stdin.write_all(input.as_bytes()).await;
            let _ = stdin.shutdown().await;
        });
    }
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
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + settings.abs_timeout;
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
            Ok(Ok(None)) | Ok(Err(_)) => break,
        }
    }
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

struct KillGroup(Option<Pid>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = killpg(pgid, Signal::SIGKILL);
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
