//! The configuration reference (`docs/operator-guide/configuration.md`), **generated from the code
//! that reads the settings**, as rust-analyzer generates its own: every module's `from_env` runs
//! with nothing set while [`crate::env::record_reads`] records each variable it reads — its name, the
//! default the code falls back to, the rule a value must follow and the file that reads it. Only
//! what a variable *means* is written by hand, in [`NOTES`]; a test fails when a variable the code
//! reads has no note, when a note names a variable nothing reads, and when the committed reference
//! differs from this rendering (`UPDATE_DOCS=1 cargo test -p miniagent --lib config_doc` rewrites it).

use std::collections::BTreeMap;

use crate::env::{Env, Read, record_reads};

/// What each variable means (and, for the few read without a default of their own, the default
/// in words).
pub(crate) const NOTES: &[(&str, &str, &str)] = &[
    ("PATH", "passed to tools as it is (their program search path)", "the server's"),
    ("LANG", "passed to tools as it is", "the server's"),
    (
        "HOME",
        "where the sidecar looks for `.codex/auth.json` without `CODEX_HOME` or `CODEX_AUTH_PATH`",
        "the server's",
    ),
    ("MAX_CONCURRENCY", "the sidecar's CLI runs at once; more wait", ""),
    ("ABS_TIMEOUT_S", "the sidecar kills a CLI run (its whole tree) after this long (504)", ""),
    ("IDLE_TIMEOUT_S", "the sidecar kills a CLI run silent for this long (504)", ""),
    ("RETRIES", "the sidecar retries a CLI run that exits 70 or 75 this many times", ""),
    (
        "MINI_AGENT_API_HOST",
        "bind address (loopback by default: tools run code); anything else needs API keys or `--insecure-no-auth`",
        "`127.0.0.1`",
    ),
    (
        "MINI_AGENT_API_KEYS",
        "API keys: `k1,k2`, or a YAML/JSON file of `{name, key, rpm?, backends?}` (see [Security](security.md))",
        "",
    ),
    (
        "MINI_AGENT_API_KEYS_FILE",
        "API keys: `k1,k2`, or a YAML/JSON file of `{name, key, rpm?, backends?}` (see [Security](security.md))",
        "",
    ),
    ("MINI_AGENT_API_PORT", "bind port; `0` picks a free one (the `listening on` log line says which)", "`8788`"),
    ("MINI_AGENT_CONFIG", "router config file", "none"),
    ("MINI_AGENT_ALLOW_DUMMY", "allow the `dummy`/`noop` model", "off"),
    (
        "MINI_AGENT_OPENAI_SHIM_MODE",
        "`proxy`, `agent` or `echo` (see [The OpenAI surface](../user-guide/surfaces.md#the-openai-surface))",
        "`proxy`",
    ),
    ("MINI_AGENT_OPENAI_ECHO", "`1`: same as shim mode `echo`", "off"),
    ("MINI_AGENT_OPENAI_SHIM_REPLY", "the echo reply", "`shim ok`"),
    (
        "MINI_AGENT_OPENAI_SHIM_DELAY_MS",
        "artificial delay before answering the shim and `/agent/run` (testing clients' timeouts)",
        "`0`",
    ),
    ("MINI_AGENT_STORE_TRACES", "`1` + a file: append one JSON line per `/agent/run`", ""),
    ("MINI_AGENT_STORE_PATH", "`1` + a file: append one JSON line per `/agent/run`", ""),
    (
        "MINI_AGENT_TRACE_MAX_MB",
        "the trace file is renamed to `<file>.1` (replacing the last one) when it would grow past this",
        "`100`",
    ),
    ("OPENAI_API_KEY", "the `openai/` provider (base includes `/v1`)", ""),
    ("OPENAI_API_BASE", "the `openai/` provider (base includes `/v1`)", ""),
    ("OPENAI_BASE_URL", "the `openai/` provider (base includes `/v1`)", ""),
    ("OLLAMA_BASE_URL", "the `ollama/` provider (server root, e.g. `http://127.0.0.1:11434`)", "none"),
    ("CHUTES_API_KEY", "the `chutes/` provider", ""),
    ("CHUTES_API_BASE", "the `chutes/` provider", ""),
    ("ANTHROPIC_API_KEY", "the `anthropic/` provider's key, sent as `x-api-key`", "none"),
    (
        "ANTHROPIC_API_BASE",
        "the `anthropic/` provider's base, without `/v1` (`ANTHROPIC_BASE_URL` is not read: it is what Claude Code is pointed at miniagent with)",
        "`https://api.anthropic.com`",
    ),
    (
        "MINI_AGENT_ANTHROPIC_MAX_TOKENS",
        "`max_tokens` of a request to `anthropic/` that names none (Anthropic requires one)",
        "4096",
    ),
    (
        "MINI_AGENT_ANTHROPIC_DEFAULT_MODEL",
        "the model `/v1/messages` uses for a name no route knows (Claude Code's `claude-…` names)",
        "none",
    ),
    (
        "MINI_AGENT_ANTHROPIC_THINKING",
        "`thinking` in a `/v1/messages` request bridged to a chat provider: `drop` (left out, named in `x-miniagent-warnings`) or `reject` (400)",
        "`drop`",
    ),
    ("LITELLM_DEFAULT_MODEL", "the shim's model for bare names it cannot route", "none"),
    (
        "MINI_AGENT_PROVIDER_TIMEOUT_SEC",
        "whole-request timeout of one provider call (connect: 10 s); on streams, the longest silence",
        "`120`",
    ),
    (
        "MINI_AGENT_PROVIDER_MAX_BYTES",
        "the largest reply or stream read from a provider (502 / an `error` event beyond)",
        "`33554432` (32 MiB)",
    ),
    ("MINI_AGENT_SSE_KEEPALIVE_SEC", "keep-alive comment interval on streams", "`10`"),
    (
        "MINI_AGENT_RESPONSES_MODE",
        "`/v1/responses`: `bridge` (onto chat completions), `passthrough` (the provider's own `/responses`, byte for byte) or `auto` (passthrough for the `openai` provider at `api.openai.com`, bridge otherwise)",
        "`auto`",
    ),
    (
        "MINI_AGENT_RESPONSES_HOSTED_TOOLS",
        "hosted tools in a bridged request: `warn` (left out, named in `x-miniagent-warnings`) or `reject` (400)",
        "`warn`",
    ),
    ("LITELLM_ENABLE_CODEX_AGENT", "enable the `codex-agent/` provider", ""),
    ("SCILLM_ENABLE_CODEX_AGENT", "enable the `codex-agent/` provider", ""),
    ("CODEX_AGENT_API_BASE", "codex-agent base (no `/v1`) and key", ""),
    ("CODEX_AGENT_API_KEY", "codex-agent base (no `/v1`) and key", ""),
    ("CODEX_AGENT_MAX_RETRIES", "codex-agent retries", ""),
    ("CODEX_AGENT_RETRY_BASE_MS", "codex-agent retries", ""),
    ("CODEX_AGENT_MAX_BACKOFF_MS", "codex-agent retries", ""),
    ("CODEX_AGENT_ENABLE_METRICS", "retry statistics on completions", "off"),
    ("SCILLM_DETERMINISTIC_SEED", "seeded retry jitter; parallel completions one at a time", "none"),
    ("SCILLM_RETRY_META", "`scillm_router.retries` in parallel results", "off"),
    ("MINI_AGENT_TOOL_TIMEOUT_SEC", "timeout of one local tool call; the process tree is killed", "`10`"),
    ("MINI_AGENT_SHELL_ALLOW", "comma-separated programs `exec_shell` may run (exact `argv[0]`)", "`echo`"),
    ("MINI_AGENT_PYTHON", "the interpreter of `exec_python`", "`python3`"),
    ("MINI_AGENT_TOOL_OUTPUT_MAX_BYTES", "cap per output stream of a tool", "`1048576`"),
    (
        "MINI_AGENT_TOOL_SANDBOX",
        "`auto` (bubblewrap; where it cannot be set up, tools answer 503), `required` (refuse to start without it), `off` (no namespaces: see Security)",
        "`auto`",
    ),
    ("MINI_AGENT_TOOL_NETWORK", "`1`: sandboxed tools share the host's network", "off"),
    (
        "MINI_AGENT_TOOL_ENV_PASS",
        "comma-separated variables tools may see besides `PATH`, `LANG`, `HOME`, `TMPDIR`",
        "none",
    ),
    ("MINI_AGENT_TOOL_MEM_MB", "tool limits (address space, CPU seconds, file size, open files, processes)", ""),
    ("MINI_AGENT_TOOL_CPU_SEC", "tool limits (address space, CPU seconds, file size, open files, processes)", ""),
    ("MINI_AGENT_TOOL_FILE_MB", "tool limits (address space, CPU seconds, file size, open files, processes)", ""),
    ("MINI_AGENT_TOOL_NOFILE", "tool limits (address space, CPU seconds, file size, open files, processes)", ""),
    ("MINI_AGENT_TOOL_NPROC", "tool limits (address space, CPU seconds, file size, open files, processes)", ""),
    ("MINI_AGENT_TOOL_DISK_MB", "the size of a tool's work directory (a tmpfs, its only writable place)", "`256`"),
    ("MINI_AGENT_TOOL_MAX_CONCURRENT", "tool processes at once; the rest wait (at most their timeout)", "2 × cores"),
    (
        "MINI_AGENT_TOOL_INIT",
        "the tool init (`miniagent tool-init`); must be executable by the tools' uid",
        "this binary",
    ),
    ("MINI_AGENT_TOOL_UID", "the uid a root server runs tools as (`0` keeps root)", "`65534`"),
    (
        "MINI_AGENT_TOOL_HIDE",
        "more paths hidden from tools (the keys file, router config and traces always are); extra host paths tools may read",
        "",
    ),
    (
        "MINI_AGENT_TOOL_RO_BINDS",
        "more paths hidden from tools (the keys file, router config and traces always are); extra host paths tools may read",
        "",
    ),
    (
        "MINI_AGENT_TOOL_URL_ALLOW",
        "where request-given `tool_http_base_url`/`tool_mcp_url` may point: `host`, `host:port` or CIDR, comma-separated; metadata and link-local addresses are always refused",
        "loopback for a loopback server, nothing otherwise",
    ),
    ("MINI_AGENT_MAX_ITERATIONS_CAP", "the largest `max_iterations` a request may ask for", "`50`"),
    (
        "MINI_AGENT_HEADER_TIMEOUT_SEC",
        "a request head not complete in time closes the connection; a body not complete in time is a 408",
        "",
    ),
    (
        "MINI_AGENT_BODY_TIMEOUT_SEC",
        "a request head not complete in time closes the connection; a body not complete in time is a 408",
        "",
    ),
    ("MINI_AGENT_MAX_CONNECTIONS", "open connections; more wait in the kernel's backlog", "`4096`"),
    (
        "MINI_AGENT_WORKERS",
        "threads serving the connections, each with a runtime of its own (a connection, its requests and their upstream connections stay on one thread); `0` serves them on the shared runtime",
        "the number of cores",
    ),
    (
        "MINI_AGENT_SHUTDOWN_GRACE_SEC",
        "after SIGTERM/SIGINT, in-flight requests get this long, then the rest are closed",
        "`20`",
    ),
    ("MINI_AGENT_METRICS", "`off`: no counting, `/metrics` is a 404", "on"),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OpenTelemetry spans over OTLP/HTTP (`http/protobuf` or `http/json`); the standard variables (see [Running in production](production.md))",
        "",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OpenTelemetry spans over OTLP/HTTP (`http/protobuf` or `http/json`); the standard variables (see [Running in production](production.md))",
        "",
    ),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OpenTelemetry spans over OTLP/HTTP (`http/protobuf` or `http/json`); the standard variables (see [Running in production](production.md))",
        "",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OpenTelemetry spans over OTLP/HTTP (`http/protobuf` or `http/json`); the standard variables (see [Running in production](production.md))",
        "",
    ),
    (
        "OTEL_SERVICE_NAME",
        "OpenTelemetry spans over OTLP/HTTP (`http/protobuf` or `http/json`); the standard variables (see [Running in production](production.md))",
        "",
    ),
    (
        "OTEL_RESOURCE_ATTRIBUTES",
        "OpenTelemetry spans over OTLP/HTTP (`http/protobuf` or `http/json`); the standard variables (see [Running in production](production.md))",
        "",
    ),
    (
        "OTEL_SDK_DISABLED",
        "OpenTelemetry spans over OTLP/HTTP (`http/protobuf` or `http/json`); the standard variables (see [Running in production](production.md))",
        "",
    ),
    (
        "OTEL_TRACES_EXPORTER",
        "OpenTelemetry spans over OTLP/HTTP (`http/protobuf` or `http/json`); the standard variables (see [Running in production](production.md))",
        "",
    ),
    (
        "OTEL_TRACES_SAMPLER",
        "which requests are traced: `always_on`, `always_off`, `traceidratio`, or their `parentbased_` forms (a client's `traceparent` decides); decided before any span exists, so unsampled requests cost no spans",
        "`parentbased_always_on`",
    ),
    ("OTEL_TRACES_SAMPLER_ARG", "the ratio of `traceidratio` samplers, from 0 to 1 (`0.1`: one request in ten)", "`1`"),
    (
        "MINI_AGENT_REDIS_URL",
        "share per-key `rpm` windows and the router's cooldowns and per-minute usage between replicas in Redis (`redis://[:password@]host:port[/db]`)",
        "none",
    ),
    (
        "MINI_AGENT_REDIS_FAIL",
        "Redis unreachable: `open` serves requests without a limit, `closed` refuses limited keys with 503",
        "`open`",
    ),
    ("MINI_AGENT_REDIS_TIMEOUT_MS", "bound on connecting to Redis and on each call", "`250`"),
    ("NDSMOKE_SHORTCIRCUIT_CHUTES", "testing only: an escalation to `chutes/…` is not sent", "off"),
    ("MINI_AGENT_TOOL_HTTP_HEADERS", "JSON object of headers for the operator's own HTTP tools server", "none"),
    (
        "MINI_AGENT_TOOL_HTTP_DEFAULT_BASE",
        "that tools server (required with the headers): they are sent only to URLs under it",
        "none",
    ),
    ("MINI_AGENT_TOOL_HTTP_RETRIES", "extra POSTs after a 429", "`1`"),
    ("MINI_AGENT_TOOL_HTTP_RETRY_CAP_SEC", "longest wait before a retry", "`1`"),
    ("MINI_AGENT_TOOL_HTTP_TIMEOUT_SEC", "one HTTP tools exchange (connect: 5 s)", "`30`"),
    ("MINI_AGENT_TOOL_MCP_TIMEOUT_SEC", "MCP connect-and-list, and each MCP call", "`30`"),
    ("EXEC_RPC_HOST", "`miniagent exec-rpc` bind address", ""),
    ("EXEC_RPC_PORT", "`miniagent exec-rpc` bind address", ""),
    ("CODEX_CMD", "`miniagent sidecar`", ""),
    ("CODEX_AUTH_PATH", "`miniagent sidecar`", ""),
    ("CODEX_HOME", "`miniagent sidecar`", ""),
    ("CODEX_REQUIRE_AUTH_FILE", "`miniagent sidecar`", ""),
    ("CODEX_INPUT_MODE", "`miniagent sidecar`", ""),
    ("CODEX_WORKDIR", "`miniagent sidecar`", ""),
    ("CODEX_SIDECAR_ECHO", "`miniagent sidecar`", ""),
    (
        "MINI_AGENT_ACCESS_LOG",
        "one `info` line per request (method, route pattern, status, duration, request id, key name); `off` turns it off",
        "",
    ),
    ("MINI_AGENT_URL", "where `miniagent doctor` finds the façade", "`http://127.0.0.1:8788`"),
    ("CODEX_SIDECAR_HOST", "`miniagent sidecar` bind address", ""),
    ("CODEX_SIDECAR_PORT", "`miniagent sidecar` bind port", ""),
];

