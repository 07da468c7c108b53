//! The `conformance` binary: parses arguments and hands off to the library's runner.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use conformance::case::{Feature, Profile};
use conformance::fakes::{FakeAddrs, Fakes};
use conformance::runner::{self, Selection};
use conformance::snapshot::StoredSnapshots;
use conformance::target::{Conn, Ctx};
use conformance::{baseline, cases, report};

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
    /// List the cases (id, profile, features, clause).
    List,
    /// Run the fakes alone (for a live stack): logs "listening on <provider fake>" and serves until
    /// stopped.
    Fakes(FakesArgs),
}

#[derive(clap::Args)]
struct FakesArgs {
    /// The provider fake's address (port 0: a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    provider_addr: SocketAddr,
    /// The tools fake's address.
    #[arg(long)]
    tools_addr: Option<SocketAddr>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Pretty,
    Json,
    Junit,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    Core,
    Extended,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Base URL of the implementation, e.g. http://127.0.0.1:8788
    #[arg(long)]
    base_url: String,
    /// `core` runs the cases every implementation must pass; `extended` adds our extensions.
    #[arg(long, value_enum, default_value = "extended")]
    profile: ProfileArg,
    /// Features the target has (comma-separated); when absent they are discovered from /ready.
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
    /// Fix the provider fake's address so the target can be started pointing at it.
    #[arg(long)]
    provider_fake_addr: Option<SocketAddr>,
    /// Fix the HTTP tools fake's address.
    #[arg(long)]
    tools_fake_addr: Option<SocketAddr>,
    /// Fix the raw (byte-recording) tools fake's address.
    #[arg(long)]
    raw_tools_fake_addr: Option<SocketAddr>,
    /// The target's trace file (MINI_AGENT_STORE_PATH), to enable the trace cases.
    #[arg(long)]
    trace_file: Option<PathBuf>,
    /// The implementation's exec-RPC server, to enable the §7 cases.
    #[arg(long)]
    exec_rpc_url: Option<String>,
    /// A Python with the `mcp` package: the suite then runs a real MCP server for the §4b cases.
    #[arg(long)]
    mcp_python: Option<PathBuf>,
    /// Generated cases per property (tool order, retry bounds).
    #[arg(long, default_value_t = 8)]
    proptest_cases: u32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for c in cases::all() {
                let features: Vec<&str> = c.features.iter().map(|f| f.name()).collect();
                println!("{:<45} {:<9} [{}] {}", c.id, c.profile.name(), features.join(","), c.clause);
            }
            ExitCode::SUCCESS
        }
        Command::Fakes(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(serve_fakes(args)),
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::from(2)
            }
        },
        Command::Run(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(run(*args)),
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::from(2)
            }
        },
    }
}

