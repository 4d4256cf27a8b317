//! Binding the UDP socket and the TCP listener on one port, and the address conversions
//! between IPv4 peers and dual-stack IPv6 sockets.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, UdpSocket};

use crate::error::StartError;

/// Connections waiting in the kernel's accept queue.
const LISTEN_BACKLOG: u32 = 1024;

/// With port 0, how many times to pick a new port when the TCP port the OS chose is taken
/// for UDP.
const BIND_ATTEMPTS: usize = 10;

/// The sockets of one member.
pub(crate) struct Bound {
    pub udp: UdpSocket,
    pub listener: TcpListener,
    /// The address both are bound to (the real port when 0 was asked for).
    pub local: SocketAddr,
    /// The UDP receive buffer the OS reports after sizing.
    pub recv_buffer: usize,
}

/// Bind TCP and UDP on `addr` (the same port for both; port 0 picks one free for both).
pub(crate) fn bind(addr: SocketAddr, recv_buffer: usize) -> Result<Bound, StartError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let listener = listen(addr).map_err(|source| StartError::Bind { protocol: "TCP", addr, source })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind { protocol: "TCP", addr, source })?;
        match udp(local, recv_buffer) {
            Ok((udp, recv_buffer)) => return Ok(Bound { udp, listener, local, recv_buffer }),
            Err(e) if addr.port() == 0 && e.kind() == io::ErrorKind::AddrInUse && attempt < BIND_ATTEMPTS => {
                tracing::debug!(port = local.port(), "UDP port taken, picking another");
                continue;
            }
            Err(source) => return Err(StartError::Bind { protocol: "UDP", addr: local, source }),
        }
    }
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // A restarted member must be able to rebind its port while old connections linger in
    // TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

fn udp(addr: SocketAddr, recv_buffer: usize) -> io::Result<(UdpSocket, usize)> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    // memberlist asks for 2 MiB and halves until the OS accepts. Linux accepts any size and
    // caps it at net.core.rmem_max; the size actually granted is logged.
    let mut size = recv_buffer;
    while size > 0 {
        match socket.set_recv_buffer_size(size) {
            Ok(()) => break,
            Err(e) => {
                tracing::debug!(size, error = %e, "UDP receive buffer refused, halving");
                size /= 2;
            }
        }
    }
    socket.bind(&addr.into())?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    let udp = UdpSocket::from_std(socket.into())?;
    Ok((udp, granted))
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
