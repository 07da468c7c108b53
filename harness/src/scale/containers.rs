//! The scale stack as containers on the host network: the replicas from `miniagent:local`, nginx
//! and `redis-server` from `miniagent-balancer:local` (both built here from our binaries and
//! Debian's packages — nothing is pulled). The host network keeps every address `127.0.0.1:PORT`,
//! as in the process stack, and lets the replicas reach the suite's OTLP receiver on the host's
//! loopback. The work directory (keys file, nginx config) is mounted read-only at `/scale`.
//!
//! Killing a replica is `docker kill` (SIGKILL); every container is removed on drop.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{REPLICAS, Replica, nginx, replica_env};
use crate::containers::{BALANCER_IMAGE, IMAGE, docker};

/// The containers, by name; the replicas' are in replica order.
pub struct Parts {
    replicas: Vec<String>,
    nginx: String,
    redis: String,
}

/// Starts Redis, the replicas, then nginx in front of them; returns nginx's URL and the replicas.
pub fn start(dir: &Path, otlp: &str) -> Result<(String, Vec<Replica>, Parts), String> {
    crate::containers::available()?;
    crate::containers::image(BALANCER_IMAGE, "harness/images/balancer.sh")?;
    let tag = format!("{}-{}", std::process::id(), crate::unique() % 1_000_000);
    // Every container is recorded before it is waited on, so a failed start still removes it.
    let mut parts = Parts { replicas: Vec::new(), nginx: String::new(), redis: String::new() };
    let mount = format!("{}:/scale:ro", dir.display());

    let redis_port = crate::free_port().map_err(|e| e.to_string())?;
    parts.redis = format!("miniagent-scale-redis-{tag}");
    let mut argv = vec!["run", "-d", "--network", "host", "--name", &parts.redis, BALANCER_IMAGE, "redis-server"];
    let redis_args = crate::redis::args(redis_port);
    argv.extend(redis_args.iter().map(String::as_str));
    docker(&argv)?;
    wait_container(&parts.redis, redis_port)?;
    let redis_url = format!("redis://127.0.0.1:{redis_port}/");

    let mut replicas = Vec::new();
    for i in 0..REPLICAS {
        let name = format!("replica-{i}");
        let port = crate::free_port().map_err(|e| e.to_string())?;
        let container = format!("miniagent-scale-{name}-{tag}");
        let mut argv: Vec<String> = ["run", "-d", "--network", "host", "--name", &container, "-v", &mount]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for (k, v) in replica_env(&name, "/scale", &redis_url, otlp) {
            argv.extend(["-e".to_owned(), format!("{k}={v}")]);
        }
        argv.extend([IMAGE, "miniagent", "serve", "--demo", "--port"].iter().map(|s| (*s).to_owned()));
        argv.push(port.to_string());
        parts.replicas.push(container.clone());
        docker(&argv.iter().map(String::as_str).collect::<Vec<_>>())?;
        wait_container(&container, port)?;
        replicas.push(Replica { name, addr: format!("127.0.0.1:{port}") });
    }

    let port = crate::free_port().map_err(|e| e.to_string())?;
    let upstreams: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
    std::fs::write(dir.join("nginx.conf"), nginx::config("/tmp", port, &upstreams)).map_err(|e| e.to_string())?;
    parts.nginx = format!("miniagent-scale-nginx-{tag}");
    docker(&[
        "run",
        "-d",
        "--network",
        "host",
        "--name",
        &parts.nginx,
        "-v",
        &mount,
        BALANCER_IMAGE,
        "nginx",
        "-e",
        "stderr",
        "-p",
        "/tmp",
        "-c",
        "/scale/nginx.conf",
    ])?;
    wait_container(&parts.nginx, port)?;
    Ok((format!("http://127.0.0.1:{port}"), replicas, parts))
}

/// Waits until the container accepts connections on `127.0.0.1:port`; fails with its logs when it
/// stops first or takes over 30 s.
fn wait_container(name: &str, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut checked = Instant::now();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if checked.elapsed() > Duration::from_millis(500) {
            checked = Instant::now();
            if docker(&["inspect", "-f", "{{.State.Running}}", name]).as_deref() != Ok("true") {
                return Err(format!("container {name} stopped before listening on {port}:\n{}", logs(name)));
            }
        }
        if Instant::now() > deadline {
            return Err(format!("container {name} did not listen on {port} within 30 s:\n{}", logs(name)));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn logs(name: &str) -> String {
    match std::process::Command::new("docker").args(["logs", "--tail", "40", name]).output() {
        Ok(out) => format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        Err(e) => e.to_string(),
    }
}

impl Parts {
    pub fn kill_replica(&mut self, i: usize) -> Result<(), String> {
        let name = self.replicas.get(i).ok_or_else(|| format!("no replica-{i}"))?;
        docker(&["kill", name]).map(|_| ())
    }

    pub fn balancer_log(&self) -> String {
        logs(&self.nginx)
    }
}

impl Drop for Parts {
    fn drop(&mut self) {
        let mut argv = vec!["rm", "-f"];
        argv.extend(self.replicas.iter().map(String::as_str));
        argv.extend([self.nginx.as_str(), self.redis.as_str()].into_iter().filter(|n| !n.is_empty()));
        if argv.len() > 2 {
            let _ = docker(&argv);
        }
    }
}