async fn serve_fakes(args: FakesArgs) -> ExitCode {
    let addrs = FakeAddrs { provider: Some(args.provider_addr), tools: args.tools_addr, ..FakeAddrs::default() };
    let fakes = match Fakes::start(addrs).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot start the fakes: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("tools fake: {}  raw tools fake: {}", fakes.tools.address(), fakes.raw_tools.address());
    eprintln!("provider fake base: {}", fakes.provider.base_url());
    eprintln!("listening on {}", fakes.provider.address());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

fn parse_features(names: &[String]) -> Result<HashSet<Feature>, String> {
    let mut set = HashSet::new();
    for n in names.iter().filter(|n| !n.trim().is_empty()) {
        let f = Feature::parse(n).ok_or_else(|| {
            let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
            format!("unknown feature `{n}`; known: {}", known.join(", "))
        })?;
        set.insert(f);
    }
    Ok(set)
}

async fn run(args: RunArgs) -> ExitCode {
    let all = cases::all();
    let expected = match &args.expected_failures {
        None => Default::default(),
        Some(path) => {
            match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| baseline::parse(&t, &all)) {
                Ok(ids) => ids,
                Err(e) => {
                    eprintln!("error: expected-failures file {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
    };
    let addrs = FakeAddrs {
        provider: args.provider_fake_addr,
        tools: args.tools_fake_addr,
        raw_tools: args.raw_tools_fake_addr,
        mcp_python: args.mcp_python.clone(),
    };
    let fakes = match Fakes::start(addrs).await {
        Ok(f) => Arc::new(f),
        Err(e) => {
            eprintln!("error: cannot start the fakes: {e} (are the --*-fake-addr addresses free?)");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "provider fake: {}  (start the target with OPENAI_API_BASE={})",
        fakes.provider.address(),
        fakes.provider.base_url()
    );
    eprintln!("tools fake: {}  raw tools fake: {}", fakes.tools.address(), fakes.raw_tools.address());
    let base = args.base_url.trim_end_matches('/').to_owned();
    // No connection reuse: a target that drops its keep-alive connection after an error (uvicorn
    // does after a 500) would otherwise make the *next* case fail with a stale-connection error.
    let http = match reqwest::Client::builder().pool_max_idle_per_host(0).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot build the HTTP client: {e}");
            return ExitCode::from(2);
        }
    };
    let mut features = match &args.features {
        Some(names) => match parse_features(names) {
            Ok(set) => set,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => discover(&http, &base).await,
    };
    if args.trace_file.is_some() {
        features.insert(Feature::Traces);
    }
    let exec_rpc =
        args.exec_rpc_url.as_ref().map(|u| Conn::Url { base: u.trim_end_matches('/').to_owned(), http: http.clone() });
    if exec_rpc.is_some() {
        features.insert(Feature::ExecRpc);
    }
    if let Some(server) = &fakes.mcp {
        eprintln!("MCP server: {}", server.url());
        features.insert(Feature::Mcp);
    }
    let mut names: Vec<&str> = features.iter().map(|f| f.name()).collect();
    names.sort_unstable();
    eprintln!("target: {base}  features: {}", if names.is_empty() { "(none)".to_owned() } else { names.join(", ") });
    let selection = Selection {
        profile: match args.profile {
            ProfileArg::Core => Profile::Core,
            ProfileArg::Extended => Profile::Extended,
        },
        features,
        pattern: args.case.clone(),
    };
    let progress = std::io::stderr().is_terminal() || matches!(args.format, Format::Pretty);
    let ctx_for = |_: &conformance::Case| Ctx {
        conn: Conn::Url { base: base.clone(), http: http.clone() },
        snapshots: Arc::new(StoredSnapshots),
        fakes: Some(fakes.clone()),
        trace_file: args.trace_file.clone(),
        exec_rpc: exec_rpc.clone(),
        property_cases: args.proptest_cases,
    };
    let mut outcomes = runner::run_all(&all, &selection, ctx_for, |o| {
        if progress {
            eprintln!("{}", report::line(o));
        }
    })
    .await;
    baseline::apply(&mut outcomes, &expected);
    let text = match args.format {
        Format::Pretty => report::pretty(&outcomes),
        Format::Json => report::json(&outcomes) + "\n",
        Format::Junit => report::junit(&outcomes),
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
            eprint!("{}", report::pretty(&outcomes));
        }
        None => print!("{text}"),
    }
    if outcomes.iter().any(|o| o.verdict.fails_run()) { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// Features from what the target answers: `/ready` hints tell the shim mode and whether any provider
/// key is set; a dummy run tells whether `dummy` is allowed. Anything else is declared by flag.
async fn discover(http: &reqwest::Client, base: &str) -> HashSet<Feature> {
    let mut set = HashSet::new();
    if let Ok(res) = http.get(format!("{base}/ready")).send().await
        && let Ok(v) = res.json::<serde_json::Value>().await
    {
        let hint = |k: &str| v.pointer(&format!("/hints/{k}")).cloned().unwrap_or_default();
        if hint("MINI_AGENT_OPENAI_SHIM_MODE").as_str() == Some("echo") {
            set.insert(Feature::ShimEcho);
        } else if hint("OPENAI_API_KEY") == serde_json::json!(false)
            && hint("OLLAMA_BASE_URL") == serde_json::json!(false)
        {
            set.insert(Feature::ShimNoProvider);
        }
    }
    let probe = serde_json::json!({"model": "dummy", "tool_backend": "echo", "messages": [{"role": "user", "content": "probe"}]});
    if let Ok(res) = http.post(format!("{base}/agent/run")).json(&probe).send().await
        && res.status().is_success()
    {
        set.insert(Feature::Dummy);
        // With the dummy model allowed the shim has something to call: not "no provider".
        set.remove(&Feature::ShimNoProvider);
    }
    set
}
