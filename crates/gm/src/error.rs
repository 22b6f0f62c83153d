//! The one error type of `sscard-gm`.

use core::fmt;

/// Everything that can go wrong in this crate.
///
/// Every variant names what was wrong with the input, so that a caller can
/// print it as one line; none carries secret material.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A key had a length its algorithm does not accept.
    KeyLength {
        /// The algorithm the key was meant for.
        algorithm: &'static str,
        /// The lengths that algorithm accepts, in words.
        expected: &'static str,
        /// The length that was given.
        actual: usize,
    },
    /// An initial value or nonce had the wrong length.
    IvLength {
        /// The length the mode needs.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },
    /// A mode without padding was given data that is not a whole number of blocks.
    NotBlockAligned {
        /// The block size of the cipher.
        block: usize,
        /// The length of the data.
        actual: usize,
    },
    /// The PKCS#7 padding found after decryption is not valid.
    BadPadding,
    /// An authentication tag or MAC did not match: the data or the key is wrong.
    AuthenticationFailed,
    /// A diversification factor was not 8 bytes long.
    FactorLength {
        /// The length that was given.
        actual: usize,
    },
    /// A requested output length is outside what the operation produces.
    OutputLength {
        /// The largest length the operation produces.
        max: usize,
        /// The length that was asked for.
        actual: usize,
    },
    /// Key components cannot be combined (fewer than two, or of different lengths).
    Components(&'static str),
    /// A key in PEM, DER or raw form could not be parsed.
    KeyEncoding(&'static str),
    /// A signature could not be parsed in the expected encoding.
    SignatureEncoding(&'static str),
    /// A well-formed signature does not verify for this key, user ID and message.
    SignatureInvalid,
    /// An SM2 ciphertext could not be parsed in the expected format.
    CiphertextEncoding(&'static str),
    /// A certificate or request could not be read or made: names what.
    Encoding(&'static str),
    /// An SM2 ciphertext parsed but its C3 check failed: wrong key or altered data.
    DecryptionFailed,
    /// SM2 encryption of an empty message is undefined (GB/T 32918.4 §6.1 needs klen > 0).
    EmptyMessage,
    /// An SM2 user ID is longer than the 8191 bytes its 16-bit bit-length can express.
    UserIdTooLong,
    /// A requested derived-key length is zero or beyond what the KDF may produce.
    KdfLength,
    /// The operating system's random generator failed.
    Random,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyLength {
                algorithm,
                expected,
                actual,
            } => write!(
                f,
                "{algorithm} key must be {expected}, got {actual} bytes"
            ),
            Self::IvLength { expected, actual } => {
                write!(f, "IV must be {expected} bytes, got {actual}")
            }
            Self::NotBlockAligned { block, actual } => write!(
                f,
                "data of {actual} bytes is not a multiple of the {block}-byte block (no padding was requested)"
            ),
            Self::BadPadding => f.write_str("padding is not valid PKCS#7: wrong key, IV or data"),
            Self::AuthenticationFailed => {
                f.write_str("authentication failed: the tag does not match the data and key")
            }
            Self::FactorLength { actual } => write!(
                f,
                "diversification factor must be 8 bytes, got {actual}"
            ),
            Self::OutputLength { max, actual } => {
                write!(f, "output length must be 1..={max}, got {actual}")
            }
            Self::Components(why) => write!(f, "key components: {why}"),
            Self::KeyEncoding(why) => write!(f, "key could not be read: {why}"),
            Self::SignatureEncoding(why) => write!(f, "signature could not be read: {why}"),
            Self::SignatureInvalid => f.write_str("signature does not verify"),
            Self::CiphertextEncoding(why) => write!(f, "ciphertext could not be read: {why}"),
            Self::Encoding(what) => write!(f, "not {what}"),
            Self::DecryptionFailed => {
                f.write_str("decryption failed: C3 does not match (wrong key or altered ciphertext)")
            }
            Self::EmptyMessage => f.write_str("SM2 cannot encrypt an empty message"),
            Self::UserIdTooLong => f.write_str("SM2 user ID is longer than 8191 bytes"),
            Self::KdfLength => f.write_str("requested key length is zero or too long for the KDF"),
            Self::Random => f.write_str("the system random generator failed"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of this crate's operations.
pub type Result<T> = core::result::Result<T, Error>;
