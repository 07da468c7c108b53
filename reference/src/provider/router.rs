//! The router config: a LiteLLM-style `model_list` file (YAML or JSON) mapping aliases to models.
//!
//! Owns parsing and validation of the file, `os.environ/NAME` references, and alias lookup.
//! A bad file fails at startup with the file, the entry and the problem named: a typo found at the
//! first request would be found by a user, not by the operator.
//!
//! Does not call providers: [`super::Providers`] turns a resolved alias into a call.

use std::path::Path;

use serde::Deserialize;

use crate::secret::Secret;

/// One alias from `model_list`.
#[derive(Debug, Clone)]
pub struct RouteEntry {
    /// The alias clients send as `model`.
    pub model_name: String,
    /// The `provider/model` it maps to.
    pub model: String,
    pub api_base: Option<String>,
    pub api_key: Option<Secret>,
    pub custom_llm_provider: Option<String>,
    pub timeout_secs: Option<f64>,
    pub max_retries: Option<u32>,
}

/// The parsed `model_list`, in file order (the order `/v1/models` lists aliases in).
#[derive(Debug, Clone, Default)]
pub struct RouterConfig {
    entries: Vec<RouteEntry>,
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
}

// LiteLLM files carry other sections (router_settings, litellm_settings, …) and entry keys
// (model_info, rpm, …); they are accepted and ignored so one file can serve both tools.
#[derive(Deserialize)]
struct FileShape {
    #[serde(default)]
    model_list: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct EntryShape {
    model_name: String,
    litellm_params: ParamsShape,
}

#[derive(Deserialize)]
struct ParamsShape {
    model: String,
    api_base: Option<String>,
    api_key: Option<String>,
    custom_llm_provider: Option<String>,
    timeout: Option<f64>,
    max_retries: Option<u32>,
}

impl RouterConfig {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }

    pub fn get(&self, alias: &str) -> Option<&RouteEntry> {
        self.entries.iter().find(|e| e.model_name == alias)
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
        let file: FileShape = if is_json {
            serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
                path: path.to_owned(),
                format: "JSON",
                message: e.to_string(),
            })?
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Syntax {
                path: path.to_owned(),
                format: "YAML",
                message: e.to_string(),
            })?
        };
        let mut entries: Vec<RouteEntry> = Vec::with_capacity(file.model_list.len());
        for (index, raw) in file.model_list.into_iter().enumerate() {
            let name = raw.get("model_name").and_then(|v| v.as_str()).unwrap_or("<no model_name>").to_owned();
            let problem =
                |problem: String| ConfigError::Entry { path: path.to_owned(), index, name: name.clone(), problem };
            let shape: EntryShape = serde_path_to_error::deserialize(raw)
                .map_err(|e| problem(format!("{} (at `{}`)", e.inner(), e.path())))?;
            let p = shape.litellm_params;
            let resolve = |field: &str, value: Option<String>| -> Result<Option<String>, ConfigError> {
                match value {
                    Some(v) => match v.strip_prefix("os.environ/") {
                        Some(var) => env(var).filter(|x| !x.is_empty()).map(Some).ok_or_else(|| {
                            problem(format!(
                                "litellm_params.{field} reads environment variable {var}, which is not set"
                            ))
                        }),
                        None => Ok(Some(v)),
                    },
                    None => Ok(None),
                }
            };
            let model = resolve("model", Some(p.model))?.unwrap_or_default();
            if model.trim().is_empty() {
                return Err(problem("litellm_params.model is empty".to_owned()));
            }
            if shape.model_name.trim().is_empty() {
                return Err(problem("model_name is empty".to_owned()));
            }
            if entries.iter().any(|e| e.model_name == shape.model_name) {
                return Err(problem(format!("model_name `{}` appears twice", shape.model_name)));
            }
            if let Some(t) = p.timeout
                && !(t.is_finite() && t > 0.0)
            {
                return Err(problem(format!("litellm_params.timeout must be a positive number of seconds, got {t}")));
            }
            entries.push(RouteEntry {
                model_name: shape.model_name,
                model,
                api_base: resolve("api_base", p.api_base)?,
                api_key: resolve("api_key", p.api_key)?.map(Secret::new),
                custom_llm_provider: resolve("custom_llm_provider", p.custom_llm_provider)?,
                timeout_secs: p.timeout,
                max_retries: p.max_retries,
            });
        }
        Ok(Self { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "MY_KEY").then(|| "sk-from-env".to_owned())
    }

    #[test]
    fn yaml_with_env_reference() {
        let text = "model_list:\n  - model_name: fast\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_key: os.environ/MY_KEY\n      timeout: 5\nrouter_settings: {num_retries: 2}\n";
        let cfg = RouterConfig::parse(text, "r.yaml", false, env).expect("valid");
        let e = cfg.get("fast").expect("alias");
        assert_eq!(e.model, "openai/gpt-4o-mini");
        assert_eq!(e.api_key.as_ref().map(Secret::expose), Some("sk-from-env"));
        assert_eq!(e.timeout_secs, Some(5.0));
    }

    #[test]
    fn json_file_form() {
        let text = r#"{"model_list":[{"model_name":"a","litellm_params":{"model":"dummy"}}]}"#;
        let cfg = RouterConfig::parse(text, "r.json", true, env).expect("valid");
        assert_eq!(cfg.entries().len(), 1);
    }

    #[test]
    fn errors_name_file_entry_and_problem() {
        let cases = [
            (
                "model_list:\n  - model_name: a\n    litellm_params: {model: x, api_key: os.environ/NOPE}\n",
                "NOPE, which is not set",
            ),
            ("model_list:\n  - model_name: a\n    litellm_params: {api_base: x}\n", "missing field `model`"),
            (
                "model_list:\n  - model_name: a\n    litellm_params: {model: x}\n  - model_name: a\n    litellm_params: {model: y}\n",
                "appears twice",
            ),
            ("model_list:\n  - model_name: a\n    litellm_params: {model: x, timeout: -1}\n", "timeout must be"),
            ("model_list: [\n", "not valid YAML"),
        ];
        for (text, needle) in cases {
            let err = RouterConfig::parse(text, "bad.yaml", false, env).expect_err(text).to_string();
            assert!(err.contains("bad.yaml") && err.contains(needle), "{err}");
        }
        let err = RouterConfig::parse(
            "model_list:\n  - model_name: a\n    litellm_params: {model: x, api_key: os.environ/NOPE}\n",
            "bad.yaml",
            false,
            env,
        )
        .expect_err("unset env")
        .to_string();
        assert!(err.contains("entry 0 (a)"), "{err}");
    }
}
