//! Server configuration, assembled once at startup from each module's own settings.
//!
//! Every module owns its settings and reads them with `from_env` (see [`crate::env`] for the
//! rules); this module only puts them together, applies the flags (which win over the
//! environment), and loads the router config file. Handlers never read the environment: tests
//! build a [`Config`] from pairs instead of mutating the process environment, which every test
//! thread shares.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::agent::settings::LoopEnv;
use crate::api::RunLimits;
use crate::auth::keys::KeyRing;
use crate::auth::redis::RedisSettings;
use crate::env::Env;
use crate::listen::Listen;
use crate::openai::settings::ShimSettings;
use crate::outbound::UrlPolicy;
use crate::process::sandbox::SandboxSettings;
use crate::provider::client::Providers;
use crate::provider::router::RouterConfig;
use crate::provider::settings::ProviderSettings;
use crate::telemetry::TelemetrySettings;
use crate::tools::http::HttpToolSettings;
use crate::tools::local::LocalSettings;
use crate::tools::mcp::McpSettings;
use crate::trace::TraceSettings;

/// Default listen port of `miniagent serve`.
pub(crate) const DEFAULT_PORT: u16 = 8788;

/// What the command line said; each flag, when given, wins over its environment variable.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `--config`, else `MINI_AGENT_CONFIG`.
    pub config: Option<PathBuf>,
    pub max_body_bytes: Option<usize>,
    /// `--demo`: the dummy model and the echo shim, no keys needed.
    pub demo: bool,
    /// `--insecure-no-auth`: allow a non-loopback bind without keys.
    pub insecure_no_auth: bool,
}

/// Everything `miniagent serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Listen,
    /// `MINI_AGENT_API_KEYS` / `MINI_AGENT_API_KEYS_FILE`; empty means no authentication (and then
    /// only loopback may be bound).
    pub keys: KeyRing,
    pub shim: ShimSettings,
    pub providers: ProviderSettings,
    pub traces: TraceSettings,
    pub router: RouterConfig,
    pub local_tools: LocalSettings,
    /// Where tools run: bubblewrap, limits, the environment allowlist.
    pub sandbox: SandboxSettings,
    pub http_tools: HttpToolSettings,
    pub mcp_tools: McpSettings,
    /// Where request-given tool server URLs may point (`MINI_AGENT_TOOL_URL_ALLOW`).
    pub outbound: UrlPolicy,
    pub loop_env: LoopEnv,
    /// How far a request may push the loop (`MINI_AGENT_MAX_ITERATIONS_CAP`, …).
    pub run_limits: RunLimits,
    /// Metrics on or off (`MINI_AGENT_METRICS`).
    pub telemetry: TelemetrySettings,
    /// Where per-key limits are counted when replicas share them (`MINI_AGENT_REDIS_*`).
    pub redis: RedisSettings,
    /// Settings that could not be understood; a server refuses to start while any are listed.
    pub problems: Vec<String>,
}

/// The `hints` object of `/ready` and `/healthz`: whether settings are present, never their values.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hints {
    #[serde(rename = "OPENAI_API_KEY")]
    pub openai_api_key: bool,
    #[serde(rename = "OLLAMA_BASE_URL")]
    pub ollama_base_url: bool,
    #[serde(rename = "LITELLM_DEFAULT_MODEL")]
    pub litellm_default_model: bool,
    #[serde(rename = "MINI_AGENT_OPENAI_SHIM_MODE")]
    pub shim_mode: String,
}

