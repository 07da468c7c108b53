//! §5 Routing (profile `router`): how requests spread over the healthy deployments of a group —
//! simple-shuffle by `weight`, else `rpm`, else `tpm`, else uniformly; `order` tiers; least-busy,
//! latency-based and usage-based routing — each over 1 000 requests, within a tolerance of six
//! standard deviations of the expected share (a fair implementation fails about once in a billion
//! runs; a wrong weighting by far more). Also the helpers the router cases share.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use serde_json::json;

use crate::case::{Case, Level, Profile};
use crate::checks::{expect_status, uuid_like};
use crate::failure::{CaseResult, Failure, ensure, ensure_eq};
use crate::fakes::router::{Health, script};
use crate::features::Feature;
use crate::target::Ctx;
use crate::transport::Reply;

/// What the `router.yaml` cases need (the router probe already shows chat completions proxied to the
/// router fakes, so nothing else).
pub const NEEDS: &[Feature] = &[Feature::Router];
const SPREAD: &str = "§5 Routing — simple-shuffle weighted by weight, else rpm, else tpm, else uniform; order tiers";
const STRATEGIES: &str = "§5 Routing — least-busy, latency-based-routing, usage-based-routing-v2";
/// Requests per spread.
pub const REQUESTS: usize = 1000;

pub const CASES: &[Case] = &[
    Case::new(
        "router.shuffle.weight",
        Profile::Router,
        Level::Recommended,
        SPREAD,
        "weights 1:2:7 spread 1 000 requests 10 %, 20 %, 70 %",
        |ctx| Box::pin(shares(ctx, "spread-weight", &[("weight-a", 0.1), ("weight-b", 0.2), ("weight-c", 0.7)])),
    )
    .needs(NEEDS),
    Case::new(
        "router.shuffle.rpm",
        Profile::Router,
        Level::Recommended,
        SPREAD,
        "without weights, rpm 100:300:600 spread requests 10 %, 30 %, 60 %",
        |ctx| Box::pin(shares(ctx, "spread-rpm", &[("rpm-a", 0.1), ("rpm-b", 0.3), ("rpm-c", 0.6)])),
    )
    .needs(NEEDS),
    Case::new(
        "router.shuffle.tpm",
        Profile::Router,
        Level::Recommended,
        SPREAD,
        "without weights or rpm, tpm 1000:1000:2000 spread requests 25 %, 25 %, 50 %",
        |ctx| Box::pin(shares(ctx, "spread-tpm", &[("tpm-a", 0.25), ("tpm-b", 0.25), ("tpm-c", 0.5)])),
    )
    .needs(NEEDS),
    Case::new(
        "router.shuffle.uniform",
        Profile::Router,
        Level::Recommended,
        SPREAD,
        "without weight, rpm or tpm, requests spread evenly",
        |ctx| {
            Box::pin(shares(
                ctx,
                "spread-uniform",
                &[("uniform-a", 1.0 / 3.0), ("uniform-b", 1.0 / 3.0), ("uniform-c", 1.0 / 3.0)],
            ))
        },
    )
    .needs(NEEDS),
    Case::new(
        "router.order.tiers",
        Profile::Router,
        Level::Recommended,
        SPREAD,
        "order 1 takes everything while available; order 2 only while it cools, and order 1 again after",
        |ctx| Box::pin(tiers(ctx)),
    )
    .needs(NEEDS),
    Case::new(
        "router.least_busy.spread",
        Profile::Router,
        Level::Recommended,
        STRATEGIES,
        "least-busy: one at a time, requests spread evenly; a deployment holding requests gets few",
        |ctx| Box::pin(least_busy(ctx)),
    )
    .needs(&[Feature::RouterLeastBusy]),
    Case::new(
        "router.latency.fastest",
        Profile::Router,
        Level::Recommended,
        STRATEGIES,
        "latency-based-routing: a deployment 40 ms slower than the others gets almost nothing",
        |ctx| Box::pin(latency(ctx)),
    )
    .needs(&[Feature::RouterLatency]),
    Case::new(
        "router.usage.limits",
        Profile::Router,
        Level::Recommended,
        STRATEGIES,
        "usage-based-routing-v2: the fewest tokens this minute, never past a deployment's rpm; all at their limits is \
         a 429",
        |ctx| Box::pin(usage(ctx)),
    )
    .needs(&[Feature::RouterUsage]),
];

