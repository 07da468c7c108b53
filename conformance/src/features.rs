//! Features — what a case needs from the target beyond the core routes — and the one declared table
//! that says, per feature, what it means, the environment a target must be started with to have it,
//! what else it takes, and how the runner discovers it (gateway-api's "manifests").
//!
//! Everything that describes a target's setup reads this table: the in-process adapter of the tests
//! builds the reference's configuration from it, skip messages and the report's summary quote it,
//! `conformance features` prints it, and the README's table is its Markdown rendering (a test keeps
//! them equal). It does not probe anything itself (see `probe`).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::probe::each::{self, ProbeFn};
use crate::routing::RouterFile;

/// `MINI_AGENT_TOOL_HTTP_HEADERS` for the `tool-env-headers` feature.
pub const ENV_TOOL_HEADERS: &str = r#"{"X-Env-Header":"from-env","X-Override":"env"}"#;

/// The environment of the `tool-env-headers` feature: the headers, and the one tools server they
/// are for (the suite's HTTP tools fake).
const TOOL_ENV_HEADERS_ENV: &[(&str, &str)] =
    &[("MINI_AGENT_TOOL_HTTP_HEADERS", ENV_TOOL_HEADERS), ("MINI_AGENT_TOOL_HTTP_DEFAULT_BASE", "{tools_fake_base}")];

/// The OpenAI key the table gives targets, so cases can check its value never leaks.
pub const SECRET_KEY: &str = "sk-conformance-secret-7f3a9c";

pub use crate::transport::AUTH_KEY;
/// A key that may only run `tool_backend: "echo"` (named `conf-echo-only`).
pub const AUTH_ECHO_ONLY_KEY: &str = "sk-conformance-echo-only";
/// A key limited to 2 requests per minute (named `conf-rpm-2`).
pub const AUTH_RPM_KEY: &str = "sk-conformance-rpm-2";
/// The limit of [`AUTH_RPM_KEY`].
pub const AUTH_RPM: u32 = 2;

/// The keys file of the `auth` feature (CONTRACT §11's shape), written by the suite where
/// `--keys-file` says. JSON, which is YAML too, so the file may have either extension.
pub const KEYS_FILE_JSON: &str = r#"{"keys":[{"key":"sk-conformance-full","name":"conf-full"},{"key":"sk-conformance-echo-only","name":"conf-echo-only","backends":["echo"]},{"key":"sk-conformance-rpm-2","name":"conf-rpm-2","rpm":2}]}"#;

/// Where the suite writes the keys file when no `--keys-file` is given: a fixed path, so a target
/// started once with it keeps working for every later run.
pub fn default_keys_file() -> PathBuf {
    std::env::temp_dir().join("miniagent-conformance-keys.json")
}

pub use crate::socket::SLOW_CLIENT_TIMEOUT_SECS;

/// `MINI_AGENT_TOOL_URL_ALLOW` for the `url-allowlist` feature: the suite's fakes (loopback) — and
/// the metadata address, so the cases can show that link-local stays refused even when listed.
pub const URL_ALLOW: &str = "127.0.0.0/8,169.254.169.254";

/// Not a feature: settings that keep the timeout cases short (a hanging tool, a hanging tools
/// server). Without them those cases still pass, after the contract's default timeouts.
pub const FAST_TIMEOUTS: &[(&str, &str)] =
    &[("MINI_AGENT_TOOL_TIMEOUT_SEC", "2"), ("MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC", "2")];

/// Declares [`Feature`] and [`Feature::ALL`] from one list of names, so the list is the enum and
/// cannot drift from it; each name's row is an arm of the exhaustive `match` in [`Feature::spec`],
/// which the compiler holds to every variant. Adding a feature: a name here, a row below.
macro_rules! features {
    ($($name:ident),* $(,)?) => {
        /// Something a case needs from the target beyond the core routes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Feature {
            $($name),*
        }

        impl Feature {
            /// Every feature, in declaration order (the table's order).
            pub const ALL: &'static [Feature] = &[$(Self::$name),*];
        }
    };
}

