//! Typed errors, one type per operation.
//!
//! Every error returned for network input ([`DecodeError`]) leaves the core's state
//! exactly as it was, apart from the counters in [`crate::Stats`]. Command errors
//! ([`CommandError`]) likewise change nothing.

use core::fmt;

/// An impossible configuration, found by [`crate::Config::validate`]. Its message names the
/// field, its limit and what to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The named field is zero and must not be.
    Zero(&'static str),
    /// A field is above its limit.
    TooLarge {
        /// The field, as a path from [`crate::Config`] (`limits.max_name_len`).
        field: &'static str,
        /// Its value (for `label`, its length in bytes).
        value: u64,
        /// The largest value allowed with the rest of the configuration.
        max: u64,
        /// The field that sets the limit, if another one does (raising it raises the limit).
        limited_by: Option<&'static str>,
    },
    /// `probe_timeout` must be strictly below `probe_interval`.
    ProbeTimeoutNotBelowInterval {
        /// The probe timeout.
        probe_timeout: core::time::Duration,
        /// The probe interval.
        probe_interval: core::time::Duration,
    },
    /// `lifeguard.nack_timeout_share` must be in `(0, 1]`.
    NackShareOutOfRange,
    /// The nack would be sent after the requester stops counting nacks:
    /// `nack_timeout_share * probe_timeout` must be below `probe_interval - probe_timeout`.
    NackTooLate {
        /// `nack_timeout_share * probe_timeout`: when a helper sends its nack.
        nack_after: core::time::Duration,
        /// `probe_interval - probe_timeout`: how long the prober counts nacks.
        window: core::time::Duration,
    },
    /// `packet_budget` (the value given) must be between 256 and 65,000 bytes.
    PacketBudget(usize),
    /// A version range of `versions` does not have `min <= current <= max`.
    VersionRange {
        /// `versions.protocol` or `versions.application`.
        field: &'static str,
        /// The range given.
        range: crate::versions::VersionRange,
    },
    /// `join_retry` needs `initial <= max <= JoinRetry::MAX_BACKOFF` (one hour).
    JoinRetryBackoff {
        /// `join_retry.initial`.
        initial: core::time::Duration,
        /// `join_retry.max`.
        max: core::time::Duration,
    },
    /// In the memberlist wire profile, `versions.protocol` must have `min >= 1`, `max <= 5`
    /// and `current >= 2` (the protocol versions memberlist speaks; this profile does not
    /// speak version 1).
    MemberlistVersions(crate::versions::VersionRange),
    /// A field of `coordinates` is outside the range its documentation gives
    /// ([`crate::coordinates::CoordinateConfig`]).
    Coordinates {
        /// The field, as a path from [`crate::Config`] (`coordinates.vivaldi_cc`).
        field: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::Zero(n) => write!(f, "`{n}` is zero; it must be above zero"),
            ConfigError::TooLarge { field, value, max, limited_by } => {
                write!(f, "`{field}` is {value}, above its limit of {max}: lower it")?;
                match limited_by {
                    Some(other) => write!(f, " or raise `{other}`"),
                    None => Ok(()),
                }
            }
            ConfigError::ProbeTimeoutNotBelowInterval { probe_timeout, probe_interval } => write!(
                f,
                "`probe_timeout` ({probe_timeout:?}) must be below `probe_interval` ({probe_interval:?}): \
                 lower `probe_timeout` or raise `probe_interval`"
            ),
            ConfigError::NackShareOutOfRange => f.write_str(
                "`lifeguard.nack_timeout_share` must be above 0 and at most 1 (the presets use 0.5): \
                 set it in that range, or turn `lifeguard.nack` off",
            ),
            ConfigError::NackTooLate { nack_after, window } => write!(
                f,
                "a helper's nack, sent `lifeguard.nack_timeout_share` * `probe_timeout` = {nack_after:?} after \
                 the ping-req, must come before the prober stops waiting at `probe_interval` - `probe_timeout` = \
                 {window:?}: lower `lifeguard.nack_timeout_share` or `probe_timeout`, or raise `probe_interval`"
            ),
            ConfigError::PacketBudget(v) => {
                write!(f, "`packet_budget` is {v} bytes; it must be between 256 and 65000 bytes")
            }
            ConfigError::VersionRange { field, range } => write!(
                f,
                "`{field}` has min {}, current {} and max {}: it needs min <= current <= max",
                range.min, range.current, range.max
            ),
            ConfigError::JoinRetryBackoff { initial, max } => write!(
                f,
                "`join_retry.initial` ({initial:?}) must be at most `join_retry.max` ({max:?}), and                  `join_retry.max` at most one hour: lower `join_retry.initial` or set `join_retry.max`                  between the two"
            ),
            ConfigError::Coordinates { field } => {
                write!(f, "`{field}` is outside its range (see `CoordinateConfig`'s documentation)")
            }
            ConfigError::MemberlistVersions(r) => write!(
                f,
                "`versions.protocol` has min {}, current {} and max {}: the memberlist wire profile needs \
                 min >= 1, max <= 5 and current >= 2 (`Config::memberlist_wire` sets 1, 2 and 5)",
                r.min, r.current, r.max
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

/// Why a core could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewError {
    /// The configuration is impossible.
    Config(ConfigError),
    /// The local name is empty or longer than `limits.max_name_len`.
    BadName {
        /// The name's length in bytes.
        len: usize,
        /// `limits.max_name_len`.
        max: usize,
    },
    /// `config.wire` is [`crate::WireProfile::Memberlist`], which needs IP addresses: build
    /// the member with `Swim::with_wire` (for an address type that implements
    /// `wire::memberlist::model::IpPort`).
    WireNeedsIpAddresses,
    /// The local metadata is longer than `max_metadata_size`.
    MetadataTooLarge {
        /// The metadata's length in bytes.
        len: usize,
        /// `max_metadata_size`.
        max: usize,
    },
}

impl fmt::Display for NewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NewError::Config(e) => write!(f, "invalid configuration: {e}"),
            NewError::BadName { len: 0, max } => {
                write!(f, "the member name is empty; it must be 1 to {max} bytes (`limits.max_name_len`)")
            }
            NewError::BadName { len, max } => write!(
                f,
                "the member name is {len} bytes, above the limit of {max} (`limits.max_name_len`): \
                 shorten it or raise the limit (at most 255)"
            ),
            NewError::WireNeedsIpAddresses => {
                write!(f, "the memberlist wire profile needs IP addresses: build the member with `Swim::with_wire`")
            }
            NewError::MetadataTooLarge { len, max } => write!(
                f,
                "the member's metadata is {len} bytes, above the limit of {max} (`max_metadata_size`): \
                 shorten it or raise the limit"
            ),
        }
    }
}