/// A chat completion on `group` carrying `nonce` and the routing script.
pub async fn chat(ctx: &Ctx, group: &str, nonce: &str, health: &[(&str, Health)]) -> Result<Reply, Failure> {
    let text = format!("hello {nonce} {}", script(health));
    ctx.post_json("/v1/chat/completions", &json!({"model": group, "messages": [{"role": "user", "content": text}]}))
        .await
}

/// A healthy chat completion on `group`.
pub async fn ask(ctx: &Ctx, group: &str, nonce: &str) -> Result<Reply, Failure> {
    let reply = chat(ctx, group, nonce, &[]).await?;
    expect_status(&reply, 200, &format!("a chat completion on `{group}`"))?;
    Ok(reply)
}

/// The upstream model (= deployment id) that served a 200, from the fakes' content
/// `served-by <fake> <model>`; it must match `x-miniagent-deployment`.
pub fn served(reply: &Reply) -> Result<String, Failure> {
    expect_status(reply, 200, "a routed answer")?;
    let body = reply.json()?;
    let content = body.pointer("/choices/0/message/content").and_then(|c| c.as_str()).unwrap_or_default();
    let model = content.strip_prefix("served-by ").and_then(|r| r.split_whitespace().nth(1));
    let model = model.ok_or_else(|| Failure::failed(format!("not a router fake's answer: {body}")))?;
    let header = reply.headers.get("x-miniagent-deployment").and_then(|v| v.to_str().ok());
    ensure_eq!(header, Some(model), "x-miniagent-deployment names the deployment that served");
    Ok(model.to_owned())
}

/// `x-miniagent-attempts`.
pub fn attempts(reply: &Reply) -> Result<u32, Failure> {
    let value = reply.headers.get("x-miniagent-attempts").and_then(|v| v.to_str().ok());
    value.and_then(|v| v.parse().ok()).ok_or_else(|| Failure::failed(format!("x-miniagent-attempts is {value:?}")))
}

/// `n` requests on `group`, `concurrency` at a time: who served how many.
async fn spread(
    ctx: &Ctx,
    group: &str,
    n: usize,
    concurrency: usize,
    health: &[(&str, Health)],
) -> Result<BTreeMap<String, usize>, Failure> {
    let nonce = uuid_like();
    let replies: Vec<Result<Reply, Failure>> = futures::stream::iter(0..n)
        .map(|_| chat(ctx, group, &nonce, health))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut by = BTreeMap::new();
    for reply in replies {
        *by.entry(served(&reply?)?).or_insert(0) += 1;
    }
    Ok(by)
}

/// Whether `got` of `n` is within six standard deviations of `share`.
fn near(got: usize, n: usize, share: f64) -> bool {
    let sigma = (n as f64 * share * (1.0 - share)).sqrt();
    (got as f64 - n as f64 * share).abs() <= 6.0 * sigma + 2.0
}

async fn shares(ctx: &Ctx, group: &str, want: &[(&str, f64)]) -> CaseResult {
    let by = spread(ctx, group, REQUESTS, 8, &[]).await?;
    for (model, share) in want {
        let got = by.get(*model).copied().unwrap_or(0);
        ensure!(
            near(got, REQUESTS, *share),
            "{model}: {got} of {REQUESTS}, expected {:.0} ± 6σ; spread {by:?}",
            share * REQUESTS as f64
        );
    }
    ensure_eq!(by.len(), want.len(), "only the group's deployments serve: {by:?}");
    Ok(())
}

