//! The one error type of `sscard-card`.

use core::fmt;

/// What went wrong outside the card's own answers (those are status words).
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// A card or PSAM file could not be read or written.
    Io(std::io::Error),
    /// A card or PSAM file is not one of sscard.
    BadImage(String),
    /// Input that cannot be used (a PIN, a region, a key).
    Invalid(String),
    /// A cryptographic step failed.
    Crypto(sscard_gm::Error),
    /// An APDU could not be encoded or parsed.
    Apdu(sscard_apdu::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::BadImage(why) => write!(f, "not a card file of sscard: {why}"),
            Self::Invalid(why) => f.write_str(why),
            Self::Crypto(e) => write!(f, "{e}"),
            Self::Apdu(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<sscard_gm::Error> for Error {
    fn from(e: sscard_gm::Error) -> Self {
        Self::Crypto(e)
    }
}

impl From<sscard_apdu::Error> for Error {
    fn from(e: sscard_apdu::Error) -> Self {
        Self::Apdu(e)
    }
}