features! {
    Dummy,
    ShimEcho,
    ShimNoProvider,
    ProviderFake,
    Traces,
    LocalTools,
    ShortcircuitChutes,
    ToolEnvHeaders,
    ExecRpc,
    Mcp,
    Auth,
    SlowClients,
    UrlAllowlist,
    OpenaiProxy,
    ProviderTimeout,
    ResponsesHostedReject,
    ResponsesPassthrough,
    Router,
    RouterLeastBusy,
    RouterLatency,
    RouterUsage,
    AnthropicUpstream,
}

/// How `conformance run` finds out whether a target has a feature when `--features` is absent.
#[derive(Clone, Copy)]
pub enum Discovery {
    /// A probe, sent (with every other probe ready at that moment) once each feature of `after`
    /// answered, and not sent when one did not: it scripts through it, or is only worth asking then.
    Probe { after: &'static [Feature], probe: ProbeFn },
    /// A probe sent after all the others, alone: it may have to recognise its effect by position.
    Alone(ProbeFn),
    /// Never probed: an argument gives it (`--exec-rpc-url`, `--mcp-python`).
    Argument,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Probe { after, .. } => f.debug_struct("Probe").field("after", after).finish_non_exhaustive(),
            Self::Alone(_) => f.write_str("Alone"),
            Self::Argument => f.write_str("Argument"),
        }
    }
}

/// Whether the reference, run in-process by the tests (`conformance/tests/support`), is started
/// with a feature's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InProcess {
    /// Every in-process target has it (but one a case wants without any provider).
    Always,
    /// Only a case that needs it gets it: a switch the other cases must not see.
    OnRequest,
    /// Only a case that needs it, and then instead of these (a server has one OpenAI-surface mode).
    Instead(&'static [Feature]),
    /// Only a case that needs it, and then alone: a target without any provider.
    Alone,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct FeatureSpec {
    pub name: &'static str,
    /// One line: what the target does when it has the feature.
    pub description: &'static str,
    /// The environment the target must be started with; values may name `{provider_fake_base}`,
    /// `{trace_file}` and `{keys_file}` (see [`Setup::render`]).
    pub env: &'static [(&'static str, &'static str)],
    /// What else it takes, as the end of a sentence starting "to enable: …".
    pub enable: &'static str,
    /// How `conformance run` finds out when `--features` is not given, in words …
    pub discovery: &'static str,
    /// … and as the probe it sends.
    pub probe: Discovery,
    /// Whether the in-process tests start the reference with it.
    pub in_process: InProcess,
}

impl Feature {
    /// The feature's row: an exhaustive `match`, so a new feature cannot lack one. The rows are
    /// the consts below, in this order (one screenful of index, however long the rows grow).
    pub const fn spec(self) -> FeatureSpec {
        match self {
            Self::Dummy => DUMMY,
            Self::ShimEcho => SHIM_ECHO,
            Self::ShimNoProvider => SHIM_NO_PROVIDER,
            Self::ProviderFake => PROVIDER_FAKE,
            Self::Traces => TRACES,
            Self::LocalTools => LOCAL_TOOLS,
            Self::ShortcircuitChutes => SHORTCIRCUIT_CHUTES,
            Self::ToolEnvHeaders => TOOL_ENV_HEADERS,
            Self::ExecRpc => EXEC_RPC,
            Self::Mcp => MCP,
            Self::Auth => AUTH,
            Self::SlowClients => SLOW_CLIENTS,
            Self::UrlAllowlist => URL_ALLOWLIST,
            Self::OpenaiProxy => OPENAI_PROXY,
            Self::ProviderTimeout => PROVIDER_TIMEOUT,
            Self::ResponsesHostedReject => RESPONSES_HOSTED_REJECT,
            Self::ResponsesPassthrough => RESPONSES_PASSTHROUGH,
            Self::Router => ROUTER,
            Self::RouterLeastBusy => ROUTER_LEAST_BUSY,
            Self::RouterLatency => ROUTER_LATENCY,
            Self::RouterUsage => ROUTER_USAGE,
            Self::AnthropicUpstream => ANTHROPIC_UPSTREAM,
        }
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name.trim())
    }

    /// "start the target with K=V …; <what else>", for skip messages and the report's summary.
    pub fn how_to_enable(self, setup: &Setup) -> String {
        let spec = self.spec();
        let env = setup.env_line(spec.env);
        match (env.is_empty(), spec.enable.is_empty()) {
            (true, _) => spec.enable.to_owned(),
            (false, true) => format!("start the target with {env}"),
            (false, false) => format!("start the target with {env}; {}", spec.enable),
        }
    }
}

