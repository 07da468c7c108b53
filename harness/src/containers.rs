//! Whether containers can be used here: a Docker engine that answers, and the project's images
//! (`make images`; the scale suite's balancer image), and the `docker` command line the harness runs.
//! There is no registry on this machine kind, so nothing is ever pulled; a missing engine or image
//! is a reason to skip, said in words.

use std::process::Command;

/// The image `make images` builds.
pub const IMAGE: &str = "miniagent:local";

/// The image `harness/images/balancer.sh` builds: Debian's nginx and redis-server, for the scale
/// suite.
pub const BALANCER_IMAGE: &str = "miniagent-balancer:local";

/// `Ok(())` when the engine answers and the image exists, else why not.
pub fn available() -> Result<(), String> {
    engine()?;
    image(IMAGE, "make images")
}

/// `Ok(())` when a Docker engine answers, else why not.
pub fn engine() -> Result<(), String> {
    let engine = Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output();
    match engine {
        Err(e) => Err(format!("no docker CLI ({e})")),
        Ok(out) if !out.status.success() => {
            Err(format!("the Docker engine does not answer: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
        Ok(_) => Ok(()),
    }
}

/// `Ok(())` when the engine has image `name`, else why not (`how` builds it).
pub fn image(name: &str, how: &str) -> Result<(), String> {
    match Command::new("docker").args(["image", "inspect", name]).output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(format!("the image {name} is not built (run `{how}`)")),
    }
}

/// Runs `docker args…`; its trimmed stdout, or the command and its stderr.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker").args(args).output().map_err(|e| format!("docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!("docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}
