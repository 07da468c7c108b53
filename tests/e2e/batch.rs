//! `miniagent batch` end to end: the real binary over a JSONL file, a malformed line included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use assert_cmd::Command;
use conformance::fakes::provider::fail_marker;
use serde_json::{Value, json};

#[tokio::test]
async fn results_in_order_with_a_malformed_line_and_a_summary() {
    let fakes = conformance::fakes::Fakes::start(Default::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("requests.jsonl");
    let output = dir.path().join("results.jsonl");
    let lines = [
        json!({"model": "dummy", "messages": [{"role": "user", "content": "one"}]}).to_string(),
        "{this is not json".to_owned(),
        json!({"model": "openai/fake", "messages": [{"role": "user", "content": fail_marker(500)}]}).to_string(),
        String::new(),
        json!({"model": "openai/fake", "messages": [{"role": "user", "content": "four"}], "response_format": {"type": "json_object"}}).to_string(),
    ];
    std::fs::write(&input, lines.join("\n")).unwrap();
    let base = fakes.provider.base_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::cargo_bin("miniagent")
            .unwrap()
            .args([
                "batch",
                "--input",
                input.to_str().unwrap(),
                "--output",
                output.to_str().unwrap(),
                "--concurrency",
                "3",
            ])
            .env("MINI_AGENT_ALLOW_DUMMY", "1")
            .env("OPENAI_API_BASE", &base)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("4 results: 0 ok, 2 errors, 2 invalid_json"), "{stderr}");
    let results: Vec<Value> = std::fs::read_to_string(dir.path().join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 4, "one result per non-blank line");
    let kinds: Vec<&str> = results.iter().map(|r| r["scillm_router"]["error_type"].as_str().unwrap()).collect();
    // Prose is `invalid_json` whether or not JSON was asked for (the Python original's rule).
    assert_eq!(kinds, ["invalid_json", "provider_error", "provider_error", "invalid_json"]);
    assert_eq!(results[0]["choices"][0]["message"]["content"], "Dummy mini-agent response");
    assert!(results[1]["scillm_router"]["exception"].as_str().unwrap().starts_with("line 2: not valid JSON"));
    assert!(results[2]["scillm_router"]["exception"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(results[3]["choices"][0]["message"]["content"], "fake: four", "non-JSON content is kept");
}

#[test]
fn a_hard_budget_refuses_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let line = json!({"model": "dummy", "messages": []}).to_string();
    std::fs::write(&input, format!("{line}\n{line}\n{line}\n")).unwrap();
    Command::cargo_bin("miniagent")
        .unwrap()
        .args([
            "batch",
            "--input",
            input.to_str().unwrap(),
            "--output",
            dir.path().join("out.jsonl").to_str().unwrap(),
            "--max-requests",
            "2",
        ])
        .env("MINI_AGENT_ALLOW_DUMMY", "1")
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("3 requests exceed max_requests=2"));
}

/// `--shard i/n` on n "machines": every request is answered exactly once across the shards, each
/// result says its position in the whole file, and a bad shard is refused with the usage.
#[tokio::test]
async fn shards_split_one_file_and_merge_back_by_index() {
    let fakes = conformance::fakes::Fakes::start(Default::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("requests.jsonl");
    let lines: Vec<String> = (0..7)
        .map(|k| {
            json!({"model": "openai/fake", "messages": [{"role": "user", "content": format!("q{k}")}]}).to_string()
        })
        .collect();
    std::fs::write(&input, lines.join("\n\n")).unwrap();
    let base = fakes.provider.base_url();
    let mut merged: Vec<(u64, String, String)> = Vec::new();
    for shard in ["0/3", "1/3", "2/3", "3/3"] {
        let output = dir.path().join(format!("out-{}.jsonl", &shard[..1]));
        let (input, out_path, base, shard_arg) = (input.clone(), output.clone(), base.clone(), shard.to_owned());
        let out = tokio::task::spawn_blocking(move || {
            Command::cargo_bin("miniagent")
                .unwrap()
                .args(["batch", "--input", input.to_str().unwrap(), "--output", out_path.to_str().unwrap()])
                .args(["--shard", &shard_arg])
                .env("OPENAI_API_BASE", &base)
                .timeout(Duration::from_secs(60))
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if shard == "3/3" {
            assert!(!out.status.success() && stderr.contains("numbered from 0"), "{stderr}");
            continue;
        }
        assert!(out.status.success(), "{stderr}");
        for line in std::fs::read_to_string(&output).unwrap().lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            let meta = &r["scillm_router"];
            assert_eq!(meta["shard"], shard);
            let content = r["choices"][0]["message"]["content"].as_str().unwrap().to_owned();
            merged.push((meta["index"].as_u64().unwrap(), content, shard.to_owned()));
        }
    }
    merged.sort();
    let indices: Vec<u64> = merged.iter().map(|m| m.0).collect();
    assert_eq!(indices, [0, 1, 2, 3, 4, 5, 6], "{merged:?}");
    for (index, content, shard) in &merged {
        assert_eq!(content, &format!("fake: q{index}"), "the answer at index {index} is its own request's");
        assert_eq!(shard, &format!("{}/3", index % 3), "interleaved slices");
    }
}
