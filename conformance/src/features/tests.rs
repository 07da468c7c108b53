//! The feature table's own tests: names, placeholders, the keys file, probe prerequisites, the
//! Markdown rendering.

use super::*;

#[test]
fn every_feature_round_trips_through_its_name() {
    for &f in Feature::ALL {
        assert_eq!(Feature::parse(f.name()), Some(f));
    }
    assert_eq!(Feature::parse("nope"), None);
}

#[test]
fn placeholders_are_filled_in_and_values_quoted() {
    let setup = Setup {
        provider_fake_base: Some("http://127.0.0.1:18080/v1".into()),
        tools_fake_base: None,
        trace_file: Some("/tmp/t.jsonl".into()),
        keys_file: Some("/tmp/keys.json".into()),
        router_dir: Some("/tmp/routers".into()),
        anthropic_fake_base: None,
    };
    assert_eq!(
        Feature::ProviderFake.how_to_enable(&setup),
        format!(
            "start the target with OPENAI_API_BASE=http://127.0.0.1:18080/v1 OPENAI_API_KEY={SECRET_KEY}; \
             fix the fake's address with --provider-fake-addr"
        )
    );
    assert!(Feature::ToolEnvHeaders.how_to_enable(&setup).contains(&format!("'{ENV_TOOL_HEADERS}'")));
    assert!(Feature::Traces.how_to_enable(&Setup::default()).contains("MINI_AGENT_STORE_PATH='<trace file>'"));
    assert_eq!(Feature::Dummy.how_to_enable(&setup), "start the target with MINI_AGENT_ALLOW_DUMMY=1");
    assert_eq!(Feature::ExecRpc.how_to_enable(&setup), "pass --exec-rpc-url with its address");
    assert!(Feature::RouterUsage.how_to_enable(&setup).contains("MINI_AGENT_CONFIG=/tmp/routers/router-usage.yaml"));
    assert!(
        Feature::Auth
            .how_to_enable(&setup)
            .starts_with("start the target with MINI_AGENT_API_KEYS_FILE=/tmp/keys.json;")
    );
}

#[test]
fn the_keys_file_holds_the_declared_keys() {
    let file: serde_json::Value = serde_json::from_str(KEYS_FILE_JSON).expect("the keys file is JSON");
    let keys = file["keys"].as_array().expect("a list of keys");
    let find = |k: &str| keys.iter().find(|e| e["key"] == k).cloned().unwrap_or_default();
    assert!(find(AUTH_KEY).get("backends").is_none() && find(AUTH_KEY).get("rpm").is_none());
    assert_eq!(find(AUTH_ECHO_ONLY_KEY)["backends"], serde_json::json!(["echo"]));
    assert_eq!(find(AUTH_RPM_KEY)["rpm"], serde_json::json!(AUTH_RPM));
    let secs = SLOW_CLIENT_TIMEOUT_SECS.to_string();
    assert!(Feature::SlowClients.spec().env.iter().all(|(_, v)| *v == secs));
}

#[test]
fn every_prerequisite_of_a_probe_is_probed_first() {
    // The rounds of `probe::discover` end only if each `after` names a feature probed in an
    // earlier round: one with a `Probe` of its own, never an argument or a last-alone probe.
    for &f in Feature::ALL {
        if let Discovery::Probe { after, .. } = f.spec().probe {
            for a in after {
                assert!(
                    matches!(a.spec().probe, Discovery::Probe { after: &[], .. }),
                    "{} waits for {}, which is not probed in the first round",
                    f.name(),
                    a.name()
                );
            }
        }
    }
}

#[test]
fn the_markdown_has_a_row_per_feature() {
    let md = markdown(&Setup::default());
    assert_eq!(md.lines().filter(|l| l.starts_with("| `")).count(), Feature::ALL.len());
}
