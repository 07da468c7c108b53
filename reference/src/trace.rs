//! JSONL traces of `/agent/run`: one line per run, appended by one writer.
//!
//! Owns the record shape (the envelope, `final_answer_preview`, `trace`) and the writer: a dedicated
//! thread that owns the file, so lines can never interleave however many requests finish at once —
//! serialising on one owner is simpler and cheaper than a lock around `write`. Each request waits
//! for its line to reach the file (so a client that reads the file after its response finds it), but
//! a storage failure only logs: it never fails the request. A write that fails halfway is cut back to
//! the last whole line, so readers never see half a record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::agent::outcome::RunOutcome;
use crate::api::RunSpec;
use crate::env::Env;
use crate::envelope::Envelope;

/// Where traces go: `MINI_AGENT_STORE_TRACES=1` with `MINI_AGENT_STORE_PATH=<file>`; the file
/// rotates at `MINI_AGENT_TRACE_MAX_MB` (100): it is renamed to `<file>.1` (replacing the previous
/// one) and a new file begins, so traces use at most twice that on disk.
#[derive(Debug, Clone)]
pub struct TraceSettings {
    pub path: Option<PathBuf>,
    pub max_bytes: u64,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self { path: None, max_bytes: 100 * 1024 * 1024 }
    }
}

impl TraceSettings {
    pub fn from_env(env: &Env) -> Self {
        let path = if env.flag("MINI_AGENT_STORE_TRACES") {
            env.get("MINI_AGENT_STORE_PATH").map(PathBuf::from)
        } else {
            None
        };
        let max_mb: f64 = env.parse_where("MINI_AGENT_TRACE_MAX_MB", 100.0, "a number of megabytes > 0", |m| *m > 0.0);
        Self { path, max_bytes: (max_mb * 1024.0 * 1024.0) as u64 }
    }
}

/// Characters of `final_answer` kept in `final_answer_preview`.
pub(crate) const PREVIEW_CHARS: usize = 200;

/// Builds the trace record of one run. Pure.
pub(crate) fn record(envelope: &Envelope, spec: &RunSpec, outcome: &RunOutcome) -> Value {
    let mut map = match serde_json::to_value(envelope) {
        Ok(Value::Object(map)) => map,
        // An envelope always serializes to an object; an empty map keeps this total.
        _ => Map::new(),
    };
    let preview: String = envelope.final_answer.unwrap_or_default().chars().take(PREVIEW_CHARS).collect();
    map.insert("final_answer_preview".into(), Value::String(preview));
    map.insert(
        "trace".into(),
        json!({
            "request_class": {
                "tools": spec.use_tools,
                "auto_code": spec.auto_run_code_on_code_block,
                "images": spec.has_images(),
            },
            "iterations": outcome.iterations,
        }),
    );
    Value::Object(map)
}

struct Job {
    line: Vec<u8>,
    done: oneshot::Sender<()>,
}

/// Handle to the writer thread; cheap to clone, one per server.
#[derive(Debug, Clone)]
pub struct TraceWriter {
    tx: mpsc::Sender<Job>,
    path: PathBuf,
}

impl TraceWriter {
    /// Starts the writer thread for `path`. The file is opened (append, create) on first use and
    /// reopened after a failure, so fixing a bad path or a full disk needs no restart.
    pub fn spawn(path: PathBuf, max_bytes: u64) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread_path = path.clone();
        std::thread::Builder::new()
            .name("trace-writer".into())
            .spawn(move || writer_loop(&thread_path, max_bytes, &rx))?;
        Ok(Self { tx, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line and waits until it is written (or has failed and been logged).
    pub async fn append(&self, record: &Value) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(e) => {
                tracing::warn!(error = %e, "trace record could not be serialized; skipped");
                return;
            }
        };
        line.push(b'\n');
        let (done, wait) = oneshot::channel();
        if self.tx.send(Job { line, done }).is_err() {
            tracing::warn!(path = %self.path.display(), "trace writer has stopped; record dropped");
            return;
        }
        // An Err here means the writer dropped the job while failing; it has logged why.
        let _ = wait.await;
    }
}

