//! Where a request may make the server connect (CONTRACT §11): `tool_http_base_url` and
//! `tool_mcp_url` come from clients, so without a rule any caller could make the server fetch any
//! URL (SSRF) and read the answer back as the final answer.
//!
//! `MINI_AGENT_TOOL_URL_ALLOW` lists what is allowed: `host`, `host:port` or a CIDR. Unset, the
//! default follows the server's bind: loopback only for a server on loopback, nothing for a server
//! reachable from elsewhere. Link-local and cloud-metadata addresses are refused whatever the list
//! says. The check runs on the **resolved** addresses, before any connection, and the caller
//! connects to exactly those addresses (no second lookup a DNS-rebinding server could answer
//! differently).
//!
//! Also owns [`redacted`]: a URL as it may appear in logs and messages, without its credentials.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use url::Url;

use crate::env::Env;

/// One entry of `MINI_AGENT_TOOL_URL_ALLOW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Host(String),
    HostPort(String, u16),
    Net(IpNet),
}

impl Rule {
    fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if let Ok(net) = t.parse::<IpNet>() {
            return Ok(Self::Net(net));
        }
        if let Ok(ip) = t.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Ok(Self::Net(IpNet::from(ip)));
        }
        if let Some((host, port)) = t.rsplit_once(':')
            && let Ok(port) = port.parse::<u16>()
        {
            return Ok(Self::HostPort(host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase(), port));
        }
        if t.is_empty() || t.contains(['/', ' ', '@']) {
            return Err(format!("`{t}` is not a host, host:port or CIDR"));
        }
        Ok(Self::Host(t.to_ascii_lowercase()))
    }

    fn allows(&self, host: &str, addr: &SocketAddr) -> bool {
        match self {
            Self::Host(h) => h == host,
            Self::HostPort(h, p) => h == host && *p == addr.port(),
            Self::Net(net) => net.contains(&addr.ip()),
        }
    }
}

/// The outbound policy of one server.
#[derive(Debug, Clone)]
pub struct UrlPolicy {
    /// `MINI_AGENT_TOOL_URL_ALLOW`, when set.
    pub rules: Option<Vec<Rule>>,
    /// Whether the server is bound to loopback (the default without rules).
    pub server_on_loopback: bool,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl UrlPolicy {
    pub fn from_env(env: &Env, listen_host: &str) -> Self {
        let rules = env.get("MINI_AGENT_TOOL_URL_ALLOW").map(|raw| {
            raw.split(',')
                .filter(|r| !r.trim().is_empty())
                .filter_map(|r| {
                    Rule::parse(r).map_err(|why| env.problem(format!("MINI_AGENT_TOOL_URL_ALLOW: {why}"))).ok()
                })
                .collect()
        });
        let server_on_loopback = listen_host == "localhost"
            || listen_host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        Self { rules, server_on_loopback }
    }

    /// Resolves `url` and checks every address; the addresses to connect to, or why not.
    pub async fn check(&self, url: &Url) -> Result<Vec<SocketAddr>, Refused> {
        let shown = redacted(url);
        let host = url.host_str().ok_or_else(|| Refused(format!("{shown} has no host")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| Refused(format!("{shown}: cannot resolve {host}: {e}")))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(Refused(format!("{shown}: {host} resolves to no address")));
        }
        for addr in &addrs {
            self.check_addr(&host, addr).map_err(|why| Refused(format!("{shown}: {why}")))?;
        }
        Ok(addrs)
    }

    fn check_addr(&self, host: &str, addr: &SocketAddr) -> Result<(), String> {
        // An IPv6 address that carries an IPv4 one is judged as that IPv4 address: `::/0` in the
        // list must not let `64:ff9b::a9fe:a9fe` (NAT64 for 169.254.169.254) through.
        let addr = &SocketAddr::new(embedded_ipv4(addr.ip()), addr.port());
        if always_refused(addr.ip()) {
            return Err(format!(
                "{} is a link-local or cloud-metadata address, which tools servers may never be",
                addr.ip()
            ));
        }
        let allowed = match &self.rules {
            Some(rules) => rules.iter().any(|r| r.allows(host, addr)),
            None => self.server_on_loopback && addr.ip().is_loopback(),
        };
        if allowed {
            return Ok(());
        }
        let default = if self.server_on_loopback {
            "by default a server on loopback may only reach loopback"
        } else {
            "by default a server reachable from the network may reach nothing"
        };
        Err(format!(
            "{host} ({}) is not allowed: add it to MINI_AGENT_TOOL_URL_ALLOW (host, host:port or CIDR; {default})",
            addr.ip()
        ))
    }
}

/// The IPv4 address an IPv6 form carries — IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002:aabb:ccdd::/16` — else `ip`.
pub(crate) fn embedded_ipv4(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let s = v6.segments();
    let low = |a: u16, b: u16| IpAddr::V4(Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8));
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let compatible = s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1);
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1);
    if compatible || nat64 {
        return low(s[6], s[7]);
    }
    if s[0] == 0x2002 {
        return low(s[1], s[2]);
    }
    ip
}