/// A probe that needs nothing first.
const fn probe(probe: ProbeFn) -> Discovery {
    Discovery::Probe { after: &[], probe }
}

/// A probe sent once `after` answered.
const fn probe_after(after: &'static [Feature], probe: ProbeFn) -> Discovery {
    Discovery::Probe { after, probe }
}

/// The table, a row per feature.
const DUMMY: FeatureSpec = FeatureSpec {
    name: "dummy",
    description: "the `dummy` model answers `Dummy mini-agent response` without a provider",
    env: &[("MINI_AGENT_ALLOW_DUMMY", "1")],
    enable: "",
    discovery: "an echo run on model `dummy` answers 200",
    probe: probe(|ctx| Box::pin(each::dummy(ctx))),
    in_process: InProcess::Always,
};

const SHIM_ECHO: FeatureSpec = FeatureSpec {
    name: "shim-echo",
    description: "the OpenAI shim runs in echo mode with the default reply `shim ok`",
    env: &[("MINI_AGENT_OPENAI_SHIM_MODE", "echo")],
    enable: "",
    discovery: "`POST /v1/chat/completions` answers `shim ok`",
    probe: probe(|ctx| Box::pin(each::shim_echo(ctx))),
    in_process: InProcess::Always,
};

const SHIM_NO_PROVIDER: FeatureSpec = FeatureSpec {
    name: "shim-no-provider",
    description: "no provider, no echo mode and no dummy model are configured",
    env: &[],
    enable: "run these cases against a second instance started without OPENAI_API_KEY, \
             OPENAI_API_BASE, OLLAMA_BASE_URL, MINI_AGENT_ALLOW_DUMMY or MINI_AGENT_OPENAI_SHIM_MODE",
    discovery: "`/ready` hints show no provider and the shim answers 400 with guidance",
    probe: probe(|ctx| Box::pin(each::no_provider(ctx))),
    in_process: InProcess::Alone,
};

const PROVIDER_FAKE: FeatureSpec = FeatureSpec {
    name: "provider-fake",
    description: "`openai/…` models go to the suite's scripted provider fake",
    env: &[("OPENAI_API_BASE", "{provider_fake_base}"), ("OPENAI_API_KEY", SECRET_KEY)],
    enable: "fix the fake's address with --provider-fake-addr",
    discovery: "a run on `openai/conformance-probe` reaches the provider fake with its marker",
    probe: probe(|ctx| Box::pin(each::provider(ctx))),
    in_process: InProcess::Always,
};

const TRACES: FeatureSpec = FeatureSpec {
    name: "traces",
    description: "each `/agent/run` appends one JSON line to a trace file the suite can read",
    env: &[("MINI_AGENT_STORE_TRACES", "1"), ("MINI_AGENT_STORE_PATH", "{trace_file}")],
    enable: "pass the same file as --trace-file",
    discovery: "after a probe run, its line appears in --trace-file",
    probe: Discovery::Alone(|ctx| Box::pin(each::traces(ctx))),
    in_process: InProcess::OnRequest,
};

