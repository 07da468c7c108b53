//! The router file: a LiteLLM-style `model_list` (YAML or JSON) of **deployments** grouped by
//! `model_name`, plus the router's settings ([`super::settings`]).
//!
//! Owns parsing and validation of the file, `os.environ/NAME` references, deployment ids and group
//! lookup. A bad file fails at startup with the file, the entry and the problem named: a typo found
//! at the first request would be found by a user, not by the operator. Keys this contract does not
//! name are ignored, so a file the LiteLLM proxy accepts is accepted.
//!
//! Does not route or call providers: [`super::table`] keeps the deployments' health and
//! [`super::drive`] chooses among them.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::settings::RouterSettings;
use crate::secret::Secret;

/// How `/v1/responses` reaches a provider: globally (`MINI_AGENT_RESPONSES_MODE`) or per deployment
/// (`responses_mode`), which wins (see `openai::responses::mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsesMode {
    /// Pass-through for providers known to speak Responses (the `openai` kind at OpenAI's own
    /// base), the bridge for the others.
    Auto,
    /// Always bridged onto chat completions.
    Bridge,
    /// Always sent to the provider's own `/responses`, the answer relayed byte for byte.
    Passthrough,
}

impl ResponsesMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "bridge" => Some(Self::Bridge),
            "passthrough" | "pass-through" => Some(Self::Passthrough),
            _ => None,
        }
    }
}

/// One `model_list` entry: a deployment of its group.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// `model_info.id`, else `<group>:<position in the group>:<model>` — never derived from the key.
    pub id: String,
    /// The `model_name` clients send.
    pub group: String,
    /// The `provider/model` it calls.
    pub model: String,
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
    pub custom_llm_provider: Option<String>,
    pub timeout_secs: Option<f64>,
    /// Transport retries on this deployment (per router attempt).
    pub max_retries: Option<u32>,
    /// Requests and tokens per minute: weights for simple-shuffle, limits for usage-based routing.
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub weight: Option<f64>,
    /// Lower orders are used first; a deployment without one comes after every ordered tier.
    pub order: Option<u32>,
    /// LiteLLM's per-deployment `cooldown_time`, overriding the router's.
    pub cooldown_time: Option<Duration>,
    pub responses_mode: Option<ResponsesMode>,
}

/// A `model_name` and its deployments (indices into [`RouterConfig::deployments`]).
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub deployments: Vec<usize>,
}

/// The parsed file: deployments in file order, groups in order of first appearance (the order
/// `/v1/models` lists them in), and the settings.
#[derive(Debug, Clone, Default)]
pub struct RouterConfig {
    deployments: Vec<Deployment>,
    groups: Vec<Group>,
    pub settings: RouterSettings,
    /// What the operator should hear at startup (a fallback naming no group).
    pub warnings: Vec<String>,
}

/// Why a router config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read router config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("router config {path} is not valid {format}: {message}")]
    Syntax { path: String, format: &'static str, message: String },
    #[error("router config {path}: model_list entry {index} ({name}): {problem}")]
    Entry { path: String, index: usize, name: String, problem: String },
    #[error("router config {path}: {problem}")]
    Settings { path: String, problem: String },
}

#[derive(Deserialize)]
struct FileShape {
    #[serde(default)]
    model_list: Vec<Value>,
    router_settings: Option<Value>,
    litellm_settings: Option<Value>,
}

#[derive(Deserialize)]
struct EntryShape {
    model_name: String,
    litellm_params: ParamsShape,
    model_info: Option<InfoShape>,
    // LiteLLM also reads rpm/tpm beside litellm_params.
    rpm: Option<u64>,
    tpm: Option<u64>,
}

#[derive(Deserialize)]
struct InfoShape {
    id: Option<Value>,
}

