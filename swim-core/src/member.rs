//! Member identity, state and incarnation, and the precedence rules between claims.
//!
//! The rules are pure functions ([`overrides`]) so they can be tested against a
//! reference model on their own. The state machine consults them for every
//! gossiped or pushed claim.

use alloc::string::String;
use alloc::sync::Arc;
use core::borrow::Borrow;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};

use crate::time::Instant;

/// What a member address must be. Blanket-implemented.
///
/// swim-tokio uses `SocketAddr`; swim-sim a compact integer. The core never interprets an
/// address: it stores it, compares it, and sends it on the wire.
pub trait Address: Clone + Eq + Hash + fmt::Debug + Serialize + DeserializeOwned + 'static {}

impl<T: Clone + Eq + Hash + fmt::Debug + Serialize + DeserializeOwned + 'static> Address for T {}

/// A member's unique name. Compares and hashes as a `str`; cheap to clone.
///
/// Names of up to [`Name::INLINE`] bytes are stored inline (no allocation), longer ones are
/// shared. The member table holds one per member, so this keeps it small.
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; Name::INLINE] },
    Shared(Arc<str>),
}

impl Name {
    /// Longest name stored without allocating.
    pub const INLINE: usize = 22;

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Inline bytes are always copied from a `&str` whole, so they are valid UTF-8 and
            // this never falls back to "" (validating costs a few ns; hot paths use `as_bytes`).
            Repr::Inline { len, bytes } => core::str::from_utf8(&bytes[..*len as usize]).unwrap_or(""),
            Repr::Shared(s) => s,
        }
    }

    /// The name's UTF-8 bytes, without re-validating them: what hashing and comparison use.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Shared(s) => s.as_bytes(),
        }
    }

    /// Heap bytes this name owns (0 when inline).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Shared(s) => s.len() + 2 * core::mem::size_of::<usize>(),
        }
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        if s.len() <= Name::INLINE {
            let mut bytes = [0u8; Name::INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Name(Repr::Inline { len: s.len() as u8, bytes })
        } else {
            Name(Repr::Shared(Arc::from(s)))
        }
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name::from(s.as_str())
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> core::cmp::Ordering {
        // Byte order is `str` order.
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Exactly what `str::hash` does, so `Borrow<str>` lookups find the same bucket.
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's state as this member sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum State {
    /// Answering probes, or not yet suspected.
    Alive,
    /// A probe failed; the member has until its suspicion timeout to refute.
    Suspect,
    /// Declared failed: a suspicion timed out.
    Dead,
    /// Left the cluster gracefully.
    Left,
}

impl State {
    /// Dead or left: not probed, not counted in the cluster size.
    pub fn is_gone(self) -> bool {
        matches!(self, State::Dead | State::Left)
    }
}

/// Everything the cluster knows about one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member<A> {
    /// Unique name.
    pub name: Name,
    /// Where it receives datagrams and streams.
    pub addr: A,
    /// Application metadata, at most `max_metadata_size` bytes.
    pub meta: Bytes,
    /// Only the member itself raises its incarnation, to refute suspicion or announce changes.
    pub incarnation: u32,
    /// Its state in this member's view.
    pub state: State,
    /// When this member's view last changed the state (the caller's clock).
    pub state_changed: Instant,
}

/// A claim about a member, as carried by gossip or push-pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Claim {
    /// "alive at incarnation i"
    Alive(u32),
    /// "suspect at incarnation i"
    Suspect(u32),
    /// "dead (confirmed failed, or left) at incarnation i"
    Dead(u32),
}

/// Whether `claim` replaces the view `(state, incarnation)` of another member.
///
/// SWIM's precedence (Das, Gupta, Motivala 2002, section 4.2):
/// - `Alive(i)` overrides `Alive(j)` and `Suspect(j)` when `i > j`;
/// - `Suspect(i)` overrides `Suspect(j)` when `i > j` and `Alive(j)` when `i >= j`;
/// - `Dead` overrides `Alive` and `Suspect`.
///
/// Two points the paper leaves open, settled as memberlist settles them:
/// - a member that is dead or left comes back only with a strictly higher incarnation
///   (`Alive(i)` over `Dead(j)` when `i > j`): the paper removes dead members, so any later
///   alive is a rejoin, and requiring `i > j` keeps stale alives from undoing a death;
/// - `Dead(i)` overrides `Alive(j)`/`Suspect(j)` only when `i >= j`. A death notice older than
///   a refutation is stale: applying it would let a notice still circulating kill a member that
///   has since refuted or restarted (memberlist issue #311 is this failure at scale).
///
/// A claim never changes a view that is already dead or left, except `Alive(i > j)`.
/// Claims about the local member are not decided here: it refutes instead.
pub fn overrides(claim: Claim, state: State, incarnation: u32) -> bool {
    match (claim, state) {
        (Claim::Alive(i), _) => i > incarnation,
        (Claim::Suspect(i), State::Alive) => i >= incarnation,
        (Claim::Suspect(i), State::Suspect) => i > incarnation,
        (Claim::Suspect(_), State::Dead | State::Left) => false,
        (Claim::Dead(i), State::Alive | State::Suspect) => i >= incarnation,
        (Claim::Dead(i), State::Dead | State::Left) => i > incarnation,
    }
}

