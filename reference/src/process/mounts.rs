//! The tool's filesystem, as bubblewrap arguments: an **allowlist** (CONTRACT §11). What is not
//! listed here is not there — no `/home`, `/root`, `/run`, `/var`, `/srv`, `/opt`, `/mnt`, no
//! application directory — so a secret file the server must hide needs no mask unless it sits
//! inside one of the listed trees, and then it gets one.
//!
//! Listed: the system's programs and libraries read-only (`/usr`, `/bin`, `/sbin`, `/lib*` — as the
//! symlinks they are on a merged-`/usr` system), `/etc` read-only minus the server's own files, a
//! fresh `/proc` of the tool's PID namespace, a minimal `/dev` (null, zero, full, random, urandom),
//! the work directory — a tmpfs of `MINI_AGENT_TOOL_DISK_MB`, the **only** writable place, with
//! `/tmp`, `/var/tmp` and `/dev/shm` pointing into it, so no second tmpfs can hold more — and the
//! tool init. The root itself is remounted read-only last.
//!
//! Masked inside the listed trees: the files the server was told to hide (keys file, router
//! config, traces and their rotations, `MINI_AGENT_TOOL_HIDE`), the server's working directory and
//! its executable's directory when they lie there, service configuration directories under `/etc`,
//! and — for a server that does not run as root, whose tools share its uid — every entry of `/etc`
//! that uid owns.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The work directory inside the sandbox.
pub(crate) const WORK: &str = "/work";
/// Where the tool init is mounted inside the sandbox.
pub(crate) const INIT: &str = "/.miniagent/init";

/// Trees the tool sees (read-only), when they exist.
const SYSTEM_TREES: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];
/// Directories under `/etc` where services keep their configuration and credentials
/// (`EnvironmentFile=`s, unit files, supervisor programs, container and credential stores).
const SERVICE_DIRS: &[&str] = &[
    "/etc/systemd",
    "/etc/default",
    "/etc/sysconfig",
    "/etc/supervisor",
    "/etc/supervisord.d",
    "/etc/init.d",
    "/etc/docker",
    "/etc/containerd",
    "/etc/kubernetes",
    "/etc/credstore",
    "/etc/credstore.encrypted",
    "/etc/ssl/private",
    "/etc/ssh",
    "/etc/sudoers.d",
    "/etc/miniagent",
];
/// Directories whose executables are the system's, never an application's own.
const BIN_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"];
const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"];

/// An absolute, symlink-free form of `path` (the parent is resolved when the file itself does not
/// exist yet, e.g. a trace file written later); relative paths are taken from the current directory.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")).join(path)
    };
    if let Ok(real) = joined.canonicalize() {
        return real;
    }
    match (joined.parent().and_then(|p| p.canonicalize().ok()), joined.file_name()) {
        (Some(parent), Some(name)) => parent.join(name),
        _ => joined,
    }
}

/// Whether `path` lies in a tree the tool sees (its own bound extras included).
fn visible(path: &Path, extra: &[PathBuf]) -> bool {
    SYSTEM_TREES.iter().any(|t| path.starts_with(t)) || extra.iter().any(|t| path.starts_with(t))
}

/// What the server masks whatever it was told: fixed at startup.
#[derive(Debug, Clone, Default)]
pub(crate) struct StaticMasks {
    pub paths: Vec<PathBuf>,
}

impl StaticMasks {
    /// The service directories, the server's working and executable directories when the tool
    /// could see them, and (for a non-root server) what its uid owns under `/etc`.
    pub(crate) fn discover(server_uid: u32) -> Self {
        let mut paths: Vec<PathBuf> = SERVICE_DIRS.iter().map(PathBuf::from).filter(|p| p.exists()).collect();
        let is_tree_root = |p: &Path| p == Path::new("/") || SYSTEM_TREES.iter().any(|t| p == Path::new(t));
        if let Ok(cwd) = std::env::current_dir().map(|d| absolute(&d))
            && visible(&cwd, &[])
            && !is_tree_root(&cwd)
            && !BIN_DIRS.iter().any(|b| cwd == Path::new(b))
        {
            paths.push(cwd);
        }
        if let Some(dir) =
            std::env::current_exe().ok().map(|e| absolute(&e)).and_then(|e| e.parent().map(Path::to_path_buf))
            && visible(&dir, &[])
            && !is_tree_root(&dir)
            && !BIN_DIRS.iter().any(|b| dir == Path::new(b))
        {
            paths.push(dir);
        }
        if server_uid != 0 {
            owned_by(Path::new("/etc"), server_uid, 0, &mut paths);
        }
        Self { paths }
    }
}

/// Entries under `dir` owned by `uid` (a directory found is masked whole, not walked further).
fn owned_by(dir: &Path, uid: u32, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.uid() == uid {
            out.push(path);
        } else if meta.is_dir() {
            owned_by(&path, uid, depth + 1, out);
        }
    }
}

/// Masks for `hidden` (already absolute): each that the tool could see, and for files the
/// rotations beside them (`<name>.1`, `<name>.2.gz`, …), looked up now, since they appear later.
pub(crate) fn masks_for(hidden: &[PathBuf], extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in hidden.iter().filter(|p| visible(p, extra)) {
        out.push(path.clone());
        let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else { continue };
        let prefix = format!("{name}.");
        if let Ok(entries) = std::fs::read_dir(parent) {
            out.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)))
                    .map(|e| e.path()),
            );
        }
    }
    out
}