const LOCAL_TOOLS: FeatureSpec = FeatureSpec {
    name: "local-tools",
    description: "the `local` backend runs the agent loop with local tools (`python3` on the target's machine)",
    env: &[],
    enable: "needs provider-fake (the tool calls are scripted through it)",
    discovery: "a scripted `exec_python` call comes back with the tool's stdout",
    probe: probe_after(&[Feature::ProviderFake], |ctx| Box::pin(each::local_tools(ctx))),
    in_process: InProcess::Always,
};

const SHORTCIRCUIT_CHUTES: FeatureSpec = FeatureSpec {
    name: "shortcircuit-chutes",
    description: "testing only: an escalation to `chutes/…` is not sent",
    env: &[("NDSMOKE_SHORTCIRCUIT_CHUTES", "1")],
    enable: "needs provider-fake",
    discovery: "a budget escalation to `chutes/…` ends escalated without a call",
    probe: probe_after(&[Feature::ProviderFake], |ctx| Box::pin(each::shortcircuit(ctx))),
    in_process: InProcess::OnRequest,
};

const TOOL_ENV_HEADERS: FeatureSpec = FeatureSpec {
    name: "tool-env-headers",
    description: "the operator's headers for its own HTTP tools server come from the environment",
    env: TOOL_ENV_HEADERS_ENV,
    enable: "needs provider-fake",
    discovery: "an `http` run against the HTTP tools fake (the configured default base) carries `X-Env-Header: from-env`",
    probe: probe_after(&[Feature::ProviderFake], |ctx| Box::pin(each::env_headers(ctx))),
    in_process: InProcess::Always,
};

const EXEC_RPC: FeatureSpec = FeatureSpec {
    name: "exec-rpc",
    description: "the implementation's exec-RPC server (§7) is reachable",
    env: &[],
    enable: "pass --exec-rpc-url with its address",
    discovery: "by argument only: --exec-rpc-url",
    probe: Discovery::Argument,
    in_process: InProcess::Always,
};

const MCP: FeatureSpec = FeatureSpec {
    name: "mcp",
    description: "the suite runs a real MCP server for `tool_backend: \"mcp\"`",
    env: &[],
    enable: "pass --mcp-python with a Python that has the `mcp` package (needs provider-fake)",
    discovery: "by argument only: --mcp-python",
    probe: Discovery::Argument,
    in_process: InProcess::Always,
};

const AUTH: FeatureSpec = FeatureSpec {
    name: "auth",
    description: "API keys from the suite's keys file guard every route but `/ready`, `/healthz` and \
                  `/metrics`; one key may only run `echo`, one has `rpm: 2`",
    env: &[("MINI_AGENT_API_KEYS_FILE", "{keys_file}")],
    enable: "the suite writes that file where --keys-file says (`conformance keys-file PATH` writes it \
             before the target starts) and sends its full key with every request",
    discovery: "`GET /v1/models` without a key answers 401",
    probe: probe(|ctx| Box::pin(each::auth(ctx))),
    in_process: InProcess::OnRequest,
};

const SLOW_CLIENTS: FeatureSpec = FeatureSpec {
    name: "slow-clients",
    description: "a request head or body not sent in time ends with a 408 or a closed connection",
    env: &[("MINI_AGENT_HEADER_TIMEOUT_SEC", "2"), ("MINI_AGENT_BODY_TIMEOUT_SEC", "2")],
    enable: "the target must be reached over plain HTTP (the suite writes raw bytes to its socket)",
    discovery: "half a request head is closed or answered 408 within 4 s",
    probe: probe(|ctx| Box::pin(each::slow_clients(ctx))),
    in_process: InProcess::OnRequest,
};

const URL_ALLOWLIST: FeatureSpec = FeatureSpec {
    name: "url-allowlist",
    description: "tool server URLs from requests are checked against an allowlist; link-local never \
                  passes",
    env: &[("MINI_AGENT_TOOL_URL_ALLOW", URL_ALLOW)],
    enable: "the list lets the suite's fakes (loopback) through and names the metadata address, which \
             must stay refused",
    discovery: "a `tool_http_base_url` of `http://192.0.2.1:9/` answers 400 naming \
                MINI_AGENT_TOOL_URL_ALLOW",
    probe: probe(|ctx| Box::pin(each::url_allowlist(ctx))),
    in_process: InProcess::OnRequest,
};

