//! nginx as the L7 balancer of the scale suite: the configuration the README recommends (HTTP/1.1
//! keep-alive to the replicas, no buffering, `proxy_next_upstream error timeout non_idempotent` so
//! a request a dead replica did not answer goes to the next one), made runnable by an unprivileged
//! or containerised nginx: every path it writes is under one directory, the error log is stderr, it
//! stays in the foreground.
//!
//! Two things are added for the suite: an `X-Upstream` response header with `$upstream_addr` (the
//! replicas nginx tried, in order: "a, b" when it retried), and an access log of the same, so a
//! response can be traced to the replica that answered it without any help from the replicas.

use std::path::PathBuf;

/// The program, from `PATH` or `/usr/sbin` where Debian puts it.
pub fn program() -> Result<PathBuf, String> {
    crate::find_program("nginx", &["/usr/sbin", "/usr/bin"])
        .ok_or_else(|| "nginx is not installed (Debian package nginx)".to_owned())
}

/// The configuration: listen on `127.0.0.1:port`, balance over `upstreams` (`host:port`), write
/// pid, logs and temporary files under `dir` (as nginx sees it).
pub fn config(dir: &str, port: u16, upstreams: &[String]) -> String {
    let servers: String = upstreams.iter().map(|u| format!("    server {u};\n")).collect();
    format!(
        r#"# The scale suite's balancer (harness/src/scale/nginx.rs).
daemon off;
worker_processes 1;
user nobody nogroup;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
  log_format upstream '$status "$upstream_addr" "$upstream_status" $request_time';
  access_log {dir}/access.log upstream;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream miniagent {{
{servers}    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://miniagent;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 180s;
      proxy_next_upstream error timeout non_idempotent;
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
"#
    )
}

/// The replica that answered, from an `X-Upstream` value: the last address nginx tried.
pub fn answered_by(upstream: &str) -> &str {
    upstream.rsplit(',').next().unwrap_or(upstream).trim()
}

/// Whether nginx tried more than one replica for the request.
pub fn retried(upstream: &str) -> bool {
    upstream.contains(',')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_lists_every_replica_and_retries_non_idempotent_requests() {
        let text = config("/tmp/x", 8080, &["127.0.0.1:1".to_owned(), "127.0.0.1:2".to_owned()]);
        assert!(text.contains("server 127.0.0.1:1;\n    server 127.0.0.1:2;\n    keepalive 64;"));
        assert!(text.contains("listen 127.0.0.1:8080;"));
        assert!(text.contains("proxy_next_upstream error timeout non_idempotent;"));
        assert!(text.contains("pid /tmp/x/nginx.pid;"));
    }

    #[test]
    fn the_answering_replica_is_the_last_one_tried() {
        assert_eq!(answered_by("127.0.0.1:1, 127.0.0.1:2"), "127.0.0.1:2");
        assert_eq!(answered_by("127.0.0.1:1"), "127.0.0.1:1");
        assert!(retried("127.0.0.1:1, 127.0.0.1:2") && !retried("127.0.0.1:1"));
    }
}
