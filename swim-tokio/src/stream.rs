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

use swim_core::ConnectionId;
use swim_core::wire::frame::{self, StreamFraming};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout, timeout_at};

use crate::transport::{BoxStream, Connecting};

/// Bytes reserved at a time while reading a frame body, so a header announcing a large
/// frame costs memory only as its bytes actually arrive.
const READ_CHUNK: usize = 64 * 1024;

/// One inbound message, the connection's peer address, and how it came.
pub(crate) type Frame = (SocketAddr, Vec<u8>, Origin);

/// How an inbound message came.
#[derive(Debug)]
pub(crate) enum Origin {
    /// A frame of swim's own profile (no answer on the connection).
    Frame,
    /// A message on an inbound connection of the memberlist profile: the core may answer it
    /// on the connection, through the sender (dropped unanswered: the task reads on).
    Connection(ConnectionId, oneshot::Sender<Vec<u8>>),
}

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
        if frames.send((peer, body, Origin::Frame)).await.is_err() {
            return Inbound::DriverGone;
        }
        delivered += 1;
    }
}

/// Read memberlist messages from inbound connection `conn` until the peer closes; deliver
/// each on `frames` with a way to answer it, and write the answer (if the driver sends one
/// within the I/O timeout) before reading on.
pub(crate) async fn read_messages(
    mut stream: BoxStream,
    peer: SocketAddr,
    conn: ConnectionId,
    framing: StreamFraming,
    io_timeout: Duration,
    frames: mpsc::Sender<Frame>,
) -> Inbound {
    let mut delivered = 0;
    let mut buf = Vec::new();
    loop {
        let deadline = Instant::now() + io_timeout;
        let body = match timeout_at(deadline, read_message(&mut stream, &mut buf, framing)).await {
            Err(_) => return Inbound::TimedOut,
            Ok(Err(e)) => return Inbound::Io(e),
            Ok(Ok(None)) => return Inbound::Closed { frames: delivered },
            Ok(Ok(Some(body))) => body,
        };
        let (answer_tx, answer_rx) = oneshot::channel();
        if frames.send((peer, body, Origin::Connection(conn, answer_tx))).await.is_err() {
            return Inbound::DriverGone;
        }
        delivered += 1;
        // The driver answers (or drops the sender) as soon as it has handled the message.
        if let Ok(Ok(answer)) = timeout(io_timeout, answer_rx).await {
            match timeout(io_timeout, stream.write_all(&answer)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Inbound::Io(e),
                Err(_) => return Inbound::TimedOut,
            }
        }
    }
}

/// The next memberlist message on `stream` (bytes already read and not yet used are in
/// `buf`); `None` if the peer closed cleanly between messages.
async fn read_message<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    framing: StreamFraming,
) -> io::Result<Option<Vec<u8>>> {
    let max = match framing {
        StreamFraming::Memberlist { max, .. } => max,
        StreamFraming::Frames => u32::MAX as usize,
    };
    loop {
        // Bytes that never complete a message (a header announcing more than arrives) stop at
        // the largest message, not at the I/O timeout.
        if buf.len() > max {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "stream message above the size cap"));
        }
        match framing.message_len(buf) {
            Ok(Some(len)) => {
                let rest = buf.split_off(len);
                return Ok(Some(std::mem::replace(buf, rest)));
            }
            Ok(None) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        }
        let start = buf.len();
        buf.resize(start + 4096, 0);
        let n = stream.read(&mut buf[start..]).await;
        buf.truncate(start + *n.as_ref().unwrap_or(&0));
        if n? == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Finish `connecting`, write `bytes` (a memberlist request), then read its reply.
pub(crate) async fn request(
    connecting: Connecting,
    bytes: Vec<u8>,
    framing: StreamFraming,
    connect_timeout: Duration,
    io_timeout: Duration,
) -> Result<Vec<u8>, Outbound> {
    let mut stream = match timeout(connect_timeout, connecting).await {
        Err(_) => return Err(Outbound::Connect(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))),
        Ok(Err(e)) => return Err(Outbound::Connect(e)),
        Ok(Ok(s)) => s,
    };
    match timeout(io_timeout, stream.write_all(&bytes)).await {
        Err(_) => return Err(Outbound::Write(io::Error::new(io::ErrorKind::TimedOut, "write timed out"))),
        Ok(Err(e)) => return Err(Outbound::Write(e)),
        Ok(Ok(())) => {}
    }
    let mut buf = Vec::new();
    match timeout(io_timeout, read_message(&mut stream, &mut buf, framing)).await {
        Err(_) => Err(Outbound::Reply(io::Error::new(io::ErrorKind::TimedOut, "no reply in time"))),
        Ok(Err(e)) => Err(Outbound::Reply(e)),
        Ok(Ok(None)) => Err(Outbound::Reply(io::ErrorKind::UnexpectedEof.into())),
        Ok(Ok(Some(reply))) => Ok(reply),
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
    /// No reply to a request came (memberlist profile).
    Reply(io::Error),
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