const OPENAI_PROXY: FeatureSpec = FeatureSpec {
    name: "openai-proxy",
    description: "the OpenAI surface proxies `openai/…` and bare model names to the provider fake (not echo mode)",
    env: &[
        ("OPENAI_API_BASE", "{provider_fake_base}"),
        ("OPENAI_API_KEY", SECRET_KEY),
        ("MINI_AGENT_OPENAI_SHIM_MODE", "proxy"),
    ],
    enable: "not with shim-echo: run the `openai` profile against an instance without echo mode",
    discovery: "a chat completion on `openai/conformance-probe` answers what the provider fake was scripted to",
    probe: probe(|ctx| Box::pin(each::openai_proxy(ctx))),
    in_process: InProcess::Instead(&[Feature::ShimEcho]),
};

const PROVIDER_TIMEOUT: FeatureSpec = FeatureSpec {
    name: "provider-timeout",
    description: "a provider that sends no answer within 1 s is given up on (a 504), so the no-answer cases are short",
    env: &[("MINI_AGENT_PROVIDER_TIMEOUT_SEC", "1")],
    enable: "needs openai-proxy",
    discovery: "a chat completion whose answer the provider fake holds back for 4 s is a 504 within 3.5 s",
    probe: probe_after(&[Feature::OpenaiProxy], |ctx| Box::pin(each::provider_timeout(ctx))),
    in_process: InProcess::OnRequest,
};

const RESPONSES_HOSTED_REJECT: FeatureSpec = FeatureSpec {
    name: "responses-hosted-reject",
    description: "`/v1/responses` refuses hosted tools (`web_search` …) with a 400 instead of dropping them with a warning",
    env: &[("MINI_AGENT_RESPONSES_HOSTED_TOOLS", "reject")],
    enable: "needs openai-proxy; run these cases against a second instance (the default drops hosted tools)",
    discovery: "a Responses request offering `web_search` answers 400 naming `tools[0]`",
    probe: probe_after(&[Feature::OpenaiProxy], |ctx| Box::pin(each::responses_reject(ctx))),
    in_process: InProcess::OnRequest,
};

const RESPONSES_PASSTHROUGH: FeatureSpec = FeatureSpec {
    name: "responses-passthrough",
    description: "`/v1/responses` goes to the provider's own `/responses`, its answer relayed byte for byte",
    env: &[("MINI_AGENT_RESPONSES_MODE", "passthrough")],
    enable: "needs openai-proxy; run these cases against a second instance (the bridge is the default for a \
             provider that is not OpenAI itself)",
    discovery: "a Responses request reaches the provider fake at `/v1/responses`",
    probe: probe_after(&[Feature::OpenaiProxy], |ctx| Box::pin(each::responses_passthrough(ctx))),
    in_process: InProcess::OnRequest,
};

/// The `router` profile's rows: one router file per strategy (a file has one), written by the suite
/// with the router fakes' addresses (see `routing`).
const ROUTER_ENABLE: &str = "the suite writes the file into --router-dir (`conformance router-files DIR \
                             --router-fake-addrs A,B,C` writes it before the target starts); not with shim-echo";

const ROUTER: FeatureSpec = FeatureSpec {
    name: "router",
    description: "a router file (simple-shuffle) spreads groups of deployments over the suite's three router fakes, \
                  with retries, cooldowns and every kind of fallback",
    env: &[("MINI_AGENT_CONFIG", "{router_dir}/router.yaml"), ("MINI_AGENT_OPENAI_SHIM_MODE", "proxy")],
    enable: ROUTER_ENABLE,
    discovery: "a chat completion on `probe-simple-shuffle` is answered by a router fake",
    probe: probe(|ctx| Box::pin(each::router(ctx, RouterFile::Shuffle))),
    in_process: InProcess::Instead(&[Feature::ShimEcho]),
};