impl core::error::Error for NewError {}

impl From<ConfigError> for NewError {
    fn from(e: ConfigError) -> Self {
        NewError::Config(e)
    }
}

/// Why a datagram or stream message was rejected. The whole input is rejected before any of
/// it is applied, so state is unchanged; the kind is counted in [`crate::Stats::decode_errors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// No bytes at all.
    Empty,
    /// The envelope names a protocol version outside the receiver's `versions.protocol` range
    /// (or sets a reserved flag bit).
    UnsupportedVersion,
    /// A message tag this build does not know.
    UnknownMessage,
    /// The input ends inside a header or body.
    Truncated,
    /// A message body is longer than its fields, or the input continues past its end.
    TrailingBytes,
    /// A length field is impossible: beyond the input or beyond a limit.
    BadLength,
    /// A body's fields do not decode (bad varint, bad UTF-8, bad enum value).
    Malformed,
    /// A member name is empty or longer than `limits.max_name_len`.
    NameTooLong,
    /// Metadata longer than `max_metadata_size`.
    MetadataTooLarge,
    /// A user payload longer than its limit (or a join refusal's reason longer than
    /// `limits.max_name_len`).
    PayloadTooLarge,
    /// A push-pull state with more members than `limits.max_members`.
    TooManyMembers,
    /// The whole input is larger than allowed (`packet_budget` for datagrams is not enforced
    /// inbound; 65,535 bytes and `limits.max_stream_message_size` are).
    Oversized,
    /// A message that is valid on its own but not allowed where it arrived (for example a
    /// push-pull in a datagram).
    WrongChannel,
    /// The message names this member's own address or name in a way only a forgery or a
    /// misrouted packet could (for example a ping meant for another member).
    Misdirected,
    /// The packet carries another cluster label (or none where one is configured, or one where
    /// none is).
    LabelMismatch,
    /// A plaintext packet while a keyring is set and plaintext is not accepted.
    Unencrypted,
    /// An encrypted packet that no key in the keyring opens (or no keyring is set, or the
    /// build lacks the `encryption` feature): a wrong key, a forgery or a corruption.
    Decrypt,
    /// A push-pull carrying more application state than `limits.max_app_state`.
    AppStateTooLarge,
    /// The input's source address, or a push-pull's `from_addr`, is refused by
    /// [`Hooks::allow_address`](crate::hooks::Hooks::allow_address) (an allowlist such as
    /// memberlist's `CIDRsAllowed`).
    AddressNotAllowed,
}

