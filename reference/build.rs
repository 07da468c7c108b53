//! Records the git commit the binary was built from, for exec-rpc's `GET /__meta`.

use std::process::Command;

/// The trimmed output of `git <args>`, when git runs and answers.
#[expect(clippy::disallowed_methods, reason = "a build script runs git before process::spawn exists")]
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let sha = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=MINIAGENT_GIT_SHA={sha}");
    // Asked of git rather than assumed at `../.git`: in a worktree `.git` is a file, and a path that
    // does not exist would make cargo rebuild the crate on every invocation.
    for path in ["HEAD", "refs/heads"] {
        if let Some(at) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
            println!("cargo:rerun-if-changed={at}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
