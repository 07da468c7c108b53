//! `miniagent batch`: parallel completions over a JSONL file, one result line per request line,
//! in input order, reporting progress to the caller (the binary draws it) and a summary at the end.
//!
//! With `--shard i/n`, this process takes the i-th of n interleaved slices of the requests (request
//! k, counting non-blank lines from 0, belongs to shard k mod n), so n machines can share one JSONL
//! file; each result's `scillm_router.index` is its request's position in the whole file, so the
//! shards' outputs merge back by sorting on it.
//!
//! A malformed line becomes an error result for that line (with `scillm_router.error_type:
//! "provider_error"` and the parse error as `exception`); the other lines still run. Results are
//! written as they complete, in order, so a long batch can be watched with `tail -f`.

use std::io::{BufWriter, Write};
use std::path::Path;

use futures::StreamExt;
use serde_json::Value;

use crate::parallel::{ParallelOptions, stream_requests};
use crate::provider::Providers;

/// Counts of one batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub results: usize,
    pub ok: usize,
    pub errors: usize,
    pub invalid_json: usize,
    pub empty_content: usize,
    pub p50_ms: f64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} results: {} ok, {} errors, {} invalid_json, {} empty_content; p50 latency {:.1} ms",
            self.results, self.ok, self.errors, self.invalid_json, self.empty_content, self.p50_ms
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(transparent)]
    Budget(#[from] crate::parallel::ParallelError),
}

/// One of `count` interleaved slices of the input (`--shard index/count`, index from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole input.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether request `k` (0-based, among non-blank lines) belongs to this shard.
    pub fn takes(&self, k: usize) -> bool {
        k % self.count == self.index
    }

    /// The position in the whole file of this shard's `i`-th request.
    pub fn global(&self, i: usize) -> usize {
        i * self.count + self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = "use i/n with n ≥ 1 and 0 ≤ i < n, e.g. --shard 0/3, 1/3 and 2/3 on three machines";
        let (i, n) = s.split_once('/').ok_or_else(|| format!("`{s}` is not i/n: {usage}"))?;
        let parse = |v: &str| v.trim().parse::<usize>().map_err(|_| format!("`{s}` is not i/n: {usage}"));
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || index >= count {
            return Err(format!("`{s}`: shards are numbered from 0, so i must be below n ({usage})"));
        }
        Ok(Self { index, count })
    }
}

/// The requests of a JSONL text: one per non-blank line; a line that is not a JSON object is an
/// `Err` naming its line number.
pub fn parse_lines(text: &str) -> Vec<Result<Value, String>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| match serde_json::from_str::<Value>(line) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(format!("line {}: not a JSON object", n + 1)),
            Err(e) => Err(format!("line {}: not valid JSON: {e}", n + 1)),
        })
        .collect()
}

/// What the caller shows while a batch runs: the binary draws a bar on a terminal and plain lines
/// otherwise, so the library needs no terminal code.
pub trait Progress {
    /// The batch has `total` requests (after sharding).
    fn start(&mut self, total: u64);
    /// `done` results are written.
    fn tick(&mut self, done: u64);
    /// Every result is written.
    fn finish(&mut self);
}

/// Runs the batch from `input` to `output`.
pub async fn run(
    providers: &Providers,
    input: &Path,
    output: &Path,
    options: &ParallelOptions,
    shard: Shard,
    progress: &mut impl Progress,
) -> Result<Summary, BatchError> {
    let text = std::fs::read_to_string(input)
        .map_err(|source| BatchError::Read { path: input.display().to_string(), source })?;
    let requests: Vec<_> =
        parse_lines(&text).into_iter().enumerate().filter(|(k, _)| shard.takes(*k)).map(|(_, r)| r).collect();
    let total = requests.len();
    let write_err = |source| BatchError::Write { path: output.display().to_string(), source };
    let file = std::fs::File::create(output).map_err(write_err)?;
    let mut out = BufWriter::new(file);
    progress.start(total as u64);
    let mut stream = std::pin::pin!(stream_requests(providers, requests, options)?);
    let mut summary = Summary::default();
    let mut timings = Vec::with_capacity(total);
    while let Some(mut result) = stream.next().await {
        if shard != Shard::ALL
            && let Some(meta) = result.get_mut("scillm_router").and_then(Value::as_object_mut)
        {
            let local = meta.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            meta.insert("index".into(), Value::from(shard.global(local)));
            meta.insert("shard".into(), Value::from(format!("{}/{}", shard.index, shard.count)));
        }
        let meta = &result["scillm_router"];
        match meta["error_type"].as_str() {
            Some("ok") => summary.ok += 1,
            Some("invalid_json") => summary.invalid_json += 1,
            Some("empty_content") => summary.empty_content += 1,
            _ => summary.errors += 1,
        }
        if let Some(t) = meta["timing_ms"].as_f64() {
            timings.push(t);
        }
        summary.results += 1;
        serde_json::to_writer(&mut out, &result).map_err(|e| write_err(std::io::Error::other(e)))?;
        out.write_all(b"\n").map_err(write_err)?;
        progress.tick(summary.results as u64);
    }
    out.flush().map_err(write_err)?;
    progress.finish();
    timings.sort_by(f64::total_cmp);
    summary.p50_ms = timings.get(timings.len() / 2).copied().unwrap_or(0.0);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_requests_or_errors_with_line_numbers() {
        let parsed = parse_lines("{\"model\":\"dummy\"}\n\n[1]\n{broken\n");
        assert_eq!(parsed.len(), 3);
        assert!(parsed[0].is_ok());
        assert_eq!(parsed[1].as_ref().expect_err("line 3"), "line 3: not a JSON object");
        assert!(parsed[2].as_ref().expect_err("line 4").starts_with("line 4: not valid JSON"));
    }

    #[test]
    fn shards_interleave_and_cover_every_request_once() {
        let shards: Vec<Shard> = ["0/3", "1/3", "2/3"].iter().map(|s| s.parse().expect("shard")).collect();
        for k in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.takes(k)).count(), 1, "request {k}");
        }
        assert!(shards[1].takes(4) && shards[1].global(1) == 4);
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard::ALL));
        for bad in ["3/3", "1/0", "1", "a/b", "-1/2"] {
            let e = bad.parse::<Shard>().expect_err(bad);
            assert!(e.contains("i/n"), "{bad}: {e}");
        }
    }
}
