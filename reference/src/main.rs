//! The `miniagent` binary: parses arguments, sets up logging, hands off. No logic lives here.

use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: a proxied request allocates and frees many small
/// buffers on two threads, where glibc's malloc/free took about 9 % of the CPU (`make bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use miniagent::serve::ServeError;
use miniagent::{
    Config, DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, Env, Flags, KeyRing, Listen, OTEL_TARGET, Otel, OtelSettings,
    Sandbox, SandboxSettings, StartupError,
};

#[derive(Parser)]
#[command(name = "miniagent", version, about = "A small, fast agent proxy for LLMs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the agent façade (/agent/run, /v1/chat/completions, /ready, /healthz, /v1/models).
    Serve(ServeArgs),
    /// Serve exec-RPC: POST /exec runs a snippet (python, js, ts, c, cpp, go, java, rust, asm).
    ExecRpc(ExecRpcArgs),
    /// Serve the codex sidecar: an OpenAI-compatible front for a coding CLI (CODEX_CMD).
    Sidecar(SidecarArgs),
    /// Check the setup (façade, sidecar, auth file, codex-agent env, a parallel probe, retry meta).
    Doctor(DoctorArgs),
    /// Run parallel completions over a JSONL file: one result line per request line, in order.
    Batch(BatchArgs),
    /// Serve an example HTTP tools server (GET /tools, POST /invoke): echo, add, word_count, upper.
    ToolsStub(StubArgs),
}

/// Where a server binds; flags win over the `{PREFIX}_HOST`/`{PREFIX}_PORT` variables.
#[derive(clap::Args)]
struct BindArgs {
    /// Address to bind [default 127.0.0.1; env: see the subcommand]. Anything but loopback needs
    /// MINI_AGENT_API_KEYS (or --insecure-no-auth): tools run code.
    #[arg(long)]
    host: Option<String>,
    /// Port to bind; 0 picks a free one (the "listening on" line tells which).
    #[arg(long)]
    port: Option<u16>,
    /// Serve a non-loopback address without API keys (only behind something that authenticates).
    #[arg(long)]
    insecure_no_auth: bool,
}

#[derive(clap::Args)]
struct SidecarArgs {
    /// [env: CODEX_SIDECAR_HOST / CODEX_SIDECAR_PORT; default 127.0.0.1:8077]
    #[command(flatten)]
    bind: BindArgs,
}

#[derive(clap::Args)]
struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct BatchArgs {
    /// Requests, one JSON object per line (OpenAI chat bodies plus routing fields).
    #[arg(long)]
    input: PathBuf,
    /// Where results go, one JSON object per line, in input order.
    #[arg(long)]
    output: PathBuf,
    /// Requests in flight at once (1 under SCILLM_DETERMINISTIC_SEED).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Router config (LiteLLM-style model_list), YAML or JSON [env: MINI_AGENT_CONFIG].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Refuse the batch if it has more requests than this (see --soft-budget).
    #[arg(long)]
    max_requests: Option<usize>,
    /// With --max-requests: run the first N requests instead of refusing.
    #[arg(long)]
    soft_budget: bool,
    /// Exit 1 when any result is a provider error.
    #[arg(long)]
    fail_on_error: bool,
    /// Run only slice i of n (from 0): requests k with k mod n = i, so n machines share one file.
    /// Results keep their position in the whole file in `scillm_router.index`.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    shard: miniagent::batch::Shard,
}

#[derive(clap::Args)]
struct StubArgs {
    #[arg(long, default_value = DEFAULT_HOST)]
    host: String,
    #[arg(long, default_value_t = miniagent::tools_stub::DEFAULT_PORT)]
    port: u16,
}

#[derive(clap::Args)]
struct ExecRpcArgs {
    /// [env: EXEC_RPC_HOST / EXEC_RPC_PORT; default 127.0.0.1:8790]
    #[command(flatten)]
    bind: BindArgs,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// [env: MINI_AGENT_API_HOST / MINI_AGENT_API_PORT; default 127.0.0.1:8788]
    #[command(flatten)]
    bind: BindArgs,
    /// Router config: a LiteLLM-style model_list file, YAML or JSON [env: MINI_AGENT_CONFIG].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Largest accepted request body, in bytes; larger ones get 413 [default 8388608].
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// No keys needed: allow the `dummy` model and answer the OpenAI shim in echo mode.
    #[arg(long)]
    demo: bool,
}

