//! The default transport: packets as UDP datagrams, stream messages one TCP connection each,
//! both on one port.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, ready};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};

use super::{BoxStream, Connecting, Transport, canonical, for_socket};
use crate::error::StartError;

/// Connections waiting in the kernel's accept queue.
const LISTEN_BACKLOG: u32 = 1024;

/// With port 0, how many times to pick a new port when the TCP port the OS chose is taken
/// for UDP.
const BIND_ATTEMPTS: usize = 10;

/// UDP for packets and one TCP connection per stream message, on the same port: what
/// [`Node::start`](crate::Node::start) uses, and memberlist's `NetTransport`.
///
/// Sending a packet is one non-blocking `sendto`: a full socket buffer drops it, as the
/// network would. Its bounds are the UDP receive buffer
/// ([`TransportConfig::udp_recv_buffer`](crate::TransportConfig::udp_recv_buffer)) and the
/// kernel's accept queue (1,024 connections); the streams are bounded by the driver.
#[derive(Debug)]
pub struct NetTransport {
    udp: UdpSocket,
    listener: TcpListener,
    local: SocketAddr,
    recv_buffer: usize,
}

impl NetTransport {
    /// Bind TCP and UDP on `addr` (the same port for both; port 0 picks one free for both),
    /// asking for a UDP receive buffer of `udp_recv_buffer` bytes (halved until the OS
    /// accepts, like memberlist). Must be called from within a tokio runtime.
    pub fn bind(addr: SocketAddr, udp_recv_buffer: usize) -> Result<NetTransport, StartError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let listener = listen(addr).map_err(|source| StartError::Bind { protocol: "TCP", addr, source })?;
            let local = listener.local_addr().map_err(|source| StartError::Bind { protocol: "TCP", addr, source })?;
            match udp(local, udp_recv_buffer) {
                Ok((udp, recv_buffer)) => return Ok(NetTransport { udp, listener, local, recv_buffer }),
                Err(e) if addr.port() == 0 && e.kind() == io::ErrorKind::AddrInUse && attempt < BIND_ATTEMPTS => {
                    tracing::debug!(port = local.port(), "UDP port taken, picking another");
                    continue;
                }
                Err(source) => return Err(StartError::Bind { protocol: "UDP", addr: local, source }),
            }
        }
    }

    /// The UDP receive buffer the OS granted, in bytes.
    pub fn udp_recv_buffer(&self) -> usize {
        self.recv_buffer
    }
}

impl Transport for NetTransport {
    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn send_packet(&mut self, to: SocketAddr, packet: &[u8]) -> io::Result<()> {
        let Some(to) = for_socket(to, self.local.is_ipv6()) else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "cannot send to an IPv6 address from an IPv4 socket",
            ));
        };
        // A direct non-blocking sendto: tokio's `try_send_to` reports WouldBlock until its
        // reactor has seen the socket writable, which a busy runtime may not have polled yet.
        socket2::SockRef::from(&self.udp).send_to(packet, &to.into()).map(drop)
    }

    fn poll_recv_packet(&mut self, cx: &mut Context<'_>, buf: &mut Vec<u8>) -> Poll<io::Result<SocketAddr>> {
        loop {
            ready!(self.udp.poll_recv_ready(cx))?;
            // Fills `buf`'s spare capacity without zeroing it first, so only the pages
            // datagrams actually reach become resident.
            match self.udp.try_recv_buf_from(buf) {
                Ok((_, from)) => return Poll::Ready(Ok(canonical(from))),
                // Readiness was stale; it is cleared, so the next poll registers the waker.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn connect(&mut self, to: SocketAddr) -> Connecting {
        Box::pin(async move {
            let stream = TcpStream::connect(to).await?;
            // One small message per connection: do not wait for Nagle.
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(BoxStream, SocketAddr)>> {
        let (stream, peer) = ready!(self.listener.poll_accept(cx))?;
        Poll::Ready(Ok((Box::new(stream), canonical(peer))))
    }
}

/// A TCP listener on `addr`, with `SO_REUSEADDR` so a restarted member can rebind its port
/// while old connections linger in TIME_WAIT.
pub(crate) fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
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
