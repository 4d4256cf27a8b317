//! Turning seeds (`host:port` names, IP literals, socket addresses) into addresses, in the
//! caller's task so a slow DNS server never stalls the protocol.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::error::ResolveFailure;
use crate::transport;

/// A member to join through: an address, or a name to resolve.
///
/// Converts from a [`SocketAddr`] and from strings: `"10.0.0.1:7946"`, `"[fd00::1]:7946"`,
/// `"node-1.example:7946"`, or a host without a port (`"10.0.0.1"`, `"node-1.example"`,
/// `"fd00::1"`), which uses this member's own port, as memberlist does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seed {
    /// A socket address, used as is.
    Addr(SocketAddr),
    /// A name or literal, resolved through DNS when it is not a literal.
    Name(String),
}

impl From<SocketAddr> for Seed {
    fn from(a: SocketAddr) -> Self {
        Seed::Addr(a)
    }
}

impl From<&str> for Seed {
    fn from(s: &str) -> Self {
        Seed::Name(s.to_owned())
    }
}

impl From<String> for Seed {
    fn from(s: String) -> Self {
        Seed::Name(s)
    }
}

impl From<&String> for Seed {
    fn from(s: &String) -> Self {
        Seed::Name(s.clone())
    }
}

impl std::fmt::Display for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seed::Addr(a) => a.fmt(f),
            Seed::Name(n) => f.write_str(n),
        }
    }
}

/// What the name of a seed asks for, before any DNS.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Addr(SocketAddr),
    /// `host:port` or `(host, default port)` to look up.
    Lookup(String, u16),
}

fn parse(seed: &str, default_port: u16) -> Result<Parsed, String> {
    let seed = seed.trim();
    if seed.is_empty() {
        return Err("empty seed".into());
    }
    if let Ok(a) = seed.parse::<SocketAddr>() {
        return Ok(Parsed::Addr(a));
    }
    let bare = seed.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(seed);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Parsed::Addr(SocketAddr::new(ip, default_port)));
    }
    match seed.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port = port.parse::<u16>().map_err(|_| format!("bad port {port:?}"))?;
            if host.is_empty() {
                return Err("empty host".into());
            }
            Ok(Parsed::Lookup(host.to_owned(), port))
        }
        Some(_) => Err("not an address: put IPv6 addresses in brackets, [addr]:port".into()),
        None => Ok(Parsed::Lookup(seed.to_owned(), default_port)),
    }
}

/// Resolve `seeds` into at most `max_per_seed` addresses each that a socket bound to `local`
/// can reach, without duplicates, in order. Seeds that yield nothing usable are reported.
pub(crate) async fn resolve(
    seeds: Vec<Seed>,
    local: SocketAddr,
    default_port: u16,
    timeout: Duration,
    max_per_seed: usize,
) -> (Vec<SocketAddr>, Vec<ResolveFailure>) {
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut failures = Vec::new();
    for seed in seeds {
        let found = match &seed {
            Seed::Addr(a) => Ok(vec![*a]),
            Seed::Name(name) => lookup(name, default_port, timeout).await,
        };
        let found = found.and_then(|all| {
            let usable: Vec<_> = all.into_iter().filter(|a| transport::reachable(local, *a)).collect();
            if usable.is_empty() {
                Err("no address of a family this member's socket can reach".into())
            } else {
                Ok(usable)
            }
        });
        match found {
            Ok(found) => {
                for a in found.into_iter().take(max_per_seed) {
                    if !addrs.contains(&a) {
                        addrs.push(a);
                    }
                }
            }
            Err(reason) => failures.push(ResolveFailure { seed: seed.to_string(), reason }),
        }
    }
    (addrs, failures)
}

async fn lookup(name: &str, default_port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    let (host, port) = match parse(name, default_port)? {
        Parsed::Addr(a) => return Ok(vec![a]),
        Parsed::Lookup(host, port) => (host, port),
    };
    match tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port))).await {
        Err(_) => Err(format!("DNS lookup timed out after {timeout:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(found)) => {
            let found: Vec<_> = found.map(transport::canonical).collect();
            if found.is_empty() { Err("no addresses".into()) } else { Ok(found) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_and_names() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(parse("10.0.0.1:1", 7), Ok(Parsed::Addr(a("10.0.0.1:1"))));
        assert_eq!(parse("10.0.0.1", 7), Ok(Parsed::Addr(a("10.0.0.1:7"))));
        assert_eq!(parse("[fd00::1]:9", 7), Ok(Parsed::Addr(a("[fd00::1]:9"))));
        assert_eq!(parse("[fd00::1]", 7), Ok(Parsed::Addr(a("[fd00::1]:7"))));
        assert_eq!(parse("fd00::1", 7), Ok(Parsed::Addr(a("[fd00::1]:7"))));
        assert_eq!(parse("node-1.example:80", 7), Ok(Parsed::Lookup("node-1.example".into(), 80)));
        assert_eq!(parse("node-1", 7), Ok(Parsed::Lookup("node-1".into(), 7)));
        assert!(parse("node-1:http", 7).is_err());
        assert!(parse("", 7).is_err());
        assert!(parse(":80", 7).is_err());
    }

    #[tokio::test]
    async fn resolves_localhost_and_reports_failures() {
        let local: SocketAddr = "127.0.0.1:7946".parse().unwrap();
        let seeds = vec![
            Seed::from("localhost:1234"),
            Seed::from("127.0.0.1:1234"),
            Seed::from("[::1]:1"),
            Seed::from("name.invalid:1"),
        ];
        let (addrs, failures) = resolve(seeds, local, 7946, Duration::from_secs(5), 16).await;
        assert_eq!(addrs, vec!["127.0.0.1:1234".parse::<SocketAddr>().unwrap()]);
        let failed: Vec<_> = failures.iter().map(|f| f.seed.as_str()).collect();
        assert_eq!(failed, ["[::1]:1", "name.invalid:1"]);
    }
}