const ROUTER_LEAST_BUSY: FeatureSpec = FeatureSpec {
    name: "router-least-busy",
    description: "the router file routes by fewest requests in flight (`least-busy`)",
    env: &[("MINI_AGENT_CONFIG", "{router_dir}/router-least-busy.yaml"), ("MINI_AGENT_OPENAI_SHIM_MODE", "proxy")],
    enable: ROUTER_ENABLE,
    discovery: "a chat completion on `probe-least-busy` is answered by a router fake",
    probe: probe(|ctx| Box::pin(each::router(ctx, RouterFile::LeastBusy))),
    in_process: InProcess::Instead(&[Feature::ShimEcho]),
};

const ROUTER_LATENCY: FeatureSpec = FeatureSpec {
    name: "router-latency",
    description: "the router file routes by lowest recent latency (`latency-based-routing`)",
    env: &[("MINI_AGENT_CONFIG", "{router_dir}/router-latency.yaml"), ("MINI_AGENT_OPENAI_SHIM_MODE", "proxy")],
    enable: ROUTER_ENABLE,
    discovery: "a chat completion on `probe-latency` is answered by a router fake",
    probe: probe(|ctx| Box::pin(each::router(ctx, RouterFile::Latency))),
    in_process: InProcess::Instead(&[Feature::ShimEcho]),
};

const ROUTER_USAGE: FeatureSpec = FeatureSpec {
    name: "router-usage",
    description: "the router file routes by lowest tokens this minute under each `rpm`/`tpm` (`usage-based-routing-v2`)",
    env: &[("MINI_AGENT_CONFIG", "{router_dir}/router-usage.yaml"), ("MINI_AGENT_OPENAI_SHIM_MODE", "proxy")],
    enable: ROUTER_ENABLE,
    discovery: "a chat completion on `probe-usage` is answered by a router fake",
    probe: probe(|ctx| Box::pin(each::router(ctx, RouterFile::Usage))),
    in_process: InProcess::Instead(&[Feature::ShimEcho]),
};

const ANTHROPIC_UPSTREAM: FeatureSpec = FeatureSpec {
    name: "anthropic-upstream",
    description: "`anthropic/…` models go to the suite's Anthropic upstream fake (Messages API), with the key it checks",
    env: &[("ANTHROPIC_API_BASE", "{anthropic_fake_base}"), ("ANTHROPIC_API_KEY", SECRET_KEY)],
    enable: "needs openai-proxy; fix the fake's address with --anthropic-fake-addr",
    discovery: "a `/v1/messages` request on `anthropic/claude-probe` reaches the Anthropic upstream fake",
    probe: probe(|ctx| Box::pin(each::anthropic_upstream(ctx))),
    in_process: InProcess::OnRequest,
};

/// Whether a run assumes a feature, and on what grounds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeatureStatus {
    pub feature: Feature,
    pub enabled: bool,
    pub source: Source,
    /// The evidence: what the probe saw, or which flag said so.
    pub why: String,
}

/// Where a [`FeatureStatus`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Declared with `--features` (no probing).
    Flag,
    /// Given by an argument (`--exec-rpc-url`, `--mcp-python`, `--trace-file` with `--features`).
    Argument,
    /// Discovered by probing the target.
    Probe,
}

impl FeatureStatus {
    /// One line for the run's log: `probe provider-fake: enabled — …`.
    pub fn line(&self) -> String {
        let source = match self.source {
            Source::Flag => "flag",
            Source::Argument => "argument",
            Source::Probe => "probe",
        };
        let state = if self.enabled { "enabled" } else { "not enabled" };
        format!("{source:<8} {:<20} {state} — {}", self.feature.name(), self.why)
    }
}