/// Link-local (169.254.0.0/16, where cloud metadata services live, and fe80::/10), the AWS IPv6
/// metadata address, unspecified and multicast addresses.
fn always_refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => {
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            let aws_metadata = v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            let mapped = v6.to_ipv4_mapped().is_some_and(|v4| always_refused(IpAddr::V4(v4)));
            link_local || aws_metadata || mapped || v6.is_unspecified() || v6.is_multicast()
        }
    }
}

/// `url` without user name and password: how a URL may appear in logs, errors and traces.
pub fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
    }
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: Option<&str>, on_loopback: bool) -> UrlPolicy {
        let lookup = |k: &str| (k == "MINI_AGENT_TOOL_URL_ALLOW").then(|| allow.map(str::to_owned)).flatten();
        let env = Env::new(&lookup);
        UrlPolicy::from_env(&env, if on_loopback { "127.0.0.1" } else { "0.0.0.0" })
    }

    async fn check(p: &UrlPolicy, url: &str) -> Result<Vec<SocketAddr>, Refused> {
        p.check(&Url::parse(url).unwrap_or_else(|e| panic!("{e}"))).await
    }

    #[tokio::test]
    async fn the_default_follows_the_bind() {
        assert!(check(&policy(None, true), "http://127.0.0.1:9/x").await.is_ok());
        assert!(check(&policy(None, true), "http://localhost:9/x").await.is_ok(), "resolved, then checked");
        let err = check(&policy(None, true), "http://10.1.2.3/").await.expect_err("not loopback");
        assert!(err.0.contains("MINI_AGENT_TOOL_URL_ALLOW"), "{err}");
        let err = check(&policy(None, false), "http://127.0.0.1:9/").await.expect_err("nothing by default");
        assert!(err.0.contains("may reach nothing"), "{err}");
    }

    #[tokio::test]
    async fn rules_allow_hosts_ports_and_networks_but_never_metadata() {
        let p = policy(Some("10.0.0.0/8, tools.internal:8443, 127.0.0.1"), false);
        assert!(check(&p, "http://10.9.8.7/").await.is_ok());
        assert!(check(&p, "http://127.0.0.1:5/").await.is_ok());
        assert!(check(&p, "http://192.168.1.1/").await.is_err());
        let p = policy(Some("0.0.0.0/0, ::/0"), false);
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[64:ff9b:1::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[::169.254.169.254]/",
        ] {
            let err = check(&p, url).await.expect_err(url);
            assert!(err.0.contains("link-local or cloud-metadata"), "{url}: {err}");
        }
        // Judged as the IPv4 address they carry: an IPv6-only rule does not admit them.
        let v6_only = policy(Some("::/0"), false);
        for url in ["http://[64:ff9b::a00:1]/", "http://[2002:a00:1::]/", "http://[::ffff:10.0.0.1]/"] {
            assert!(check(&v6_only, url).await.is_err(), "{url} is 10.0.0.1 in disguise");
        }
        assert!(check(&v6_only, "http://[2001:db8::1]/").await.is_ok());
        assert!(
            check(&policy(None, true), "http://[::ffff:127.0.0.1]:9/").await.is_ok(),
            "loopback in disguise is loopback"
        );
    }

    /// What `check_addr` says of `host` resolved to `addr`, without a lookup.
    fn verdict(p: &UrlPolicy, host: &str, addr: &str) -> Result<(), String> {
        p.check_addr(host, &addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}")))
    }

    #[test]
    fn a_host_rule_admits_that_name_and_a_host_port_rule_that_name_on_that_port() {
        let p = policy(Some("tools.internal, mcp.internal:8443"), false);
        assert!(verdict(&p, "tools.internal", "10.0.0.5:80").is_ok(), "the named host, any port");
        assert!(verdict(&p, "other.internal", "10.0.0.5:80").is_err(), "another name at the same address");
        assert!(verdict(&p, "mcp.internal", "10.0.0.6:8443").is_ok(), "the named host on its port");
        assert!(verdict(&p, "mcp.internal", "10.0.0.6:8444").is_err(), "the named host on another port");
        assert!(verdict(&p, "evil.internal", "10.0.0.6:8443").is_err(), "another name on that port");
    }

    #[tokio::test]
    async fn a_cidr_rule_admits_exactly_its_range() {
        let p = policy(Some("10.0.1.0/24"), false);
        for (url, ok) in [
            ("http://10.0.0.255/", false),
            ("http://10.0.1.0/", true),
            ("http://10.0.1.255/", true),
            ("http://10.0.2.0/", false),
            // NAT64 for 10.0.1.2: every octet of the embedded address counts.
            ("http://[64:ff9b::a00:102]/", true),
            ("http://[64:ff9b::a00:202]/", false),
            ("http://[2002:a00:102::]/", true),
        ] {
            assert_eq!(check(&p, url).await.is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn embedded_ipv4_forms_give_their_ipv4_and_nothing_else_does() {
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap_or_else(|e| panic!("{e}")));
        for (v6, carried) in [
            ("::ffff:127.0.0.1", "127.0.0.1"),
            ("::127.0.0.1", "127.0.0.1"),
            ("::10.0.0.1", "10.0.0.1"),
            ("::0.0.0.2", "0.0.0.2"),
            ("::169.254.169.254", "169.254.169.254"),
            ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
            ("64:ff9b::a00:102", "10.0.1.2"),
            ("64:ff9b:1::a00:102", "10.0.1.2"),
            ("2002:7f00:1::", "127.0.0.1"),
            ("2002:a00:102::1", "10.0.1.2"),
        ] {
            let ip: IpAddr = v6.parse().unwrap_or_else(|e| panic!("{v6}: {e}"));
            assert_eq!(embedded_ipv4(ip), v4(carried), "{v6}");
        }
        // `::` and `::1` are IPv6's own unspecified and loopback; the rest only look alike.
        for v6 in ["::", "::1", "2001:db8::a00:1", "2001:db8:1::a00:1", "64:0:1::a00:1", "64:ff9b:2::a00:1"] {
            let ip: IpAddr = v6.parse().unwrap_or_else(|e| panic!("{v6}: {e}"));
            assert_eq!(embedded_ipv4(ip), ip, "{v6} carries no IPv4 address");
        }
    }

    #[tokio::test]
    async fn ipv6_is_judged_as_the_ipv4_it_carries_and_only_then() {
        let on_loopback = policy(None, true);
        for url in ["http://[::1]:9/", "http://[::127.0.0.1]:9/", "http://[2002:7f00:1::]:9/"] {
            assert!(check(&on_loopback, url).await.is_ok(), "{url} is loopback");
        }
        let v6_only = policy(Some("::/0"), false);
        for url in ["http://[::10.0.0.1]/", "http://[::127.0.0.1]/"] {
            assert!(check(&v6_only, url).await.is_err(), "{url} is IPv4 in disguise");
        }
        for url in ["http://[2001:db8::a00:1]/", "http://[2001:db8:1::a00:1]/", "http://[64:0:1::a00:1]/"] {
            assert!(check(&v6_only, url).await.is_ok(), "{url} is plain IPv6");
        }
    }

    #[tokio::test]
    async fn each_always_refused_range_is_refused_on_its_own() {
        let p = policy(Some("0.0.0.0/0, ::/0"), false);
        for url in [
            "http://169.254.169.254/",
            "http://169.254.0.1/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://239.255.255.250/",
            "http://255.255.255.255/",
            "http://100.100.100.200/",
            "http://[fe80::1]/",
            "http://[febf::1]/",
            "http://[fd00:ec2::254]/",
            "http://[::]/",
            "http://[ff02::1]/",
            "http://[ff0e::1]/",
            "http://[::ffff:224.0.0.1]/",
            "http://[::ffff:255.255.255.255]/",
        ] {
            let err = check(&p, url).await.expect_err(url);
            assert!(err.0.contains("link-local or cloud-metadata"), "{url}: {err}");
        }
        for url in
            ["http://100.100.100.201/", "http://223.255.255.255/", "http://[fec0::1]/", "http://[fd00:ec2::255]/"]
        {
            assert!(check(&p, url).await.is_ok(), "{url} is an ordinary address");
        }
    }

    #[test]
    fn a_user_name_alone_is_a_credential_too() {
        let shown = |u: &str| redacted(&Url::parse(u).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(shown("https://ghp_t0ken@example.com/repo"), "https://example.com/repo");
        assert_eq!(shown("https://:s3cret@example.com/"), "https://example.com/");
        assert_eq!(shown("http://example.com:8080/a?b=c"), "http://example.com:8080/a?b=c");
    }

    #[test]
    fn credentials_never_show() {
        let url = Url::parse("http://user:s3cret@host:1/path?q=1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(redacted(&url), "http://host:1/path?q=1");
        let mut problems = Vec::new();
        for bad in ["a b", "http://x/y"] {
            let lookup = |k: &str| (k == "MINI_AGENT_TOOL_URL_ALLOW").then(|| bad.to_owned());
            let env = Env::new(&lookup);
            let _ = UrlPolicy::from_env(&env, "127.0.0.1");
            problems.extend(env.into_problems());
        }
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
