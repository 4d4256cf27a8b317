//! The reliable stream: one connection per message (opened and accepted by the
//! [`Transport`](crate::transport::Transport)), each message one length-prefixed frame
//! ([`swim_core::wire::frame`]).
//!
//! Outbound, a task connects (within the connect timeout), writes the frame and closes
//! (within the I/O timeout). Inbound, a task per accepted connection reads frames until the
//! peer closes, each frame within the I/O timeout and no larger than the size cap, and hands
//! every body to the driver through a bounded channel. Both kinds of task live in the
//! driver's `JoinSet`s, so shutting down aborts them and closes their sockets; every await in
//! them has a timeout, so none outlives its bound.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use swim_core::wire::frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};

use crate::transport::{BoxStream, Connecting};

/// Bytes reserved at a time while reading a frame body, so a header announcing a large
/// frame costs memory only as its bytes actually arrive.
const READ_CHUNK: usize = 64 * 1024;

/// One inbound frame body and the connection's peer address.
pub(crate) type Frame = (SocketAddr, Vec<u8>);

/// How an inbound connection ended.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// The peer closed between frames.
    Closed {
        /// Frames delivered.
        frames: u64,
    },
    /// No complete frame within the I/O timeout.
    TimedOut,
    /// A header announced more than the size cap (or zero bytes).
    TooLarge(frame::FrameTooLarge),
    /// The peer closed inside a frame, or the connection failed.
    Io(io::Error),
    /// The driver stopped.
    DriverGone,
}

/// Read frames from `stream` until the peer closes; deliver each body on `frames`.
pub(crate) async fn read(
    mut stream: BoxStream,
    peer: SocketAddr,
    max: usize,
    io_timeout: Duration,
    frames: mpsc::Sender<Frame>,
) -> Inbound {
    let mut delivered = 0;
    loop {
        let deadline = Instant::now() + io_timeout;
        let body = match timeout_at(deadline, read_frame(&mut stream, max)).await {
            Err(_) => return Inbound::TimedOut,
            Ok(Err(FrameError::Io(e))) => return Inbound::Io(e),
            Ok(Err(FrameError::TooLarge(e))) => return Inbound::TooLarge(e),
            Ok(Ok(None)) => return Inbound::Closed { frames: delivered },
            Ok(Ok(Some(body))) => body,
        };
        if frames.send((peer, body)).await.is_err() {
            return Inbound::DriverGone;
        }
        delivered += 1;
    }
}

/// Why a frame could not be read.
pub(crate) enum FrameError {
    Io(io::Error),
    TooLarge(frame::FrameTooLarge),
}

/// The next frame's body; `None` if the peer closed cleanly before its first byte.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    stream: &mut R,
    max: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; frame::HEADER_LEN];
    let mut got = 0;
    while got < header.len() {
        let n = stream.read(&mut header[got..]).await.map_err(FrameError::Io)?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        got += n;
    }
    let len = frame::parse_header(header, max).map_err(FrameError::TooLarge)?;
    let mut body = Vec::with_capacity(len.min(READ_CHUNK));
    while body.len() < len {
        let want = (len - body.len()).min(READ_CHUNK);
        body.reserve(want);
        let n = (&mut *stream).take(want as u64).read_to_end(&mut body).await.map_err(FrameError::Io)?;
        if n == 0 {
            return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(Some(body))
}

/// Why an outbound message was not delivered.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Connecting failed or timed out.
    Connect(io::Error),
    /// Writing or closing failed or timed out.
    Write(io::Error),
}

/// Finish `connecting`, write `framed` (header included) and close.
pub(crate) async fn send(
    connecting: Connecting,
    framed: Vec<u8>,
    connect_timeout: Duration,
    io_timeout: Duration,
) -> Result<(), Outbound> {
    let mut stream = match timeout(connect_timeout, connecting).await {
        Err(_) => return Err(Outbound::Connect(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))),
        Ok(Err(e)) => return Err(Outbound::Connect(e)),
        Ok(Ok(s)) => s,
    };
    let write = async {
        stream.write_all(&framed).await?;
        stream.shutdown().await
    };
    match timeout(io_timeout, write).await {
        Err(_) => Err(Outbound::Write(io::Error::new(io::ErrorKind::TimedOut, "write timed out"))),
        Ok(Err(e)) => Err(Outbound::Write(e)),
        Ok(Ok(())) => Ok(()),
    }
}

/// `body` with its frame header in front.
pub(crate) fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame::HEADER_LEN + body.len());
    frame::encode(body, &mut out);
    out
}