fn main() -> ExitCode {
    // The tool init (the first process of every tool call, see `process::init`): before anything
    // else — no logging, no runtime, no argument parser it does not need.
    if std::env::args_os().nth(1).is_some_and(|a| a == "tool-init") {
        return ExitCode::from(u8::try_from(miniagent::tool_init_main()).unwrap_or(1));
    }
    // The doctor's sandbox probe, run as the server's user (see `doctor::sandbox`).
    if std::env::args_os().nth(1).is_some_and(|a| a == "sandbox-probe") {
        return ExitCode::from(u8::try_from(miniagent::doctor::probe_main()).unwrap_or(1));
    }
    // A server keeps its keys in its environment: non-dumpable, its `/proc/<pid>/environ`, memory
    // and file descriptors are closed to processes of its own uid (a tool of a server whose sandbox
    // is off), and it cannot be ptraced by them.
    let _ = nix::sys::prctl::set_dumpable(false);
    // Held to the end of `main`: dropping it flushes the spans still queued for export.
    let _otel = match init_logging() {
        Ok(otel) => otel,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::ExecRpc(args) => exec_rpc(args),
        Command::ToolsStub(args) => tools_stub(args),
        Command::Sidecar(args) => sidecar(args),
        Command::Batch(args) => return batch(args),
        Command::Doctor(args) => return doctor(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let flags = Flags {
        host: args.bind.host,
        port: args.bind.port,
        config: args.config,
        max_body_bytes: args.max_body_bytes,
        demo: args.demo,
        insecure_no_auth: args.bind.insecure_no_auth,
    };
    let config = Config::load(env_var, &flags);
    until_signal(|shutdown| miniagent::serve::serve(config, shutdown))
}

/// Where a server subcommand listens (its flags, else `{prefix}_HOST`/`{prefix}_PORT`) and the
/// API keys it requires.
fn listen(prefix: &str, default_port: u16, bind: BindArgs) -> Result<(Listen, KeyRing), String> {
    let var = env_var;
    let env = Env::new(&var);
    let mut listen = Listen::resolve(&env, prefix, default_port, bind.host, bind.port);
    listen.insecure_no_auth = bind.insecure_no_auth;
    let keys = KeyRing::from_env(&env);
    let problems = env.into_problems();
    if problems.is_empty() {
        Ok((listen, keys))
    } else {
        Err(format!("configuration problem: {}", problems.join("; ")))
    }
}

fn exec_rpc(args: ExecRpcArgs) -> Result<(), String> {
    let (mut at, keys) = listen("EXEC_RPC", miniagent::exec_rpc::DEFAULT_PORT, args.bind)?;
    let var = env_var;
    let env = Env::new(&var);
    let mut sandbox = SandboxSettings::from_env(&env);
    sandbox.hide_files(keys.source.clone());
    let problems = env.into_problems();
    if !problems.is_empty() {
        return Err(format!("configuration problem: {}", problems.join("; ")));
    }
    at.max_body_bytes = args.max_body_bytes;
    let keyed = !keys.is_empty();
    until_signal(|shutdown| {
        bind_and_serve(at, keyed, shutdown, |at| {
            let sandbox = Sandbox::started(sandbox)?;
            Ok(miniagent::exec_rpc::app(miniagent::exec_rpc::ExecState::new(at, keys, sandbox)))
        })
    })
}

fn tools_stub(args: StubArgs) -> Result<(), String> {
    until_signal(|shutdown| async move {
        let (listener, _) = miniagent::serve::bind(&args.host, args.port).await?;
        let state = std::sync::Arc::new(miniagent::tools_stub::StubState::default());
        let limits = state.listen.limits;
        miniagent::serve::run(listener, miniagent::tools_stub::app(state), limits, shutdown).await
    })
}

fn sidecar(args: SidecarArgs) -> Result<(), String> {
    let (at, keys) = listen("CODEX_SIDECAR", miniagent::sidecar::DEFAULT_PORT, args.bind)?;
    let config = miniagent::sidecar::SidecarConfig::from_lookup(env_var);
    if config.auth_missing() {
        tracing::warn!("{}", miniagent::sidecar::auth_advice(&config.auth_path));
    }
    let keyed = !keys.is_empty();
    until_signal(|shutdown| {
        bind_and_serve(at, keyed, shutdown, |at| {
            Ok(miniagent::sidecar::app(miniagent::sidecar::SidecarState::new(config, at, keys)?))
        })
    })
}

/// Resolves on Ctrl-C or SIGTERM (see [`shutdown_signal`]).
type Shutdown = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Starts the async runtime and runs one server on it until Ctrl-C or SIGTERM: every server
/// subcommand comes through here, so none repeats the runtime, the signal handlers or the error
/// text. The handlers are installed inside the runtime and before `server` binds.
fn until_signal<F>(server: impl FnOnce(Shutdown) -> F) -> Result<(), String>
where
    F: Future<Output = Result<(), ServeError>>,
{
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let _entered = runtime.enter();
    let shutdown = shutdown_signal();
    runtime.block_on(server(shutdown)).map_err(|e| e.to_string())
}

/// Binds where `at` says — checked: a non-loopback address needs keys or `--insecure-no-auth` —
/// then builds the app (once the socket is ours, so a taken port is reported before any setup
/// runs) and serves it until `shutdown`.
async fn bind_and_serve(
    at: Listen,
    keyed: bool,
    shutdown: Shutdown,
    app: impl FnOnce(Listen) -> Result<axum::Router, String>,
) -> Result<(), ServeError> {
    let (listener, _) = miniagent::serve::bind_checked(&at, keyed).await?;
    let limits = at.limits;
    let app = app(at).map_err(|e| ServeError::Startup(StartupError::Config(vec![e])))?;
    miniagent::serve::run(listener, app, limits, shutdown).await
}

fn doctor(args: &DoctorArgs) -> ExitCode {
    let config = Config::from_env();
    let targets = miniagent::doctor::Targets::from_lookup(env_var, &config);
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("error: cannot start the async runtime");
        return ExitCode::from(2);
    };
    let checks = runtime.block_on(miniagent::doctor::run(&config, &targets));
    if args.json {
        let ok = checks.iter().all(|c| c.status != miniagent::doctor::Status::Fail);
        println!("{}", serde_json::json!({"ok": ok, "checks": checks}));
    } else {
        print!("{}", miniagent::doctor::render(&checks));
    }
    if checks.iter().any(|c| c.status == miniagent::doctor::Status::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn batch(args: BatchArgs) -> ExitCode {
    let run = || -> Result<miniagent::batch::Summary, String> {
        let flags = Flags { config: args.config.clone(), ..Flags::default() };
        let config = Config::load(env_var, &flags);
        if !config.problems.is_empty() {
            return Err(config.problems.join("; "));
        }
        let providers = config.build_providers().map_err(|e| e.to_string())?;
        let options = miniagent::ParallelOptions {
            concurrency: args.concurrency,
            ordered: true,
            max_requests: args.max_requests,
            budget: if args.soft_budget { miniagent::Budget::Soft } else { miniagent::Budget::Hard },
        };
        let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the async runtime: {e}"))?;
        runtime
            .block_on(miniagent::batch::run(
                &providers,
                &args.input,
                &args.output,
                &options,
                args.shard,
                &mut Progress::default(),
            ))
            .map_err(|e| e.to_string())
    };
    match run() {
        Ok(summary) => {
            eprintln!("batch: {summary} → {}", args.output.display());
            if args.fail_on_error && summary.errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// `batch`'s progress: a bar on a terminal; a plain line every tenth of the way otherwise (logs stay
/// readable).
#[derive(Default)]
enum Progress {
    #[default]
    Unstarted,
    Bar(indicatif::ProgressBar),
    Lines {
        total: u64,
    },
}

impl miniagent::batch::Progress for Progress {
    fn start(&mut self, total: u64) {
        use std::io::IsTerminal;
        *self = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} requests  {elapsed} elapsed, eta {eta}")
            {
                bar.set_style(style);
            }
            Self::Bar(bar)
        } else {
            Self::Lines { total }
        };
    }

    fn tick(&mut self, done: u64) {
        match self {
            Self::Unstarted => {}
            Self::Bar(bar) => bar.set_position(done),
            Self::Lines { total } => {
                let step = (*total / 10).max(1);
                if done.is_multiple_of(step) || done == *total {
                    eprintln!("batch: {done}/{total} done");
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Self::Bar(bar) = self {
            bar.finish();
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so `docker stop` and `kill` shut down cleanly. The handlers are
/// installed when this is called, not when the future is first polled: a SIGTERM that arrives
/// right after "listening on" must not meet the default action and kill the process mid-request.
/// Call it inside the runtime (`Runtime::enter`).
fn shutdown_signal() -> Shutdown {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let term = signal(SignalKind::terminate()).ok();
    let interrupt = signal(SignalKind::interrupt()).ok();
    let wait = |s: Option<Signal>| async move {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    Box::pin(async move {
        tokio::select! {
            () = wait(term) => {},
            () = wait(interrupt) => {},
        }
        tracing::info!("shutting down");
    })
}

/// Logs go to stderr (stdout stays free for command output); `RUST_LOG` filters, default `info`.
/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, our spans also go out over OTLP (the exporter is
/// started here, before any async runtime: its HTTP client is a blocking one on its own thread).
fn init_logging() -> Result<Option<Otel>, String> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, filter};

    let var = env_var;
    let env = Env::new(&var);
    let settings = OtelSettings::from_env(&env);
    let problems = env.into_problems();
    if !problems.is_empty() {
        return Err(format!("configuration problem: {}", problems.join("; ")));
    }
    let otel = Otel::start(&settings)?;
    let log_filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(miniagent::OneLine)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(log_filter);
    let spans = otel.as_ref().map(|o| {
        // Only the attributes the spans set themselves: no source locations, thread ids, targets or
        // busy/idle clocks (those read the clock on every poll), and no context activation on
        // entry (trace context is read from the span itself) — each was a per-poll cost.
        tracing_opentelemetry::layer()
            .with_tracer(o.tracer())
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false)
            .with_filter(filter::Targets::new().with_target(OTEL_TARGET, tracing::Level::DEBUG))
    });
    tracing_subscriber::registry().with(logs).with(spans).init();
    if let Some(endpoint) = &settings.endpoint {
        let shown = url::Url::parse(endpoint).map_or_else(|_| endpoint.clone(), |u| miniagent::redacted_url(&u));
        tracing::info!(endpoint = %shown, "exporting spans over OTLP");
    }
    Ok(otel)
}

/// One variable of the process environment: main.rs is where the service reads it, and hands the
/// lookup to each part's `from_lookup`.
#[expect(clippy::disallowed_methods, reason = "main.rs is the one reader of the process environment")]
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