impl Config {
    /// Reads every setting through `var` and applies `flags`.
    pub fn load(var: impl Fn(&str) -> Option<String>, flags: &Flags) -> Self {
        let env = Env::new(&var);
        let mut listen = Listen::resolve(&env, "MINI_AGENT_API", DEFAULT_PORT, flags.host.clone(), flags.port);
        listen.max_body_bytes = flags.max_body_bytes.unwrap_or(listen.max_body_bytes);
        listen.insecure_no_auth = flags.insecure_no_auth;
        let router_path = flags.config.clone().or_else(|| env.get("MINI_AGENT_CONFIG").map(PathBuf::from));
        let router = match &router_path {
            Some(path) => RouterConfig::load(path, &var).unwrap_or_else(|e| {
                env.problem(e.to_string());
                RouterConfig::default()
            }),
            None => RouterConfig::default(),
        };
        let listen_host = listen.host.clone();
        let mut config = Self {
            listen,
            keys: KeyRing::from_env(&env),
            shim: ShimSettings::from_env(&env),
            providers: ProviderSettings::from_env(&env),
            traces: TraceSettings::from_env(&env),
            router,
            local_tools: LocalSettings::from_env(&env),
            sandbox: SandboxSettings::from_env(&env),
            http_tools: HttpToolSettings::from_env(&env),
            mcp_tools: McpSettings::from_env(&env),
            outbound: UrlPolicy::from_env(&env, &listen_host),
            loop_env: LoopEnv::from_env(&env),
            run_limits: RunLimits::from_env(&env),
            telemetry: TelemetrySettings::from_env(&env),
            redis: RedisSettings::from_env(&env),
            problems: Vec::new(),
        };
        config.problems = env.into_problems();
        // Tools must not read the server's own secrets: the keys file, the router config (it can
        // hold provider keys) and the traces (conversations).
        let secret_files = [config.keys.source.clone(), router_path, config.traces.path.clone()];
        config.sandbox.hide_files(secret_files.into_iter().flatten());
        // A tool with the network on must not reach the server's Redis (it would reset every limit).
        if let Some(url) = config.redis.url.as_ref().and_then(|u| url::Url::parse(u.expose()).ok())
            && let Some(host) = url.host_str()
        {
            use std::net::ToSocketAddrs;
            let port = url.port().unwrap_or(6379);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            config.sandbox.network_deny.extend((host, port).to_socket_addrs().into_iter().flatten().map(|a| a.ip()));
        }
        if flags.demo {
            config.enable_demo();
        }
        config
    }

