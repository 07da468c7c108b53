//! Feature discovery against the reference in-process: configured from the feature table it has
//! every probe-able feature; started without a piece of that environment, the probe for it answers
//! "absent", with a reason, and never fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use conformance::fakes::Fakes;
use conformance::features::{Feature, FeatureStatus, KEYS_FILE_JSON, Setup, Source};
use conformance::probe;

async fn discover(
    pairs: &[(String, String)],
    trace_file: Option<&std::path::Path>,
) -> BTreeMap<Feature, FeatureStatus> {
    let fakes = Arc::new(Fakes::start(Default::default()).await.expect("fakes"));
    let ctx = support::ctx_on(pairs, trace_file, fakes, Arc::new(support::NoSnapshots)).expect("reference");
    let statuses = probe::discover(&ctx, probe::PROBE_TIMEOUT).await;
    assert_eq!(
        statuses.iter().map(|s| s.feature).collect::<Vec<_>>(),
        Feature::ALL,
        "one status per feature, in order"
    );
    statuses.into_iter().map(|s| (s.feature, s)).collect()
}

fn enabled(statuses: &BTreeMap<Feature, FeatureStatus>) -> Vec<Feature> {
    statuses.values().filter(|s| s.enabled).map(|s| s.feature).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_started_from_the_table_has_every_probed_feature() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("traces.jsonl");
    let keys = dir.path().join("keys.json");
    std::fs::write(&keys, KEYS_FILE_JSON).unwrap();
    let fakes = Arc::new(Fakes::start(Default::default()).await.unwrap());
    let setup = Setup {
        provider_fake_base: Some(fakes.provider.base_url()),
        tools_fake_base: Some(fakes.tools.uri()),
        trace_file: Some(trace.clone()),
        keys_file: Some(keys),
        router_dir: None,
        anthropic_fake_base: None,
    };
    let wanted = [
        Feature::Dummy,
        Feature::ShimEcho,
        Feature::ProviderFake,
        Feature::LocalTools,
        Feature::ToolEnvHeaders,
        Feature::ShortcircuitChutes,
        Feature::Traces,
        Feature::Auth,
        Feature::SlowClients,
        Feature::UrlAllowlist,
    ];
    // On a socket, so the slow-client probe has something to write half a request to.
    let (ctx, _served) = support::ctx_on_socket(
        &support::pairs_for(&wanted, &setup),
        Some(&trace),
        fakes,
        Arc::new(support::NoSnapshots),
    )
    .await
    .unwrap();
    let statuses: BTreeMap<Feature, FeatureStatus> =
        probe::discover(&ctx, probe::PROBE_TIMEOUT).await.into_iter().map(|s| (s.feature, s)).collect();
    let mut expected = wanted.to_vec();
    expected.push(Feature::ExecRpc); // the in-process context always has the exec-RPC server
    expected.sort();
    assert_eq!(enabled(&statuses), expected, "{statuses:#?}");
    assert!(
        statuses
            .values()
            .filter(|s| s.feature != Feature::ExecRpc && s.feature != Feature::Mcp)
            .all(|s| s.source == Source::Probe)
    );
    assert_eq!(statuses[&Feature::ExecRpc].source, Source::Argument);
    assert!(statuses[&Feature::ShimNoProvider].why.contains("provider key"), "{statuses:#?}");
    assert!(statuses[&Feature::SlowClients].why.contains("closed the connection after 2."), "{statuses:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_demo_target_without_the_provider_fake_lacks_it_and_what_depends_on_it() {
    let statuses =
        discover(&pairs(&[("MINI_AGENT_ALLOW_DUMMY", "1"), ("MINI_AGENT_OPENAI_SHIM_MODE", "echo")]), None).await;
    // The default outbound policy of a server on loopback already refuses TEST-NET.
    assert_eq!(
        enabled(&statuses),
        [Feature::Dummy, Feature::ShimEcho, Feature::ExecRpc, Feature::UrlAllowlist],
        "{statuses:#?}"
    );
    let provider = &statuses[&Feature::ProviderFake];
    assert!(
        provider.why.contains("did not reach the provider fake") && provider.why.contains("OPENAI_API_KEY"),
        "{provider:?}"
    );
    for f in [Feature::LocalTools, Feature::ToolEnvHeaders, Feature::ShortcircuitChutes] {
        assert_eq!(statuses[&f].why, "needs provider-fake, which did not answer", "{f:?}");
    }
    assert_eq!(statuses[&Feature::Traces].why, "no --trace-file given");
    assert!(statuses[&Feature::ShimNoProvider].why.contains("echo mode"), "{statuses:#?}");
    assert!(
        statuses[&Feature::Auth].why.starts_with("`GET /v1/models` without a key answered HTTP 200"),
        "{statuses:#?}"
    );
    assert!(statuses[&Feature::SlowClients].why.contains("no plain-HTTP socket"), "{statuses:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_without_any_provider_has_only_shim_no_provider() {
    let statuses = discover(&[], None).await;
    assert_eq!(enabled(&statuses), [Feature::ShimNoProvider, Feature::ExecRpc, Feature::UrlAllowlist], "{statuses:#?}");
    assert!(statuses[&Feature::Dummy].why.contains("MINI_AGENT_ALLOW_DUMMY"), "{statuses:#?}");
    assert!(statuses[&Feature::ShimEcho].why.starts_with("the shim answered HTTP 400"), "{statuses:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_file_the_target_does_not_write_is_absent() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("never-written.jsonl");
    let statuses = discover(&pairs(&[("MINI_AGENT_ALLOW_DUMMY", "1")]), Some(&trace)).await;
    let traces = &statuses[&Feature::Traces];
    assert!(!traces.enabled && traces.why.starts_with("no line of the probe run appeared"), "{traces:?}");
}

/// The statuses of a proxy target started from the table's openai-proxy and provider-timeout
/// environment, each probe bounded by `timeout`.
async fn discover_proxy(timeout: std::time::Duration) -> BTreeMap<Feature, FeatureStatus> {
    discover_proxy_with(&[Feature::OpenaiProxy, Feature::ProviderTimeout], timeout).await
}

async fn discover_proxy_with(features: &[Feature], timeout: std::time::Duration) -> BTreeMap<Feature, FeatureStatus> {
    let fakes = Arc::new(Fakes::start(Default::default()).await.unwrap());
    let setup = Setup {
        provider_fake_base: Some(fakes.provider.base_url()),
        tools_fake_base: Some(fakes.tools.uri()),
        ..Setup::default()
    };
    let pairs = support::pairs_for(features, &setup);
    let ctx = support::ctx_on(&pairs, None, fakes, Arc::new(support::NoSnapshots)).unwrap();
    probe::discover(&ctx, timeout).await.into_iter().map(|s| (s.feature, s)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_target_from_the_table_has_openai_proxy_and_a_short_provider_timeout() {
    let statuses = discover_proxy(probe::PROBE_TIMEOUT).await;
    let on = enabled(&statuses);
    assert!(on.contains(&Feature::OpenaiProxy) && on.contains(&Feature::ProviderTimeout), "{statuses:#?}");
    assert!(!on.contains(&Feature::ShimEcho), "one mode per server: {statuses:#?}");
    assert!(statuses[&Feature::ProviderTimeout].why.contains("was a 504 after"), "{statuses:#?}");
    // The Responses defaults: hosted tools dropped, not refused; bridged, not passed through.
    assert!(
        !on.contains(&Feature::ResponsesHostedReject) && !on.contains(&Feature::ResponsesPassthrough),
        "{statuses:#?}"
    );
    assert!(statuses[&Feature::ResponsesPassthrough].why.contains("not /responses"), "{statuses:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_responses_settings_of_the_table_are_discovered() {
    for feature in [Feature::ResponsesHostedReject, Feature::ResponsesPassthrough] {
        let statuses = discover_proxy_with(&[Feature::OpenaiProxy, feature], probe::PROBE_TIMEOUT).await;
        assert!(statuses[&feature].enabled, "{statuses:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_echo_target_lacks_openai_proxy_and_so_the_timeout_probe_does_not_run() {
    let statuses =
        discover(&pairs(&[("MINI_AGENT_ALLOW_DUMMY", "1"), ("MINI_AGENT_OPENAI_SHIM_MODE", "echo")]), None).await;
    assert!(statuses[&Feature::OpenaiProxy].why.contains("not the provider fake's scripted answer"), "{statuses:#?}");
    assert_eq!(statuses[&Feature::ProviderTimeout].why, "needs openai-proxy, which did not answer");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_slower_than_the_probe_timeout_leaves_its_feature_off_and_says_how_to_wait_longer() {
    // The provider-timeout probe holds the provider's answer back for seconds on purpose; under a
    // 300 ms bound it cannot answer, while the quick proxy probe still does.
    let statuses = discover_proxy(std::time::Duration::from_millis(300)).await;
    assert!(statuses[&Feature::OpenaiProxy].enabled, "{statuses:#?}");
    let timeout = &statuses[&Feature::ProviderTimeout];
    assert!(!timeout.enabled, "{timeout:?}");
    assert_eq!(timeout.why, "no answer within 0.3s (a slow target needs a longer --probe-timeout)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_started_with_one_router_file_has_that_router_feature_only() {
    let dir = tempfile::tempdir().unwrap();
    let fakes = Arc::new(Fakes::start(Default::default()).await.unwrap());
    conformance::routing::write_all(dir.path(), &fakes.router.bases()).unwrap();
    let setup = Setup {
        router_dir: Some(dir.path().to_path_buf()),
        tools_fake_base: Some(fakes.tools.uri()),
        ..Setup::default()
    };
    let pairs = support::pairs_for(&[Feature::RouterLatency], &setup);
    let ctx = support::ctx_on(&pairs, None, fakes, Arc::new(support::NoSnapshots)).unwrap();
    let statuses: BTreeMap<Feature, FeatureStatus> =
        probe::discover(&ctx, probe::PROBE_TIMEOUT).await.into_iter().map(|s| (s.feature, s)).collect();
    let routers = [Feature::Router, Feature::RouterLeastBusy, Feature::RouterLatency, Feature::RouterUsage];
    let on: Vec<Feature> = routers.into_iter().filter(|f| statuses[f].enabled).collect();
    assert_eq!(on, [Feature::RouterLatency], "{statuses:#?}");
    assert!(statuses[&Feature::RouterLatency].why.contains("served-by alpha probe-latency"), "{statuses:#?}");
    assert!(statuses[&Feature::Router].why.contains("probe-simple-shuffle"), "{statuses:#?}");
}