/// The local member's identity and starting state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity<A> {
    /// Unique name in the cluster.
    pub name: Name,
    /// The address other members reach this member at (the advertise address).
    pub addr: A,
    /// Initial metadata.
    pub meta: Bytes,
    /// Initial incarnation. 0 is fine; a member that restarts often can start from a
    /// clock reading so that its first announcement already outranks its previous life.
    pub incarnation: u32,
}

impl<A> Identity<A> {
    /// A member called `name` at `addr`, with no metadata, at incarnation 0.
    pub fn new(name: impl Into<Name>, addr: A) -> Self {
        Identity { name: name.into(), addr, meta: Bytes::new(), incarnation: 0 }
    }

    /// With metadata.
    pub fn with_meta(mut self, meta: impl Into<Bytes>) -> Self {
        self.meta = meta.into();
        self
    }

    /// Starting at `incarnation`.
    pub fn with_incarnation(mut self, incarnation: u32) -> Self {
        self.incarnation = incarnation;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inline_and_shared_behave_alike() {
        let short = Name::from("node-1");
        let long = Name::from("a-rather-long-hostname.example.internal:7946");
        assert_eq!(short.as_str(), "node-1");
        assert_eq!(short.heap_bytes(), 0);
        assert!(long.heap_bytes() > 0);
        assert_eq!(long.as_str(), "a-rather-long-hostname.example.internal:7946");
        assert_eq!(Name::from("x".repeat(22)).heap_bytes(), 0);
        assert!(Name::from("x".repeat(23)).heap_bytes() > 0);
        let (a, b) = (Name::from("a"), Name::from("b"));
        assert!(a < b);
        assert_eq!(Name::from(String::from("node-1")), short);
        assert_eq!(core::mem::size_of::<Name>(), 24);
        // Hashes like `str`, so `Borrow<str>` lookups work.
        let st = crate::rng::SwimRng::from_seed_u64(1).hash_state();
        use core::hash::BuildHasher;
        assert_eq!(st.hash_one(&short), st.hash_one("node-1"));
        assert_eq!(st.hash_one(&long), st.hash_one("a-rather-long-hostname.example.internal:7946"));
    }

    #[test]
    fn paper_table() {
        use Claim as C;
        use State as S;
        // alive(i) beats suspect(j) and alive(j) when i > j
        assert!(overrides(C::Alive(2), S::Alive, 1));
        assert!(!overrides(C::Alive(1), S::Alive, 1));
        assert!(overrides(C::Alive(2), S::Suspect, 1));
        assert!(!overrides(C::Alive(1), S::Suspect, 1));
        // suspect(i) beats suspect(j) when i > j and alive(j) when i >= j
        assert!(overrides(C::Suspect(1), S::Alive, 1));
        assert!(!overrides(C::Suspect(0), S::Alive, 1));
        assert!(overrides(C::Suspect(2), S::Suspect, 1));
        assert!(!overrides(C::Suspect(1), S::Suspect, 1));
        // dead beats alive and suspect
        assert!(overrides(C::Dead(1), S::Alive, 1));
        assert!(overrides(C::Dead(1), S::Suspect, 1));
        assert!(overrides(C::Dead(5), S::Alive, 1));
        // nothing but a newer alive changes a dead view
        assert!(!overrides(C::Suspect(9), S::Dead, 1));
        assert!(overrides(C::Dead(9), S::Dead, 1), "a newer death raises the incarnation");
        assert!(!overrides(C::Dead(1), S::Dead, 1));
        assert!(!overrides(C::Alive(1), S::Dead, 1));
        assert!(overrides(C::Alive(2), S::Dead, 1));
        assert!(overrides(C::Alive(2), S::Left, 1));
        // stale death notices are ignored
        assert!(!overrides(C::Dead(0), S::Alive, 1));
    }
}
