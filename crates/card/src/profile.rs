//! The social security card as card-profile.md describes it, and the
//! choices sscard makes where it is silent: AIDs, files, key identifiers,
//! instruction codes, the card identifier and the diversification factors.

use serde::{Deserialize, Serialize};

/// AID of the social security environment: GBK of "sx1.sh.社会保障".
pub const SSSE_AID: [u8; 15] = [
    0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];

/// File identifier of the master file.
pub const MF_FID: u16 = 0x3F00;

/// Sub-application DFs under SSSE: social insurance, employment, medical, personnel.
pub const SUB_DFS: [u16; 4] = [0xDF01, 0xDF02, 0xDF03, 0xDF04];

/// SFI of the card data records (卡识别码, type, version, …).
pub const EF_CARD: u8 = 5;
/// SFI of the holder data records (social security number, name, …).
pub const EF_HOLDER: u8 = 6;
/// SFI of the fingerprint file (binary, behind external authentication).
pub const EF_FINGERPRINT: u8 = 7;
/// SFI of the photo file (binary, behind external authentication).
pub const EF_PHOTO: u8 = 8;

/// Card key identifiers (P2 of EXTERNAL AUTHENTICATE, PUT KEY).
pub mod key_id {
    /// The PIN (not a key; loaded by PUT KEY like one).
    pub const PIN: u8 = 0x00;
    /// Internal authentication (IRK): proves the card genuine.
    pub const INTERNAL: u8 = 0x01;
    /// Maintenance: external authentication before writes, MAC of
    /// maintenance commands (card-profile: writes need key `04`).
    pub const MAINTENANCE: u8 = 0x04;
    /// Read key "RKSSSE": external authentication before protected reads.
    pub const READ: u8 = 0x0A;
    /// PIN unblock (PUK).
    pub const PIN_UNBLOCK: u8 = 0x0B;
    /// PIN reload.
    pub const PIN_RELOAD: u8 = 0x0C;
    /// Every key a personalized card holds.
    pub const ALL_KEYS: [u8; 5] = [INTERNAL, MAINTENANCE, READ, PIN_UNBLOCK, PIN_RELOAD];
}

/// Instruction codes.
pub mod ins {
    /// SELECT.
    pub const SELECT: u8 = 0xA4;
    /// READ BINARY.
    pub const READ_BINARY: u8 = 0xB0;
    /// READ RECORD.
    pub const READ_RECORD: u8 = 0xB2;
    /// UPDATE BINARY.
    pub const UPDATE_BINARY: u8 = 0xD6;
    /// UPDATE RECORD.
    pub const UPDATE_RECORD: u8 = 0xDC;
    /// GET CHALLENGE.
    pub const GET_CHALLENGE: u8 = 0x84;
    /// INTERNAL AUTHENTICATE.
    pub const INTERNAL_AUTHENTICATE: u8 = 0x88;
    /// EXTERNAL AUTHENTICATE.
    pub const EXTERNAL_AUTHENTICATE: u8 = 0x82;
    /// VERIFY (PIN).
    pub const VERIFY: u8 = 0x20;
    /// CHANGE PIN (`80 5E 01 00`).
    pub const CHANGE_PIN: u8 = 0x5E;
    /// PIN reload (`P2 = 01`) and unblock (`P2 = 02`), under secure messaging.
    pub const PIN_RESET: u8 = 0x24;
    /// APPLICATION BLOCK.
    pub const APPLICATION_BLOCK: u8 = 0x1E;
    /// APPLICATION UNBLOCK.
    pub const APPLICATION_UNBLOCK: u8 = 0x18;
    /// CARD BLOCK.
    pub const CARD_BLOCK: u8 = 0x16;
    /// GET DATA (the chip's transport public key, tag `DF01`).
    pub const GET_DATA: u8 = 0xCA;
    /// PUT KEY (personalization: an SM2 envelope to the chip).
    pub const PUT_KEY: u8 = 0xD4;
    /// END PERSONALIZATION.
    pub const END_PERSONALIZATION: u8 = 0xE6;
    /// PSAM: initialize a diversified computation (`BF DE`).
    pub const PSAM_INIT: u8 = 0xDE;
    /// PSAM: encrypt (P1 `00`) or MAC (P1 `05`) under the current key (`80 FA`).
    pub const PSAM_COMPUTE: u8 = 0xFA;
}

/// P2 of PIN reload under secure messaging.
pub const PIN_RELOAD_P2: u8 = 0x01;
/// P2 of PIN unblock under secure messaging.
pub const PIN_UNBLOCK_P2: u8 = 0x02;
/// Tries before the PIN blocks.
pub const PIN_TRIES: u8 = 3;

/// The block cipher of a card, as SELECT names it in `9F0C` / `86`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardAlgorithm {
    /// SM4 (third-generation cards): `86 01 03`.
    Sm4,
    /// 3DES (older cards): `86 01 01`, or no tag.
    #[serde(rename = "3des")]
    Tdes,
}

impl CardAlgorithm {
    /// The value of tag `86`.
    pub fn tag_value(self) -> u8 {
        match self {
            Self::Sm4 => 0x03,
            Self::Tdes => 0x01,
        }
    }

