//! `miniagent doctor`: the runbook's 30-second checklist as one command.
//!
//! One line per check — ok, a problem, or skipped — and for every problem what to do next, in the
//! runbook's words: the façade's readiness, the sidecar's health, the auth file, the codex-agent
//! environment (enable flag, base without `/v1`), a parallel echo probe through codex-agent that must
//! show content and `scillm_router`, and retry metadata. Exit code 1 when any check fails; `--json`
//! for machines.

mod sandbox;

pub use sandbox::probe_main;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::env::Env;
use crate::parallel::{ParallelOptions, complete_all};
use crate::provider::route::codex_base;
use crate::sidecar::SidecarConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, but not as well as it could (the tool sandbox unavailable in `auto` mode).
    Warn,
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
    pub(crate) fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, status: Status::Ok, detail: detail.into(), fix: None }
    }
    pub(crate) fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name, status: Status::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
    pub(crate) fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name, status: Status::Warn, detail: detail.into(), fix: Some(fix.into()) }
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
    /// `CODEX_REQUIRE_AUTH_FILE` as this environment says (the sidecar's own answer wins).
    pub auth_required_env: bool,
}

impl Targets {
    /// `MINI_AGENT_URL` (the doctor's own variable); the sidecar's base, auth file and echo switch
    /// come from the settings that own them (the codex-agent provider's and the sidecar's).
    pub fn new(env: &Env, config: &Config, sidecar: &SidecarConfig) -> Self {
        Self {
            facade: env
                .get("MINI_AGENT_URL")
                .unwrap_or_else(|| "http://127.0.0.1:8788".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            sidecar: config
                .providers
                .codex
                .api_base
                .as_deref()
                .map(|b| codex_base(b).0)
                .unwrap_or_else(|| "http://127.0.0.1:8077".to_owned()),
            auth_path: sidecar.auth_path.clone(),
            sidecar_echo_env: sidecar.echo,
            auth_required_env: sidecar.require_auth_file,
        }
    }

    /// From a lookup function (the process environment in `main`, pairs in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>, config: &Config) -> Self {
        let env = Env::new(&var);
        Self::new(&env, config, &SidecarConfig::from_env(&env))
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
    let http = crate::transport::tls::http_client().timeout(Duration::from_secs(5)).build().unwrap_or_default();
    let sidecar = get_json(&http, &format!("{}/healthz", targets.sidecar)).await;
    let said = |key: &str| sidecar.as_ref().ok().and_then(|v| v[key].as_bool());
    let sidecar_echo = said("echo").unwrap_or(targets.sidecar_echo_env);
    let auth_required = said("auth_required").unwrap_or(targets.auth_required_env);
    let mut checks = vec![
        facade_check(&http, targets).await,
        sandbox::check(config, &targets.facade),
        sidecar_check(&sidecar, targets),
        auth_check(targets, sidecar_echo, auth_required),
        enabled_check(config),
        base_check(config),
    ];
    let probe = parallel_probe(config).await;
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

async fn facade_check(http: &reqwest::Client, targets: &Targets) -> Check {
    const NAME: &str = "façade readiness";
    let url = format!("{}/ready", targets.facade);
    match get_json(http, &url).await {
        Ok(v) if v["ok"] == json!(true) => Check::ok(NAME, format!("{url} answered ok")),
        Ok(v) => Check::fail(NAME, format!("{url} answered {v}"), "check the façade's log"),
        Err(e) => {
            Check::fail(NAME, format!("{url}: {e}"), "start it with `miniagent serve` (or point MINI_AGENT_URL at it)")
        }
    }
}

fn sidecar_check(sidecar: &Result<Value, String>, targets: &Targets) -> Check {
    const NAME: &str = "sidecar health";
    match sidecar {
        Ok(v) if v["ok"] == json!(true) => Check::ok(
            NAME,
            format!(
                "{}/healthz: concurrency {}, auth_present {}",
                targets.sidecar, v["concurrency"], v["auth_present"]
            ),
        ),
        Ok(v) => Check::fail(NAME, format!("{}/healthz answered {v}", targets.sidecar), "check the sidecar's log"),
        Err(e) => Check::fail(
            NAME,
            format!("{}/healthz is unreachable: {e}", targets.sidecar),
            "start `miniagent sidecar` (CODEX_SIDECAR_ECHO=1 for a smoke test), or fix CODEX_AGENT_API_BASE",
        ),
    }
}

fn auth_check(targets: &Targets, sidecar_echo: bool, auth_required: bool) -> Check {
    const NAME: &str = "auth file";
    let path = targets.auth_path.display();
    if targets.auth_path.exists() {
        Check::ok(NAME, format!("{path} is present"))
    } else if sidecar_echo {
        Check::ok(NAME, format!("{path} is absent, which is fine in echo mode"))
    } else if !auth_required {
        Check::ok(
            NAME,
            format!("{path} is absent, which is fine: CODEX_REQUIRE_AUTH_FILE=0 (Codex authenticates by key)"),
        )
    } else {
        Check::fail(
            NAME,
            format!("{path} is missing and echo mode is off: the sidecar answers 401"),
            "mount ~/.codex/auth.json into the container (/root/.codex/auth.json:ro) or set CODEX_AUTH_PATH (or CODEX_HOME); \
             CODEX_REQUIRE_AUTH_FILE=0 when Codex's provider authenticates by key; or re-enable echo with CODEX_SIDECAR_ECHO=1",
        )
    }
}

fn enabled_check(config: &Config) -> Check {
    const NAME: &str = "codex-agent enabled";
    if config.providers.codex.enabled {
        Check::ok(NAME, "LITELLM_ENABLE_CODEX_AGENT is set; read once at process start, so import order cannot matter")
    } else {
        Check::fail(
            NAME,
            "neither LITELLM_ENABLE_CODEX_AGENT nor SCILLM_ENABLE_CODEX_AGENT is 1",
            "export LITELLM_ENABLE_CODEX_AGENT=1 (read at process start: restart the process after changing it)",
        )
    }
}

fn base_check(config: &Config) -> Check {
    const NAME: &str = "codex-agent base";
    match config.providers.codex.api_base.as_deref().map(str::trim) {
        None => Check::fail(
            NAME,
            "CODEX_AGENT_API_BASE is not set",
            "export CODEX_AGENT_API_BASE=http://127.0.0.1:8077 (no /v1)",
        ),
        Some(b) if codex_base(b).1 => Check::fail(
            NAME,
            format!("CODEX_AGENT_API_BASE={b} ends in /v1; the provider appends /v1 itself"),
            format!("remove /v1: export CODEX_AGENT_API_BASE={}", codex_base(b).0),
        ),
        Some(b) => Check::ok(NAME, format!("CODEX_AGENT_API_BASE={b} (no /v1)")),
    }
}

/// Two parallel completions through codex-agent, when it is configured.
async fn parallel_probe(config: &Config) -> Option<Vec<Value>> {
    let codex = &config.providers.codex;
    if !(codex.enabled && codex.api_base.is_some()) {
        return None;
    }
    let providers = config.build_providers().ok()?;
    let requests: Vec<Value> = (0..2)
        .map(|i| json!({"model": "codex-agent/doctor-probe", "messages": [{"role": "user", "content": format!("doctor probe {i}")}]}))
        .collect();
    let options = ParallelOptions { concurrency: 2, ..ParallelOptions::default() };
    complete_all(&providers, requests, &options).await.ok()
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
            Status::Warn => "warn",
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
