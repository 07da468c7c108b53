//! The five proofs of the scale suite, in the order they run against one stack (see `tests/scale.rs`).
//! Each asserts, and adds the figures it measured to the suite's report.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use harness::otlp::ReceivedSpan;
use harness::scale::load::{self, CLIENT_SPAN};
use harness::scale::providers::{COOLDOWN_SECS, FLAKY, GROUP, STEADY};
use harness::scale::{LIMIT_KEY, LOAD_KEY, REPLICAS, metrics};

use super::{
    AFTER_KILL_REQUESTS, CONCURRENCY, KILL_AFTER, KILL_REQUESTS, LIMIT_CONCURRENCY, LIMIT_REQUESTS, SPREAD_REQUESTS,
    Suite, VICTIM,
};

fn shares(by: &BTreeMap<String, usize>) -> String {
    by.iter().map(|(name, n)| format!("{name} {n}")).collect::<Vec<_>>().join(", ")
}

/// Every replica serves part of the load, and their `/metrics` add up to exactly the load sent.
pub async fn spread(suite: &mut Suite) {
    let started = Instant::now();
    let got = suite.send(LOAD_KEY.secret, SPREAD_REQUESTS, CONCURRENCY, 1).await;
    let took = started.elapsed();
    let ok = got.iter().filter(|o| o.ok()).count();
    assert_eq!(ok, SPREAD_REQUESTS, "every request of the spread load is served:\n{}", Suite::failures(&got));
    let all: Vec<usize> = (0..REPLICAS).collect();
    let counted = suite.counters_match(&all).await;
    let total: usize = counted.values().map(|(ok, _)| ok).sum();
    assert_eq!(total, SPREAD_REQUESTS, "the replicas' /metrics add up to the load sent");
    let fair = SPREAD_REQUESTS / REPLICAS / 2;
    for (name, (n, _)) in &counted {
        assert!(*n >= fair, "{name} served {n} of {SPREAD_REQUESTS} (< {fair}): the load is not spread");
    }
    let by: BTreeMap<String, usize> = counted.iter().map(|(k, (n, _))| (k.clone(), *n)).collect();
    suite.report.push(format!(
        "spread: {SPREAD_REQUESTS} requests ({CONCURRENCY} at a time, {:.0} req/s) → {} from /metrics (sum {total}), \
         each equal to what nginx's X-Upstream says",
        SPREAD_REQUESTS as f64 / took.as_secs_f64(),
        shares(&by)
    ));
}

/// Each request of the spread load is one trace: one request span under the client's span, every
/// span of it from the replica that answered; and every replica's spans arrive.
pub async fn traces(suite: &mut Suite) {
    let sent: Vec<(String, String)> = suite.outcomes[..SPREAD_REQUESTS]
        .iter()
        .map(|o| (o.trace_id.clone(), suite.name_of(o.answered_by())))
        .collect();
    let ids: BTreeSet<String> = sent.iter().map(|(t, _)| t.clone()).collect();
    let is_root = |s: &ReceivedSpan| s.parent == CLIENT_SPAN && ids.contains(&s.trace_id);
    let spans = suite
        .otlp
        .wait_for(Duration::from_secs(20), |spans| {
            spans.iter().filter(|s| is_root(s)).map(|s| &s.trace_id).collect::<BTreeSet<_>>().len() == ids.len()
        })
        .await;
    let mut by_trace: BTreeMap<&str, Vec<&ReceivedSpan>> = BTreeMap::new();
    for span in spans.iter().filter(|s| ids.contains(&s.trace_id)) {
        by_trace.entry(span.trace_id.as_str()).or_default().push(span);
    }
    assert_eq!(by_trace.len(), ids.len(), "every request's trace reached the receiver");
    let mut per_replica: BTreeMap<String, usize> = BTreeMap::new();
    for (trace_id, answered) in &sent {
        let trace = &by_trace[trace_id.as_str()];
        let roots = trace.iter().filter(|s| s.parent == CLIENT_SPAN).count();
        assert_eq!(roots, 1, "trace {trace_id}: one request span continuing the client's traceparent: {trace:#?}");
        for span in trace {
            let from = span.resource_attr("service.instance.id").unwrap_or("(none)");
            assert_eq!(from, answered, "trace {trace_id}: span {} comes from the replica that answered", span.name);
            *per_replica.entry(from.to_owned()).or_insert(0) += 1;
        }
    }
    assert_eq!(per_replica.len(), REPLICAS, "spans from every replica: {per_replica:?}");
    let in_traces: usize = per_replica.values().sum();
    let names: BTreeSet<&str> = spans.iter().filter(|s| ids.contains(&s.trace_id)).map(|s| s.name.as_str()).collect();
    suite.report.push(format!(
        "traces: {} requests → {} trace ids, each with exactly 1 request span under the client's span and all its \
         spans from the replica that answered; {in_traces} spans ({}) — per replica: {}; {} spans outside these traces",
        ids.len(),
        by_trace.len(),
        names.into_iter().collect::<Vec<_>>().join(", "),
        shares(&per_replica),
        spans.len() - in_traces
    ));
}

