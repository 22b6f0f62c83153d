//! Status words (ISO/IEC 7816-4 §5.6) with the meanings the social security
//! card gives them (card-profile.md).

/// A status word SW1 SW2.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusWord {
    /// `90 00`: done.
    Ok,
    /// `61 xx`: xx more bytes are available (GET RESPONSE).
    MoreData(u8),
    /// `62 83`: the selected file or application is blocked.
    SelectedFileInvalidated,
    /// `63 Cx`: PIN wrong, x tries left.
    PinTriesLeft(u8),
    /// `65 81`: memory failure.
    MemoryFailure,
    /// `67 00`: wrong length (Lc or Le).
    WrongLength,
    /// `68 82`: secure messaging is not supported.
    SecureMessagingNotSupported,
    /// `69 81`: the command is incompatible with the file structure.
    IncompatibleFileStructure,
    /// `69 82`: security status not satisfied (an authentication is missing).
    SecurityStatusNotSatisfied,
    /// `69 83`: authentication method blocked (PIN or key blocked).
    AuthenticationBlocked,
    /// `69 84`: referenced data invalid (e.g. no challenge was asked).
    DataInvalid,
    /// `69 85`: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `69 86`: command not allowed (no current EF).
    CommandNotAllowed,
    /// `69 88`: secure-messaging data objects wrong: the MAC does not verify.
    SecureMessagingDataWrong,
    /// `6A 80`: incorrect parameters in the data field.
    IncorrectData,
    /// `6A 81`: function not supported.
    FunctionNotSupported,
    /// `6A 82`: file or application not found.
    FileNotFound,
    /// `6A 83`: record not found.
    RecordNotFound,
    /// `6A 84`: not enough memory space in the file.
    NotEnoughMemory,
    /// `6A 86`: incorrect P1 P2.
    IncorrectP1P2,
    /// `6A 88`: referenced data (a key) not found.
    ReferencedDataNotFound,
    /// `6B 00`: wrong parameters P1 P2 (offset outside the file).
    WrongP1P2,
    /// `6C xx`: wrong Le; xx is the exact length.
    WrongLe(u8),
    /// `6D 00`: instruction not supported.
    InsNotSupported,
    /// `6E 00`: class not supported.
    ClaNotSupported,
    /// `6F 00`: no precise diagnosis.
    NoPreciseDiagnosis,
    /// `93 03`: the application is permanently locked.
    ApplicationLocked,
    /// Any other status word.
    Other(u16),
}

