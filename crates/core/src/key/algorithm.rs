//! The algorithms a platform key can have.

use serde::{Deserialize, Serialize};

/// The algorithm of a key (`--alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// SM4, 16 bytes: every symmetric key of current cards.
    Sm4,
    /// Double-length 3DES, 16 bytes: cards of the older generation.
    #[serde(rename = "3des")]
    Tdes,
    /// An SM2 key pair.
    Sm2,
    /// An HMAC-SM3 key, 32 bytes.
    HmacSm3,
}

impl KeyAlgorithm {
    /// Every algorithm.
    pub const ALL: [KeyAlgorithm; 4] = [Self::Sm4, Self::Tdes, Self::Sm2, Self::HmacSm3];

    /// The name used in commands and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sm4 => "sm4",
            Self::Tdes => "3des",
            Self::Sm2 => "sm2",
            Self::HmacSm3 => "hmac-sm3",
        }
    }

    /// Parses a name of [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Length of the secret material of a new key, in bytes.
    pub fn secret_len(self) -> usize {
        match self {
            Self::Sm4 | Self::Tdes => 16,
            Self::Sm2 | Self::HmacSm3 => 32,
        }
    }
}
