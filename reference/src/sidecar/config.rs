//! The sidecar's settings, from its environment: every variable it reads is parsed here, once.
//!
//! The auth file is where Codex keeps it: `CODEX_AUTH_PATH` when set, else `$CODEX_HOME/auth.json`
//! (Codex's own home, when the operator moved it), else `~/.codex/auth.json`. A Codex whose
//! provider authenticates by an `env_key` needs no auth file: `CODEX_REQUIRE_AUTH_FILE=0` says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cli::{CliSettings, InputMode};
use crate::env::Env;

/// The CLI when `CODEX_CMD` is unset: Codex, non-interactive, JSONL out, and able to run outside a
/// git repository (a sidecar's working directory seldom is one).
pub(super) const DEFAULT_CMD: &str = "codex exec --json --skip-git-repo-check";

/// What the runbook says when credentials are missing.
pub fn auth_advice(path: &Path) -> String {
    format!(
        "codex auth file not found at {}: mount ~/.codex/auth.json into the container \
         (-v ~/.codex/auth.json:/root/.codex/auth.json:ro) or set CODEX_AUTH_PATH (or CODEX_HOME); \
         a Codex provider that authenticates by key needs none: set CODEX_REQUIRE_AUTH_FILE=0; \
         for a local smoke test without credentials set CODEX_SIDECAR_ECHO=1",
        path.display()
    )
}

#[derive(Debug, Clone)]
pub struct SidecarConfig {
    pub echo: bool,
    pub auth_path: PathBuf,
    /// `CODEX_REQUIRE_AUTH_FILE` (on): requests need the auth file.
    pub require_auth_file: bool,
    pub cli: CliSettings,
    pub max_concurrency: usize,
    pub keepalive: Duration,
    /// Settings that could not be understood; the sidecar refuses to start while any are listed.
    pub problems: Vec<String>,
}

impl SidecarConfig {
    pub fn from_env(env: &Env) -> Self {
        let secs = |name: &str, default: u64| env.secs(name, Duration::from_secs(default));
        let cmd = env.get("CODEX_CMD").unwrap_or_else(|| DEFAULT_CMD.to_owned());
        let argv = shell_words::split(&cmd).unwrap_or_else(|e| {
            env.problem(format!("CODEX_CMD cannot be split into words: {e}"));
            Vec::new()
        });
        if shell_words::split(&cmd).is_ok() && argv.first().is_none_or(|p| p.trim().is_empty()) {
            env.problem(format!("CODEX_CMD names no program: {cmd:?}"));
        }
        let input = env.get("CODEX_INPUT_MODE").map_or(InputMode::Stdin, |m| {
            InputMode::parse(&m).unwrap_or_else(|| {
                env.problem(format!("CODEX_INPUT_MODE must be stdin, flag or json, got {m:?}"));
                InputMode::Stdin
            })
        });
        let home = env.get("HOME").unwrap_or_else(|| "/root".to_owned());
        let codex_home = env.get("CODEX_HOME").map_or_else(|| PathBuf::from(home).join(".codex"), PathBuf::from);
        Self {
            echo: env.flag("CODEX_SIDECAR_ECHO"),
            auth_path: env.get("CODEX_AUTH_PATH").map_or_else(|| codex_home.join("auth.json"), PathBuf::from),
            require_auth_file: env.switch("CODEX_REQUIRE_AUTH_FILE", true),
            cli: CliSettings {
                argv,
                input,
                abs_timeout: secs("ABS_TIMEOUT_S", 90),
                idle_timeout: secs("IDLE_TIMEOUT_S", 25),
                retries: env.parse("RETRIES", 1, "a number of retries (0 or more)"),
                cwd: env.get("CODEX_WORKDIR").map(PathBuf::from),
            },
            max_concurrency: env.parse_where("MAX_CONCURRENCY", 4, "an integer ≥ 1", |n| *n >= 1),
            keepalive: secs("MINI_AGENT_SSE_KEEPALIVE_SEC", 10),
            problems: Vec::new(),
        }
    }

    /// Every setting through `var`; problems are collected in `problems`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let env = Env::new(&var);
        let mut config = Self::from_env(&env);
        config.problems = env.into_problems();
        config
    }

    /// Whether requests are refused for want of the auth file (not in echo mode, not when the file
    /// is not required).
    pub fn auth_missing(&self) -> bool {
        !self.echo && self.require_auth_file && !self.auth_path.exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> SidecarConfig {
        SidecarConfig::from_lookup(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn settings_from_the_environment() {
        let c = config(&[
            ("CODEX_CMD", "python3 'my fake.py' --json"),
            ("CODEX_INPUT_MODE", "flag"),
            ("MAX_CONCURRENCY", "2"),
            ("HOME", "/home/u"),
        ]);
        assert_eq!(c.cli.argv, ["python3", "my fake.py", "--json"]);
        assert_eq!((c.cli.input, c.max_concurrency), (InputMode::Flag, 2));
        assert_eq!(c.auth_path, PathBuf::from("/home/u/.codex/auth.json"));
        assert!(c.require_auth_file);
        assert_eq!(
            (c.cli.abs_timeout, c.cli.idle_timeout, c.cli.retries),
            (Duration::from_secs(90), Duration::from_secs(25), 1)
        );
        assert_eq!(config(&[("CODEX_INPUT_MODE", "carrier-pigeon")]).problems.len(), 1);
        assert_eq!(config(&[("CODEX_REQUIRE_AUTH_FILE", "perhaps")]).problems.len(), 1);
    }

    #[test]
    fn the_auth_file_lives_in_codex_home_and_may_not_be_needed() {
        let c = config(&[("HOME", "/home/u"), ("CODEX_HOME", "/srv/codex")]);
        assert_eq!(c.auth_path, PathBuf::from("/srv/codex/auth.json"));
        assert!(c.auth_missing());
        let c = config(&[("CODEX_HOME", "/srv/codex"), ("CODEX_AUTH_PATH", "/run/auth.json")]);
        assert_eq!(c.auth_path, PathBuf::from("/run/auth.json"), "an explicit path wins");
        assert!(!config(&[("CODEX_HOME", "/srv/codex"), ("CODEX_REQUIRE_AUTH_FILE", "0")]).auth_missing());
        assert_eq!(config(&[]).cli.argv, ["codex", "exec", "--json", "--skip-git-repo-check"]);
    }
}
