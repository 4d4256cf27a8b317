//! `Config::cidrs_allowed` (memberlist's `CIDRsAllowed`): the application's hooks wrapped so
//! that the core's address checks (`Hooks::allow_address`: every datagram's and stream
//! message's source, and every claimed member address) also require an allowed network.

use std::net::SocketAddr;

use ipnet::IpNet;
use swim_core::Bytes;
use swim_core::hooks::{Candidate, Exchange, FinishedBroadcast, Hooks, NoHooks, Refusal, Verdict};

/// The application's hooks (or none) behind a network allowlist.
pub(crate) struct Allowlist {
    nets: Vec<IpNet>,
    inner: Box<dyn Hooks<SocketAddr>>,
}

impl Allowlist {
    /// `inner` (the defaults if `None`), allowing only addresses in `nets`.
    pub(crate) fn wrap(nets: Vec<IpNet>, inner: Option<Box<dyn Hooks<SocketAddr>>>) -> Box<dyn Hooks<SocketAddr>> {
        Box::new(Allowlist { nets, inner: inner.unwrap_or_else(|| Box::new(NoHooks)) })
    }
}

impl Hooks<SocketAddr> for Allowlist {
    fn local_state(&mut self, exchange: Exchange) -> Bytes {
        self.inner.local_state(exchange)
    }

    fn merge_remote_state(&mut self, from: &str, state: &[u8], exchange: Exchange) {
        self.inner.merge_remote_state(from, state, exchange)
    }

    fn on_broadcast(&mut self, origin: &str, key: &[u8], payload: &[u8]) -> Verdict {
        self.inner.on_broadcast(origin, key, payload)
    }

    fn broadcast_finished(&mut self, broadcast: &FinishedBroadcast<'_>) {
        self.inner.broadcast_finished(broadcast)
    }

    fn admit_member(&mut self, candidate: &Candidate<'_, SocketAddr>) -> Result<(), Refusal> {
        self.inner.admit_member(candidate)
    }

    fn admit_merge(
        &mut self,
        from: &str,
        members: &[Candidate<'_, SocketAddr>],
        exchange: Exchange,
    ) -> Result<(), Refusal> {
        self.inner.admit_merge(from, members, exchange)
    }

    fn allow_address(&mut self, addr: &SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.nets.iter().any(|net| net.contains(&ip)) && self.inner.allow_address(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_in_the_networks_pass() {
        let nets = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/16".parse().unwrap()];
        let mut a = Allowlist::wrap(nets, None);
        let ok = |a: &mut Box<dyn Hooks<SocketAddr>>, s: &str| a.allow_address(&s.parse().unwrap());
        assert!(ok(&mut a, "10.1.2.3:7946"));
        assert!(ok(&mut a, "[fd00::3]:7946"));
        assert!(ok(&mut a, "[::ffff:10.0.0.1]:7946"), "an IPv4-mapped address is its IPv4 one");
        assert!(!ok(&mut a, "192.168.0.1:7946"));
        assert!(!ok(&mut a, "[fe80::1]:7946"));
        let mut none = Allowlist::wrap(Vec::new(), None);
        assert!(!ok(&mut none, "10.1.2.3:7946"), "an empty list allows nothing");
    }
}