/// The sections of the reference: the source files (by path fragment) that read their settings.
const SECTIONS: &[(&str, &str)] = &[
    ("listen.rs", "Serving: where, how many, how long"),
    ("auth/redis.rs", "Redis: shared limits and routing state"),
    ("transport/redis.rs", "Redis: shared limits and routing state"),
    ("auth/", "API keys"),
    ("src/config.rs", "The router file"),
    ("openai/settings.rs", "The OpenAI surface"),
    ("provider/router", "The router file"),
    ("provider/", "Providers"),
    ("trace.rs", "Traces"),
    ("agent/", "The agent loop"),
    ("api.rs", "Requests"),
    ("tools/local", "Local tools"),
    ("process/", "The tool sandbox"),
    ("tools/http", "HTTP tools servers"),
    ("tools/mcp", "MCP servers"),
    ("outbound.rs", "Outbound URLs from requests"),
    ("telemetry/", "Metrics, logs, OpenTelemetry"),
    ("sidecar/", "The codex sidecar (`miniagent sidecar`)"),
    ("doctor/", "The doctor (`miniagent doctor`)"),
];

/// Every setting the servers and commands read, in reading order, each once: read twice, with
/// nothing set and with everything set (so a setting read only when another is on is seen too).
pub(crate) fn reads() -> Vec<Read> {
    let read_all = |var: &dyn Fn(&str) -> Option<String>| {
        let env = Env::new(var);
        let config = crate::config::Config::from_lookup(var);
        let _ = crate::sidecar::SidecarConfig::from_lookup(var);
        let _ = crate::telemetry::otel::OtelSettings::from_env(&env);
        let _ = crate::listen::Listen::resolve(&env, "EXEC_RPC", crate::exec_rpc::DEFAULT_PORT, None, None);
        let _ = crate::listen::Listen::resolve(&env, "CODEX_SIDECAR", crate::sidecar::DEFAULT_PORT, None, None);
        let _ = crate::doctor::Targets::from_lookup(var, &config);
    };
    let reads = record_reads(|| {
        read_all(&|_| None);
        read_all(&|_| Some("1".to_owned()));
    });
    let mut seen = std::collections::HashSet::new();
    // Names an operator chose (MINI_AGENT_TOOL_ENV_PASS lists variables to pass) are not settings.
    let setting = |n: &str| {
        n.starts_with(|c: char| c.is_ascii_uppercase())
            && n.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    reads.into_iter().filter(|r| setting(&r.name) && seen.insert(r.name.clone())).collect()
}

fn section(file: &str) -> &'static str {
    SECTIONS.iter().find(|(frag, _)| file.contains(frag)).map_or("Other", |(_, title)| title)
}