impl DecodeError {
    /// Every kind, in the order [`crate::stats::DecodeErrorCounts`] stores them.
    pub const ALL: [DecodeError; 19] = [
        DecodeError::Empty,
        DecodeError::UnsupportedVersion,
        DecodeError::UnknownMessage,
        DecodeError::Truncated,
        DecodeError::TrailingBytes,
        DecodeError::BadLength,
        DecodeError::Malformed,
        DecodeError::NameTooLong,
        DecodeError::MetadataTooLarge,
        DecodeError::PayloadTooLarge,
        DecodeError::TooManyMembers,
        DecodeError::Oversized,
        DecodeError::WrongChannel,
        DecodeError::Misdirected,
        DecodeError::LabelMismatch,
        DecodeError::Unencrypted,
        DecodeError::Decrypt,
        DecodeError::AppStateTooLarge,
        DecodeError::AddressNotAllowed,
    ];

    /// A short, stable name for metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::UnsupportedVersion => "unsupported_version",
            DecodeError::UnknownMessage => "unknown_message",
            DecodeError::Truncated => "truncated",
            DecodeError::TrailingBytes => "trailing_bytes",
            DecodeError::BadLength => "bad_length",
            DecodeError::Malformed => "malformed",
            DecodeError::NameTooLong => "name_too_long",
            DecodeError::MetadataTooLarge => "metadata_too_large",
            DecodeError::PayloadTooLarge => "payload_too_large",
            DecodeError::TooManyMembers => "too_many_members",
            DecodeError::Oversized => "oversized",
            DecodeError::WrongChannel => "wrong_channel",
            DecodeError::Misdirected => "misdirected",
            DecodeError::LabelMismatch => "label_mismatch",
            DecodeError::Unencrypted => "unencrypted",
            DecodeError::Decrypt => "decrypt",
            DecodeError::AppStateTooLarge => "app_state_too_large",
            DecodeError::AddressNotAllowed => "address_not_allowed",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rejected input: {}", self.name())
    }
}

impl core::error::Error for DecodeError {}