/// The masks that exist, without those inside a masked directory (already gone with it — and
/// bubblewrap could not make their mount points in the read-only tmpfs that hides it).
fn outermost(masks: &[PathBuf]) -> Vec<&PathBuf> {
    let existing: Vec<&PathBuf> = masks.iter().filter(|p| p.exists()).collect();
    let mut out: Vec<&PathBuf> = existing
        .iter()
        .copied()
        .filter(|p| !existing.iter().any(|d| d.as_path() != p.as_path() && d.is_dir() && p.starts_with(d)))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

/// The mount arguments, in the order bubblewrap must apply them.
pub(crate) fn arguments(
    init: &Path,
    disk_bytes: u64,
    masks: &[PathBuf],
    extra: &[PathBuf],
    network: bool,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    for tree in SYSTEM_TREES.iter().map(Path::new) {
        match std::fs::symlink_metadata(tree) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(tree) {
                    a.extend(["--symlink".into(), target.into(), tree.into()]);
                }
            }
            Ok(m) if m.is_dir() => a.extend(["--ro-bind".into(), tree.into(), tree.into()]),
            _ => {}
        }
    }
    for path in extra.iter().filter(|p| p.exists()) {
        a.extend(["--ro-bind".into(), path.into(), path.into()]);
    }
    if network {
        // A resolver file that links out of /etc (systemd-resolved's stub under /run) is bound
        // where it points, or DNS would not work with the network on.
        if let Ok(target) = Path::new("/etc/resolv.conf").canonicalize()
            && !target.starts_with("/etc")
        {
            a.extend(["--ro-bind".into(), target.clone().into(), target.into()]);
        }
    }
    for path in outermost(masks) {
        if path.is_dir() {
            a.extend(["--tmpfs".into(), path.into(), "--remount-ro".into(), path.into()]);
        } else {
            a.extend(["--ro-bind".into(), "/dev/null".into(), path.into()]);
        }
    }
    push(&mut a, &["--proc", "/proc", "--dir", "/dev"]);
    for dev in DEVICES.iter().filter(|d| Path::new(d).exists()) {
        push(&mut a, &["--dev-bind", dev, dev]);
    }
    let shm = format!("{WORK}/.shm");
    let tmp = format!("{WORK}/.tmp");
    push(&mut a, &["--symlink", "/proc/self/fd", "/dev/fd", "--symlink", &shm, "/dev/shm"]);
    for (n, name) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        a.extend(["--symlink".into(), format!("/proc/self/fd/{n}").into(), format!("/dev/{name}").into()]);
    }
    let size = disk_bytes.to_string();
    push(&mut a, &["--size", &size, "--tmpfs", WORK, "--symlink", &tmp, "/tmp", "--dir", "/var"]);
    push(&mut a, &["--symlink", &tmp, "/var/tmp"]);
    a.extend(["--ro-bind".into(), init.into(), INIT.into()]);
    push(&mut a, &["--remount-ro", "/", "--chdir", WORK]);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(args: &[OsString]) -> String {
        args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn only_the_listed_trees_are_mounted_and_the_root_is_read_only() {
        let args = text(&arguments(Path::new("/usr/bin/miniagent"), 1 << 20, &[], &[], false));
        assert!(args.contains("--ro-bind /usr /usr") && args.contains("--ro-bind /etc /etc"), "{args}");
        for absent in ["/home", "/root", "/run", "/var/lib", "/srv", "/opt"] {
            assert!(!args.contains(&format!(" {absent} ")), "{absent} must not be mounted: {args}");
        }
        assert!(args.contains("--size 1048576 --tmpfs /work"), "{args}");
        assert!(args.contains("--symlink /work/.tmp /tmp") && args.contains("--symlink /work/.shm /dev/shm"), "{args}");
        assert!(args.ends_with("--ro-bind /usr/bin/miniagent /.miniagent/init --remount-ro / --chdir /work"), "{args}");
        assert_eq!(args.matches("--tmpfs").count(), 1, "one tmpfs only, the sized work directory: {args}");
    }

    #[test]
    fn a_hidden_file_in_a_listed_tree_is_masked_with_its_rotations() {
        let dir = tempfile::tempdir().expect("dir");
        let trace = dir.path().join("t.jsonl");
        for name in ["t.jsonl", "t.jsonl.1", "t.jsonl.2", "other"] {
            std::fs::write(dir.path().join(name), "x").expect("write");
        }
        let extra = vec![dir.path().to_path_buf()];
        let mut masks = masks_for(std::slice::from_ref(&trace), &extra);
        masks.sort();
        let names: Vec<String> =
            masks.iter().map(|p| p.file_name().expect("name").to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["t.jsonl", "t.jsonl.1", "t.jsonl.2"]);
        // Outside every listed tree nothing needs a mask: it is not there at all.
        assert!(masks_for(&[PathBuf::from("/run/secrets/keys.yaml")], &[]).is_empty());
        let args = text(&arguments(Path::new("/x"), 1, &masks, &extra, false));
        assert!(args.contains(&format!("--ro-bind /dev/null {}", trace.display())), "{args}");
    }

    #[test]
    fn a_mask_inside_a_masked_directory_is_left_to_it() {
        let dir = tempfile::tempdir().expect("dir");
        let inner = dir.path().join("bin");
        std::fs::create_dir(&inner).expect("mkdir");
        std::fs::write(inner.join("f"), "x").expect("write");
        let masks = vec![inner.join("f"), dir.path().to_path_buf(), inner.clone(), dir.path().to_path_buf()];
        assert_eq!(outermost(&masks), vec![&dir.path().to_path_buf()]);
    }

    #[test]
    fn relative_paths_become_absolute() {
        let p = absolute(Path::new("some/keys.yaml"));
        assert!(p.is_absolute() && p.ends_with("some/keys.yaml"), "{}", p.display());
    }
}
