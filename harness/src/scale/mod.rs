//! The scale stack (CONTRACT §12, `make e2e-scale`): nginx in front of [`REPLICAS`] `miniagent
//! serve` replicas that share their rate-limit windows and router cooldowns through one
//! `redis-server` (the router group's two providers are [`providers`]) and send spans to one OTLP
//! receiver — as processes ([`processes`]) or as containers of our own images on the host
//! network ([`containers`]). Either way every part listens on `127.0.0.1`, so the suite cannot tell
//! the two apart except by how a replica is killed.
//!
//! Owns starting, killing one replica, and stopping everything on drop. The proofs are in
//! `tests/scale.rs`; the load they send is [`load`], the replicas' counters are read by [`metrics`].

pub mod containers;
pub mod load;
pub mod metrics;
pub mod nginx;
pub mod processes;
pub mod providers;

use std::path::Path;

/// How many replicas stand behind nginx: with three, the survivors of a kill are still a spread.
pub const REPLICAS: usize = 3;

/// An API key of the suite's keys file.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub secret: &'static str,
    pub rpm: Option<u32>,
}

/// The key the load is sent with: no limit, so every request must be served.
pub const LOAD_KEY: Key = Key { name: "scale-load", secret: "sk-scale-load", rpm: None };
/// The key whose `rpm` must hold across the replicas.
pub const LIMIT_KEY: Key = Key { name: "scale-limit", secret: "sk-scale-limit", rpm: Some(30) };

/// The keys file every replica reads (`MINI_AGENT_API_KEYS_FILE`).
pub fn keys_yaml() -> String {
    let mut text = String::from("keys:\n");
    for key in [LOAD_KEY, LIMIT_KEY] {
        text.push_str(&format!("  - name: {}\n    key: {}\n", key.name, key.secret));
        if let Some(rpm) = key.rpm {
            text.push_str(&format!("    rpm: {rpm}\n"));
        }
    }
    text
}

/// How the stack runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Processes,
    Containers,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Processes => "processes",
            Self::Containers => "containers",
        })
    }
}

/// One replica: its `service.instance.id` and where it listens (`127.0.0.1:PORT`, as nginx names it
/// in `$upstream_addr`).
#[derive(Debug, Clone)]
pub struct Replica {
    pub name: String,
    pub addr: String,
}

impl Replica {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The environment of replica `name`: the keys file and the router file (in `dir`, as the replica
/// sees it), the shared windows and router state in Redis (failing closed, so a Redis the replicas
/// cannot reach shows up as 503s rather than as a limit that silently does not hold), and spans to
/// `otlp`, flushed every 200 ms.
pub fn replica_env(name: &str, dir: &str, redis_url: &str, otlp: &str) -> Vec<(String, String)> {
    [
        ("MINI_AGENT_API_KEYS_FILE", format!("{dir}/keys.yaml")),
        ("MINI_AGENT_CONFIG", format!("{dir}/router.yaml")),
        ("MINI_AGENT_REDIS_URL", redis_url.to_owned()),
        ("MINI_AGENT_REDIS_FAIL", "closed".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.to_owned()),
        ("OTEL_SERVICE_NAME", "miniagent".to_owned()),
        ("OTEL_RESOURCE_ATTRIBUTES", format!("service.instance.id={name}")),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// What runs the parts.
enum Parts {
    Processes(processes::Parts),
    Containers(containers::Parts),
}

/// A running scale stack; everything it started is stopped when it is dropped.
pub struct ScaleStack {
    pub mode: Mode,
    /// `http://127.0.0.1:PORT` of nginx.
    pub balancer: String,
    pub replicas: Vec<Replica>,
    /// The providers of the router group the replicas share a cooldown of.
    pub providers: providers::Providers,
    parts: Parts,
    /// Keys file and nginx config (and, for processes, nginx's pid, logs and temporary files).
    _dir: tempfile::TempDir,
}

impl ScaleStack {
    /// The stack as child processes of this one, from the `miniagent` binary at `miniagent`.
    pub fn start_processes(miniagent: &Path, otlp: &str) -> Result<Self, String> {
        let (dir, providers) = work_dir()?;
        let (balancer, replicas, parts) = processes::start(miniagent, dir.path(), otlp)?;
        Ok(Self { mode: Mode::Processes, balancer, replicas, providers, parts: Parts::Processes(parts), _dir: dir })
    }

    /// The stack as containers of `miniagent:local` and `miniagent-balancer:local`.
    pub fn start_containers(otlp: &str) -> Result<Self, String> {
        let (dir, providers) = work_dir()?;
        let (balancer, replicas, parts) = containers::start(dir.path(), otlp)?;
        Ok(Self { mode: Mode::Containers, balancer, replicas, providers, parts: Parts::Containers(parts), _dir: dir })
    }

    /// Kills replica `i` at once (SIGKILL: no graceful shutdown, in-flight requests are cut).
    pub fn kill_replica(&mut self, i: usize) -> Result<(), String> {
        match &mut self.parts {
            Parts::Processes(p) => p.kill_replica(i),
            Parts::Containers(c) => c.kill_replica(i),
        }
    }

    /// What nginx wrote to its error log (stderr), for a failure message.
    pub fn balancer_log(&self) -> String {
        match &self.parts {
            Parts::Processes(p) => p.balancer_log(),
            Parts::Containers(c) => c.balancer_log(),
        }
    }
}

/// A directory the containers' users can read (the keys file, the router file and the nginx config
/// are mounted), and the router group's providers the router file points at.
fn work_dir() -> Result<(tempfile::TempDir, providers::Providers), String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix("miniagent-scale-").tempdir().map_err(|e| e.to_string())?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    let keys = dir.path().join("keys.yaml");
    std::fs::write(&keys, keys_yaml()).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())?;
    let providers = providers::Providers::start()?;
    let router = dir.path().join("router.yaml");
    std::fs::write(&router, providers.router_yaml()).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&router, std::fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())?;
    Ok((dir, providers))
}
