//! Typed errors, one type per operation.
//!
//! Every error returned for network input ([`DecodeError`]) leaves the core's state
//! exactly as it was, apart from the counters in [`crate::Stats`]. Command errors
//! ([`CommandError`]) likewise change nothing.

use core::fmt;

/// An impossible configuration, found by [`crate::Config::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The named field is zero and must not be.
    Zero(&'static str),
    /// The named field is larger than it can be.
    TooLarge(&'static str),
    /// `probe_timeout` must be strictly below `probe_interval`.
    ProbeTimeoutNotBelowInterval,
    /// `lifeguard.nack_timeout_share` must be in `(0, 1]`.
    NackShareOutOfRange,
    /// The nack would be sent after the requester stops counting nacks:
    /// `nack_timeout_share * probe_timeout` must be below `probe_interval - probe_timeout`.
    NackTooLate,
    /// `packet_budget` must be between 256 and 65,000 bytes.
    PacketBudget,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Zero(n) => write!(f, "config field `{n}` must not be zero"),
            ConfigError::TooLarge(n) => write!(f, "config field `{n}` is too large"),
            ConfigError::ProbeTimeoutNotBelowInterval => f.write_str("probe_timeout must be below probe_interval"),
            ConfigError::NackShareOutOfRange => f.write_str("lifeguard.nack_timeout_share must be in (0, 1]"),
            ConfigError::NackTooLate => {
                f.write_str("nack_timeout_share * probe_timeout must be below probe_interval - probe_timeout")
            }
            ConfigError::PacketBudget => f.write_str("packet_budget must be between 256 and 65000 bytes"),
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
    BadName,
    /// The local metadata is longer than `max_metadata_size`.
    MetadataTooLarge,
}

impl fmt::Display for NewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NewError::Config(e) => write!(f, "invalid config: {e}"),
            NewError::BadName => f.write_str("local name is empty or longer than limits.max_name_len"),
            NewError::MetadataTooLarge => f.write_str("local metadata is larger than max_metadata_size"),
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
    /// The envelope names a protocol version this build does not speak.
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
    /// A user payload longer than its limit.
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
}

impl DecodeError {
    /// Every kind, in the order [`crate::stats::DecodeErrorCounts`] stores them.
    pub const ALL: [DecodeError; 17] = [
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
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandError::MetadataTooLarge => "metadata is larger than max_metadata_size",
            CommandError::PayloadTooLarge => "payload is larger than its limit",
            CommandError::Leaving => "this member has left the cluster",
            CommandError::TooManyJoins => "too many join attempts in flight",
            CommandError::TransmitQueueFull => "transmit queue is full",
        })
    }
}

impl core::error::Error for CommandError {}
