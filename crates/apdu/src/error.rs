//! The one error type of `sscard-apdu`.

use core::fmt;

/// What was wrong with bytes given as an APDU or a TLV.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the smallest form (4 for a command, 2 for a response).
    TooShort {
        /// What was being parsed.
        what: &'static str,
        /// The length given.
        len: usize,
    },
    /// The lengths in a command (Lc, Le) do not match its size.
    LengthMismatch {
        /// The size of the command.
        len: usize,
    },
    /// A field is longer than its encoding allows (data over 65535 bytes,
    /// Le over 65536).
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// A BER-TLV that does not parse: a tag or length runs past the end, a
    /// length form that is not used, or a value shorter than its length.
    Tlv(&'static str),
    /// A secure-messaging command without room for its MAC, or whose CLA
    /// lacks the SM bit.
    NotSecureMessaging,
    /// The MAC of a secure-messaging command does not verify.
    MacMismatch,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { what, len } => write!(f, "a {what} of {len} bytes is too short"),
            Self::LengthMismatch { len } => {
                write!(
                    f,
                    "the Lc/Le of a {len}-byte command do not match its length"
                )
            }
            Self::TooLong { field, len } => write!(f, "{field} of {len} bytes is too long"),
            Self::Tlv(why) => write!(f, "malformed BER-TLV: {why}"),
            Self::NotSecureMessaging => f.write_str("not a secure-messaging command"),
            Self::MacMismatch => f.write_str("the secure-messaging MAC does not verify"),
        }
    }
}

impl std::error::Error for Error {}
