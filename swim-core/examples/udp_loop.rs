//! A complete member on std's blocking sockets, with no async runtime: the whole run-loop
//! contract of swim-core in one function.
//!
//! Start a few in separate terminals (or in the background), each joining the first:
//!
//!     cargo run -p swim-core --example udp_loop -- 127.0.0.1:7001 a
//!     cargo run -p swim-core --example udp_loop -- 127.0.0.1:7002 b 127.0.0.1:7001
//!     cargo run -p swim-core --example udp_loop -- 127.0.0.1:7003 c 127.0.0.1:7001
//!
//! Each prints `listening on ...` once bound, then its events; stop one with Ctrl-C and
//! watch the others suspect it, then declare it failed. Arguments:
//! `<bind addr> <name> [seed addr...]`. Optional `--for <secs>` exits after that many seconds.
//! Bad arguments print one line and exit with code 2; a socket error exits with code 1.
//!
//! Datagrams go over one UDP socket; stream messages (push-pull, reliable user messages)
//! over a fresh TCP connection each, framed with `swim_core::wire::frame`.

use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant as StdInstant};

use swim_core::wire::frame;
use swim_core::{Config, Event, Identity, Instant, Swim, TransmitKind};

const USAGE: &str = "usage: udp_loop <bind addr> <name> [seed addr...] [--for <secs>]";

pub fn main() {
    let (bind, name, seeds, run_for) = match parse_args(std::env::args().skip(1).collect()) {
        Ok(args) => args,
        Err(e) => {
            // Bad input gets one line and exit code 2, never a panic.
            eprintln!("udp_loop: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(bind, &name, &seeds, run_for) {
        eprintln!("udp_loop: {e}");
        std::process::exit(1);
    }
}

type Args = (SocketAddr, String, Vec<SocketAddr>, Option<Duration>);

fn parse_args(mut args: Vec<String>) -> Result<Args, String> {
    let mut run_for = None;
    if let Some(i) = args.iter().position(|a| a == "--for") {
        let secs = args.get(i + 1).ok_or("--for needs a number of seconds")?;
        let secs: u64 = secs.parse().map_err(|e| format!("--for `{secs}`: {e}"))?;
        run_for = Some(Duration::from_secs(secs));
        args.drain(i..i + 2);
    }
    let addr = |what: &str, s: &String| -> Result<SocketAddr, String> {
        s.parse()
            .map_err(|e| format!("invalid {what} `{s}` ({e}); expected an IP address and port like 127.0.0.1:7001"))
    };
    let (Some(bind), Some(name)) = (args.first(), args.get(1)) else {
        return Err(format!("a bind address and a name are required ({USAGE})"));
    };
    let bind = addr("bind address", bind)?;
    let seeds = args[2..].iter().map(|s| addr("seed address", s)).collect::<Result<_, _>>()?;
    Ok((bind, name.clone(), seeds, run_for))
}

/// Drive one member until `run_for` passes (forever if `None`).
fn run(bind: SocketAddr, name: &str, seeds: &[SocketAddr], run_for: Option<Duration>) -> Result<(), Box<dyn Error>> {
    let config = Config::local();
    let max_stream = config.limits.max_stream_message_size;
    // The core's clock: nanoseconds since this process started.
    let epoch = StdInstant::now();
    let now = || Instant::from_nanos(epoch.elapsed().as_nanos() as u64);
    let seed = epoch.elapsed().as_nanos() as u64 ^ u64::from(bind.port()); // use a real RNG in production
    let udp = UdpSocket::bind(bind).map_err(|e| format!("cannot bind UDP {bind}: {e}"))?;
    // The port the OS chose when asked for port 0, for TCP too.
    let bind = udp.local_addr()?;
    let tcp = TcpListener::bind(bind).map_err(|e| format!("cannot bind TCP {bind}: {e}"))?;
    tcp.set_nonblocking(true)?;
    // Fails on a name the configuration does not allow (empty, or over 128 bytes).
    let mut swim = Swim::new(config, Identity::new(name, bind), seed, now())?;
    println!("[{name}] listening on {bind} (UDP and TCP)");
    if !seeds.is_empty() {
        // Fails only with more seeds than `limits.max_pending_joins`.
        swim.join(now(), seeds.iter().copied())?;
    }

    let mut out = Vec::with_capacity(1500);
    let mut inbuf = vec![0u8; 65_535];
    loop {
        // 1. After every input: drain transmits...
        while let Some(t) = swim.poll_transmit(&mut out) {
            match t.kind {
                TransmitKind::Datagram => {
                    let _ = udp.send_to(&out[..t.len], t.destination);
                }
                TransmitKind::Stream => {
                    if send_stream(t.destination, &out[..t.len]).is_err() {
                        swim.handle_stream_failed(now(), &t.destination);
                    }
                }
            }
        }
        // ...then events.
        while let Some(e) = swim.poll_event() {
            print_event(name, &e);
        }
        if run_for.is_some_and(|d| epoch.elapsed() >= d) {
            return Ok(());
        }

        // 2. Wait for a datagram, but no longer than the core's next deadline (and briefly, so
        //    that the TCP listener is polled too).
        let deadline = swim.poll_timeout();
        let wait = Duration::from_nanos(deadline.as_nanos().saturating_sub(now().as_nanos()));
        udp.set_read_timeout(Some(wait.clamp(Duration::from_millis(1), Duration::from_millis(50))))?;
        match udp.recv_from(&mut inbuf) {
            Ok((n, from)) => {
                let _ = swim.handle_datagram(now(), from, &inbuf[..n]); // errors are counted drops
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }

        // 3. Stream messages: one frame per connection.
        while let Ok((mut conn, from)) = tcp.accept() {
            if let Ok(body) = read_frame(&mut conn, max_stream) {
                let _ = swim.handle_stream(now(), from, &body);
            }
        }

        // 4. Timers, whenever the deadline has passed.
        if swim.poll_timeout() <= now() {
            swim.handle_timeout(now());
        }
    }
}

fn send_stream(to: SocketAddr, message: &[u8]) -> std::io::Result<()> {
    let mut conn = TcpStream::connect_timeout(&to, Duration::from_secs(1))?;
    conn.set_write_timeout(Some(Duration::from_secs(1)))?;
    let mut framed = Vec::with_capacity(message.len() + frame::HEADER_LEN);
    frame::encode(message, &mut framed);
    conn.write_all(&framed)
}

fn read_frame(conn: &mut TcpStream, max: usize) -> std::io::Result<Vec<u8>> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut header = [0u8; frame::HEADER_LEN];
    conn.read_exact(&mut header)?;
    let len = frame::parse_header(header, max).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body)?;
    Ok(body)
}

/// Every event in words (swim-core's `Display` for events): `[a] b joined at 127.0.0.1:7002 ...`.
fn print_event(me: &str, e: &Event<SocketAddr>) {
    println!("[{me}] {e}");
}
