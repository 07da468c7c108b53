//! The scale suite (`make e2e-scale`, CONTRACT §12): nginx in front of three `miniagent serve`
//! replicas that share Redis and send spans to one OTLP receiver — as processes, and as containers
//! when Docker answers (built here; nothing is pulled). One trial per mode proves, in order:
//!
//! 1. **spread** — a load through nginx is served by every replica, and the replicas' `/metrics`
//!    add up to exactly the load sent, each replica's share matching nginx's own `X-Upstream`;
//! 2. **traces** — every request is one trace (the client's `traceparent` continued: one request
//!    span under the client's span), all of its spans from the replica that answered it, and every
//!    replica's spans reach the receiver;
//! 3. **shared limit** — a key with `rpm: 30` gets exactly 30 answers across the replicas, then
//!    429s with `Retry-After` from more than one replica, and the refusals are counted;
//! 4. **kill** — SIGKILL to one replica under load loses no request (nginx retries on the others),
//!    the survivors keep answering, and their counters still match what they answered.
//!
//! 5. **shared cooldown** (last: its requests are not in nginx's tally of the others) — a router
//!    deployment that fails on one replica receives nothing from any replica, through nginx, until
//!    its cooldown, kept in Redis, ends.
//!
//! It prints what it measured (the figures are quoted in notes). Ignored with the reason unless
//! `E2E_SCALE=1` (the make target sets it) or when nginx, `redis-server` or — for the container mode
//! — Docker and the images are missing; under `MINIAGENT_REQUIRE_SCALE=1` (CI) a missing nginx,
//! `redis-server` or image is a failure (a missing Docker engine still only skips).
#![allow(clippy::disallowed_methods, reason = "tests start real programs and read their own settings")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use common::{or_ignore, trial};
use harness::otlp::OtlpReceiver;
use harness::scale::load::{self, Load, Outcome};
use harness::scale::{Mode, REPLICAS, ScaleStack, metrics};
use libtest_mimic::Completion;

/// Requests of the spread proof, of the load a replica is killed under, and after the kill.
const SPREAD_REQUESTS: usize = 600;
const KILL_REQUESTS: usize = 900;
const AFTER_KILL_REQUESTS: usize = 60;
/// The kill comes once this many of the kill load's requests have finished.
const KILL_AFTER: usize = 300;
const CONCURRENCY: usize = 16;
/// More than `LIMIT_KEY`'s rpm, at a concurrency that makes the replicas race for the window.
const LIMIT_REQUESTS: usize = 45;
const LIMIT_CONCURRENCY: usize = 6;
/// The replica killed under load.
const VICTIM: usize = 0;

/// Why the mode cannot run here, or `Ok`; panics instead where `MINIAGENT_REQUIRE_SCALE` makes a
/// missing prerequisite a failure.
fn prerequisites(mode: Mode) -> Result<(), String> {
    if std::env::var("E2E_SCALE").ok().as_deref() != Some("1") {
        return Err("scale suite disabled; run `make e2e-scale` (or set E2E_SCALE=1)".to_owned());
    }
    let required = std::env::var_os("MINIAGENT_REQUIRE_SCALE").is_some();
    let need = |r: Result<(), String>| match r {
        Err(why) if required => panic!("{why} (MINIAGENT_REQUIRE_SCALE is set)"),
        other => other,
    };
    need(harness::scale::nginx::program().map(drop))?;
    need(harness::redis::program().map(drop))?;
    if mode == Mode::Containers {
        harness::containers::engine().map_err(|why| format!("container mode: {why}"))?;
        need(harness::containers::image(harness::containers::IMAGE, "make images"))?;
        need(harness::containers::image(harness::containers::BALANCER_IMAGE, "harness/images/balancer.sh"))?;
    }
    Ok(())
}

/// A running stack, what was sent through it, and the figures for the report.
struct Suite {
    stack: ScaleStack,
    otlp: OtlpReceiver,
    client: reqwest::Client,
    /// Every request sent so far, all phases.
    outcomes: Vec<Outcome>,
    report: Vec<String>,
}

impl Suite {
    fn name_of(&self, addr: &str) -> String {
        self.stack.replicas.iter().find(|r| r.addr == addr).map_or_else(|| format!("?{addr}"), |r| r.name.clone())
    }

    async fn send(&mut self, key: &'static str, requests: usize, concurrency: usize, phase: u64) -> Vec<Outcome> {
        let load = self.load(key, requests, concurrency, phase);
        let got = load::send(&self.client, &load, Arc::default()).await;
        self.outcomes.extend(got.iter().cloned());
        got
    }

