//! Every conformance case, in-process against the reference, one named test per case id.
//!
//! A custom harness (libtest-mimic) makes the tests from the registry, so a new case is a new test
//! with nothing to keep in sync, and `cargo test -p conformance -- shim.` filters by id as usual.
//! Shapes are checked with insta against the workspace's `snapshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use conformance::Failure;
use conformance::fakes::Fakes;
use conformance::features::Feature;
use conformance::runner::{self, Verdict};
use conformance::snapshot::SnapshotCheck;
use libtest_mimic::{Arguments, Completion, Trial};
use serde_json::Value;

/// insta, with the workspace's snapshot folder and names taken as given.
struct Insta;

impl SnapshotCheck for Insta {
    fn check(&self, name: &str, value: &Value) -> Result<(), Failure> {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_json_snapshot!(name, value))
        }));
        outcome.map_err(|_| Failure::failed(format!("snapshot `{name}` does not match (see the diff above; `make snapshots` after a deliberate contract change)")))
    }
}

/// Against the reference in-process every case ends within seconds (the slowest wait on purpose,
/// for about 5 s); one still running after this has hung — it fails, rather than keeping the whole
/// binary (and a mutation run's test timeout) waiting for the runner's general limit.
const IN_PROCESS_CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A hang the case's own timeout cannot end — a loop that never yields holds a runtime thread, and
/// the runtime then never shuts down — stops the whole binary this long after the case began,
/// naming the case, instead of leaving it (and a mutation run's test timeout) waiting forever.
const IN_PROCESS_WATCHDOG: std::time::Duration = std::time::Duration::from_secs(40);

/// Until the returned sender is dropped, a thread that ends the process (after stopping the MCP
/// server, since `exit` runs no destructors) once [`IN_PROCESS_WATCHDOG`] has passed.
fn watchdog(id: &'static str, fakes: Arc<Fakes>) -> std::sync::mpsc::Sender<()> {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(IN_PROCESS_WATCHDOG) {
            eprintln!(
                "case {id} is still running after {}s: the reference hangs (a loop that never yields?); stopping",
                IN_PROCESS_WATCHDOG.as_secs()
            );
            if let Some(mcp) = &fakes.mcp {
                mcp.stop();
            }
            std::process::exit(101);
        }
    });
    done
}

fn main() {
    let args = Arguments::from_args();
    // A real MCP server needs the official Python SDK (`make py-venvs`); without it the MCP cases are
    // ignored with the reason — unless MINIAGENT_REQUIRE_PY_PEERS is set (CI): then `python_peer`
    // panics, and a missing peer fails the run instead.
    let mcp_python = harness::python_peer("mcp-v2", "MCP_V2_PYTHON");
    let no_mcp = mcp_python.as_ref().err().map(|why| format!("{why}: the MCP cases cannot run"));
    // The fakes run on their own threads, so one set serves every trial's runtime.
    let addrs = conformance::fakes::FakeAddrs { mcp_python: mcp_python.ok(), ..Default::default() };
    let fakes =
        Arc::new(tokio::runtime::Runtime::new().unwrap().block_on(Fakes::start(addrs)).expect("start the fakes"));
    let trials = conformance::cases::all()
        .into_iter()
        .map(|case| {
            let fakes = fakes.clone();
            let ignore = no_mcp.clone().filter(|_| case.features.contains(&Feature::Mcp));
            Trial::ignorable_test(case.id, move || {
                if let Some(why) = ignore {
                    return Ok(Completion::ignored_with(why));
                }
                let _watchdog = watchdog(case.id, fakes.clone());
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                rt.block_on(async {
                    let run = support::ctx_for(&case, fakes, Arc::new(Insta)).await.map_err(|f| f.to_string())?;
                    match runner::run_case_within(&case, &run.ctx, IN_PROCESS_CASE_TIMEOUT).await {
                        Verdict::Pass => Ok(Completion::Completed),
                        Verdict::Fail(why) => Err(format!("[{}] {why}", case.clause).into()),
                        Verdict::Skip(why) => Err(format!("in-process cases never skip: {why}").into()),
                        Verdict::ExpectedFail(_) | Verdict::Stale => Err("no expected failures in-process".into()),
                    }
                })
            })
            .with_kind(case.profile.name())
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // `exit` skips destructors: stop the MCP server (a child process) first — explicitly, since a
    // watchdog thread may still hold a reference to the fakes.
    if let Some(mcp) = &fakes.mcp {
        mcp.stop();
    }
    drop(fakes);
    conclusion.exit();
}
