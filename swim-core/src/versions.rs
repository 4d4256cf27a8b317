//! Version negotiation: the protocol and application version ranges a member speaks, the
//! optional features it accepts, and the pure rules that pick a version for a pair of members
//! and refuse a member that shares none.
//!
//! Every member has a **protocol** [`VersionRange`] (`Config::versions.protocol`): the envelope
//! versions it reads (`min..=max`) and the one it prefers to send (`current`). It also has an
//! **application** range (`Config::versions.application`), which the core never interprets
//! except to refuse members that share no version with it: it is how an application built on
//! swim keeps members that cannot understand each other's broadcasts, user messages or
//! metadata apart. Both ranges, and the member's [`Capabilities`], travel in its alive record
//! (`wire::Alive`, `wire::MemberState`), so every member learns them with the member itself.
//!
//! The rules, each a pure function tested here:
//!
//! - two ranges are **compatible** when they overlap ([`VersionRange::overlaps`]); a member
//!   whose protocol *or* application range does not overlap this member's is refused: not
//!   stored, not gossiped, counted (`Stats::versions_refused`) and reported
//!   (`Event::MemberRefused`);
//! - a packet to a member whose ranges are known is sent at the **negotiated** version
//!   ([`VersionRange::negotiate`]): the lower of the two `current`s, raised into the versions
//!   both read. Both sides compute the same version for the pair, so two upgraded members
//!   talk the new version to each other while both still talk the old one to the rest;
//! - a packet to an address that is no known member (a join's seed, a best-effort user
//!   message) is sent at this member's `min`: the version an operator raises last, once every
//!   member reads the new one, so every peer still reads it;
//! - an answer (an ack, a relayed ack or nack) is sent at the version of the packet it
//!   answers, which its sender reads by construction.
//!
//! The body format is the same for every version today: the range machinery is what lets a
//! future format roll out without a whole-cluster restart. A codec sees the negotiated version
//! ([`crate::wire::Codec::encode_versioned`], [`crate::wire::Codec::decode_versioned`]) and can
//! branch on it.

use core::fmt;

use serde::{Deserialize, Serialize};

/// The versions a member reads (`min..=max`) and prefers to send (`current`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionRange {
    /// The oldest version it reads (and the one it sends to addresses it knows nothing about).
    pub min: u8,
    /// The newest version it reads.
    pub max: u8,
    /// The version it prefers: it never sends a newer one. `min <= current <= max`.
    pub current: u8,
}

impl VersionRange {
    /// `min..=max`, preferring `current`.
    pub const fn new(min: u8, max: u8, current: u8) -> Self {
        VersionRange { min, max, current }
    }

    /// Exactly `v`.
    pub const fn only(v: u8) -> Self {
        VersionRange { min: v, max: v, current: v }
    }

    /// Whether `min <= current <= max` (what `Config::validate` checks).
    pub const fn is_valid(&self) -> bool {
        self.min <= self.current && self.current <= self.max
    }

    /// Whether `v` is in `min..=max`.
    pub const fn contains(&self, v: u8) -> bool {
        self.min <= v && v <= self.max
    }

    /// Whether the two ranges share a version.
    pub fn overlaps(&self, other: &VersionRange) -> bool {
        self.min.max(other.min) <= self.max.min(other.max)
    }

    /// The version two members with these ranges use between them: the lower of their
    /// `current`s, raised to the oldest version both read. `None` when the ranges do not
    /// overlap. Symmetric: `a.negotiate(b) == b.negotiate(a)`.
    pub fn negotiate(&self, other: &VersionRange) -> Option<u8> {
        let (lo, hi) = (self.min.max(other.min), self.max.min(other.max));
        (lo <= hi).then(|| self.current.min(other.current).clamp(lo, hi))
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={} (current {})", self.min, self.max, self.current)
    }
}

/// A member's protocol and application version ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Versions {
    /// The envelope versions it reads and sends. Default `1..=1`.
    pub protocol: VersionRange,
    /// The application's versions; the core only checks that they overlap. Default `0..=0`.
    pub application: VersionRange,
}

impl Versions {
    /// The protocol version swim has always written, [`crate::wire::PROTOCOL_VERSION`] (1), and
    /// application version 0.
    pub const DEFAULT: Versions =
        Versions { protocol: VersionRange::only(crate::wire::envelope::VERSION), application: VersionRange::only(0) };

    /// Whether a member with `other` can be admitted by one with `self`: both ranges overlap.
    pub fn compatible(&self, other: &Versions) -> bool {
        self.protocol.overlaps(&other.protocol) && self.application.overlaps(&other.application)
    }
}

impl Default for Versions {
    fn default() -> Self {
        Versions::DEFAULT
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol {}, application {}", self.protocol, self.application)
    }
}

/// Optional features a member accepts, one bit each, advertised in its alive record. Unknown
/// bits are kept and ignored, so a later build can add features without a new version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Capabilities(pub u8);