fn shown_default(read: &Read, note_default: &str) -> String {
    if !note_default.is_empty() {
        return note_default.to_owned();
    }
    match read.default.as_deref() {
        None | Some("") => "none".to_owned(),
        Some(d) => format!("`{}`", d.strip_suffix(".0").unwrap_or(d)),
    }
}

/// The reference, as Markdown.
pub(crate) fn render() -> String {
    let notes: BTreeMap<&str, (&str, &str)> = NOTES.iter().map(|(n, m, d)| (*n, (*m, *d))).collect();
    let mut sections: Vec<(&str, Vec<String>)> = SECTIONS.iter().map(|(_, t)| (*t, Vec::new())).collect();
    sections.push(("Other", Vec::new()));
    for read in reads() {
        let (meaning, default) = notes.get(read.name.as_str()).copied().unwrap_or(("", ""));
        let rule = read.rule.as_deref().map_or_else(String::new, |r| format!(" (must be {r})"));
        let row = format!("| `{}` | {} | {meaning}{rule} |", read.name, shown_default(&read, default));
        let title = section(read.file);
        if let Some((_, rows)) = sections.iter_mut().find(|(t, _)| *t == title) {
            rows.push(row);
        }
    }
    let mut out = String::from(HEADER);
    for (title, rows) in sections.into_iter().filter(|(_, rows)| !rows.is_empty()) {
        out.push_str(&format!("\n## {title}\n\n| variable | default | meaning |\n|---|---|---|\n"));
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
    }
    out
}

