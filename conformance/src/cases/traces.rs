//! §1 Traces — one whole JSON line per `/agent/run`, never interleaved.

use serde_json::{Value, json};

use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, run_body};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::features::Feature;
use crate::shape::{Volatile, redact};
use crate::target::Ctx;

pub const CASES: &[Case] = &[
    Case::new(
        "traces.agent_run.concurrent_lines",
        Profile::Core,
        Level::Recommended,
        "§1 Traces — lines never interleave under concurrency",
        "200 concurrent runs append exactly 200 whole, parseable lines",
        |ctx| Box::pin(concurrent(ctx)),
    )
    .needs(&[Feature::Traces, Feature::Dummy]),
    Case::new(
        "traces.agent_run.record_shape",
        Profile::Core,
        Level::Recommended,
        "§1 Traces — record shape",
        "a trace line is the envelope plus final_answer_preview and trace.request_class/iterations",
        |ctx| Box::pin(record_shape(ctx)),
    )
    .needs(&[Feature::Traces, Feature::Dummy]),
];

fn trace_len(ctx: &Ctx) -> Result<(std::path::PathBuf, u64), Failure> {
    let path = ctx.trace_file.clone().ok_or_else(|| Failure::failed("no trace file given to the suite"))?;
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok((path, len))
}

fn lines_after(path: &std::path::Path, offset: u64) -> Result<Vec<String>, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::failed(format!("cannot read trace file {}: {e}", path.display())))?;
    let tail = bytes.get(usize::try_from(offset).unwrap_or(usize::MAX)..).unwrap_or_default();
    let text =
        String::from_utf8(tail.to_vec()).map_err(|e| Failure::failed(format!("trace file is not UTF-8: {e}")))?;
    ensure!(text.is_empty() || text.ends_with('\n'), "the trace file does not end on a whole line");
    Ok(text.lines().map(str::to_owned).collect())
}

async fn concurrent(ctx: &Ctx) -> CaseResult {
    const N: usize = 200;
    let (path, before) = trace_len(ctx)?;
    let body = run_body("echo", "trace me");
    let replies = futures::future::join_all((0..N).map(|_| ctx.post_json("/agent/run", &body))).await;
    for r in replies {
        expect_status(&r?, 200, "traced run")?;
    }
    let lines = lines_after(&path, before)?;
    ensure_eq!(lines.len(), N, "new trace lines");
    for (i, line) in lines.iter().enumerate() {
        let v: Value =
            serde_json::from_str(line).map_err(|e| Failure::failed(format!("line {i} is not JSON ({e})")))?;
        ensure!(v.get("ok") == Some(&json!(true)), "line {i} is not an envelope");
    }
    Ok(())
}

async fn record_shape(ctx: &Ctx) -> CaseResult {
    let (path, before) = trace_len(ctx)?;
    let body = json!({
        "model": "dummy", "tool_backend": "echo",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is in this picture"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]}]
    });
    let reply = ctx.post_json("/agent/run", &body).await?;
    expect_status(&reply, 200, "traced run")?;
    let lines = lines_after(&path, before)?;
    ensure_eq!(lines.len(), 1, "new trace lines");
    let record: Value =
        serde_json::from_str(&lines[0]).map_err(|e| Failure::failed(format!("trace line is not JSON: {e}")))?;
    let envelope = reply.json()?;
    ensure_eq!(record.get("final_answer"), envelope.get("final_answer"), "final_answer in the trace");
    let redacted = redact(&record, &[("/metrics/ttotal_ms", Volatile::Millis)])?;
    ctx.snapshot("trace_record_echo", &redacted)
}
