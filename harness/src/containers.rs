//! Whether containers can be used here: a Docker engine that answers, and the project's images
//! (`make images`). There is no registry on this machine kind, so nothing is ever pulled; a missing
//! engine or image is a reason to skip, said in words.

use std::process::Command;

/// The image `make images` builds.
pub const IMAGE: &str = "miniagent:local";

/// `Ok(())` when the engine answers and the image exists, else why not.
pub fn available() -> Result<(), String> {
    let engine = Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output();
    match engine {
        Err(e) => return Err(format!("no docker CLI ({e})")),
        Ok(out) if !out.status.success() => {
            return Err(format!("the Docker engine does not answer: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(_) => {}
    }
    let image = Command::new("docker").args(["image", "inspect", IMAGE]).output();
    match image {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(format!("the image {IMAGE} is not built (run `make images`)")),
    }
}