    fn load(&self, key: &'static str, requests: usize, concurrency: usize, phase: u64) -> Load {
        let trace_prefix =
            (u64::from(std::process::id()) << 32) | (phase << 24) | (harness::unique() as u64 & 0xff_ffff);
        Load { url: self.stack.balancer.clone(), key, requests, concurrency, trace_prefix }
    }

    /// Requests answered by each replica (by name), with `status`, per nginx's `X-Upstream`.
    fn answered(outcomes: &[Outcome], status: u16, suite: &Self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for o in outcomes.iter().filter(|o| o.status == Some(status)) {
            *by.entry(suite.name_of(o.answered_by())).or_insert(0) += 1;
        }
        by
    }

    /// `/agent/run` answers with `status` that replica `i` counted.
    async fn counted(&self, i: usize, status: &str) -> usize {
        let text = metrics::scrape(&self.client, &self.stack.replicas[i].url()).await.unwrap();
        let labels = [("method", "POST"), ("route", "/agent/run"), ("status", status)];
        metrics::sum(&text, "miniagent_requests_total", &labels) as usize
    }

    /// Asserts that each running replica's counters equal what nginx says it answered, all phases.
    async fn counters_match(&self, running: &[usize]) -> BTreeMap<String, (usize, usize)> {
        let (ok, refused) = (Self::answered(&self.outcomes, 200, self), Self::answered(&self.outcomes, 429, self));
        let mut counted = BTreeMap::new();
        for &i in running {
            let name = &self.stack.replicas[i].name;
            let got = (self.counted(i, "200").await, self.counted(i, "429").await);
            let want = (ok.get(name).copied().unwrap_or(0), refused.get(name).copied().unwrap_or(0));
            assert_eq!(got, want, "{name}: /metrics counted (200, 429) = {got:?}, nginx says it answered {want:?}");
            counted.insert(name.clone(), got);
        }
        counted
    }

    fn failures(outcomes: &[Outcome]) -> String {
        let bad: Vec<String> = outcomes
            .iter()
            .filter(|o| !o.ok())
            .take(5)
            .map(|o| format!("{:?} via {:?}: {}", o.status, o.upstream, o.error.as_deref().unwrap_or("")))
            .collect();
        bad.join("\n")
    }
}

#[path = "scale/proofs.rs"]
mod proofs;

async fn scale(mode: Mode) -> Completion {
    or_ignore!(prerequisites(mode));
    let started = Instant::now();
    let otlp = OtlpReceiver::start().await.expect("the OTLP receiver binds");
    let stack = tokio::task::block_in_place(|| match mode {
        Mode::Processes => ScaleStack::start_processes(&assert_cmd::cargo::cargo_bin("miniagent"), &otlp.url),
        Mode::Containers => ScaleStack::start_containers(&otlp.url),
    })
    .unwrap_or_else(|e| panic!("the {mode} stack starts: {e}"));
    let up = started.elapsed();
    let mut suite = Suite { stack, otlp, client: load::client(), outcomes: Vec::new(), report: Vec::new() };
    suite.report.push(format!(
        "stack: nginx {} → {} replicas ({}), up in {:.1}s",
        suite.stack.balancer,
        REPLICAS,
        suite.stack.replicas.iter().map(|r| format!("{} {}", r.name, r.addr)).collect::<Vec<_>>().join(", "),
        up.as_secs_f64()
    ));
    let phases = async {
        proofs::spread(&mut suite).await;
        proofs::traces(&mut suite).await;
        proofs::shared_limit(&mut suite).await;
        proofs::kill_under_load(&mut suite).await;
        proofs::shared_cooldown(&mut suite).await;
    };
    let result = futures_catch(phases).await;
    println!("\n== scale suite, {mode} mode ==");
    for line in &suite.report {
        println!("  {line}");
    }
    println!("  wall time: {:.1}s", started.elapsed().as_secs_f64());
    if let Err(panic) = result {
        eprintln!("nginx's log:\n{}", suite.stack.balancer_log());
        std::panic::resume_unwind(panic);
    }
    Completion::Completed
}

/// Runs `f`, catching a panic (a failed proof) so the figures measured so far are still printed.
async fn futures_catch<F: std::future::Future<Output = ()>>(f: F) -> std::thread::Result<()> {
    use std::panic::AssertUnwindSafe;
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(move |cx| match std::panic::catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
        Ok(std::task::Poll::Ready(())) => std::task::Poll::Ready(Ok(())),
        Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
        Err(panic) => std::task::Poll::Ready(Err(panic)),
    })
    .await
}

fn main() {
    common::run_trials(vec![
        trial("scale_processes", || scale(Mode::Processes)),
        trial("scale_containers", || scale(Mode::Containers)),
    ])
}