    /// The algorithm of a tag `86` value; a card without the tag is 3DES.
    pub fn from_tag_value(value: Option<u8>) -> Option<Self> {
        match value {
            Some(0x03) => Some(Self::Sm4),
            Some(0x01) | None => Some(Self::Tdes),
            _ => None,
        }
    }

    /// The `sscard-gm` block algorithm.
    pub fn block(self) -> sscard_gm::BlockAlgorithm {
        match self {
            Self::Sm4 => sscard_gm::BlockAlgorithm::Sm4,
            Self::Tdes => sscard_gm::BlockAlgorithm::Tdes,
        }
    }
}

/// Whether `code` is a 6-digit region code (行政区划).
pub fn is_region(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// The city diversification factor: the ASCII region code then `sx`.
pub fn city_factor(region: &str) -> [u8; 8] {
    let mut factor = [0u8; 8];
    for (slot, b) in factor.iter_mut().zip(region.bytes().chain(*b"sx")) {
        *slot = b;
    }
    factor
}

/// Packs decimal digits as BCD, right-padding an odd count with `F`.
pub fn bcd(digits: &str) -> Option<Vec<u8>> {
    let nibbles: Vec<u8> = digits
        .bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect::<Option<_>>()?;
    Some(
        nibbles
            .chunks(2)
            .map(|pair| match pair {
                [hi, lo] => (hi << 4) | lo,
                [hi] => (hi << 4) | 0x0F,
                _ => 0xFF,
            })
            .collect(),
    )
}

/// The decimal digits of BCD, stopping at the first `F` nibble.
pub fn unbcd(bytes: &[u8]) -> Option<String> {
    let mut out = String::new();
    for nibble in bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]) {
        match nibble {
            0..=9 => out.push(char::from(b'0' + nibble)),
            0x0F => break,
            _ => return None,
        }
    }
    Some(out)
}

/// The 卡识别码: BCD region (3 bytes) ‖ `D156000005` ‖ the 8-byte card factor.
pub fn card_id(region: &str, card_factor: &[u8; 8]) -> Option<[u8; 16]> {
    if !is_region(region) {
        return None;
    }
    let mut id = [0u8; 16];
    let parts = bcd(region)?
        .into_iter()
        .chain([0xD1, 0x56, 0x00, 0x00, 0x05])
        .chain(*card_factor);
    for (slot, b) in id.iter_mut().zip(parts) {
        *slot = b;
    }
    Some(id)
}

/// The region code of a 卡识别码.
pub fn region_of(card_id: &[u8]) -> Option<String> {
    unbcd(card_id.get(..3)?).filter(|r| is_region(r))
}

/// The card factor of a 卡识别码 (its last 8 bytes).
pub fn card_factor_of(card_id: &[u8]) -> Option<[u8; 8]> {
    card_id.get(8..16)?.try_into().ok()
}

/// The ATR of a virtual card: T=1 (`3B 8C 80 01`), then 12 historical
/// bytes, `SSC` and the generation digit then the card factor, then TCK. The
/// card factor is the last 8 historical bytes (before TCK).
pub fn atr(card_factor: &[u8; 8], generation: u8) -> Vec<u8> {
    let mut atr = vec![
        0x3B,
        0x8C,
        0x80,
        0x01,
        b'S',
        b'S',
        b'C',
        b'0' + generation % 10,
    ];
    atr.extend_from_slice(card_factor);
    let tck = atr.iter().skip(1).fold(0u8, |acc, b| acc ^ b);
    atr.push(tck);
    atr
}

/// The card factor carried by an ATR of [`atr`].
pub fn card_factor_of_atr(atr: &[u8]) -> Option<[u8; 8]> {
    let end = atr.len().checked_sub(1)?;
    atr.get(end.checked_sub(8)?..end)?.try_into().ok()
}

/// SFI of the PSAM file holding the terminal number.
pub const EF_TERMINAL_NO: u8 = 0x16;

/// The PSAM key type (low 5 bits of the key-usage byte) of each card key.
pub fn key_type(id: u8) -> Option<u8> {
    match id {
        key_id::INTERNAL | key_id::READ => Some(8),
        key_id::MAINTENANCE => Some(5),
        key_id::PIN_UNBLOCK => Some(3),
        key_id::PIN_RELOAD => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn card_identifier_and_factors() {
        assert_eq!(city_factor("330300"), *b"330300sx");
        let id = card_id("330300", &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        assert_eq!(hex::encode_upper(id), "330300D1560000050102030405060708");
        assert_eq!(region_of(&id).as_deref(), Some("330300"));
        assert_eq!(card_factor_of(&id), Some([1, 2, 3, 4, 5, 6, 7, 8]));
        assert!(card_id("33030", &[0; 8]).is_none());
        let a = atr(&[9; 8], 3);
        assert_eq!(card_factor_of_atr(&a), Some([9; 8]));
        assert_eq!(a.iter().skip(1).fold(0u8, |x, b| x ^ b), 0, "TCK");
    }

    proptest! {
        #[test]
        fn bcd_round_trips(digits in "[0-9]{0,20}") {
            prop_assert_eq!(unbcd(&bcd(&digits).unwrap()).unwrap(), digits);
        }
    }
}
