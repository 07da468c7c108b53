//! The scale stack as child processes: `redis-server` and nginx in process groups of their own,
//! the replicas as [`ServerProcess`]es on port 0 (each reports the port it got).
//!
//! Killing a replica drops its process: SIGKILL, then reaped.

use std::path::Path;
use std::time::Duration;

use super::{REPLICAS, Replica, nginx, replica_env};
use crate::ServerProcess;
use crate::group::ProcessGroup;

/// The running parts. Field order is drop order: the balancer first, Redis last.
pub struct Parts {
    nginx: ProcessGroup,
    replicas: Vec<Option<ServerProcess>>,
    _redis: ProcessGroup,
}

/// Starts Redis, the replicas, then nginx in front of them; returns nginx's URL and the replicas.
pub fn start(miniagent: &Path, dir: &Path, otlp: &str) -> Result<(String, Vec<Replica>, Parts), String> {
    let nginx_program = nginx::program()?;
    let redis_program = crate::redis::program()?;

    let redis_port = crate::free_port().map_err(|e| e.to_string())?;
    let args = crate::redis::args(redis_port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut redis = ProcessGroup::spawn("redis-server", &redis_program, &args, &dir.join("redis.log"))?;
    redis.wait_for_port(redis_port, Duration::from_secs(10))?;
    let redis_url = format!("redis://127.0.0.1:{redis_port}/");

    let shown = dir.display().to_string();
    let mut replicas = Vec::new();
    let mut processes = Vec::new();
    for i in 0..REPLICAS {
        let name = format!("replica-{i}");
        let env = replica_env(&name, &shown, &redis_url, otlp);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let process = ServerProcess::start(miniagent, &["serve", "--demo", "--port", "0"], &env)
            .map_err(|e| format!("{name}: {e}"))?;
        replicas.push(Replica { name, addr: process.addr().to_string() });
        processes.push(Some(process));
    }

    let port = crate::free_port().map_err(|e| e.to_string())?;
    let upstreams: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx::config(&dir.display().to_string(), port, &upstreams)).map_err(|e| e.to_string())?;
    let prefix = dir.display().to_string();
    let conf = conf.display().to_string();
    let mut balancer = ProcessGroup::spawn(
        "nginx",
        &nginx_program,
        &["-e", "stderr", "-p", &prefix, "-c", &conf],
        &dir.join("nginx.log"),
    )?;
    balancer.wait_for_port(port, Duration::from_secs(10))?;
    let parts = Parts { nginx: balancer, replicas: processes, _redis: redis };
    Ok((format!("http://127.0.0.1:{port}"), replicas, parts))
}

impl Parts {
    pub fn kill_replica(&mut self, i: usize) -> Result<(), String> {
        match self.replicas.get_mut(i).and_then(Option::take) {
            Some(process) => {
                drop(process);
                Ok(())
            }
            None => Err(format!("replica-{i} is not running")),
        }
    }

    pub fn balancer_log(&self) -> String {
        self.nginx.output()
    }
}