#[derive(Deserialize)]
struct ParamsShape {
    model: String,
    api_base: Option<String>,
    api_key: Option<String>,
    custom_llm_provider: Option<String>,
    timeout: Option<f64>,
    max_retries: Option<u32>,
    rpm: Option<u64>,
    tpm: Option<u64>,
    weight: Option<f64>,
    order: Option<u32>,
    cooldown_time: Option<f64>,
    responses_mode: Option<String>,
}

impl RouterConfig {
    pub fn is_empty(&self) -> bool {
        self.deployments.is_empty()
    }

    pub fn deployments(&self) -> &[Deployment] {
        &self.deployments
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The group `name`, with its position in [`Self::groups`].
    pub fn group(&self, name: &str) -> Option<(usize, &Group)> {
        self.groups.iter().enumerate().find(|(_, g)| g.name == name)
    }

    /// The first deployment of group `name` (what resolving the name alone means).
    pub fn get(&self, name: &str) -> Option<&Deployment> {
        self.group(name).and_then(|(_, g)| g.deployments.first()).map(|&i| &self.deployments[i])
    }

    /// Loads a file; JSON when it ends in `.json`, YAML otherwise (YAML is a superset of JSON).
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        Self::parse(&text, &shown, is_json, env)
    }

    /// Parses file text; `path` is only used in messages.
    pub fn parse(
        text: &str,
        path: &str,
        is_json: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let syntax = |format, message: String| ConfigError::Syntax { path: path.to_owned(), format, message };
        let file: FileShape = if is_json {
            serde_json::from_str(text).map_err(|e| syntax("JSON", e.to_string()))?
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| syntax("YAML", e.to_string()))?
        };
        let settings = RouterSettings::from_sections(file.router_settings.as_ref(), file.litellm_settings.as_ref())
            .map_err(|problem| ConfigError::Settings { path: path.to_owned(), problem })?;
        let mut config = Self { settings, ..Self::default() };
        for (index, raw) in file.model_list.into_iter().enumerate() {
            let name = raw.get("model_name").and_then(|v| v.as_str()).unwrap_or("<no model_name>").to_owned();
            let problem =
                |problem: String| ConfigError::Entry { path: path.to_owned(), index, name: name.clone(), problem };
            let shape: EntryShape = serde_path_to_error::deserialize(raw)
                .map_err(|e| problem(format!("{} (at `{}`)", e.inner(), e.path())))?;
            let deployment = config.deployment(shape, &env).map_err(problem)?;
            config.push(deployment).map_err(|p| ConfigError::Entry {
                path: path.to_owned(),
                index,
                name,
                problem: p,
            })?;
        }
        config.warnings = config
            .settings
            .fallback_targets()
            .filter(|t| config.group(t).is_none())
            .map(|t| format!("router config {path}: a fallback names `{t}`, which is no model_name: it is skipped"))
            .collect();
        Ok(config)
    }

    /// One entry as a deployment of its group (its id not yet checked for uniqueness).
    fn deployment(&self, shape: EntryShape, env: &impl Fn(&str) -> Option<String>) -> Result<Deployment, String> {
        let p = shape.litellm_params;
        let resolve = |field: &str, value: Option<String>| -> Result<Option<String>, String> {
            let Some(v) = value else { return Ok(None) };
            match v.strip_prefix("os.environ/") {
                Some(var) => env(var).filter(|x| !x.is_empty()).map(Some).ok_or_else(|| {
                    format!("litellm_params.{field} reads environment variable {var}, which is not set")
                }),
                None => Ok(Some(v)),
            }
        };
        let model = resolve("model", Some(p.model))?.unwrap_or_default();
        if model.trim().is_empty() {
            return Err("litellm_params.model is empty".to_owned());
        }
        if shape.model_name.trim().is_empty() {
            return Err("model_name is empty".to_owned());
        }
        let positive = |v: Option<f64>, field: &str, rule: &str| match v {
            Some(t) if !(t.is_finite() && t >= 0.0 && (t > 0.0 || field != "timeout")) => {
                Err(format!("litellm_params.{field} must be {rule}, got {t}"))
            }
            other => Ok(other),
        };
        let timeout_secs = positive(p.timeout, "timeout", "a positive number of seconds")?;
        let weight = positive(p.weight, "weight", "a number ≥ 0")?;
        let cooldown = positive(p.cooldown_time, "cooldown_time", "a number of seconds ≥ 0")?;
        let responses_mode =
            match p.responses_mode.as_deref() {
                None => None,
                Some(m) => Some(ResponsesMode::parse(m).ok_or_else(|| {
                    format!("litellm_params.responses_mode `{m}` must be auto, bridge or passthrough")
                })?),
            };
        let position = self.group(&shape.model_name).map_or(0, |(_, g)| g.deployments.len());
        let id = match shape.model_info.and_then(|i| i.id) {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::Number(n)) => n.to_string(),
            Some(other) if !other.is_null() => return Err(format!("model_info.id must be a string, got {other}")),
            _ => format!("{}:{position}:{model}", shape.model_name),
        };
        if id.chars().any(|c| c.is_control()) {
            return Err("model_info.id has control characters".to_owned());
        }
        Ok(Deployment {
            id,
            group: shape.model_name,
            model,
            api_base: resolve("api_base", p.api_base)?,
            api_key: resolve("api_key", p.api_key)?.map(Secret::new),
            custom_llm_provider: resolve("custom_llm_provider", p.custom_llm_provider)?,
            timeout_secs,
            max_retries: p.max_retries,
            rpm: p.rpm.or(shape.rpm),
            tpm: p.tpm.or(shape.tpm),
            weight,
            order: p.order,
            cooldown_time: cooldown.map(Duration::from_secs_f64),
            responses_mode,
        })
    }

    fn push(&mut self, deployment: Deployment) -> Result<(), String> {
        if self.deployments.iter().any(|d| d.id == deployment.id) {
            return Err(format!("model_info.id `{}` names two deployments", deployment.id));
        }
        let index = self.deployments.len();
        match self.groups.iter_mut().find(|g| g.name == deployment.group) {
            Some(g) => g.deployments.push(index),
            None => self.groups.push(Group { name: deployment.group.clone(), deployments: vec![index] }),
        }
        self.deployments.push(deployment);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "MY_KEY").then(|| "sk-from-env".to_owned())
    }

    /// The file LiteLLM's documentation leads with: two deployments under one name, and fallbacks.
    pub(crate) const LITELLM_DOCS_FILE: &str = "\
model_list:
  - model_name: gpt-x
    litellm_params:
      model: azure/chatgpt-v-2
      api_base: https://my-endpoint.openai.azure.com/
      api_version: \"2024-02-15-preview\"
      api_key: os.environ/MY_KEY
      rpm: 6
  - model_name: gpt-x
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: os.environ/MY_KEY
      rpm: 1440
    model_info:
      id: openai-backup-deployment
  - model_name: backup
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/MY_KEY
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  allowed_fails: 3
  cooldown_time: 30
