//! Where a server listens and how much it lets a client take: `--host`/`--port` flags, else
//! `{PREFIX}_HOST` / `{PREFIX}_PORT`, else loopback — and the limits every server applies to slow and
//! abusive clients (header and body read timeouts, a connection cap, a shutdown grace). Every server
//! subcommand resolves its address and limits here.

use std::time::Duration;

use crate::env::Env;

/// Default listen address of every server subcommand: loopback, because tools run code.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default request-body limit (8 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Where a server listens and how much it reads.
#[derive(Debug, Clone)]
pub struct Listen {
    pub host: String,
    pub port: u16,
    pub max_body_bytes: usize,
    pub limits: ClientLimits,
    /// `--insecure-no-auth`: serve a non-loopback address without API keys (warned on every start).
    pub insecure_no_auth: bool,
}

/// What one client may hold, and how many threads serve the clients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientLimits {
    /// `MINI_AGENT_HEADER_TIMEOUT_SEC` (10): a request head not complete by then closes the connection.
    pub header_timeout: Duration,
    /// `MINI_AGENT_BODY_TIMEOUT_SEC` (30): a body not complete by then is a 408.
    pub body_timeout: Duration,
    /// `MINI_AGENT_MAX_CONNECTIONS` (4096): more wait in the kernel's backlog.
    pub max_connections: usize,
    /// `MINI_AGENT_SHUTDOWN_GRACE_SEC` (20): after SIGTERM, in-flight requests get this long.
    pub shutdown_grace: Duration,
    /// `MINI_AGENT_WORKERS` (the cores): threads that serve the connections, each with a runtime of
    /// its own (see `serve`); 0 serves them on the shared runtime.
    pub workers: usize,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(20),
            workers: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

impl ClientLimits {
    pub fn from_env(env: &Env) -> Self {
        let d = Self::default();
        Self {
            header_timeout: env.secs("MINI_AGENT_HEADER_TIMEOUT_SEC", d.header_timeout),
            body_timeout: env.secs("MINI_AGENT_BODY_TIMEOUT_SEC", d.body_timeout),
            max_connections: env.parse_where(
                "MINI_AGENT_MAX_CONNECTIONS",
                d.max_connections,
                "an integer ≥ 1",
                |n| *n >= 1,
            ),
            shutdown_grace: env.secs("MINI_AGENT_SHUTDOWN_GRACE_SEC", d.shutdown_grace),
            workers: env.parse_where("MINI_AGENT_WORKERS", d.workers, "an integer from 0 to 1024", |n| *n <= 1024),
        }
    }
}

impl Default for Listen {
    /// Loopback, a free port, the default limits: what tests and embedders start from.
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.to_owned(),
            port: 0,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            limits: ClientLimits::default(),
            insecure_no_auth: false,
        }
    }
}

impl Listen {
    /// `--host`/`--port` when given, else `{prefix}_HOST` and `{prefix}_PORT` (e.g.
    /// `MINI_AGENT_API_HOST`), else loopback and `default_port`. A variable the flag overrides is not
    /// read at all, so a bad value there cannot stop a server started with the flag.
    pub fn resolve(env: &Env, prefix: &str, default_port: u16, host: Option<String>, port: Option<u16>) -> Self {
        Self {
            host: host.or_else(|| env.get(&format!("{prefix}_HOST"))).unwrap_or_else(|| DEFAULT_HOST.to_owned()),
            port: port.unwrap_or_else(|| {
                env.parse(&format!("{prefix}_PORT"), default_port, "a port number (0 picks a free one)")
            }),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            limits: ClientLimits::from_env(env),
            insecure_no_auth: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pairs: &[(&str, &str)]) -> (ClientLimits, Vec<String>) {
        let var = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        let env = Env::new(&var);
        let limits = ClientLimits::from_env(&env);
        (limits, env.into_problems())
    }

    #[test]
    fn a_server_reads_at_most_8_mib_of_body_by_default() {
        let var = |_: &str| None;
        let listen = Listen::resolve(&Env::new(&var), "MINI_AGENT_API", 8080, None, None);
        assert_eq!(listen.max_body_bytes, 8_388_608);
        assert_eq!(Listen::default().max_body_bytes, 8_388_608);
    }

    #[test]
    fn the_connection_cap_takes_any_integer_from_1_and_refuses_0() {
        let (l, problems) = limits(&[("MINI_AGENT_MAX_CONNECTIONS", "1")]);
        assert_eq!((l.max_connections, problems.len()), (1, 0), "1, the bound, is allowed: {problems:?}");
        let (l, problems) = limits(&[("MINI_AGENT_MAX_CONNECTIONS", "100000")]);
        assert_eq!((l.max_connections, problems.len()), (100_000, 0), "{problems:?}");
        for bad in ["0", "-1", "many"] {
            let (l, problems) = limits(&[("MINI_AGENT_MAX_CONNECTIONS", bad)]);
            assert_eq!(l.max_connections, 4096, "{bad}: the default stays");
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert!(problems[0].contains("MINI_AGENT_MAX_CONNECTIONS"), "{problems:?}");
        }
        assert_eq!(limits(&[]), (ClientLimits::default(), Vec::new()));
    }

    #[test]
    fn workers_default_to_the_cores_and_take_0_to_1024() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(limits(&[]).0.workers, cores);
        for (value, workers) in [("0", 0), ("1", 1), ("1024", 1024)] {
            let (l, problems) = limits(&[("MINI_AGENT_WORKERS", value)]);
            assert_eq!((l.workers, problems.len()), (workers, 0), "{value}: {problems:?}");
        }
        for bad in ["1025", "-1", "all"] {
            let (l, problems) = limits(&[("MINI_AGENT_WORKERS", bad)]);
            assert_eq!(l.workers, cores, "{bad}: the default stays");
            assert!(problems.len() == 1 && problems[0].contains("MINI_AGENT_WORKERS"), "{bad}: {problems:?}");
        }
    }

    #[test]
    fn timeouts_take_positive_seconds_and_refuse_the_rest() {
        let (l, problems) = limits(&[
            ("MINI_AGENT_HEADER_TIMEOUT_SEC", "0.5"),
            ("MINI_AGENT_BODY_TIMEOUT_SEC", "2"),
            ("MINI_AGENT_SHUTDOWN_GRACE_SEC", "1"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(l.header_timeout, Duration::from_millis(500));
        assert_eq!(l.body_timeout, Duration::from_secs(2));
        assert_eq!(l.shutdown_grace, Duration::from_secs(1));
        let (l, problems) = limits(&[("MINI_AGENT_HEADER_TIMEOUT_SEC", "0"), ("MINI_AGENT_BODY_TIMEOUT_SEC", "-3")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!((l.header_timeout, l.body_timeout), (Duration::from_secs(10), Duration::from_secs(30)));
    }
}
