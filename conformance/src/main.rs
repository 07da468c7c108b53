//! The `conformance` binary: parses arguments and hands off to the library — the runner, the
//! probes, the fakes and the feature table.
#![allow(
    clippy::disallowed_methods,
    reason = "clippy.toml holds the service's boundaries (reference/); the conformance suite is a client that starts its own fakes and reads its own settings"
)]

use std::collections::{BTreeSet, HashSet};
use std::io::{IsTerminal, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use conformance::case::{Case, Profile};
use conformance::fakes::{FakeAddrs, Fakes};
use conformance::features::{self, Feature, FeatureStatus, Setup, Source};
use conformance::runner::{self, CaseOutcome, Selection};
use conformance::snapshot::StoredSnapshots;
use conformance::target::Ctx;
use conformance::transport::{Transport, UrlTransport};
use conformance::{baseline, cases, probe, report, routing};

#[derive(Parser)]
#[command(name = "conformance", version, about = "Check an implementation against the miniagent contract")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the cases against an implementation at a URL.
    Run(Box<RunArgs>),
    /// List the cases (id, profile, level, features, clause).
    List,
    /// Print the feature table: what each feature means, the environment a target needs for it,
    /// and how it is discovered.
    Features(FeaturesArgs),
    /// Run the fakes alone (for a live stack): logs "listening on <provider fake>" and serves until
    /// stopped.
    Fakes(FakesArgs),
    /// Write the keys file of the `auth` feature (so a target can be started with it before the
    /// run) and print its path.
    KeysFile(KeysFileArgs),
    /// Write the router files of the `router` features (one per routing strategy), pointing at the
    /// router fakes' addresses, and print where they are.
    RouterFiles(RouterFilesArgs),
    /// Write the compatibility matrix (`README.md`) and the case catalogue (`cases.md`) of a reports
    /// folder from the runs stored in its `runs/` (`<implementation>.<run>.json`).
    Matrix(MatrixArgs),
}

#[derive(clap::Args)]
struct MatrixArgs {
    /// The reports folder (`conformance/reports`).
    dir: PathBuf,
    /// Write nothing; exit 1 when a file differs from what the runs give.
    #[arg(long)]
    check: bool,
}

#[derive(clap::Args)]
struct RouterFilesArgs {
    /// The folder to write them into (default: a fixed folder in the temp directory).
    dir: Option<PathBuf>,
    /// The router fakes' addresses (alpha,beta,gamma), as `run --router-fake-addrs` will use them.
    #[arg(long, value_delimiter = ',', required = true, value_parser = router_addr)]
    router_fake_addrs: Vec<SocketAddr>,
}

#[derive(clap::Args)]
struct KeysFileArgs {
    /// Where to write it (default: a fixed file in the temp directory).
    path: Option<PathBuf>,
}

#[derive(clap::Args)]
struct FeaturesArgs {
    /// Print a Markdown table (the README's).
    #[arg(long)]
    markdown: bool,
    /// Fill in the provider fake's address (else a placeholder).
    #[arg(long)]
    provider_fake_addr: Option<SocketAddr>,
    /// Fill in the HTTP tools fake's address (else a placeholder).
    #[arg(long)]
    tools_fake_addr: Option<SocketAddr>,
    /// Fill in the trace file (else a placeholder).
    #[arg(long)]
    trace_file: Option<PathBuf>,
    /// Fill in the keys file (else a placeholder).
    #[arg(long)]
    keys_file: Option<PathBuf>,
    /// Fill in the router files' folder (else a placeholder).
    #[arg(long)]
    router_dir: Option<PathBuf>,
    /// Fill in the Anthropic upstream fake's address (else a placeholder).
    #[arg(long)]
    anthropic_fake_addr: Option<SocketAddr>,
}