impl StatusWord {
    /// The status word of two bytes.
    pub fn from_u16(sw: u16) -> Self {
        let [sw1, sw2] = sw.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => Self::Ok,
            (0x61, n) => Self::MoreData(n),
            (0x62, 0x83) => Self::SelectedFileInvalidated,
            (0x63, n) if n & 0xF0 == 0xC0 => Self::PinTriesLeft(n & 0x0F),
            (0x65, 0x81) => Self::MemoryFailure,
            (0x67, 0x00) => Self::WrongLength,
            (0x68, 0x82) => Self::SecureMessagingNotSupported,
            (0x69, 0x81) => Self::IncompatibleFileStructure,
            (0x69, 0x82) => Self::SecurityStatusNotSatisfied,
            (0x69, 0x83) => Self::AuthenticationBlocked,
            (0x69, 0x84) => Self::DataInvalid,
            (0x69, 0x85) => Self::ConditionsNotSatisfied,
            (0x69, 0x86) => Self::CommandNotAllowed,
            (0x69, 0x88) => Self::SecureMessagingDataWrong,
            (0x6A, 0x80) => Self::IncorrectData,
            (0x6A, 0x81) => Self::FunctionNotSupported,
            (0x6A, 0x82) => Self::FileNotFound,
            (0x6A, 0x83) => Self::RecordNotFound,
            (0x6A, 0x84) => Self::NotEnoughMemory,
            (0x6A, 0x86) => Self::IncorrectP1P2,
            (0x6A, 0x88) => Self::ReferencedDataNotFound,
            (0x6B, 0x00) => Self::WrongP1P2,
            (0x6C, n) => Self::WrongLe(n),
            (0x6D, 0x00) => Self::InsNotSupported,
            (0x6E, 0x00) => Self::ClaNotSupported,
            (0x6F, 0x00) => Self::NoPreciseDiagnosis,
            (0x93, 0x03) => Self::ApplicationLocked,
            _ => Self::Other(sw),
        }
    }

    /// The two bytes.
    pub fn to_u16(self) -> u16 {
        match self {
            Self::Ok => 0x9000,
            Self::MoreData(n) => 0x6100 | u16::from(n),
            Self::SelectedFileInvalidated => 0x6283,
            Self::PinTriesLeft(n) => 0x63C0 | u16::from(n & 0x0F),
            Self::MemoryFailure => 0x6581,
            Self::WrongLength => 0x6700,
            Self::SecureMessagingNotSupported => 0x6882,
            Self::IncompatibleFileStructure => 0x6981,
            Self::SecurityStatusNotSatisfied => 0x6982,
            Self::AuthenticationBlocked => 0x6983,
            Self::DataInvalid => 0x6984,
            Self::ConditionsNotSatisfied => 0x6985,
            Self::CommandNotAllowed => 0x6986,
            Self::SecureMessagingDataWrong => 0x6988,
            Self::IncorrectData => 0x6A80,
            Self::FunctionNotSupported => 0x6A81,
            Self::FileNotFound => 0x6A82,
            Self::RecordNotFound => 0x6A83,
            Self::NotEnoughMemory => 0x6A84,
            Self::IncorrectP1P2 => 0x6A86,
            Self::ReferencedDataNotFound => 0x6A88,
            Self::WrongP1P2 => 0x6B00,
            Self::WrongLe(n) => 0x6C00 | u16::from(n),
            Self::InsNotSupported => 0x6D00,
            Self::ClaNotSupported => 0x6E00,
            Self::NoPreciseDiagnosis => 0x6F00,
            Self::ApplicationLocked => 0x9303,
            Self::Other(sw) => sw,
        }
    }

    /// What the status word means, for a person.
    pub fn meaning(self) -> String {
        match self {
            Self::Ok => "done".into(),
            Self::MoreData(n) => format!("{n} more bytes available"),
            Self::SelectedFileInvalidated => "the application is blocked".into(),
            Self::PinTriesLeft(n) => format!("PIN wrong, {n} tries left"),
            Self::MemoryFailure => "memory failure".into(),
            Self::WrongLength => "wrong length".into(),
            Self::SecureMessagingNotSupported => "secure messaging not supported".into(),
            Self::IncompatibleFileStructure => "incompatible with the file structure".into(),
            Self::SecurityStatusNotSatisfied => {
                "security status not satisfied (authenticate first)".into()
            }
            Self::AuthenticationBlocked => "blocked".into(),
            Self::DataInvalid => "referenced data invalid (ask for a challenge first)".into(),
            Self::ConditionsNotSatisfied => "conditions of use not satisfied".into(),
            Self::CommandNotAllowed => "command not allowed".into(),
            Self::SecureMessagingDataWrong => "secure-messaging MAC wrong".into(),
            Self::IncorrectData => "incorrect data".into(),
            Self::FunctionNotSupported => "function not supported".into(),
            Self::FileNotFound => "file or application not found".into(),
            Self::RecordNotFound => "record not found".into(),
            Self::NotEnoughMemory => "not enough memory in the file".into(),
            Self::IncorrectP1P2 => "incorrect P1 P2".into(),
            Self::ReferencedDataNotFound => "key not found".into(),
            Self::WrongP1P2 => "wrong P1 P2".into(),
            Self::WrongLe(n) => format!("wrong Le, {n} bytes available"),
            Self::InsNotSupported => "instruction not supported".into(),
            Self::ClaNotSupported => "class not supported".into(),
            Self::NoPreciseDiagnosis => "card error".into(),
            Self::ApplicationLocked => "application permanently locked".into(),
            Self::Other(sw) => format!("status {sw:04X}"),
        }
    }
}

impl core::fmt::Display for StatusWord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [sw1, sw2] = self.to_u16().to_be_bytes();
        write!(f, "{sw1:02X} {sw2:02X} ({})", self.meaning())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_word_round_trips() {
        for sw in 0..=u16::MAX {
            assert_eq!(StatusWord::from_u16(sw).to_u16(), sw, "{sw:04X}");
        }
        assert_eq!(StatusWord::from_u16(0x63C2), StatusWord::PinTriesLeft(2));
        assert_eq!(
            StatusWord::from_u16(0x6988),
            StatusWord::SecureMessagingDataWrong
        );
        assert_eq!(
            StatusWord::PinTriesLeft(1).to_string(),
            "63 C1 (PIN wrong, 1 tries left)"
        );
    }
}