    /// Every setting through `var`, no flags.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        Self::load(var, &Flags::default())
    }

    /// The process environment.
    #[expect(
        clippy::disallowed_methods,
        reason = "the service's settings come from the process environment here and nowhere else"
    )]
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// A config from explicit pairs, everything else unset: the form tests use.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let map: HashMap<String, String> = pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Self::from_lookup(|name| map.get(name).cloned())
    }

    /// The newcomer's setup behind `serve --demo`: the dummy model and the echo shim, no keys needed.
    pub fn enable_demo(&mut self) {
        self.providers.allow_dummy = true;
        self.shim.mode = crate::openai::settings::Mode::Echo;
    }

    /// The model providers this config describes (settings, aliases, one HTTP client).
    pub fn build_providers(&self) -> Result<Providers, reqwest::Error> {
        Providers::new(self.providers.clone(), self.router.clone())
    }

    pub fn hints(&self) -> Hints {
        Hints {
            openai_api_key: self.providers.openai_api_key.is_some(),
            ollama_base_url: self.providers.ollama_base_url.is_some(),
            litellm_default_model: self.providers.default_model.is_some(),
            shim_mode: self.shim.mode.name().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The server's own secret files — the keys file, the router file, the traces — are hidden
    /// from tools, by their absolute paths.
    #[test]
    fn the_servers_secret_files_are_hidden_from_tools() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = dir.path().join("keys.yaml");
        std::fs::write(&keys, "keys: []\n").expect("write");
        let (keys_s, traces) = (keys.display().to_string(), dir.path().join("traces.jsonl").display().to_string());
        let cfg = Config::from_pairs([
            ("MINI_AGENT_API_KEYS_FILE", keys_s.as_str()),
            ("MINI_AGENT_CONFIG", "router.yaml"),
            ("MINI_AGENT_STORE_TRACES", "1"),
            ("MINI_AGENT_STORE_PATH", traces.as_str()),
        ]);
        let router = std::env::current_dir().expect("cwd").join("router.yaml");
        for path in [keys, router, PathBuf::from(traces)] {
            assert!(cfg.sandbox.hide.contains(&path), "{path:?} not in {:?}", cfg.sandbox.hide);
        }
    }

    #[test]
    fn empty_values_count_as_unset_and_flags_accept_common_truthy_words() {
        let cfg = Config::from_pairs([
            ("OPENAI_API_KEY", ""),
            ("MINI_AGENT_ALLOW_DUMMY", "true"),
            ("MINI_AGENT_OPENAI_ECHO", "1"),
        ]);
        assert!(cfg.providers.openai_api_key.is_none());
        assert!(cfg.providers.allow_dummy);
        assert_eq!(cfg.hints().shim_mode, "echo");
    }

    #[test]
    fn traces_need_both_the_switch_and_the_path() {
        assert!(Config::from_pairs([("MINI_AGENT_STORE_PATH", "/tmp/x")]).traces.path.is_none());
        let cfg = Config::from_pairs([("MINI_AGENT_STORE_TRACES", "1"), ("MINI_AGENT_STORE_PATH", "/tmp/x")]);
        assert_eq!(cfg.traces.path, Some(PathBuf::from("/tmp/x")));
    }

    #[test]
    fn secrets_never_print() {
        let cfg = Config::from_pairs([("OPENAI_API_KEY", "sk-very-secret")]);
        let dumped = format!("{cfg:?}");
        assert!(!dumped.contains("sk-very-secret"), "{dumped}");
        assert!(cfg.hints().openai_api_key);
    }

    #[test]
    fn tool_settings() {
        let cfg =
            Config::from_pairs([("MINI_AGENT_SHELL_ALLOW", "echo, ls,,"), ("MINI_AGENT_TOOL_TIMEOUT_SEC", "2.5")]);
        assert_eq!(cfg.local_tools.shell_allow, ["echo", "ls"]);
        assert_eq!(cfg.local_tools.timeout, Duration::from_millis(2500));
        assert_eq!(Config::from_pairs([]).local_tools.shell_allow, ["echo"]);
    }

    #[test]
    fn tool_http_headers_parse_or_become_a_startup_problem() {
        let cfg = Config::from_pairs([
            ("MINI_AGENT_TOOL_HTTP_HEADERS", r#"{"Authorization":"Bearer x","X-A":"1"}"#),
            ("MINI_AGENT_TOOL_HTTP_DEFAULT_BASE", "http://127.0.0.1:9100"),
        ]);
        assert_eq!(cfg.http_tools.default_headers.len(), 2);
        assert!(cfg.problems.is_empty());
        let cfg = Config::from_pairs([("MINI_AGENT_TOOL_HTTP_HEADERS", "not json")]);
        assert_eq!(cfg.problems.len(), 1);
        assert!(cfg.problems[0].contains("MINI_AGENT_TOOL_HTTP_HEADERS"), "{:?}", cfg.problems);
    }

    #[test]
    fn a_bad_number_is_a_startup_problem_that_names_the_variable() {
        let cfg = Config::from_pairs([("MINI_AGENT_API_PORT", "eighty"), ("MINI_AGENT_OPENAI_SHIM_DELAY_MS", "-3")]);
        assert_eq!(cfg.problems.len(), 2, "{:?}", cfg.problems);
        assert!(cfg.problems[0].contains("MINI_AGENT_API_PORT") && cfg.problems[0].contains("eighty"));
        assert!(cfg.problems[1].contains("MINI_AGENT_OPENAI_SHIM_DELAY_MS"));
    }

    #[test]
    fn flags_win_over_the_environment_and_skip_its_problems() {
        let flags = Flags { port: Some(9), host: Some("127.0.0.2".into()), ..Flags::default() };
        let cfg = Config::load(|k| (k == "MINI_AGENT_API_PORT").then(|| "eighty".to_owned()), &flags);
        assert_eq!((cfg.listen.host.as_str(), cfg.listen.port), ("127.0.0.2", 9));
        assert!(cfg.problems.is_empty(), "{:?}", cfg.problems);
    }

    #[test]
    fn a_router_file_that_cannot_be_read_is_a_startup_problem() {
        let flags = Flags { config: Some(PathBuf::from("/nonexistent/router.yaml")), ..Flags::default() };
        let cfg = Config::load(|_| None, &flags);
        assert!(cfg.problems.iter().any(|p| p.contains("/nonexistent/router.yaml")), "{:?}", cfg.problems);
    }
}
