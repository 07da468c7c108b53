//! API keys (CONTRACT §11): who may call, how often, and which tool backends they may run.
//!
//! `MINI_AGENT_API_KEYS=k1,k2` (each key named by its position) or `MINI_AGENT_API_KEYS_FILE` (YAML
//! or JSON `{"keys":[{"key","name","rpm"?,"backends"?:[…]}]}`). Keys are compared in constant time
//! — every configured key is checked, through SHA-256 digests so neither the position of the first
//! differing byte nor a key's length shows in the timing — and never logged: a key is a [`Secret`],
//! and only its `name` appears in logs and errors.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::BackendKind;
use crate::env::Env;
use crate::secret::Secret;

/// One configured key.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// For logs, metrics and errors; never the key itself.
    pub name: String,
    digest: KeyDigest,
    /// Requests per minute, when limited.
    pub rpm: Option<u32>,
    /// The tool backends this key may run, when limited.
    pub backends: Option<Vec<BackendKind>>,
}

impl ApiKey {
    pub fn new(name: impl Into<String>, key: &Secret, rpm: Option<u32>, backends: Option<Vec<BackendKind>>) -> Self {
        Self { name: name.into(), digest: KeyDigest(digest(key.expose())), rpm, backends }
    }

    /// Whether this key may run `backend`.
    pub fn allows(&self, backend: BackendKind) -> bool {
        self.backends.as_ref().is_none_or(|allowed| allowed.contains(&backend))
    }
}

/// A key's SHA-256, what comparisons use; its `Debug` shows nothing (a digest of a weak key could
/// be reversed by guessing).
#[derive(Clone)]
struct KeyDigest([u8; 32]);

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The keys of one server.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<ApiKey>,
    /// The keys file they came from (hidden from tools).
    pub source: Option<std::path::PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    keys: Vec<EntryShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryShape {
    key: String,
    name: String,
    rpm: Option<u32>,
    backends: Option<Vec<String>>,
}

impl KeyRing {
    pub fn new(keys: Vec<ApiKey>) -> Self {
        Self { keys, source: None }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// `MINI_AGENT_API_KEYS` or `MINI_AGENT_API_KEYS_FILE` (not both: which one wins would be a guess).
    pub fn from_env(env: &Env) -> Self {
        match (env.get("MINI_AGENT_API_KEYS"), env.get("MINI_AGENT_API_KEYS_FILE")) {
            (Some(_), Some(_)) => {
                env.problem("set MINI_AGENT_API_KEYS or MINI_AGENT_API_KEYS_FILE, not both".to_owned());
                Self::default()
            }
            (Some(list), None) => Self::from_list(&list),
            (None, Some(path)) => Self::load(Path::new(&path)).unwrap_or_else(|why| {
                env.problem(format!("MINI_AGENT_API_KEYS_FILE {path}: {why}"));
                Self::default()
            }),
            (None, None) => Self::default(),
        }
    }

    /// A comma-separated list; each key is named `key-<n>` (1-based) in logs.
    pub fn from_list(list: &str) -> Self {
        let keys = list
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
            .map(|(i, k)| ApiKey::new(format!("key-{}", i + 1), &Secret::new(k), None, None))
            .collect();
        Self { keys, source: None }
    }

    /// A keys file: JSON when it ends in `.json`, YAML otherwise.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
        let file: FileShape = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| format!("not valid YAML: {e}"))?
        };
        let mut keys = Vec::with_capacity(file.keys.len());
        for (i, entry) in file.keys.into_iter().enumerate() {
            if entry.key.trim().is_empty() || entry.name.trim().is_empty() {
                return Err(format!("keys[{i}]: `key` and `name` must not be empty"));
            }
            if entry.rpm == Some(0) {
                return Err(format!("keys[{i}] ({}): rpm must be at least 1", entry.name));
            }
            let backends = match entry.backends {
                None => None,
                Some(names) => Some(
                    names
                        .iter()
                        .map(|b| {
                            BackendKind::parse(b)
                                .ok_or_else(|| format!("keys[{i}] ({}): unknown backend `{b}`", entry.name))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            keys.push(ApiKey::new(entry.name, &Secret::new(entry.key), entry.rpm, backends));
        }
        Ok(Self { keys, source: Some(path.to_path_buf()) })
    }

    /// The key `presented` matches, compared in constant time against every key.
    pub fn find(&self, presented: &str) -> Option<&ApiKey> {
        let wanted = digest(presented);
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.digest.0.ct_eq(&wanted)) {
                found = Some(key);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_and_a_file_give_named_keys() {
        let ring = KeyRing::from_list(" k1, ,k2 ");
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.find("k2").map(|k| k.name.as_str()), Some("key-2"));
        assert!(ring.find("k3").is_none() && ring.find("").is_none() && ring.find("k1 ").is_none());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("keys.yaml");
        std::fs::write(
            &path,
            "keys:\n  - {key: s1, name: team-a, rpm: 2, backends: [echo, local]}\n  - {key: s2, name: ci}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ring = KeyRing::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let a = ring.find("s1").unwrap_or_else(|| panic!("s1"));
        assert_eq!((a.name.as_str(), a.rpm), ("team-a", Some(2)));
        assert!(a.allows(BackendKind::Echo) && !a.allows(BackendKind::Http));
        assert!(ring.find("s2").is_some_and(|k| k.allows(BackendKind::Mcp)));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (text, needle) in [
            ("keys:\n  - {key: s1, name: a, backends: [telnet]}\n", "unknown backend `telnet`"),
            ("keys:\n  - {key: '', name: a}\n", "must not be empty"),
            ("keys:\n  - {key: s, name: a, rpm: 0}\n", "rpm must be at least 1"),
            ("keys:\n  - {key: s, name: a, typo: 1}\n", "unknown field"),
        ] {
            let path = dir.path().join("k.yaml");
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            let err = KeyRing::load(&path).expect_err(text);
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn keys_never_print() {
        let ring = KeyRing::from_list("sk-super-secret");
        assert!(!format!("{ring:?}").contains("sk-super-secret"));
        let key = ApiKey::new("team-a", &Secret::new("sk-another-secret"), None, None);
        let shown = format!("{key:?}");
        assert!(shown.contains("team-a") && shown.contains("digest: ***"), "the key is there, masked: {shown}");
        assert!(!shown.contains("sk-another-secret"), "{shown}");
    }
}