impl Capabilities {
    /// None.
    pub const NONE: Capabilities = Capabilities(0);
    /// Bit 0: it reads compressed stream messages and wants them (`Config::compression` on).
    pub const COMPRESSION: u8 = 0b0000_0001;

    /// Bit 1: it reads extended acks (`wire::ExtendedAck`: the acking member's payload and
    /// coordinate) and wants them (`Config::ack_payloads` or `Config::coordinates` on).
    pub const EXTENDED_ACK: u8 = 0b0000_0010;

    /// Whether it wants extended acks.
    pub const fn extended_ack(self) -> bool {
        self.0 & Self::EXTENDED_ACK != 0
    }

    /// With the extended-ack bit set to `on`.
    pub const fn with_extended_ack(self, on: bool) -> Self {
        if on { Capabilities(self.0 | Self::EXTENDED_ACK) } else { Capabilities(self.0 & !Self::EXTENDED_ACK) }
    }

    /// Whether it wants compressed stream messages.
    pub const fn compression(self) -> bool {
        self.0 & Self::COMPRESSION != 0
    }

    /// With the compression bit set to `on`.
    pub const fn with_compression(self, on: bool) -> Self {
        if on { Capabilities(self.0 | Self::COMPRESSION) } else { Capabilities(self.0 & !Self::COMPRESSION) }
    }
}

/// What a member's alive record said it speaks: held with every member of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Peer {
    pub versions: Versions,
    pub capabilities: Capabilities,
}

impl Peer {
    /// The default versions, no capabilities.
    pub const DEFAULT: Peer = Peer { versions: Versions::DEFAULT, capabilities: Capabilities::NONE };

    /// The envelope version for a packet from a member speaking `local` to this one, and
    /// whether its stream messages may be compressed (this one wants it and `compress` says the
    /// sender does). `None` if they share no protocol version (a member refused since, or
    /// held from before a restart): the caller falls back to its `min`.
    pub fn route(&self, local: &VersionRange, compress: bool) -> Option<(u8, bool)> {
        let v = local.negotiate(&self.versions.protocol)?;
        Some((v, compress && self.capabilities.compression()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn r(min: u8, max: u8, current: u8) -> VersionRange {
        VersionRange::new(min, max, current)
    }

    #[test]
    fn overlap_and_negotiation() {
        let old = r(1, 1, 1);
        let new = r(1, 2, 2);
        let next = r(2, 3, 3);
        let far = r(3, 3, 3);
        assert!(old.overlaps(&new) && new.overlaps(&next) && !old.overlaps(&next) && !new.overlaps(&far));
        assert_eq!(old.negotiate(&new), Some(1), "an upgraded member talks v1 to an old one");
        assert_eq!(new.negotiate(&new), Some(2), "two upgraded members talk v2");
        assert_eq!(new.negotiate(&next), Some(2));
        assert_eq!(old.negotiate(&far), None);
        // A member that reads 2 but prefers 1 (not yet switched): the pair stays on 1.
        assert_eq!(r(1, 2, 1).negotiate(&new), Some(1));
        // The lower current is raised into what both read.
        assert_eq!(r(1, 3, 1).negotiate(&r(2, 3, 3)), Some(2));
        // Symmetric for every small pair of valid ranges.
        let all: alloc::vec::Vec<VersionRange> =
            (0..4u8).flat_map(|a| (a..4).flat_map(move |b| (a..=b).map(move |c| r(a, b, c)))).collect();
        for x in &all {
            for y in &all {
                assert_eq!(x.negotiate(y), y.negotiate(x), "{x} vs {y}");
                assert_eq!(x.negotiate(y).is_some(), x.overlaps(y), "{x} vs {y}");
                if let Some(v) = x.negotiate(y) {
                    assert!(x.contains(v) && y.contains(v), "{x} vs {y}: {v}");
                    assert!(v <= x.current.max(y.current), "{x} vs {y}: {v}");
                }
            }
        }
    }

    #[test]
    fn compatibility_needs_both_ranges() {
        let a = Versions::DEFAULT;
        let mut b = a;
        assert!(a.compatible(&b));
        b.application = VersionRange::only(1);
        assert!(!a.compatible(&b) && !b.compatible(&a));
        b.application = a.application;
        b.protocol = VersionRange::only(3);
        assert!(!a.compatible(&b));
        assert!(r(1, 1, 1).is_valid() && !r(2, 1, 1).is_valid() && !r(1, 3, 4).is_valid());
    }

    #[test]
    fn capability_bits() {
        let c = Capabilities::NONE.with_compression(true);
        assert!(c.compression());
        assert!(!c.with_compression(false).compression());
        // Unknown bits are kept.
        assert_eq!(Capabilities(0b1000_0000).with_compression(true).0, 0b1000_0001);
    }
}
