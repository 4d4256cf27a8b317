//! Typed errors, one per operation. None of them is fatal to the member unless it says so:
//! a member keeps running after any failed command.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// The member has shut down (or its driver task ended): no request can be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the member has shut down")]
pub struct Closed;

/// Why [`crate::Node::start`] failed. Nothing was left running.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The protocol configuration (`swim`), name or metadata was refused by the core; the
    /// message names the field, its limit and what to change.
    #[error(transparent)]
    Core(#[from] swim_core::NewError),
    /// A transport setting is zero and must not be.
    #[error("invalid configuration: `{0}` is zero; it must be above zero")]
    Transport(&'static str),
    /// A socket could not be created or bound.
    #[error("could not bind {protocol} {addr}: {source}")]
    Bind {
        /// `"UDP"` or `"TCP"`.
        protocol: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The bind address is a wildcard and no advertise address was given, so other members
    /// would not know where to reach this one.
    #[error("bind address {0} is a wildcard; set an advertise address other members can reach")]
    NoAdvertiseAddr(SocketAddr),
    /// Encryption is configured without a key, or with more than the keyring holds.
    #[error("invalid encryption settings: {0}")]
    Keys(&'static str),
    /// The advertise address is IPv6 but the sockets are IPv4 (they cannot receive there).
    #[error("advertise address {advertise} is IPv6 but the sockets are bound to IPv4 address {bound}")]
    AddressFamily {
        /// The advertise address.
        advertise: SocketAddr,
        /// The bound address.
        bound: SocketAddr,
    },
}

/// A seed that could not be turned into an address.
#[derive(Debug, thiserror::Error)]
#[error("{seed}: {reason}")]
pub struct ResolveFailure {
    /// The seed as given.
    pub seed: String,
    /// What went wrong.
    pub reason: String,
}

/// Why [`crate::Node::join`] failed. The member keeps running, alone or with whomever it
/// already knew; joining again is allowed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The seed list was empty.
    #[error("no seeds given")]
    NoSeeds,
    /// No seed name resolved to an address of a family this member's socket can reach.
    #[error("no seed could be resolved: {}", list(.0))]
    Resolve(Vec<ResolveFailure>),
    /// Every seed resolved to this member's own address.
    #[error("every seed is this member's own address")]
    OnlySelf,
    /// Seeds were contacted but none answered within the stream timeout (or each refused
    /// the connection).
    #[error("no seed answered: contacted {} ({}){}", .contacted.len(), addrs(.contacted), unresolved_list(.unresolved))]
    NoneReached {
        /// The addresses contacted.
        contacted: Vec<SocketAddr>,
        /// Seeds that did not resolve, if any.
        unresolved: Vec<ResolveFailure>,
    },
    /// Every seed contacted refused this member at the transport's handshake: with the TLS
    /// transport, the seeds do not trust this member's certificate (or it does not trust
    /// theirs). The core keeps retrying in the background as for
    /// [`NoneReached`](JoinError::NoneReached), which helps only if the certificates change.
    #[error("every seed refused the handshake: {}", failure_list(.failures))]
    Handshake {
        /// Each seed and what its handshake failure said (for TLS, the alert or the
        /// verification error).
        failures: Vec<(SocketAddr, String)>,
    },
    /// The core refused the join (the member has left, or too many joins are in flight).
    #[error("join refused: {0}")]
    Rejected(swim_core::CommandError),
    /// Every seed that answered refused this member (its application's admission hook,
    /// `Hooks::admit_merge`, said no), or this member refused their replies. The join is not
    /// retried in the background: asking again would get the same answer.
    #[error("the cluster refused this member: {reason}{}", others(.refusals))]
    Refused {
        /// The first refusal's reason, as the seed gave it.
        reason: String,
        /// Every refusal: the seed's address and its reason.
        refusals: Vec<(SocketAddr, String)>,
    },
    /// The member has shut down.
    #[error(transparent)]
    Closed(#[from] Closed),
}

/// Why a command ([`crate::Node::update_metadata`], [`crate::Node::broadcast`],
/// [`crate::Node::send_best_effort`]) failed. State is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The core refused it (too large, the member has left, a queue is full).
    #[error("refused: {0}")]
    Rejected(#[from] swim_core::CommandError),
    /// The member has shut down.
    #[error(transparent)]
    Closed(#[from] Closed),
}

/// Why [`crate::Node::ping`] or [`crate::Node::ping_addr`] found no round-trip time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    /// No ack came within the probe timeout in force when the ping was sent.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The core refused the ping: no such live member (`UnknownMember`), too many pings in
    /// flight, or a full transmit queue.
    #[error("refused: {0}")]
    Rejected(#[from] swim_core::CommandError),
    /// The member has shut down.
    #[error(transparent)]
    Closed(#[from] Closed),
}

/// Why [`crate::Node::set_label`] failed. The label and switches are unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The core refused the label: longer than 255 bytes, or too long for `packet_budget`
    /// with the metadata and broadcast limits (the message says which).
    #[error("label refused: {0}")]
    Config(#[from] swim_core::ConfigError),
    /// The member has shut down.
    #[error(transparent)]
    Closed(#[from] Closed),
}

/// Why [`crate::Node::send_reliable`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The core refused it (too large, or the transmit queue is full).
    #[error("refused: {0}")]
    Rejected(#[from] swim_core::CommandError),
    /// `transport.max_outbound_streams` streams were in flight and
    /// `transport.outbound_queue` more were waiting.
    #[error("too many outbound streams in flight")]
    Overloaded,
    /// Connecting to the destination failed or timed out.
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The destination.
        addr: SocketAddr,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// Writing the message failed or timed out.
    #[error("could not write to {addr}: {source}")]
    Write {
        /// The destination.
        addr: SocketAddr,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The member has shut down.
    #[error(transparent)]
    Closed(#[from] Closed),
}

/// Why [`crate::Node::leave`] returned before the leave had spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaveError {
    /// The leave notice was still being gossiped when the timeout passed. The member is
    /// leaving regardless and keeps gossiping it until shut down.
    #[error("leave notice not yet spread after {0:?}")]
    Timeout(Duration),
    /// The member has shut down.
    #[error(transparent)]
    Closed(#[from] Closed),
}

fn list(failures: &[ResolveFailure]) -> String {
    failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn addrs(addrs: &[SocketAddr]) -> String {
    addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn others(refusals: &[(SocketAddr, String)]) -> String {
    let seeds: Vec<String> = refusals.iter().map(|(a, _)| a.to_string()).collect();
    format!(" (refused by {})", seeds.join(", "))
}

fn failure_list(failures: &[(SocketAddr, String)]) -> String {
    let each: Vec<String> = failures.iter().map(|(a, why)| format!("{a}: {why}")).collect();
    each.join("; ")
}

fn unresolved_list(failures: &[ResolveFailure]) -> String {
    if failures.is_empty() { String::new() } else { format!("; unresolved: {}", list(failures)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_happened() {
        let e = JoinError::NoneReached {
            contacted: vec!["127.0.0.1:1".parse().unwrap()],
            unresolved: vec![ResolveFailure { seed: "nowhere:1".into(), reason: "not found".into() }],
        };
        assert_eq!(e.to_string(), "no seed answered: contacted 1 (127.0.0.1:1); unresolved: nowhere:1: not found");
        let e = JoinError::Handshake {
            failures: vec![("127.0.0.1:1".parse().unwrap(), "received fatal alert: UnknownCA".into())],
        };
        assert_eq!(e.to_string(), "every seed refused the handshake: 127.0.0.1:1: received fatal alert: UnknownCA");
        let e = JoinError::Resolve(vec![ResolveFailure { seed: "x".into(), reason: "y".into() }]);
        assert_eq!(e.to_string(), "no seed could be resolved: x: y");
        let refusals = vec![("127.0.0.1:1".parse().unwrap(), "wrong datacenter".to_owned())];
        let e = JoinError::Refused { reason: "wrong datacenter".into(), refusals };
        assert_eq!(e.to_string(), "the cluster refused this member: wrong datacenter (refused by 127.0.0.1:1)");
    }
}

/// A keyring operation failed. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// This member was started without encryption ([`crate::Config::with_keys`], or
    /// [`crate::Config::with_memberlist_keys`] in the memberlist wire profile).
    #[error("encryption is not configured on this member")]
    NotEncrypted,
    /// The keyring refused the change.
    #[error(transparent)]
    Key(#[from] swim_core::security::KeyError),
    /// memberlist's keyring refused the change: a key of a length AES does not take (16, 24
    /// or 32 bytes), a key added twice or past 16, or a key to use or remove that is not
    /// installed (or, to remove, the primary).
    #[error("memberlist's keyring refused the change: {0}")]
    MemberlistKey(&'static str),
    /// The member has shut down.
    #[error(transparent)]
    Closed(#[from] Closed),
}