async fn tiers(ctx: &Ctx) -> CaseResult {
    let first = spread(ctx, "tiers", 50, 4, &[]).await?;
    ensure_eq!(first.get("tier-a").copied(), Some(50), "order 1 takes every request: {first:?}");
    let reply = chat(ctx, "tiers", &uuid_like(), &[("tier-a", Health::status(429))]).await?;
    ensure!(served(&reply)? != "tier-a", "a 429 on order 1 is replaced by order 2");
    let cooling = spread(ctx, "tiers", 60, 4, &[]).await?;
    ensure!(!cooling.contains_key("tier-a"), "order 1 cools (2 s): {cooling:?}");
    for model in ["tier-b", "tier-c"] {
        ensure!(cooling.get(model).copied().unwrap_or(0) >= 10, "both order-2 deployments share: {cooling:?}");
    }
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let after = spread(ctx, "tiers", 20, 4, &[]).await?;
    ensure_eq!(after.get("tier-a").copied(), Some(20), "order 1 again once its cooldown ended: {after:?}");
    Ok(())
}

async fn least_busy(ctx: &Ctx) -> CaseResult {
    let by = spread(ctx, "spread-least-busy", REQUESTS, 1, &[]).await?;
    for model in ["lb-a", "lb-b", "lb-c"] {
        let got = by.get(model).copied().unwrap_or(0);
        ensure!(near(got, REQUESTS, 1.0 / 3.0), "{model}: {got} of {REQUESTS}: ties spread evenly; {by:?}");
    }
    let busy = spread(ctx, "spread-least-busy", 120, 4, &[("lb-a", Health::slow(300))]).await?;
    let slow = busy.get("lb-a").copied().unwrap_or(0);
    ensure!(slow <= 12, "lb-a holds its requests 300 ms: it got {slow} of 120 ({busy:?}); evenly would be 40");
    Ok(())
}

async fn latency(ctx: &Ctx) -> CaseResult {
    let by = spread(ctx, "spread-latency", REQUESTS, 1, &[("lat-a", Health::slow(40))]).await?;
    let slow = by.get("lat-a").copied().unwrap_or(0);
    ensure!(slow <= REQUESTS * 3 / 100, "lat-a is 40 ms slower: it got {slow} of {REQUESTS}; {by:?}");
    Ok(())
}

/// Waits, when the minute is about to turn, for the next one (per-minute usage resets then).
async fn whole_minute_ahead(needed: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let into = Duration::from_millis((now.as_millis() % 60_000) as u64);
    if into + needed > Duration::from_secs(58) {
        tokio::time::sleep(Duration::from_secs(61) - into).await;
    }
}

async fn usage(ctx: &Ctx) -> CaseResult {
    whole_minute_ahead(Duration::from_secs(15)).await;
    let by = spread(ctx, "spread-usage", REQUESTS, 1, &[]).await?;
    let (a, b, c) = (
        by.get("use-a").copied().unwrap_or(0),
        by.get("use-b").copied().unwrap_or(0),
        by.get("use-c").copied().unwrap_or(0),
    );
    ensure!(a <= 100 && b <= 100, "rpm 100 holds this minute: use-a {a}, use-b {b}");
    ensure!(a.abs_diff(b) <= 2, "equal tokens so far, so equal turns: use-a {a}, use-b {b}");
    ensure_eq!(a + b + c, REQUESTS, "every request served: {by:?}");
    let nonce = uuid_like();
    let mut refused = None;
    for _ in 0..3 {
        let reply = chat(ctx, "usage-full", &nonce, &[]).await?;
        if reply.status == 429 {
            refused = Some(reply);
            break;
        }
        expect_status(&reply, 200, "usage-full within its rpm (2)")?;
    }
    let reply =
        refused.ok_or_else(|| Failure::failed("a third request in a minute on an rpm-2 group must be a 429"))?;
    let wait: Option<u64> = reply.headers.get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    ensure!(wait.is_some_and(|w| (1..=60).contains(&w)), "Retry-After until the minute turns: {wait:?}");
    Ok(())
}
