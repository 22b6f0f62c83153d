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
    /// A certificate or request could not be read: names what it is not.
    Encoding(&'static str),
    /// A certificate, request or list this crate built could not be encoded:
    /// names what.
    EncodingFailed(&'static str),
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
    /// An SM2 private key d is outside [1, n − 2] (GB/T 32918.1-2016 §6.1);
    /// names the bound it breaks. d = n − 1 is refused because signing needs
    /// (1 + d)⁻¹ mod n (GB/T 32918.2-2016 §6.1 A6).
    PrivateKeyRange(&'static str),
    /// An SM2 public key fails a check of GB/T 32918.1-2016 §6.2 or of the
    /// conversion of a byte string to a point (§4.2).
    PublicKeyInvalid(PointFault),
    /// C1 of an SM2 ciphertext fails B1 or B2 of GB/T 32918.4-2016 §7.1.
    CiphertextPoint(PointFault),
    /// A key file holds a key of another algorithm or curve than SM2.
    NotSm2 {
        /// What names it: `"algorithm"` or `"curve"`.
        what: &'static str,
        /// The object identifier found, with its name when it is a common one.
        found: String,
    },
    /// A private key file is encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY`, or a
    /// PEM with `Proc-Type: 4,ENCRYPTED`).
    EncryptedKey,
    /// The public key stored beside a private key in its file is not \[d\]G.
    KeyMismatch,
    /// A signature's r or s is outside [1, n − 1] (GB/T 32918.2-2016 §7.1
    /// B1, B2); names which and how.
    SignatureRange(&'static str),
    /// t = (r + s) mod n is 0 (GB/T 32918.2-2016 §7.1 B5): the signature does
    /// not verify.
    SignatureSumZero,
    /// A nonce k was refused: a caller-given k (hazmat) that is out of range or
    /// gives r = 0, r + k = n or s = 0 (GB/T 32918.2-2016 §6.1 A3, A5, A6), or
    /// a generator whose every k of a long run was refused. Names the step.
    NonceRejected(&'static str),
    /// The KDF output t is all zero (GB/T 32918.4-2016 §7.1 B4 in decryption;
    /// §6.1 A5 in encryption with a caller-given k).
    KdfOutputZero,
    /// PBKDF2 was asked for zero rounds.
    KdfRounds,
    /// A key (or the key its components combine to) is weak: all zero, made
    /// of equal halves or equal components, or a DES weak or semi-weak key;
    /// names which.
    WeakKey(&'static str),
}

/// What kind of failure an [`Error`] is, for a caller that must map every
/// error to an outcome (an HTTP status, an exit code) without a catch-all:
/// this enum is exhaustive, and [`Error::kind`] matches every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input could not be read or does not fit the operation (a bad
    /// length, encoding, range or point): the caller's data is malformed.
    Malformed,
    /// A well-formed signature does not verify.
    SignatureInvalid,
    /// A MAC, tag or C3 check failed: the data or the key is wrong.
    AuthenticationFailed,
    /// The system failed (the random generator), not the input.
    System,
}

impl Error {
    /// The kind of this error. Every variant is named here, so that a new
    /// variant cannot go unmapped.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::SignatureInvalid | Self::SignatureSumZero => ErrorKind::SignatureInvalid,
            Self::AuthenticationFailed | Self::DecryptionFailed | Self::BadPadding => {
                ErrorKind::AuthenticationFailed
            }
            Self::Random | Self::EncodingFailed(_) | Self::NonceRejected(_) => ErrorKind::System,
            Self::KeyLength { .. }
            | Self::IvLength { .. }
            | Self::NotBlockAligned { .. }
            | Self::FactorLength { .. }
            | Self::OutputLength { .. }
            | Self::Components(_)
            | Self::KeyEncoding(_)
            | Self::SignatureEncoding(_)
            | Self::CiphertextEncoding(_)
            | Self::Encoding(_)
            | Self::EmptyMessage
            | Self::UserIdTooLong
            | Self::KdfLength
            | Self::PrivateKeyRange(_)
            | Self::PublicKeyInvalid(_)
            | Self::CiphertextPoint(_)
            | Self::NotSm2 { .. }
            | Self::EncryptedKey
            | Self::KeyMismatch
            | Self::SignatureRange(_)
            | Self::KdfOutputZero
            | Self::KdfRounds
            | Self::WeakKey(_) => ErrorKind::Malformed,
        }
    }
}

/// Which check a point (an SM2 public key, or C1 of a ciphertext) failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointFault {
    /// Not one of the encodings of GB/T 32918.1-2016 §4.2 at its length:
    /// `00` (O), `02`/`03` ‖ x, `04` ‖ x ‖ y or `06`/`07` ‖ x ‖ y, with
    /// 32-byte coordinates.
    Encoding,
    /// The point at infinity O, encoded as the single byte `00`
    /// (§6.2 a); for C1, B2 of GB/T 32918.4 §7.1, \[h\]C1 ≠ O with h = 1).
    Infinity,
    /// x is not in [0, p − 1] (§6.2 b).
    XOutOfField,
    /// y is not in [0, p − 1] (§6.2 b).
    YOutOfField,
    /// y² ≠ x³ + ax + b (mod p) (§6.2 c).
    NotOnCurve,
    /// A compressed point whose x is the x-coordinate of no point of the
    /// curve: x³ + ax + b has no square root mod p (§6.2 c, Annex A.5).
    NoPointWithX,
    /// A hybrid point (`06`/`07`) whose tag does not match the parity of y (§4.2).
    HybridParity,
    /// \[n\]P ≠ O (§6.2 d).
    OrderNotN,
}

impl fmt::Display for PointFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Encoding => "not a point encoding (00, 02|03 ‖ x, 04 ‖ x ‖ y or 06|07 ‖ x ‖ y, 32-byte coordinates)",
            Self::Infinity => "it is the point at infinity O",
            Self::XOutOfField => "x is not in [0, p−1]",
            Self::YOutOfField => "y is not in [0, p−1]",
            Self::NotOnCurve => "(x, y) is not on the curve: y² ≠ x³ + ax + b (mod p)",
            Self::NoPointWithX => "no point of the curve has this x (x³ + ax + b has no square root mod p)",
            Self::HybridParity => "its hybrid tag (06|07) does not match the parity of y",
            Self::OrderNotN => "[n]P is not O",
        })
    }
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
            Self::EncodingFailed(what) => write!(f, "could not encode {what}"),
            Self::DecryptionFailed => {
                f.write_str("decryption failed: C3 does not match (wrong key or altered ciphertext)")
            }
            Self::EmptyMessage => f.write_str("SM2 cannot encrypt an empty message"),
            Self::UserIdTooLong => f.write_str("SM2 user ID is longer than 8191 bytes"),
            Self::KdfLength => f.write_str("requested key length is zero or too long for the KDF"),
            Self::Random => f.write_str("the system random generator failed"),
            Self::PrivateKeyRange(why) => write!(
                f,
                "SM2 private key d must be in [1, n−2] (GB/T 32918.1 §6.1): {why}"
            ),
            Self::PublicKeyInvalid(fault) => write!(
                f,
                "not a valid SM2 public key (GB/T 32918.1 §6.2): {fault}"
            ),
            Self::CiphertextPoint(fault) => write!(
                f,
                "ciphertext refused: C1 is not a valid point (GB/T 32918.4 §7.1 B1, B2): {fault}"
            ),
            Self::NotSm2 { what, found } => write!(
                f,
                "key could not be read: its {what} is {found}, not SM2 (1.2.156.10197.1.301)"
            ),
            Self::EncryptedKey => f.write_str(
                "the private key is encrypted: decrypt it first, e.g. `openssl pkey -in KEY -out PLAIN.pem`, and give that file",
            ),
            Self::KeyMismatch => f.write_str(
                "key could not be read: the public key stored with the private key is not [d]G",
            ),
            Self::SignatureRange(why) => write!(
                f,
                "signature refused: {why}; r and s must be in [1, n−1] (GB/T 32918.2 §7.1 B1, B2)"
            ),
            Self::SignatureSumZero => f.write_str(
                "signature does not verify: t = (r + s) mod n is 0 (GB/T 32918.2 §7.1 B5)",
            ),
            Self::NonceRejected(why) => write!(f, "nonce k refused: {why}"),
            Self::KdfOutputZero => f.write_str(
                "the KDF output t is all zero (GB/T 32918.4 §6.1 A5, §7.1 B4)",
            ),
            Self::KdfRounds => f.write_str("PBKDF2 needs at least one round"),
            Self::WeakKey(why) => write!(f, "weak key: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of this crate's operations.
pub type Result<T> = core::result::Result<T, Error>;