/// What the suite knows about its own setup, to fill in the table's placeholders.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The provider fake's base (`http://127.0.0.1:18080/v1`).
    pub provider_fake_base: Option<String>,
    /// The HTTP tools fake's base (`http://127.0.0.1:18081`).
    pub tools_fake_base: Option<String>,
    /// The trace file given with `--trace-file`.
    pub trace_file: Option<PathBuf>,
    /// The keys file the suite writes (`--keys-file`).
    pub keys_file: Option<PathBuf>,
    /// The folder the suite writes its router files into (`--router-dir`).
    pub router_dir: Option<PathBuf>,
    /// The Anthropic upstream fake's base (`http://127.0.0.1:18090`, without `/v1`).
    pub anthropic_fake_base: Option<String>,
}

impl Setup {
    /// A table value with its placeholders filled in; unknown ones are named in angle brackets, so
    /// the README's rendering (which knows no addresses) reads as a template.
    pub fn render(&self, value: &str) -> String {
        let base = self.provider_fake_base.clone().unwrap_or_else(|| "http://<provider-fake-addr>/v1".to_owned());
        let path = |p: &Option<PathBuf>, unknown: &str| {
            p.as_ref().map_or_else(|| unknown.to_owned(), |p| p.display().to_string())
        };
        value
            .replace("{provider_fake_base}", &base)
            .replace("{tools_fake_base}", self.tools_fake_base.as_deref().unwrap_or("http://<tools-fake-addr>"))
            .replace("{trace_file}", &path(&self.trace_file, "<trace file>"))
            .replace("{keys_file}", &path(&self.keys_file, "<keys file>"))
            .replace("{router_dir}", &path(&self.router_dir, "<router dir>"))
            .replace(
                "{anthropic_fake_base}",
                self.anthropic_fake_base.as_deref().unwrap_or("http://<anthropic-fake-addr>"),
            )
    }

    /// The pairs with their values rendered.
    pub fn pairs(&self, env: &[(&str, &str)]) -> Vec<(String, String)> {
        env.iter().map(|(k, v)| ((*k).to_owned(), self.render(v))).collect()
    }

    /// `K=V K2='V2'`, quoted for a POSIX shell where needed.
    pub fn env_line(&self, env: &[(&str, &str)]) -> String {
        let words: Vec<String> = self.pairs(env).into_iter().map(|(k, v)| format!("{k}={}", shell_quote(&v))).collect();
        words.join(" ")
    }
}

fn shell_quote(value: &str) -> String {
    if value.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c)) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The table as Markdown (what the README shows between its `features:` markers).
pub fn markdown(setup: &Setup) -> String {
    let mut out = String::from(
        "| feature | what it means | start the target with | also | discovered by |\n|---|---|---|---|---|\n",
    );
    for &f in Feature::ALL {
        let spec = f.spec();
        let env: Vec<String> = setup.pairs(spec.env).into_iter().map(|(k, v)| format!("`{k}={v}`")).collect();
        let env = if env.is_empty() { "—".to_owned() } else { env.join("<br>") };
        let also = if spec.enable.is_empty() { "—" } else { spec.enable };
        let _ = writeln!(out, "| `{}` | {} | {env} | {also} | {} |", spec.name, spec.description, spec.discovery);
    }
    let _ = write!(
        out,
        "\nNot a feature, but recommended: `{}` keeps the timeout cases short.\n",
        setup.env_line(FAST_TIMEOUTS)
    );
    out
}

/// The table as plain text, one block per feature (what `conformance features` prints).
pub fn plain(setup: &Setup) -> String {
    let mut out = String::new();
    for &f in Feature::ALL {
        let spec = f.spec();
        let _ = writeln!(out, "{:<20} {}", spec.name, spec.description);
        let _ = writeln!(out, "{:<20} to enable: {}", "", f.how_to_enable(setup));
        let _ = writeln!(out, "{:<20} discovered by: {}", "", spec.discovery);
    }
    let _ =
        writeln!(out, "\nrecommended (not a feature): {} keeps the timeout cases short", setup.env_line(FAST_TIMEOUTS));
    out
}

#[cfg(test)]
mod tests;