litellm_settings:
  fallbacks: [{\"gpt-x\": [\"backup\"]}]
  drop_params: true
general_settings:
  master_key: sk-1234
";

    #[test]
    fn the_litellm_docs_file_parses_into_groups_of_deployments() {
        let cfg = RouterConfig::parse(LITELLM_DOCS_FILE, "r.yaml", false, env).expect("valid");
        let names: Vec<&str> = cfg.groups().iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["gpt-x", "backup"]);
        let ids: Vec<&str> = cfg.deployments().iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["gpt-x:0:azure/chatgpt-v-2", "openai-backup-deployment", "backup:0:openai/gpt-4o"]);
        assert_eq!(cfg.group("gpt-x").map(|(_, g)| g.deployments.clone()), Some(vec![0, 1]));
        assert_eq!(cfg.deployments()[1].rpm, Some(1440));
        assert_eq!(cfg.settings.fallbacks["gpt-x"], ["backup"]);
        assert_eq!(cfg.settings.cooldown_time, Duration::from_secs(30));
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        assert_eq!(cfg.get("gpt-x").map(|d| d.model.as_str()), Some("azure/chatgpt-v-2"));
    }

    #[test]
    fn ids_never_come_from_the_key() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_key: sk-secret-1}\n";
        let cfg = RouterConfig::parse(text, "r.yaml", false, env).expect("valid");
        assert!(!cfg.deployments()[0].id.contains("sk-secret"));
        assert_eq!(cfg.deployments()[0].api_key.as_ref().map(Secret::expose), Some("sk-secret-1"));
    }

    #[test]
    fn deployment_params_are_read() {
        let text = "model_list:\n  - model_name: fast\n    litellm_params: {model: openai/m, weight: 2.5, order: 1, tpm: 900, timeout: 5, max_retries: 1, cooldown_time: 0.5, responses_mode: Bridge}\n    model_info: {id: 7}\n    rpm: 60\n";
        let cfg = RouterConfig::parse(text, "r.yaml", false, env).expect("valid");
        let d = &cfg.deployments()[0];
        assert_eq!((d.id.as_str(), d.weight, d.order, d.rpm, d.tpm), ("7", Some(2.5), Some(1), Some(60), Some(900)));
        assert_eq!((d.timeout_secs, d.max_retries), (Some(5.0), Some(1)));
        assert_eq!(
            (d.cooldown_time, d.responses_mode),
            (Some(Duration::from_millis(500)), Some(ResponsesMode::Bridge))
        );
    }

    #[test]
    fn json_file_form() {
        let text = r#"{"model_list":[{"model_name":"a","litellm_params":{"model":"dummy"}}]}"#;
        let cfg = RouterConfig::parse(text, "r.json", true, env).expect("valid");
        assert_eq!(cfg.deployments().len(), 1);
    }

    #[test]
    fn a_fallback_to_no_group_is_a_warning_not_a_refusal() {
        let text = "model_list:\n  - model_name: a\n    litellm_params: {model: x}\nrouter_settings: {fallbacks: [{a: [nowhere]}]}\n";
        let cfg = RouterConfig::parse(text, "r.yaml", false, env).expect("LiteLLM accepts it");
        assert_eq!(cfg.warnings.len(), 1);
        assert!(cfg.warnings[0].contains("`nowhere`"), "{:?}", cfg.warnings);
    }

    #[test]
    fn errors_name_file_entry_and_problem() {
        let entry = |params: &str| format!("model_list:\n  - model_name: a\n    litellm_params: {params}\n");
        let cases = [
            (entry("{model: x, api_key: os.environ/NOPE}"), "NOPE, which is not set"),
            (entry("{api_base: x}"), "missing field `model`"),
            (entry("{model: x, timeout: -1}"), "timeout must be"),
            (entry("{model: x, weight: -1}"), "weight must be"),
            (entry("{model: x, responses_mode: sometimes}"), "auto, bridge or passthrough"),
            (
                entry("{model: x}")
                    + "    model_info: {id: same}\n  - model_name: b\n    litellm_params: {model: y}\n    model_info: {id: same}\n",
                "names two deployments",
            ),
            (entry("{model: x}") + "router_settings: {num_retries: lots}\n", "router_settings.num_retries"),
            ("model_list: [\n".to_owned(), "not valid YAML"),
        ];
        for (text, needle) in cases {
            let err = RouterConfig::parse(&text, "bad.yaml", false, env).expect_err(&text).to_string();
            assert!(err.contains("bad.yaml") && err.contains(needle), "{err}");
        }
        let err = RouterConfig::parse(&entry("{model: x, api_key: os.environ/NOPE}"), "bad.yaml", false, env)
            .expect_err("unset env")
            .to_string();
        assert!(err.contains("entry 0 (a)"), "{err}");
    }
}