#[derive(clap::Args)]
struct FakesArgs {
    /// The provider fake's address (port 0: a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    provider_addr: SocketAddr,
    /// The tools fake's address.
    #[arg(long)]
    tools_addr: Option<SocketAddr>,
    /// The router fakes' addresses (alpha,beta,gamma; free ports when absent).
    #[arg(long, value_delimiter = ',', value_parser = router_addr)]
    router_fake_addrs: Option<Vec<SocketAddr>>,
    /// Where to write the router files pointing at them.
    #[arg(long)]
    router_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Pretty,
    Json,
    Junit,
    /// One self-contained page (no script, no external asset): give it an `--output FILE`.
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    Core,
    Extended,
    Openai,
    Router,
    Anthropic,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Base URL of the implementation, e.g. http://127.0.0.1:8788
    #[arg(long)]
    base_url: String,
    /// `core` runs the cases every implementation must pass; `extended` adds our extensions (every
    /// case); `openai` runs only the OpenAI-surface cases (for any OpenAI-compatible gateway); `router` only
    /// the routing cases (CONTRACT §5 Routing, against the router fakes).
    #[arg(long, value_enum, default_value = "extended")]
    profile: ProfileArg,
    /// Features the target has (comma-separated). When absent they are discovered by probing.
    #[arg(long, value_delimiter = ',')]
    features: Option<Vec<String>>,
    /// Only cases whose id matches this glob (`*` matches anything).
    #[arg(long = "case")]
    case: Option<String>,
    #[arg(long, value_enum, default_value = "pretty")]
    format: Format,
    /// Write the report here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Known gaps, one case id per line: listed failures are expected, listed passes are stale.
    #[arg(long)]
    expected_failures: Option<PathBuf>,
    /// Exit 1 on any failure. Without it only a failure of a `required` case (an official SDK or a
    /// mainstream framework breaks without it) does; `recommended` and `faithful` failures are
    /// reported and counted, and the run still passes.
    #[arg(long)]
    strict: bool,
    /// Fix the provider fake's address so the target can be started pointing at it.
    #[arg(long)]
    provider_fake_addr: Option<SocketAddr>,
    /// Fix the HTTP tools fake's address.
    #[arg(long)]
    tools_fake_addr: Option<SocketAddr>,
    /// Fix the raw (byte-recording) tools fake's address.
    #[arg(long)]
    raw_tools_fake_addr: Option<SocketAddr>,
    /// Fix the Anthropic upstream fake's address (the `anthropic` profile).
    #[arg(long)]
    anthropic_fake_addr: Option<SocketAddr>,
    /// The target's trace file (MINI_AGENT_STORE_PATH), to enable the trace cases.
    #[arg(long)]
    trace_file: Option<PathBuf>,
    /// The implementation's exec-RPC server, to enable the §7 cases.
    #[arg(long)]
    exec_rpc_url: Option<String>,
    /// A Python with the `mcp` package: the suite then runs a real MCP server for the §4b cases.
    #[arg(long)]
    mcp_python: Option<PathBuf>,
    /// Where the suite writes the keys file of the `auth` feature (start the target with
    /// MINI_AGENT_API_KEYS_FILE set to it); default: a fixed file in the temp directory.
    #[arg(long)]
    keys_file: Option<PathBuf>,
    /// Fix the router fakes' addresses (alpha,beta,gamma), so a target started with the router files
    /// (`conformance router-files`) reaches them.
    #[arg(long, value_delimiter = ',', value_parser = router_addr)]
    router_fake_addrs: Option<Vec<SocketAddr>>,
    /// Where the suite writes its router files (start the target with MINI_AGENT_CONFIG set to one
    /// of them); default: a fixed folder in the temp directory.
    #[arg(long)]
    router_dir: Option<PathBuf>,
    /// Generated cases per property (tool order, retry bounds).
    #[arg(long, default_value_t = 8)]
    proptest_cases: u32,
    /// Seconds each feature probe may take (without --features). Raise it for a target whose first
    /// requests are slow, such as a Python gateway that imports its providers on first use.
    #[arg(long, default_value_t = probe::PROBE_TIMEOUT.as_secs_f64(), value_parser = positive_seconds)]
    probe_timeout: f64,
}

/// One of the three router fakes' addresses (`--router-fake-addrs A,B,C`).
fn router_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|e| format!("`{text}` is not host:port ({e}); give three, comma-separated: alpha,beta,gamma"))
}

