//! The 3DES key type, for cards of the older generation.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Result};

/// A double-length (16-byte, K1‖K2) or triple-length (24-byte) 3DES key.
///
/// Parity bits are kept as given: card keys are compared by check value, and
/// diversification does not adjust parity. Zeroized on drop; `Debug` hides it.
///
/// ```
/// let key = sscard_gm::TdesKey::from_slice(&[0x22; 16]).unwrap();
/// assert_eq!(format!("{key:?}"), "TdesKey(<hidden>)");
/// assert!(sscard_gm::TdesKey::from_slice(&[0x22; 8]).is_err());
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TdesKey {
    bytes: [u8; 24],
    len: usize,
}

impl TdesKey {
    /// Block size of DES and 3DES in bytes.
    pub const BLOCK: usize = 8;

    /// Takes a key of 16 (two-key) or 24 (three-key) bytes.
    pub fn from_slice(key: &[u8]) -> Result<Self> {
        if key.len() != 16 && key.len() != 24 {
            return Err(Error::KeyLength {
                algorithm: "3DES",
                expected: "16 or 24 bytes",
                actual: key.len(),
            });
        }
        let mut bytes = [0u8; 24];
        for (b, k) in bytes.iter_mut().zip(key) {
            *b = *k;
        }
        Ok(Self {
            bytes,
            len: key.len(),
        })
    }

    /// The key bytes (16 or 24).
    pub fn expose_secret(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The first 8 bytes: the single-DES key K1 of a retail MAC.
    pub(crate) fn left(&self) -> &[u8] {
        self.bytes.get(..8).unwrap_or(&[])
    }
}

impl core::fmt::Debug for TdesKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TdesKey(<hidden>)")
    }
}
