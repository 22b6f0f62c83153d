//! The terminal's errors, with the meanings terminal SDKs give them
//! (card-profile.md: "no PSAM", "card not genuine", "PIN wrong, N tries
//! left", "PIN blocked", …).

use core::fmt;

use sscard_apdu::StatusWord;

/// Why a card flow stopped.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The reader, the card or the PSAM could not be reached.
    Transport(String),
    /// No PSAM (or secure module) answers.
    NoPsam(String),
    /// The PSAM present is not the one bound to this terminal.
    WrongPsam {
        /// The bound PSAM's terminal number.
        bound: String,
        /// The present one's.
        present: String,
    },
    /// The card names an algorithm this terminal does not support.
    AlgorithmNotSupported(u8),
    /// Internal authentication failed: the card is not genuine, or its keys
    /// are not of this region.
    NotGenuine,
    /// The PSAM holds no key for this card (another region, another key).
    PsamKeyInsufficient(StatusWord),
    /// The card's data is inconsistent (its 卡识别码 does not match its ATR).
    Inconsistent(String),
    /// The card is on the blacklist.
    Blacklisted(String),
    /// The card has expired.
    Expired(String),
    /// The card or its application is blocked.
    CardBlocked,
    /// The PIN is wrong; tries left.
    PinWrong(u8),
    /// The PIN is blocked.
    PinBlocked,
    /// Input the terminal cannot use (a PIN of the wrong form).
    Invalid(String),
    /// The card's answer breaks the rules of ISO/IEC 7816 (a BER-TLV that
    /// does not parse or nests too deep, a `61 XX` or `6C XX` that never
    /// ends): the card is refused rather than followed.
    Malformed(String),
    /// The card refused a command.
    Card {
        /// What the terminal asked.
        step: &'static str,
        /// The card's answer.
        status: StatusWord,
    },
}

impl Error {
    /// The stable reason word of the error (printed by `sscard terminal`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Transport(_) => "unreachable",
            Self::NoPsam(_) => "no_psam",
            Self::WrongPsam { .. } => "wrong_psam",
            Self::AlgorithmNotSupported(_) => "algorithm_not_supported",
            Self::NotGenuine => "not_genuine",
            Self::PsamKeyInsufficient(_) => "psam_key_insufficient",
            Self::Inconsistent(_) => "inconsistent",
            Self::Blacklisted(_) => "blacklisted",
            Self::Expired(_) => "expired",
            Self::CardBlocked => "card_blocked",
            Self::PinWrong(_) => "pin_wrong",
            Self::PinBlocked => "pin_blocked",
            Self::Invalid(_) => "invalid",
            Self::Malformed(_) => "malformed",
            Self::Card { .. } => "card_refused",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(why) => write!(f, "{why}"),
            Self::NoPsam(why) => write!(f, "no PSAM: {why}"),
            Self::WrongPsam { bound, present } => write!(
                f,
                "the PSAM {present} is not the one bound to this terminal ({bound})"
            ),
            Self::AlgorithmNotSupported(tag) => write!(f, "algorithm {tag:02X} not supported"),
            Self::NotGenuine => f.write_str(
                "internal authentication failed: the card is not genuine or not of this region",
            ),
            Self::PsamKeyInsufficient(sw) => {
                write!(f, "the PSAM holds no key for this card ({sw})")
            }
            Self::Inconsistent(why) => write!(f, "the card's data is inconsistent: {why}"),
            Self::Blacklisted(why) => write!(f, "the card is blacklisted: {why}"),
            Self::Expired(date) => write!(f, "the card expired on {date}"),
            Self::CardBlocked => f.write_str("the card is blocked"),
            Self::PinWrong(n) => write!(f, "PIN wrong, {n} tries left"),
            Self::PinBlocked => f.write_str("PIN blocked"),
            Self::Invalid(why) => f.write_str(why),
            Self::Malformed(why) => write!(f, "the card's answer is malformed: {why}"),
            Self::Card { step, status } => write!(f, "{step}: the card answered {status}"),
        }
    }
}

impl std::error::Error for Error {}

/// The result type of this crate.
pub type Result<T> = core::result::Result<T, Error>;