/// A positive, finite number of seconds.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!("`{text}` is not a number of seconds between 0 and 3600")),
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::List => {
            // Written, not printed: a reader that stops early (`| head`) ends the listing, not a panic.
            let mut out = std::io::stdout().lock();
            for c in cases::all() {
                let features: Vec<&str> = c.features.iter().map(|f| f.name()).collect();
                let line = format!(
                    "{:<45} {:<9} {:<12} [{}] {}",
                    c.id,
                    c.profile.name(),
                    c.level.name(),
                    features.join(","),
                    c.clause
                );
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Matrix(args) => match conformance::matrix::generate(&args.dir, args.check) {
            Ok(differ) if differ.is_empty() => ExitCode::SUCCESS,
            Ok(differ) => {
                for path in &differ {
                    let verb = if args.check { "differs from what the runs give" } else { "written" };
                    eprintln!("{}: {verb}", path.display());
                }
                if args.check { ExitCode::FAILURE } else { ExitCode::SUCCESS }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Features(args) => {
            let setup = Setup {
                provider_fake_base: args.provider_fake_addr.map(|a| format!("http://{a}/v1")),
                tools_fake_base: args.tools_fake_addr.map(|a| format!("http://{a}")),
                trace_file: args.trace_file,
                keys_file: args.keys_file,
                router_dir: args.router_dir,
                anthropic_fake_base: args.anthropic_fake_addr.map(|a| format!("http://{a}")),
            };
            print!("{}", if args.markdown { features::markdown(&setup) } else { features::plain(&setup) });
            ExitCode::SUCCESS
        }
        Command::Fakes(args) => block_on(serve_fakes(args)),
        Command::KeysFile(args) => match write_keys_file(args.path.unwrap_or_else(features::default_keys_file)) {
            Ok(path) => {
                println!("{}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::RouterFiles(args) => router_files(args),
        Command::Run(args) => block_on(async move {
            run(*args).await.unwrap_or_else(|e| {
                eprintln!("error: {e}");
                ExitCode::from(2)
            })
        }),
    }
}

fn block_on(fut: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(2)
        }
    }
}

/// `conformance router-files`: the router files for fakes that will listen at the given addresses.
fn router_files(args: RouterFilesArgs) -> ExitCode {
    if args.router_fake_addrs.len() != 3 {
        eprintln!("error: --router-fake-addrs takes three addresses (alpha,beta,gamma)");
        return ExitCode::from(2);
    }
    let dir = args.dir.unwrap_or_else(default_router_dir);
    let bases: Vec<(&'static str, String)> = conformance::fakes::router::NAMES
        .into_iter()
        .zip(&args.router_fake_addrs)
        .map(|(n, a)| (n, format!("http://{a}/v1")))
        .collect();
    match routing::write_all(&dir, &bases) {
        Ok(()) => {
            println!("{}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write the router files into {}: {e}", dir.display());
            ExitCode::from(2)
        }
    }
}

/// Where the router files go when no folder is given: a fixed one, so a target started once with
/// them keeps working for every later run with the same router fake addresses.
fn default_router_dir() -> PathBuf {
    std::env::temp_dir().join("miniagent-conformance-router")
}

/// `--router-fake-addrs` as the fakes' fixed addresses.
fn router_addrs(given: Option<&Vec<SocketAddr>>) -> [Option<SocketAddr>; 3] {
    let mut out = [None; 3];
    for (slot, addr) in out.iter_mut().zip(given.into_iter().flatten()) {
        *slot = Some(*addr);
    }
    out
}

/// Writes the router files for the running fakes and says where they are.
fn write_router_files(fakes: &Fakes, dir: Option<PathBuf>) -> Result<PathBuf, String> {
    let dir = dir.unwrap_or_else(default_router_dir);
    routing::write_all(&dir, &fakes.router.bases())
        .map_err(|e| format!("cannot write the router files into {}: {e}", dir.display()))?;
    let addrs: Vec<String> = fakes.router.addresses().iter().map(ToString::to_string).collect();
    eprintln!(
        "router fakes: {}  router files: {}  (start the target with MINI_AGENT_CONFIG={}/router.yaml for the router cases)",
        addrs.join(","),
        dir.display(),
        dir.display()
    );
    Ok(dir)
}

async fn serve_fakes(args: FakesArgs) -> ExitCode {
    let addrs = FakeAddrs {
        provider: Some(args.provider_addr),
        tools: args.tools_addr,
        router: router_addrs(args.router_fake_addrs.as_ref()),
        ..FakeAddrs::default()
    };
    let fakes = match Fakes::start(addrs).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot start the fakes: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("tools fake: {}  raw tools fake: {}", fakes.tools.address(), fakes.raw_tools.address());
    eprintln!("provider fake base: {}", fakes.provider.base_url());
    if let Err(e) = write_router_files(&fakes, args.router_dir) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    eprintln!("listening on {}", fakes.provider.address());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

/// Writes the `auth` feature's keys file at `path` — through a sibling and a rename, so a target
/// starting at that moment never reads half a file.
fn write_keys_file(path: PathBuf) -> Result<PathBuf, String> {
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, features::KEYS_FILE_JSON)
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|e| format!("cannot write the keys file {}: {e}", path.display()))?;
    Ok(path)
}

/// Everything a case's context is made of; one per run, a fresh [`Ctx`] per case.
struct Wiring {
    target: Arc<dyn Transport>,
    socket: Option<SocketAddr>,
    exec_rpc: Option<Arc<dyn Transport>>,
    fakes: Arc<Fakes>,
    trace_file: Option<PathBuf>,
    keys_file: PathBuf,
    router_dir: PathBuf,
    property_cases: u32,
}

impl Wiring {
    fn ctx(&self) -> Ctx {
        Ctx {
            target: self.target.clone(),
            snapshots: Arc::new(StoredSnapshots),
            fakes: Some(self.fakes.clone()),
            trace_file: self.trace_file.clone(),
            exec_rpc: self.exec_rpc.clone(),
            property_cases: self.property_cases,
            socket: self.socket,
        }
    }
}

/// `conformance run`: errors before any case ran are the `Err` (exit code 2).
async fn run(args: RunArgs) -> Result<ExitCode, String> {
    let all = cases::all();
    let expected = load_expected(&args, &all)?;
    let wiring = wire(&args).await?;
    let setup = Setup {
        provider_fake_base: Some(wiring.fakes.provider.base_url()),
        tools_fake_base: Some(wiring.fakes.tools.uri()),
        trace_file: args.trace_file.clone(),
        keys_file: Some(wiring.keys_file.clone()),
        router_dir: Some(wiring.router_dir.clone()),
        anthropic_fake_base: Some(wiring.fakes.anthropic.base_url()),
    };
    let statuses = match &args.features {
        Some(names) => declared(names, &wiring.ctx())?,
        None => {
            eprintln!("probing the target's features (--features skips this)…");
            probe::discover(&wiring.ctx(), Duration::from_secs_f64(args.probe_timeout)).await
        }
    };
    for s in &statuses {
        eprintln!("{}", s.line());
    }
    let selection = Selection {
        profile: match args.profile {
            ProfileArg::Core => Profile::Core,
            ProfileArg::Extended => Profile::Extended,
            ProfileArg::Openai => Profile::Openai,
            ProfileArg::Router => Profile::Router,
            ProfileArg::Anthropic => Profile::Anthropic,
        },
        features: statuses.iter().filter(|s| s.enabled).map(|s| s.feature).collect(),
        pattern: args.case.clone(),
        setup,
    };
    let progress = std::io::stderr().is_terminal() || matches!(args.format, Format::Pretty);
    let mut outcomes = runner::run_all(
        &all,
        &selection,
        |_: &Case| wiring.ctx(),
        |o| {
            if progress {
                eprintln!("{}", report::line(o));
            }
        },
    )
    .await;
    baseline::apply(&mut outcomes, &expected);
    write_report(&args, &outcomes, &statuses, &selection.setup)?;
    Ok(if runner::run_failed(&outcomes, args.strict) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn load_expected(args: &RunArgs, all: &[Case]) -> Result<BTreeSet<String>, String> {
    let Some(path) = &args.expected_failures else { return Ok(BTreeSet::new()) };
    std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| baseline::parse(&t, all))
        .map_err(|e| format!("expected-failures file {}: {e}", path.display()))
}

/// Starts the fakes (printing where they are) and connects to the target and its exec-RPC server.
async fn wire(args: &RunArgs) -> Result<Wiring, String> {
    let addrs = FakeAddrs {
        provider: args.provider_fake_addr,
        tools: args.tools_fake_addr,
        raw_tools: args.raw_tools_fake_addr,
        router: router_addrs(args.router_fake_addrs.as_ref()),
        mcp_python: args.mcp_python.clone(),
        anthropic: args.anthropic_fake_addr,
    };
    let fakes = Fakes::start(addrs)
        .await
        .map_err(|e| format!("cannot start the fakes: {e} (are the --*-fake-addr addresses free?)"))?;
    eprintln!(
        "provider fake: {}  (start the target with OPENAI_API_BASE={})",
        fakes.provider.address(),
        fakes.provider.base_url()
    );
    eprintln!("tools fake: {}  raw tools fake: {}", fakes.tools.address(), fakes.raw_tools.address());
    eprintln!(
        "anthropic fake: {}  (start the target with ANTHROPIC_API_BASE={} for the anthropic cases)",
        fakes.anthropic.server().address(),
        fakes.anthropic.base_url()
    );
    if let Some(server) = &fakes.mcp {
        eprintln!("MCP server: {}", server.url());
    }
    let router_dir = write_router_files(&fakes, args.router_dir.clone())?;
    let keys_file = write_keys_file(args.keys_file.clone().unwrap_or_else(features::default_keys_file))?;
    eprintln!(
        "keys file: {}  (start the target with MINI_AGENT_API_KEYS_FILE={0} for the auth cases)",
        keys_file.display()
    );
    let url = |base: &str| UrlTransport::new(base).map_err(|e| format!("cannot build the HTTP client: {e}"));
    let target = url(&args.base_url)?;
    let socket = target.socket_addr();
    eprintln!("target: {}", target.base());
    let exec_rpc = match &args.exec_rpc_url {
        Some(u) => Some(Arc::new(url(u)?) as Arc<dyn Transport>),
        None => None,
    };
    Ok(Wiring {
        target: Arc::new(target),
        socket,
        exec_rpc,
        fakes: Arc::new(fakes),
        trace_file: args.trace_file.clone(),
        keys_file,
        router_dir,
        property_cases: args.proptest_cases,
    })
}

/// Statuses from `--features`, plus what the arguments give (`--trace-file`, `--exec-rpc-url`,
/// `--mcp-python`); nothing is probed.
fn declared(names: &[String], ctx: &Ctx) -> Result<Vec<FeatureStatus>, String> {
    let mut given = HashSet::new();
    for n in names.iter().filter(|n| !n.trim().is_empty()) {
        let f = Feature::parse(n).ok_or_else(|| {
            let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
            format!("unknown feature `{n}`; known: {}", known.join(", "))
        })?;
        given.insert(f);
    }
    Ok(Feature::ALL
        .iter()
        .copied()
        .map(|feature| match feature {
            _ if given.contains(&feature) => {
                FeatureStatus { feature, enabled: true, source: Source::Flag, why: "given with --features".into() }
            }
            Feature::Traces | Feature::ExecRpc | Feature::Mcp => probe::by_argument(ctx, feature),
            _ => FeatureStatus { feature, enabled: false, source: Source::Flag, why: "not in --features".into() },
        })
        .collect())
}

fn write_report(
    args: &RunArgs,
    outcomes: &[CaseOutcome],
    statuses: &[FeatureStatus],
    setup: &Setup,
) -> Result<(), String> {
    let skips = report::skips_by_feature(outcomes, setup);
    let text = match args.format {
        Format::Pretty => report::pretty(outcomes, &skips),
        Format::Json => report::json(outcomes, statuses, &skips) + "\n",
        Format::Junit => report::junit(outcomes),
        Format::Html => conformance::html::page(outcomes, statuses, &skips),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprint!("{}", report::pretty(outcomes, &skips));
        }
        None => print!("{text}"),
    }
    Ok(())
}
