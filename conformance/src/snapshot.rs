//! Stored response shapes: the snapshots under the workspace's `snapshots/` directory.
//!
//! `cargo test` checks shapes with insta (which also writes new snapshots under `make snapshots`).
//! The runner binary cannot use insta — it is a test-time tool — so it compares against the same
//! files, embedded at build time by `build.rs`, itself: same text after redaction, key order included.

use crate::failure::Failure;
use crate::shape::ordered_text;
use serde_json::Value;

/// Checks a redacted value against the snapshot called `name`.
pub trait SnapshotCheck: Send + Sync {
    fn check(&self, name: &str, value: &Value) -> Result<(), Failure>;
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/snapshots.rs"));
}

/// The snapshot files this binary was built with, as `(name, file text)`.
pub fn embedded() -> &'static [(&'static str, &'static str)] {
    embedded::SNAPSHOTS
}

/// The JSON body of an insta `.snap` file (everything after its `---` header block).
pub fn body_of(file: &str) -> Option<Value> {
    let rest = file.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    serde_json::from_str(&rest[end + 5..]).ok()
}

/// Compares against the embedded snapshot files.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoredSnapshots;

impl SnapshotCheck for StoredSnapshots {
    fn check(&self, name: &str, value: &Value) -> Result<(), Failure> {
        let (_, file) = embedded().iter().find(|(n, _)| *n == name).ok_or_else(|| {
            Failure::failed(format!("no stored snapshot `{name}` in this build (run `make snapshots`)"))
        })?;
        let expected =
            body_of(file).ok_or_else(|| Failure::failed(format!("snapshot `{name}` is not a JSON insta snapshot")))?;
        let (want, got) = (ordered_text(&expected), ordered_text(value));
        if want == got {
            Ok(())
        } else {
            Err(Failure::failed(format!("shape differs from snapshot `{name}`:\n  expected {want}\n  got      {got}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_insta_files_and_is_order_sensitive() {
        let file = "---\nsource: x.rs\n---\n{\n  \"b\": 1,\n  \"a\": 2\n}\n";
        let body = body_of(file).expect("body");
        assert_eq!(ordered_text(&body), ordered_text(&json!({"b": 1, "a": 2})));
        assert_ne!(ordered_text(&body), ordered_text(&json!({"a": 2, "b": 1})));
    }
}
