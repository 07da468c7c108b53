//! Where a server listens and how much it reads: `--host`/`--port` flags, else `{PREFIX}_HOST` /
//! `{PREFIX}_PORT`, else loopback — every server subcommand resolves its address here.

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
        }
    }
}