fn writer_loop(path: &Path, max_bytes: u64, rx: &mpsc::Receiver<Job>) {
    let mut file: Option<File> = None;
    while let Ok(first) = rx.recv() {
        // Batch whatever else is already queued into one write: under load this turns many small
        // writes into one, and the acks go out together.
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        let mut buf = Vec::with_capacity(jobs.iter().map(|j| j.line.len()).sum());
        for job in &jobs {
            buf.extend_from_slice(&job.line);
        }
        if let Err(e) = write_batch(path, max_bytes, &mut file, &buf) {
            tracing::warn!(
                path = %path.display(), error = %e, lines = jobs.len(),
                "could not append traces (check MINI_AGENT_STORE_PATH); requests are unaffected"
            );
            file = None;
        }
        for job in jobs {
            let _ = job.done.send(());
        }
    }
}

/// Where a full trace file goes: `<file>.1`.
pub(crate) fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Opens (or creates) a trace file readable by its owner only: traces hold whole conversations.
/// A file that exists with wider permissions is narrowed.
fn open_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    if f.metadata()?.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

fn write_batch(path: &Path, max_bytes: u64, file: &mut Option<File>, buf: &[u8]) -> std::io::Result<()> {
    if file.is_none() {
        *file = Some(open_private(path)?);
    }
    let Some(f) = file.as_mut() else { return Ok(()) };
    let mut start = f.metadata()?.len();
    if start > 0 && start + buf.len() as u64 > max_bytes {
        // Rotate between whole batches, so both files end on whole lines.
        std::fs::rename(path, rotated(path))?;
        *f = open_private(path)?;
        start = 0;
        tracing::info!(path = %path.display(), "trace file rotated (MINI_AGENT_TRACE_MAX_MB)");
    }
    if let Err(e) = f.write_all(buf).and_then(|()| f.flush()) {
        // Cut a partial batch back off so the file still ends on a whole line.
        let _ = f.set_len(start);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_appends_give_whole_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.jsonl");
        let writer = TraceWriter::spawn(path.clone(), u64::MAX).expect("spawn");
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move { w.append(&json!({"i": i, "pad": "x".repeat(5000)})).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let mut seen: Vec<i64> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("whole line")["i"].as_i64().expect("i"))
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn the_file_rotates_at_its_limit_on_whole_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.jsonl");
        let writer = TraceWriter::spawn(path.clone(), 10_000).expect("spawn");
        for i in 0..30 {
            writer.append(&json!({"i": i, "pad": "x".repeat(1000)})).await;
        }
        let (current, old) = (
            std::fs::read_to_string(&path).expect("current"),
            std::fs::read_to_string(rotated(&path)).expect("rotated"),
        );
        assert!(current.len() <= 10_000 && old.len() <= 10_000, "{} {}", current.len(), old.len());
        for text in [&current, &old] {
            assert!(text.ends_with('\n') && text.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
        }
        let last: Value = serde_json::from_str(current.lines().last().expect("a line")).expect("json");
        assert_eq!(last["i"], 29, "the newest line is in the current file");
        use std::os::unix::fs::PermissionsExt;
        for p in [path.clone(), rotated(&path)] {
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} holds conversations: owner only", p.display());
        }
    }

    #[tokio::test]
    async fn an_existing_world_readable_file_is_narrowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, "").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        TraceWriter::spawn(path.clone(), u64::MAX).expect("spawn").append(&json!({"a": 1})).await;
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    }

    #[tokio::test]
    async fn an_unwritable_path_does_not_block_or_panic() {
        let writer = TraceWriter::spawn(PathBuf::from("/nonexistent-dir/for/sure/t.jsonl"), u64::MAX).expect("spawn");
        tokio::time::timeout(std::time::Duration::from_secs(5), writer.append(&json!({"a": 1})))
            .await
            .expect("append returns even when the file cannot be opened");
    }
}
