//! Request and reply on one connection, for members in Go memberlist's wire profile
//! ([`swim_core::WireProfile::Memberlist`]).
//!
//! swim's own profile sends every stream message on a connection of its own
//! ([`StreamRole::OneWay`]); the engine hands it to the destination with `handle_stream`.
//! The memberlist profile also answers on the connection a request came on (a push-pull, a
//! join refusal), so the engine plays the driver's part (swim-core's [`StreamRole`] docs):
//!
//! - a [`StreamRole::Request`] opens an *exchange*, named by a fresh [`ConnectionId`], and is
//!   handed to its destination with `handle_stream_on(now, from, conn, bytes)`;
//! - a [`StreamRole::Reply`]`(conn)` goes back to the requester recorded for `conn` and is handed
//!   to it with `handle_stream_reply(now, replier, request, bytes)`; a reply on a connection
//!   the engine does not know (never a request's, already answered, failed or timed out) is
//!   dropped and counted (`SimStats::replies_unroutable`);
//! - a [`StreamRole::OneWay`] message is handed over with `handle_stream_on` and a fresh
//!   connection that nothing can answer on;
//! - a request that cannot be delivered (its destination down, partitioned, blackholed), whose
//!   reply is lost the same way, or that has no reply within the requester's
//!   `Config::stream_timeout` ends in `handle_stream_failed(now, &destination)` at the
//!   requester, once. A failed stream to an address makes the core forget every request to
//!   that address, so the engine closes the requester's other exchanges with it too.
//!
//! Every exchange closes by its timeout at the latest, so the table holds at most the
//! requests sent within one `stream_timeout`.

use std::collections::BTreeMap;

use swim_core::{ConnectionId, RequestId};

#[cfg(doc)]
use swim_core::StreamRole;

/// How a message in flight uses a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Conn {
    /// A datagram, or a stream message of swim's own profile (handed over with
    /// `handle_stream`).
    #[default]
    None,
    /// A one-way stream message of the memberlist profile (handed over with
    /// `handle_stream_on` and a fresh connection).
    OneWay,
    /// A request on the exchange with this connection number.
    Request(u64),
    /// The reply on the exchange with this connection number.
    Reply(u64),
}

/// One open request and its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// The member that sent the request.
    pub requester: u32,
    /// Its life when it sent it (a restarted process has no such request).
    pub life: u32,
    /// The requester's name for the request.
    pub request: RequestId,
    /// The destination of the request, which answers it.
    pub replier: u32,
    /// A reply is on its way: a second one on the same connection is dropped.
    pub replied: bool,
}

/// The open exchanges of a run, by connection number.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    next: u64,
    open: BTreeMap<u64, Exchange>,
}

impl Connections {
    /// A connection number never used before in this run.
    pub fn fresh(&mut self) -> ConnectionId {
        let c = self.next;
        self.next += 1;
        ConnectionId(c)
    }

    /// Open an exchange; its connection number.
    pub fn open(&mut self, requester: u32, life: u32, request: RequestId, replier: u32) -> u64 {
        let c = self.fresh().0;
        self.open.insert(c, Exchange { requester, life, request, replier, replied: false });
        c
    }

    /// Whether exchange `c` is still open.
    pub fn is_open(&self, c: u64) -> bool {
        self.open.contains_key(&c)
    }

    /// Member `replier` answers on connection `c` to `to`: whether that is the first answer of
    /// an open exchange whose request `replier` received from `to`.
    pub fn reply(&mut self, c: u64, replier: u32, to: u32) -> bool {
        match self.open.get_mut(&c) {
            Some(x) if x.replier == replier && x.requester == to && !x.replied => {
                x.replied = true;
                true
            }
            _ => false,
        }
    }

    /// Close exchange `c`; what it was, if it was open.
    pub fn close(&mut self, c: u64) -> Option<Exchange> {
        self.open.remove(&c)
    }

    /// Close every exchange `requester` (in life `life`) has open with `replier`: its core was
    /// told a stream to `replier` failed and forgot those requests.
    pub fn close_between(&mut self, requester: u32, life: u32, replier: u32) {
        if !self.open.is_empty() {
            self.open.retain(|_, x| !(x.requester == requester && x.life == life && x.replier == replier));
        }
    }

    /// Exchanges open now.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        self.open.len() * (8 + std::mem::size_of::<Exchange>() + 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exchange_takes_one_reply_from_its_replier() {
        let mut c = Connections::default();
        let one_way = c.fresh();
        let x = c.open(1, 0, RequestId(7), 2);
        assert_ne!(one_way.0, x, "connection numbers are never reused");
        assert!(!c.reply(one_way.0, 2, 1), "nothing answers on a one-way connection");
        assert!(!c.reply(x, 3, 1), "only the request's destination answers");
        assert!(c.reply(x, 2, 1));
        assert!(!c.reply(x, 2, 1), "one reply per connection");
        assert_eq!(c.close(x).map(|e| e.request), Some(RequestId(7)));
        assert_eq!(c.close(x), None);
    }

    #[test]
    fn a_failed_stream_closes_the_requesters_exchanges_with_that_member_only() {
        let mut c = Connections::default();
        let a = c.open(1, 0, RequestId(0), 2);
        let b = c.open(1, 0, RequestId(1), 2);
        let other_life = c.open(1, 1, RequestId(0), 2);
        let other_peer = c.open(1, 0, RequestId(2), 3);
        c.close_between(1, 0, 2);
        assert!(!c.is_open(a) && !c.is_open(b));
        assert!(c.is_open(other_life) && c.is_open(other_peer));
        assert_eq!(c.len(), 2);
    }
}
