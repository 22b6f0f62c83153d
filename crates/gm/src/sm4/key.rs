//! The SM4 key type.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Result};

/// An SM4 key (GB/T 32907-2016: 128 bits).
///
/// Zeroized on drop; its `Debug` shows nothing of the key.
///
/// ```
/// let key = sscard_gm::Sm4Key::from_slice(&[0x11; 16]).unwrap();
/// assert_eq!(format!("{key:?}"), "Sm4Key(<hidden>)");
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Sm4Key([u8; Sm4Key::LEN]);

impl Sm4Key {
    /// Length of an SM4 key in bytes.
    pub const LEN: usize = 16;

    /// Takes a key from 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let key: [u8; Self::LEN] = bytes.try_into().map_err(|_| Error::KeyLength {
            algorithm: "SM4",
            expected: "16 bytes",
            actual: bytes.len(),
        })?;
        Ok(Self(key))
    }

    /// The key bytes, for code that must hand them to a cipher or wrap them.
    pub fn expose_secret(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    pub(crate) fn cipher(&self) -> sm4::Sm4 {
        use cipher::KeyInit;
        sm4::Sm4::new(&self.0.into())
    }
}

impl core::fmt::Debug for Sm4Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Sm4Key(<hidden>)")
    }
}
