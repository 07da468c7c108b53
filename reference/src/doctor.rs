//! `miniagent doctor`: the runbook's 30-second checklist as one command.
//!
//! One line per check — ok, a problem, or skipped — and for every problem what to do next, in the
//! runbook's words: the façade's readiness, the sidecar's health, the auth file, the codex-agent
//! environment (enable flag, base without `/v1`), a parallel echo probe through codex-agent that must
//! show content and `scillm_router`, and retry metadata. Exit code 1 when any check fails; `--json`
//! for machines.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::parallel::{ParallelOptions, complete_all};
use crate::provider::Providers;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do, for a failed (or skipped) check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, status: Status::Ok, detail: detail.into(), fix: None }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name, status: Status::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn skip(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name, status: Status::Skip, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// Where the doctor looks.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The façade (`MINI_AGENT_URL`, default `http://127.0.0.1:8788`).
    pub facade: String,
    /// The sidecar: `CODEX_AGENT_API_BASE` when set, else `http://127.0.0.1:8077`.
    pub sidecar: String,
    pub auth_path: PathBuf,
    pub sidecar_echo_env: bool,
}

impl Targets {
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let home = var("HOME").unwrap_or_else(|| "/root".to_owned());
        Self {
            facade: get("MINI_AGENT_URL")
                .unwrap_or_else(|| "http://127.0.0.1:8788".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            sidecar: get("CODEX_AGENT_API_BASE")
                .map(|b| crate::provider::route::codex_base(&b))
                .unwrap_or_else(|| "http://127.0.0.1:8077".to_owned()),
            auth_path: get("CODEX_AUTH_PATH")
                .map_or_else(|| PathBuf::from(home).join(".codex/auth.json"), PathBuf::from),
            sidecar_echo_env: get("CODEX_SIDECAR_ECHO").is_some_and(|v| v.trim() == "1"),
        }
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let res = http.get(url).send().await.map_err(|e| crate::provider::openai::describe(&e))?;
    let status = res.status();
    let body = res.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", body.chars().take(200).collect::<String>()));
    }
    serde_json::from_str(&body).map_err(|e| format!("not JSON ({e})"))
}

/// Runs every check.
pub async fn run(config: &Config, targets: &Targets) -> Vec<Check> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
    let mut checks = Vec::new();

    checks.push(match get_json(&http, &format!("{}/ready", targets.facade)).await {
        Ok(v) if v["ok"] == json!(true) => {
            Check::ok("façade readiness", format!("{}/ready answered ok", targets.facade))
        }
        Ok(v) => {
            Check::fail("façade readiness", format!("{}/ready answered {v}", targets.facade), "check the façade's log")
        }
        Err(e) => Check::fail(
            "façade readiness",
            format!("{}/ready: {e}", targets.facade),
            "start it with `miniagent serve` (or point MINI_AGENT_URL at it)",
        ),
    });

    let sidecar = get_json(&http, &format!("{}/healthz", targets.sidecar)).await;
    let sidecar_echo = sidecar.as_ref().ok().and_then(|v| v["echo"].as_bool()).unwrap_or(targets.sidecar_echo_env);
    checks.push(match &sidecar {
        Ok(v) if v["ok"] == json!(true) => Check::ok(
            "sidecar health",
            format!(
                "{}/healthz: concurrency {}, auth_present {}",
                targets.sidecar, v["concurrency"], v["auth_present"]
            ),
        ),
        Ok(v) => Check::fail(
            "sidecar health",
            format!("{}/healthz answered {v}", targets.sidecar),
            "check the sidecar's log",
        ),
        Err(e) => Check::fail(
            "sidecar health",
            format!("{}/healthz is unreachable: {e}", targets.sidecar),
            "start `miniagent sidecar` (CODEX_SIDECAR_ECHO=1 for a smoke test), or fix CODEX_AGENT_API_BASE",
        ),
    });

    checks.push(if targets.auth_path.exists() {
        Check::ok("auth file", format!("{} is present", targets.auth_path.display()))
    } else if sidecar_echo {
        Check::ok("auth file", format!("{} is absent, which is fine in echo mode", targets.auth_path.display()))
    } else {
        Check::fail(
            "auth file",
            format!("{} is missing and echo mode is off: the sidecar answers 401", targets.auth_path.display()),
            "mount ~/.codex/auth.json into the container (/root/.codex/auth.json:ro) or set CODEX_AUTH_PATH, or re-enable echo with CODEX_SIDECAR_ECHO=1",
        )
    });

    let codex = &config.providers.codex;
    checks.push(if !codex.enabled {
        Check::fail(
            "codex-agent enabled",
            "neither LITELLM_ENABLE_CODEX_AGENT nor SCILLM_ENABLE_CODEX_AGENT is 1",
            "export LITELLM_ENABLE_CODEX_AGENT=1 (read at process start: restart the process after changing it)",
        )
    } else {
        Check::ok(
            "codex-agent enabled",
            "LITELLM_ENABLE_CODEX_AGENT is set; read once at process start, so import order cannot matter",
        )
    });
    checks.push(match codex.api_base.as_deref().map(str::trim) {
        None => Check::fail(
            "codex-agent base",
            "CODEX_AGENT_API_BASE is not set",
            "export CODEX_AGENT_API_BASE=http://127.0.0.1:8077 (no /v1)",
        ),
        Some(b) if b.trim_end_matches('/').ends_with("/v1") => Check::fail(
            "codex-agent base",
            format!("CODEX_AGENT_API_BASE={b} ends in /v1; the provider appends /v1 itself"),
            format!("remove /v1: export CODEX_AGENT_API_BASE={}", crate::provider::route::codex_base(b)),
        ),
        Some(b) => Check::ok("codex-agent base", format!("CODEX_AGENT_API_BASE={b} (no /v1)")),
    });

    let probe = if codex.enabled && codex.api_base.is_some() {
        match Providers::new(config) {
            Ok(providers) => {
                let requests: Vec<Value> = (0..2)
                    .map(|i| json!({"model": "codex-agent/doctor-probe", "messages": [{"role": "user", "content": format!("doctor probe {i}")}]}))
                    .collect();
                let options = ParallelOptions { concurrency: 2, ..ParallelOptions::default() };
                complete_all(&providers, requests, &options).await.ok()
            }
            Err(_) => None,
        }
    } else {
        None
    };
    checks.push(match &probe {
        None => Check::skip(
            "parallel echo probe",
            "codex-agent is not configured",
            "fix the codex-agent checks above first",
        ),
        Some(results) => probe_check(results),
    });
    checks.push(retry_meta_check(config, probe.as_deref()));
    checks
}