/// `rpm: 30` holds across the replicas: 30 answers, then 429s with `Retry-After` from several
/// replicas, each refusal counted once.
pub async fn shared_limit(suite: &mut Suite) {
    let rpm = LIMIT_KEY.rpm.expect("the limit key has an rpm") as usize;
    let got = suite.send(LIMIT_KEY.secret, LIMIT_REQUESTS, LIMIT_CONCURRENCY, 2).await;
    let served = got.iter().filter(|o| o.ok()).count();
    let refused: Vec<_> = got.iter().filter(|o| o.status == Some(429)).collect();
    assert_eq!(
        (served, refused.len()),
        (rpm, LIMIT_REQUESTS - rpm),
        "rpm {rpm} across {REPLICAS} replicas: served and refused\n{}",
        Suite::failures(&got)
    );
    let mut waits = BTreeSet::new();
    for o in &refused {
        let wait: u64 = o.retry_after.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
        assert!((1..=60).contains(&wait), "a 429 carries Retry-After in seconds: {:?}", o.retry_after);
        waits.insert(wait);
    }
    let served_by = Suite::answered(&got, 200, suite);
    let refused_by = Suite::answered(&got, 429, suite);
    assert!(refused_by.len() >= 2, "429s come from whichever replica nginx picked: {refused_by:?}");
    let mut counted = 0.0;
    for r in &suite.stack.replicas {
        let text = metrics::scrape(&suite.client, &r.url()).await.unwrap();
        counted += metrics::sum(&text, "miniagent_rate_limited_total", &[("key", LIMIT_KEY.name)]);
    }
    assert_eq!(counted as usize, refused.len(), "miniagent_rate_limited_total over the replicas");
    suite.report.push(format!(
        "shared limit: key `{}` rpm {rpm}, {LIMIT_REQUESTS} requests ({LIMIT_CONCURRENCY} at a time) → {served} served \
         ({}), {} × 429 ({}), Retry-After {:?} s; miniagent_rate_limited_total sums to {counted}",
        LIMIT_KEY.name,
        shares(&served_by),
        refused.len(),
        shares(&refused_by),
        waits,
    ));
}

/// One routed `/agent/run` on the shared group at `base` (a replica or nginx): the status, the
/// deployment that served, and nginx's `X-Upstream` when it went through nginx.
async fn routed(client: &reqwest::Client, base: &str) -> (u16, String, String) {
    let body =
        serde_json::json!({"model": GROUP, "tool_backend": "echo", "messages": [{"role": "user", "content": "hi"}]});
    let res = client.post(format!("{base}/agent/run")).bearer_auth(LOAD_KEY.secret).json(&body).send().await.unwrap();
    let header = |n: &str| res.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (deployment, upstream) = (header("x-miniagent-deployment"), header("x-upstream"));
    (res.status().as_u16(), deployment, upstream)
}

