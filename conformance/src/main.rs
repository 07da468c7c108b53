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
use conformance::runner::{self, Selection, Verdict};
use conformance::snapshot::StoredSnapshots;
use conformance::target::{Conn, Ctx};
use conformance::{cases, report};

#[derive(Parser)]
#[command(name = "conformance", version, about = "Check an implementation against the miniagent contract")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the cases against an implementation at a URL.
    Run(RunArgs),
    /// List the cases (id, profile, features, clause).
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Pretty,
    Json,
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
    /// Only cases whose id matches this glob.
    #[arg(long = "case")]
    case: Option<String>,
    #[arg(long, value_enum, default_value = "pretty")]
    format: Format,
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
        Command::Run(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(run(args)),
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::from(2)
            }
        },
    }
}

async fn run(args: RunArgs) -> ExitCode {
    let addrs = FakeAddrs {
        provider: args.provider_fake_addr,
        tools: args.tools_fake_addr,
        raw_tools: args.raw_tools_fake_addr,
    };
    let fakes = match Fakes::start(addrs).await {
        Ok(f) => Arc::new(f),
        Err(e) => {
            eprintln!("error: cannot start the fakes: {e} (are the --*-fake-addr addresses free?)");
            return ExitCode::from(2);
        }
    };
    eprintln!("tools fake: {}  raw tools fake: {}", fakes.tools.address(), fakes.raw_tools.address());
    eprintln!(
        "provider fake: {}  (start the target with OPENAI_API_BASE={})",
        fakes.provider.address(),
        fakes.provider.base_url()
    );
    let base = args.base_url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let features = match &args.features {
        Some(names) => {
            let mut set = HashSet::new();
            for n in names.iter().filter(|n| !n.trim().is_empty()) {
                match Feature::parse(n) {
                    Some(f) => {
                        set.insert(f);
                    }
                    None => {
                        let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
                        eprintln!("error: unknown feature `{n}`; known: {}", known.join(", "));
                        return ExitCode::from(2);
                    }
                }
            }
            set
        }
        None => discover(&http, &base).await,
    };
    let mut features = features;
    if args.trace_file.is_some() {
        features.insert(Feature::Traces);
    }
    let names: Vec<&str> = features.iter().map(|f| f.name()).collect();
    eprintln!("target: {base}  features: {}", if names.is_empty() { "(none)".to_owned() } else { names.join(", ") });
    let selection = Selection {
        profile: match args.profile {
            ProfileArg::Core => Profile::Core,
            ProfileArg::Extended => Profile::Extended,
        },
        features,
        pattern: args.case.clone(),
    };
    let tty = std::io::stderr().is_terminal();
    let pretty = matches!(args.format, Format::Pretty);
    let ctx_for = |_: &conformance::Case| Ctx {
        conn: Conn::Url { base: base.clone(), http: http.clone() },
        snapshots: Arc::new(StoredSnapshots),
        fakes: Some(fakes.clone()),
        trace_file: args.trace_file.clone(),
    };
    let outcomes = runner::run_all(&cases::all(), &selection, ctx_for, |o| {
        if pretty || tty {
            eprintln!("{}", report::line(o));
        }
    })
    .await;
    match args.format {
        Format::Pretty => print!("{}", report::pretty(&outcomes)),
        Format::Json => println!("{}", report::json(&outcomes)),
    }
    if outcomes.iter().any(|o| matches!(o.verdict, Verdict::Fail(_))) { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// Features from what the target answers: `/ready` hints tell the shim mode and whether any provider
/// key is set; a dummy run tells whether `dummy` is allowed.
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
