//! What the driver needs from the network, as a trait ([`Transport`]), and its two
//! implementations: [`NetTransport`] (UDP for packets and a TCP connection per stream message,
//! the default) and [`TlsTransport`] (TCP only, everything over TLS with rustls).
//!
//! A transport only moves bytes: it sends and receives packets (whole protocol messages, as
//! UDP datagrams carry them) and opens and accepts byte streams on which the driver writes and
//! reads length-prefixed frames ([`swim_core::wire::frame`]). Every protocol rule stays in the
//! core, and the stream bounds (connect and I/O timeouts, streams in flight each way, frame
//! size) stay in the driver, the same for every transport.
//!
//! The trait is object safe and the driver holds a `Box<dyn Transport>`, so [`crate::Node`]
//! has no type parameter: a transport is chosen at run time (from a command-line flag, say)
//! without making every user of a `Node` generic. The price is one virtual call per packet and
//! one boxed future per stream connection, small beside a system call each.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};

mod net;
pub mod tls;

pub use net::NetTransport;
pub(crate) use net::listen;
pub use tls::{TlsConfig, TlsStats, TlsTransport};

/// Re-exported for [`TlsConfig`], so users need not depend on rustls directly (and get the
/// same version).
pub use rustls;

/// A byte stream the driver writes one frame on (outbound) or reads frames from (inbound).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// A stream as the driver holds it.
pub type BoxStream = Box<dyn Stream>;

/// An outbound stream being opened: connected, and through any handshake the transport needs,
/// when it resolves. The driver bounds it with `transport.connect_timeout`.
pub type Connecting = Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send>>;

/// What the driver needs from the network: memberlist's `Transport` in Rust.
///
/// The driver calls every method from its one task; none may block. `send_packet` must not
/// wait (queue or drop instead, as UDP does), and the `poll_*` methods follow
/// [`Future::poll`]'s contract: `Pending` only after arranging for `cx`'s waker to be woken.
/// The driver calls [`start`](Transport::start) once before anything else and drops the
/// transport when the member shuts down: dropping it must close its sockets and stop any task
/// it spawned.
pub trait Transport: Send + 'static {
    /// The address the transport is bound to (with the real port when port 0 was asked for).
    /// Unless `Config::advertise_addr` says otherwise, other members reach this one here.
    fn local_addr(&self) -> SocketAddr;

    /// Called once, from within the tokio runtime, before any other call but
    /// [`local_addr`](Transport::local_addr), with the address this member advertises (a
    /// transport that must tell peers who sends a packet uses it). The default does nothing.
    fn start(&mut self, advertise: SocketAddr) -> io::Result<()> {
        let _ = advertise;
        Ok(())
    }

    /// Send one packet to `to` without waiting. Best effort, like UDP: `Ok` means handed to
    /// the network, not delivered; an `Err` is counted (`udp_send_errors`) and the packet is
    /// lost, which the protocol tolerates.
    fn send_packet(&mut self, to: SocketAddr, packet: &[u8]) -> io::Result<()>;

    /// The next inbound packet: appended to `buf` (empty on entry; its capacity is the
    /// largest datagram, 65,536 bytes), returning the address of the member that sent it. A
    /// packet longer than the capacity may be cut (the core then refuses it). An `Err` pauses
    /// receiving until the core's next timer.
    fn poll_recv_packet(&mut self, cx: &mut Context<'_>, buf: &mut Vec<u8>) -> Poll<io::Result<SocketAddr>>;

    /// Open a stream to `to` for one outbound message. The driver writes one frame on it and
    /// shuts it down, all within its timeouts.
    fn connect(&mut self, to: SocketAddr) -> Connecting;

    /// The next inbound stream, ready to read frames from, and the address it came from. The
    /// driver calls this only while it has room for another inbound stream
    /// (`transport.max_inbound_streams`). An `Err` pauses accepting until the core's next
    /// timer.
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(BoxStream, SocketAddr)>>;
}

/// A peer's address as the protocol should see it: IPv4 peers of a dual-stack IPv6 socket
/// arrive as `::ffff:a.b.c.d` and are turned back into IPv4 addresses, so they compare equal
/// to the addresses those peers advertise.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The form of `dest` a socket of the given family can send to: IPv4 destinations become
/// IPv4-mapped IPv6 addresses on an IPv6 socket. `None` when an IPv4 socket cannot reach
/// an IPv6 destination.
pub(crate) fn for_socket(dest: SocketAddr, socket_is_v6: bool) -> Option<SocketAddr> {
    match (dest, socket_is_v6) {
        (SocketAddr::V4(v4), true) => Some(SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())),
        (SocketAddr::V6(_), false) => None,
        _ => Some(dest),
    }
}

/// Whether a socket bound to `local` can reach `dest` at all.
pub(crate) fn reachable(local: SocketAddr, dest: SocketAddr) -> bool {
    match (local, dest) {
        (SocketAddr::V4(_), SocketAddr::V6(_)) => false,
        // A socket bound to a specific IPv6 address is not dual-stack in practice.
        (SocketAddr::V6(l), SocketAddr::V4(_)) => l.ip().is_unspecified(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_round_trip() {
        let v4: SocketAddr = "10.0.0.1:7946".parse().unwrap();
        let mapped = for_socket(v4, true).unwrap();
        assert_eq!(mapped, "[::ffff:10.0.0.1]:7946".parse().unwrap());
        assert_eq!(canonical(mapped), v4);
        let v6: SocketAddr = "[fd00::1]:7946".parse().unwrap();
        assert_eq!(canonical(v6), v6);
        assert_eq!(for_socket(v6, false), None);
        assert_eq!(for_socket(v4, false), Some(v4));
        assert!(reachable("[::]:1".parse().unwrap(), v4));
        assert!(!reachable("[::1]:1".parse().unwrap(), v4));
        assert!(!reachable("0.0.0.0:1".parse().unwrap(), v6));
    }
}
