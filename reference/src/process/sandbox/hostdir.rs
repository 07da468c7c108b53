//! A tool's work directory on the host — only when the operator turned the sandbox off (inside it,
//! the work directory is the sandbox's own tmpfs) — removed after the call whatever the tool did.

use std::path::{Path, PathBuf};

use super::chown;

/// A work directory on the host, removed on drop even where the tool made parts of it read-only.
#[derive(Debug)]
pub struct HostDir(PathBuf);

impl HostDir {
    pub(super) fn create(run_as: Option<u32>) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("miniagent-tool-")
            .tempdir()
            .map_err(|e| format!("cannot create a work directory: {e}"))?
            .keep();
        if let Some(uid) = run_as {
            chown(&dir, uid)?;
        }
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        remove_tree(&self.0);
    }
}

/// Removes `dir`, first giving every directory in it back its owner's write permission (a tool may
/// have made a subfolder read-only to keep its files).
pub(crate) fn remove_tree(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fn open_up(dir: &Path) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&entry.path());
            }
        }
    }
    if std::fs::remove_dir_all(dir).is_err() {
        open_up(dir);
        let _ = std::fs::remove_dir_all(dir);
    }
}