const HEADER: &str = "# Configuration reference

Generated from the code that reads each setting (`reference/src/config_doc.rs`; `UPDATE_DOCS=1 cargo
test -p miniagent --lib config_doc` rewrites this file, and the test fails when it drifts). Every
variable is read in exactly one module; an empty value counts as unset; a value that does not parse
stops the server at startup, naming the variable and what it must be.

Flags win over the environment: `--host`, `--port` (`0` picks a free port; the `listening on` line
says which), `--config` (the router file), `--max-body-bytes` (8 MiB; larger bodies get 413), `--demo`
(the `dummy` model and the echo shim), `--insecure-no-auth` (a non-loopback bind without keys: only
behind your own front door). `RUST_LOG` filters the logs (default `info`; logs go to stderr, one line
per event).
";

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods, reason = "tests reach around the boundaries on purpose")]
    use super::*;

    fn path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operator-guide/configuration.md")
    }

    #[test]
    fn every_variable_read_has_a_note_and_every_note_is_read() {
        let read: Vec<String> = reads().into_iter().map(|r| r.name).collect();
        let missing: Vec<&String> = read.iter().filter(|n| !NOTES.iter().any(|(m, _, _)| m == n)).collect();
        assert!(missing.is_empty(), "read by the code, no note in config_doc::NOTES: {missing:?}");
        let stale: Vec<&str> = NOTES.iter().map(|(n, _, _)| *n).filter(|n| !read.iter().any(|r| r == n)).collect();
        assert!(stale.is_empty(), "noted in config_doc::NOTES, read by nothing: {stale:?}");
    }

    #[test]
    fn the_configuration_reference_is_generated_from_the_code() {
        let rendered = render();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path(), &rendered).expect("write the reference");
        }
        let committed = std::fs::read_to_string(path()).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/operator-guide/configuration.md is not what the code reads; regenerate it with \
             `UPDATE_DOCS=1 cargo test -p miniagent --lib config_doc`"
        );
    }
}