/// The parallel probe: every result must carry `scillm_router`, and content (or a provider error
/// that says why there is none).
pub fn probe_check(results: &[Value]) -> Check {
    const NAME: &str = "parallel echo probe";
    for r in results {
        let Some(meta) = r.get("scillm_router") else {
            return Check::fail(
                NAME,
                "a result has no scillm_router metadata",
                "this build always attaches it; are you probing an old deployment?",
            );
        };
        let content = r.pointer("/choices/0/message/content").and_then(Value::as_str).unwrap_or_default();
        if meta["error_type"] == "provider_error" {
            let why = meta["exception"].as_str().unwrap_or_default();
            let fix = if why.contains("could not be reached") {
                "the codex-agent base is unreachable: start the sidecar or fix CODEX_AGENT_API_BASE"
            } else if why.contains("HTTP 401") {
                "the sidecar has no credentials: mount ~/.codex/auth.json (or set CODEX_AUTH_PATH), or CODEX_SIDECAR_ECHO=1"
            } else {
                "see the exception; the sidecar's log has the CLI's side"
            };
            return Check::fail(NAME, format!("provider_error: {why}"), fix);
        }
        if content.is_empty() {
            return Check::fail(
                NAME,
                format!("null or empty content (error_type {})", meta["error_type"]),
                "check the sidecar's CLI output",
            );
        }
    }
    let first = results
        .first()
        .and_then(|r| r.pointer("/choices/0/message/content"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    Check::ok(
        NAME,
        format!(
            "{} results with content and scillm_router, e.g. {:?}",
            results.len(),
            first.chars().take(60).collect::<String>()
        ),
    )
}

fn retry_meta_check(config: &Config, probe: Option<&[Value]>) -> Check {
    const NAME: &str = "retry metadata";
    let p = &config.providers;
    if !(p.retry_meta && p.codex.metrics) {
        return Check::skip(
            NAME,
            "SCILLM_RETRY_META and CODEX_AGENT_ENABLE_METRICS are not both 1",
            "optional: export SCILLM_RETRY_META=1 CODEX_AGENT_ENABLE_METRICS=1",
        );
    }
    match probe.and_then(|r| r.first()).and_then(|r| r.pointer("/scillm_router/retries")) {
        Some(retries) => Check::ok(NAME, format!("scillm_router.retries = {retries}")),
        None => Check::fail(NAME, "the probe's results carry no scillm_router.retries", "fix the parallel probe first"),
    }
}

/// The human-readable report.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let tag = match c.status {
            Status::Ok => "ok  ",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        out.push_str(&format!("[{tag}] {:<22} {}\n", c.name, c.detail));
        if c.status != Status::Ok
            && let Some(fix) = &c.fix
        {
            out.push_str(&format!("       {:<22} → {fix}\n", ""));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    out.push_str(&if failed == 0 {
        "doctor: all checks passed\n".to_owned()
    } else {
        format!("doctor: {failed} check(s) failed\n")
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_catches_missing_meta_and_null_content() {
        let no_meta = [json!({"choices": [{"message": {"content": null}}]})];
        assert_eq!(probe_check(&no_meta).status, Status::Fail);
        let null_content =
            [json!({"choices": [{"message": {"content": null}}], "scillm_router": {"error_type": "empty_content"}})];
        let c = probe_check(&null_content);
        assert!(c.status == Status::Fail && c.detail.contains("null or empty content"), "{c:?}");
        let unreachable = [
            json!({"scillm_router": {"error_type": "provider_error", "exception": "provider codex-agent could not be reached at http://x"}}),
        ];
        assert!(probe_check(&unreachable).fix.is_some_and(|f| f.contains("unreachable")));
        let good = [json!({"choices": [{"message": {"content": "echo: hi"}}], "scillm_router": {"error_type": "ok"}})];
        assert_eq!(probe_check(&good).status, Status::Ok);
    }
}
