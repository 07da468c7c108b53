//! The `router` profile's setup: the router files a target is started with — LiteLLM-style files
//! whose deployments point at the suite's three router fakes — and the probe that tells which one a
//! target runs.
//!
//! A router file has one routing strategy, so there is one file per strategy, each a feature:
//! `router` (simple-shuffle, and every failure rule), `router-least-busy`, `router-latency`,
//! `router-usage`. Every case has groups of its own and every deployment its own upstream model
//! name (the fakes' scripts address deployments by it, and it is also the deployment's id), so
//! cases never share a cooldown. The suite writes the files into one folder (`conformance
//! router-files DIR`, or `--router-dir` of `run`), with the fakes' addresses filled in.

use std::path::Path;

use serde_json::json;

use crate::failure::Failure;
use crate::target::Ctx;

/// The key every deployment of the suite's files carries: it must never come back (in
/// `/v1/deployments`, in an error).
pub const ROUTER_KEY: &str = "sk-router-fake-secret-5d1e";

/// One of the suite's router files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterFile {
    Shuffle,
    LeastBusy,
    Latency,
    Usage,
}

impl RouterFile {
    pub const ALL: [RouterFile; 4] = [Self::Shuffle, Self::LeastBusy, Self::Latency, Self::Usage];

    /// The file's name in the router folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Shuffle => "router.yaml",
            Self::LeastBusy => "router-least-busy.yaml",
            Self::Latency => "router-latency.yaml",
            Self::Usage => "router-usage.yaml",
        }
    }

    /// The group only this file has: what the probe asks for.
    pub fn probe_group(self) -> &'static str {
        match self {
            Self::Shuffle => "probe-simple-shuffle",
            Self::LeastBusy => "probe-least-busy",
            Self::Latency => "probe-latency",
            Self::Usage => "probe-usage",
        }
    }

    /// The file's text, with `bases` = the fakes' `(name, base)` in alpha, beta, gamma order.
    pub fn yaml(self, bases: &[(&'static str, String)]) -> String {
        let (deployments, settings) = match self {
            Self::Shuffle => (SHUFFLE_DEPLOYMENTS, SHUFFLE_SETTINGS),
            Self::LeastBusy => (
                "spread-least-busy lb-a alpha\nspread-least-busy lb-b beta\nspread-least-busy lb-c gamma\n",
                "router_settings:\n  routing_strategy: least-busy\n",
            ),
            Self::Latency => (
                "spread-latency lat-a alpha\nspread-latency lat-b beta\nspread-latency lat-c gamma\n",
                "router_settings:\n  routing_strategy: latency-based-routing\n  routing_strategy_args: {ttl: 3600, lowest_latency_buffer: 0.5}\n",
            ),
            Self::Usage => (
                "spread-usage use-a alpha rpm=100\nspread-usage use-b beta rpm=100\nspread-usage use-c gamma\nusage-full full-a alpha rpm=2\n",
                "router_settings:\n  routing_strategy: usage-based-routing-v2\n",
            ),
        };
        let mut out = format!(
            "# The conformance suite's router file `{}` (CONTRACT §5 Routing), written by the suite.\nmodel_list:\n",
            self.file_name()
        );
        let probe = format!("{} {} alpha\n", self.probe_group(), self.probe_group());
        for line in probe.lines().chain(deployments.lines()).filter(|l| !l.trim().is_empty()) {
            out.push_str(&entry(line, bases));
        }
        out.push_str(settings);
        out
    }
}

/// `group model fake [param=value …]` as one `model_list` entry (the model is also the id).
fn entry(line: &str, bases: &[(&'static str, String)]) -> String {
    let mut words = line.split_whitespace();
    let (group, model, fake) = (words.next().unwrap_or(""), words.next().unwrap_or(""), words.next().unwrap_or(""));
    let base = bases.iter().find(|(n, _)| *n == fake).map_or("http://127.0.0.1:9/v1", |(_, b)| b.as_str());
    let mut params = json!({"model": format!("openai/{model}"), "api_base": base, "api_key": ROUTER_KEY});
    for pair in words {
        if let Some((k, v)) = pair.split_once('=') {
            params[k] = serde_json::from_str(v).unwrap_or_else(|_| json!(v));
        }
    }
    let entry = json!({"model_name": group, "litellm_params": params, "model_info": {"id": model}});
    format!("  - {entry}\n")
}

/// The simple-shuffle file's deployments: `group model fake [params]`.
const SHUFFLE_DEPLOYMENTS: &str = "
spread-weight weight-a alpha weight=1
spread-weight weight-b beta weight=2
spread-weight weight-c gamma weight=7
spread-rpm rpm-a alpha rpm=100
spread-rpm rpm-b beta rpm=300
spread-rpm rpm-c gamma rpm=600
spread-tpm tpm-a alpha tpm=1000
spread-tpm tpm-b beta tpm=1000
spread-tpm tpm-c gamma tpm=2000
spread-uniform uniform-a alpha
spread-uniform uniform-b beta
spread-uniform uniform-c gamma
tiers tier-a alpha order=1 cooldown_time=2
tiers tier-b beta order=2
tiers tier-c gamma order=2
retry retry-a alpha cooldown_time=60
retry retry-b beta
retry retry-c gamma
exhaust exhaust-a alpha cooldown_time=0
exhaust exhaust-b beta cooldown_time=0
exhaust exhaust-c gamma cooldown_time=0
default-target default-c gamma
cooldown cool-a alpha order=1 cooldown_time=1
cooldown cool-b beta order=2
retry-after ra-a alpha order=1 cooldown_time=1
retry-after ra-b beta order=2
all-cool allcool-a alpha cooldown_time=1
all-cool allcool-b beta cooldown_time=1
client-error client-a alpha order=1
client-error client-b beta order=2
fb-primary fbp-a alpha cooldown_time=0
fb-backup fbb-b beta
ctx ctx-a alpha
ctx-big ctxbig-b beta
policy policy-a alpha
policy-safe safe-c gamma
stream stream-a alpha order=1 cooldown_time=0
stream stream-b beta order=2
embed embed-a alpha order=1 cooldown_time=0
embed embed-b beta order=2
resp resp-a alpha order=1 cooldown_time=0
resp resp-b beta order=2
agent agent-a alpha order=1 cooldown_time=0
agent agent-b beta order=2
";

/// The simple-shuffle file's settings: the contract's defaults written out, and a fallback of
/// every kind (`all-cool` opts out of the default fallbacks, so its 429 shows).
const SHUFFLE_SETTINGS: &str = "router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  allowed_fails: 3
  cooldown_time: 5
litellm_settings:
  fallbacks: [{fb-primary: [fb-backup]}, {all-cool: []}]
  default_fallbacks: [default-target]
  context_window_fallbacks: [{ctx: [ctx-big]}]
  content_policy_fallbacks: [{policy: [policy-safe]}]
  drop_params: true
";

/// Writes every router file into `dir` (created when missing), each through a sibling and a
/// rename so a target starting meanwhile never reads half a file.
pub fn write_all(dir: &Path, bases: &[(&'static str, String)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for file in RouterFile::ALL {
        let path = dir.join(file.file_name());
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, file.yaml(bases))?;
        std::fs::rename(&partial, &path)?;
    }
    Ok(())
}

/// The probe of `file`'s feature: a chat completion on its probe group is answered by a router
/// fake.
pub async fn probe(ctx: &Ctx, file: RouterFile) -> Result<String, String> {
    let body = json!({"model": file.probe_group(), "messages": [{"role": "user", "content": "router probe"}]});
    let reply = ctx.post_json("/v1/chat/completions", &body).await.map_err(|f: Failure| f.to_string())?;
    let content = reply.json().ok().and_then(|v| v.pointer("/choices/0/message/content")?.as_str().map(str::to_owned));
    match content {
        Some(c) if c.starts_with("served-by ") => Ok(format!("`{}` was answered `{c}`", file.probe_group())),
        _ => Err(format!("`{}` is not routed to the router fakes: HTTP {}", file.probe_group(), reply.status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_name_their_strategy_and_every_deployment_once() {
        let bases = vec![("alpha", "http://a/v1".to_owned()), ("beta", "http://b/v1".to_owned())];
        let text = RouterFile::Shuffle.yaml(&bases);
        assert!(text.contains(r#""api_base":"http://a/v1""#) && text.contains(r#""weight":7"#), "{text}");
        assert!(
            text.contains(r#""cooldown_time":60"#)
                && text.contains(r#""order":2"#)
                && text.contains("routing_strategy: simple-shuffle")
        );
        let ids: Vec<&str> = text.lines().filter_map(|l| l.split(r#""id":""#).nth(1)?.split('"').next()).collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert!(RouterFile::Latency.yaml(&bases).contains("latency-based-routing"));
    }
}
