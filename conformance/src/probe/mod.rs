//! Discovering a target's features by probing it (CONTRACT §10): without `--features`, the runner
//! sends one small request per feature — through the same [`Ctx`] the cases use — and enables what
//! answers. A new user who started the target pointed at the fakes then runs every case it can,
//! instead of skipping most of them for want of a flag.
//!
//! Which probe a feature has and what it waits for is the feature table's `discovery` column
//! ([`Discovery`]); this module only runs the table, in rounds: every probe whose prerequisites
//! have answered goes out at once, one whose prerequisite did not is not sent ("needs provider-fake,
//! which did not answer"), and the probes that must run alone go last, one at a time.
//!
//! A probe never fails the run: each is bounded by a timeout (`--probe-timeout`, by default
//! [`PROBE_TIMEOUT`]) and ends in a status, enabled or not, with the evidence either way. The
//! probes themselves are in [`each`].
//!
//! Probes never make a target connect anywhere it should not: the outbound probe names a TEST-NET
//! address (192.0.2.1, never routed), not a metadata service.

pub mod each;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use each::Probed;

use crate::features::{Discovery, Feature, FeatureStatus, Source};
use crate::target::Ctx;

/// How long one probe may take by default. The slowest honest probes wait on purpose (a provider
/// answer held back 4 s, half a request head for the slow-client timeout plus 2 s); the rest take well
/// under a second on a warm target. A target that does not answer in time lacks the feature as far as
/// this run can tell — a gateway whose first requests are slow (a Python one importing its
/// providers on first use) needs a longer `--probe-timeout`.
pub const PROBE_TIMEOUT: std::time::Duration = Duration::from_secs(5);

/// One status per feature, in [`Feature::ALL`] order, each probe bounded by `timeout`.
pub async fn discover(ctx: &Ctx, timeout: Duration) -> Vec<FeatureStatus> {
    let mut found: BTreeMap<Feature, Probed> = BTreeMap::new();
    // Rounds: whatever can go out now goes out together; a table whose prerequisites form a cycle
    // (a test rules it out) would leave its features undecided, reported as not probed.
    loop {
        let ready: Vec<(Feature, &'static [Feature], each::ProbeFn)> = Feature::ALL
            .iter()
            .filter(|f| !found.contains_key(f))
            .filter_map(|&f| match f.spec().probe {
                Discovery::Probe { after, probe } if after.iter().all(|a| found.contains_key(a)) => {
                    Some((f, after, probe))
                }
                _ => None,
            })
            .collect();
        if ready.is_empty() {
            break;
        }
        let results = futures::future::join_all(ready.iter().map(|&(_, after, probe)| {
            let missing = after.iter().find(|a| found.get(a).is_none_or(Result::is_err)).copied();
            async move {
                match missing {
                    Some(a) => Err(format!("needs {}, which did not answer", a.name())),
                    None => bounded(timeout, probe(ctx)).await,
                }
            }
        }))
        .await;
        found.extend(ready.iter().map(|(f, _, _)| *f).zip(results));
    }
    for &feature in Feature::ALL {
        if let Discovery::Alone(probe) = feature.spec().probe {
            found.insert(feature, bounded(timeout, probe(ctx)).await);
        }
    }
    Feature::ALL
        .iter()
        .map(|&feature| match found.remove(&feature) {
            Some(Ok(why)) => FeatureStatus { feature, enabled: true, source: Source::Probe, why },
            Some(Err(why)) => FeatureStatus { feature, enabled: false, source: Source::Probe, why },
            None if matches!(feature.spec().probe, Discovery::Argument) => by_argument(ctx, feature),
            None => FeatureStatus {
                feature,
                enabled: false,
                source: Source::Probe,
                why: "not probed: its prerequisites were never decided".to_owned(),
            },
        })
        .collect()
}

/// The status of a feature that follows an argument rather than a probe.
pub fn by_argument(ctx: &Ctx, feature: Feature) -> FeatureStatus {
    let (enabled, why) = match feature {
        Feature::ExecRpc if ctx.exec_rpc.is_some() => (true, "--exec-rpc-url was given"),
        Feature::ExecRpc => (false, "no --exec-rpc-url given"),
        Feature::Mcp if ctx.fakes.as_ref().is_some_and(|f| f.mcp.is_some()) => {
            (true, "the suite runs an MCP server (--mcp-python)")
        }
        Feature::Mcp => (false, "no --mcp-python given"),
        Feature::Traces if ctx.trace_file.is_some() => (true, "--trace-file was given"),
        Feature::Traces => (false, "no --trace-file given"),
        _ => (false, "not given by an argument"),
    };
    FeatureStatus { feature, enabled, source: Source::Argument, why: why.to_owned() }
}

async fn bounded(timeout: Duration, probe: impl Future<Output = Probed>) -> Probed {
    tokio::time::timeout(timeout, probe).await.unwrap_or_else(|_| {
        Err(format!("no answer within {:.1}s (a slow target needs a longer --probe-timeout)", timeout.as_secs_f64()))
    })
}