/// Why a command was refused. State is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// Metadata longer than `max_metadata_size`.
    MetadataTooLarge,
    /// A payload longer than its limit (`limits.max_user_broadcast_size`,
    /// `limits.max_user_message_size`, or one datagram for a best-effort message).
    PayloadTooLarge,
    /// This member has left the cluster; it no longer sends updates.
    Leaving,
    /// Too many seeds in flight (`limits.max_pending_joins`).
    TooManyJoins,
    /// The transmit queue is full (`limits.max_pending_transmits`); poll transmits first.
    TransmitQueueFull,
    /// Too many pings in flight (`limits.max_pings_in_flight`).
    TooManyPings,
    /// [`crate::Swim::ping`] named a member this member does not hold alive or suspect (or
    /// itself).
    UnknownMember,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandError::MetadataTooLarge => "metadata is larger than `max_metadata_size` (512 bytes in the presets)",
            CommandError::PayloadTooLarge => "payload is larger than its limit",
            CommandError::Leaving => "this member has left the cluster",
            CommandError::TooManyJoins => "too many join attempts in flight",
            CommandError::TransmitQueueFull => "transmit queue is full",
            CommandError::TooManyPings => "too many pings in flight (`limits.max_pings_in_flight`)",
            CommandError::UnknownMember => "no such live member",
        })
    }
}

impl core::error::Error for CommandError {}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use core::time::Duration;

    use super::*;

    #[test]
    fn configuration_errors_name_the_field_its_limit_and_the_fix() {
        let e = NewError::Config(ConfigError::ProbeTimeoutNotBelowInterval {
            probe_timeout: Duration::from_millis(500),
            probe_interval: Duration::from_millis(500),
        });
        assert_eq!(
            e.to_string(),
            "invalid configuration: `probe_timeout` (500ms) must be below `probe_interval` (500ms): \
             lower `probe_timeout` or raise `probe_interval`"
        );
        assert_eq!(
            ConfigError::Zero("gossip_interval").to_string(),
            "`gossip_interval` is zero; it must be above zero"
        );
        let e = ConfigError::TooLarge {
            field: "max_metadata_size",
            value: 1400,
            max: 1179,
            limited_by: Some("packet_budget"),
        };
        assert_eq!(
            e.to_string(),
            "`max_metadata_size` is 1400, above its limit of 1179: lower it or raise `packet_budget`"
        );
        let e = ConfigError::TooLarge { field: "limits.max_name_len", value: 300, max: 255, limited_by: None };
        assert_eq!(e.to_string(), "`limits.max_name_len` is 300, above its limit of 255: lower it");
        assert_eq!(
            ConfigError::PacketBudget(100).to_string(),
            "`packet_budget` is 100 bytes; it must be between 256 and 65000 bytes"
        );
        let e = ConfigError::NackTooLate { nack_after: Duration::from_millis(500), window: Duration::from_millis(500) };
        assert!(e.to_string().contains("= 500ms after the ping-req"), "{e}");
        assert!(
            e.to_string()
                .ends_with("lower `lifeguard.nack_timeout_share` or `probe_timeout`, or raise `probe_interval`"),
            "{e}"
        );
        let range = crate::versions::VersionRange::new(2, 3, 1);
        assert_eq!(
            ConfigError::VersionRange { field: "versions.protocol", range }.to_string(),
            "`versions.protocol` has min 2, current 1 and max 3: it needs min <= current <= max"
        );
        assert!(
            ConfigError::NackShareOutOfRange
                .to_string()
                .starts_with("`lifeguard.nack_timeout_share` must be above 0 and at most 1")
        );
    }

    #[test]
    fn name_and_metadata_errors_say_their_limits() {
        assert_eq!(
            NewError::BadName { len: 0, max: 128 }.to_string(),
            "the member name is empty; it must be 1 to 128 bytes (`limits.max_name_len`)"
        );
        assert_eq!(
            NewError::BadName { len: 200, max: 128 }.to_string(),
            "the member name is 200 bytes, above the limit of 128 (`limits.max_name_len`): shorten it or raise the \
             limit (at most 255)"
        );
        assert_eq!(
            NewError::MetadataTooLarge { len: 600, max: 512 }.to_string(),
            "the member's metadata is 600 bytes, above the limit of 512 (`max_metadata_size`): shorten it or raise \
             the limit"
        );
        assert_eq!(
            CommandError::MetadataTooLarge.to_string(),
            "metadata is larger than `max_metadata_size` (512 bytes in the presets)"
        );
    }
}