/// A deployment that fails on one replica receives nothing from the others, through nginx, until
/// its cooldown (shared in Redis) ends — then it is tried again.
pub async fn shared_cooldown(suite: &mut Suite) {
    let providers = &suite.stack.providers;
    let survivors: Vec<usize> = (0..REPLICAS).filter(|&i| i != VICTIM).collect();
    let (a, b) = (suite.stack.replicas[survivors[0]].clone(), suite.stack.replicas[survivors[1]].clone());
    let flaky_before = providers.flaky.calls();
    let failed_at = Instant::now();
    let first = routed(&suite.client, &a.url()).await;
    assert_eq!((first.0, first.1.as_str()), (200, STEADY), "{}: flaky fails, steady serves", a.name);
    assert_eq!(providers.flaky.calls(), flaky_before + 1, "{} tried flaky once", a.name);
    let mut answered_by = BTreeMap::new();
    for _ in 0..10 {
        let batch = futures::future::join_all((0..6).map(|_| routed(&suite.client, &suite.stack.balancer))).await;
        for (status, deployment, upstream) in batch {
            assert_eq!((status, deployment.as_str()), (200, STEADY), "through nginx while flaky cools");
            *answered_by.entry(suite.name_of(harness::scale::nginx::answered_by(&upstream))).or_insert(0) += 1;
        }
    }
    let within = failed_at.elapsed();
    assert!(within < Duration::from_secs(COOLDOWN_SECS), "the 60 requests must fit in the cooldown: {within:?}");
    assert!(answered_by.contains_key(&b.name), "the other replica answered too: {answered_by:?}");
    assert_eq!(providers.flaky.calls(), flaky_before + 1, "no replica sent flaky anything while it cooled");
    tokio::time::sleep(
        Duration::from_secs(COOLDOWN_SECS).saturating_sub(failed_at.elapsed()) + Duration::from_millis(300),
    )
    .await;
    let after = routed(&suite.client, &b.url()).await;
    assert_eq!((after.0, after.1.as_str()), (200, STEADY), "{} after the cooldown", b.name);
    let flaky_after = providers.flaky.calls() - flaky_before;
    assert_eq!(flaky_after, 2, "after the cooldown {} tries {FLAKY} again", b.name);
    suite.report.push(format!(
        "shared cooldown: {FLAKY} failed once on {} (allowed_fails 1, cooldown {COOLDOWN_SECS} s) → 60 requests \
         through nginx in {:.0} ms, answered by {} — all by {STEADY}, {FLAKY} received 0; after the cooldown {} \
         tried {FLAKY} again ({flaky_after} calls in all)",
        a.name,
        within.as_secs_f64() * 1e3,
        shares(&answered_by),
        b.name
    ));
}

/// SIGKILL to one replica under load: no request is lost, the survivors keep answering, and their
/// counters still match what they answered.
pub async fn kill_under_load(suite: &mut Suite) {
    let load = suite.load(LOAD_KEY.secret, KILL_REQUESTS, CONCURRENCY, 3);
    let done = Arc::new(AtomicUsize::new(0));
    let task = {
        let (client, done) = (suite.client.clone(), done.clone());
        tokio::spawn(async move { load::send(&client, &load, done).await })
    };
    while done.load(Ordering::SeqCst) < KILL_AFTER && !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let finished_at_kill = done.load(Ordering::SeqCst);
    let killing = Instant::now();
    tokio::task::block_in_place(|| suite.stack.kill_replica(VICTIM)).expect("the replica is killed");
    let kill_took = killing.elapsed();
    let got = task.await.expect("the load finishes");
    suite.outcomes.extend(got.iter().cloned());
    let lost: Vec<_> = got.iter().filter(|o| !o.ok()).collect();
    let retried = got.iter().filter(|o| o.retried()).count();
    let answered = Suite::answered(&got, 200, suite);
    let victim = suite.stack.replicas[VICTIM].name.clone();
    suite.report.push(format!(
        "kill: {KILL_REQUESTS} requests ({CONCURRENCY} at a time), {victim} SIGKILLed after {finished_at_kill} had \
         finished (the kill took {} ms) → lost {}, retried by nginx on another replica {retried}; answered: {}",
        kill_took.as_millis(),
        lost.len(),
        shares(&answered),
    ));
    assert!(lost.is_empty(), "{} requests lost when {victim} was killed:\n{}", lost.len(), Suite::failures(&got));

    let after = suite.send(LOAD_KEY.secret, AFTER_KILL_REQUESTS, CONCURRENCY, 4).await;
    let after_by = Suite::answered(&after, 200, suite);
    assert_eq!(after.iter().filter(|o| o.ok()).count(), AFTER_KILL_REQUESTS, "{}", Suite::failures(&after));
    assert!(!after_by.contains_key(&victim), "nothing is answered by the killed replica: {after_by:?}");
    assert_eq!(after_by.len(), REPLICAS - 1, "every survivor keeps answering: {after_by:?}");
    let survivors: Vec<usize> = (0..REPLICAS).filter(|&i| i != VICTIM).collect();
    let counted = suite.counters_match(&survivors).await;
    suite.report.push(format!(
        "after the kill: {AFTER_KILL_REQUESTS} more → all served ({}); survivors' /metrics (200, 429) over the whole \
         run match nginx's X-Upstream exactly: {counted:?}",
        shares(&after_by)
    ));
}
