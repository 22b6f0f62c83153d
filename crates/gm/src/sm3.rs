//! SM3 (GB/T 32905-2016) and HMAC-SM3 (RFC 2104 over SM3).

use hmac::{KeyInit, Mac};
use sm3::{Digest, Sm3};

use crate::{ct_eq, Error, Result};

/// Length of an SM3 digest in bytes.
pub const DIGEST_LEN: usize = 32;

/// The SM3 digest of `data`.
///
/// GB/T 32905-2016 Appendix A, example 1:
/// ```
/// assert_eq!(
///     hex::encode(sscard_gm::sm3::digest(b"abc")),
///     "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
/// );
/// ```
pub fn digest(data: &[u8]) -> [u8; DIGEST_LEN] {
    Sm3::digest(data).into()
}

/// An incremental SM3 computation, for data read in pieces.
#[derive(Clone, Default)]
pub struct Hasher(Sm3);

impl Hasher {
    /// Starts a new digest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds data.
    pub fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.0, data);
    }

    /// Finishes and returns the digest.
    pub fn finalize(self) -> [u8; DIGEST_LEN] {
        self.0.finalize().into()
    }
}

type HmacSm3 = hmac::Hmac<Sm3>;

/// HMAC-SM3 of `data` under `key` (any length; long keys are hashed first).
///
/// ```
/// let tag = sscard_gm::sm3::hmac(b"key", b"data");
/// assert!(sscard_gm::sm3::hmac_verify(b"key", b"data", &tag).is_ok());
/// assert!(sscard_gm::sm3::hmac_verify(b"key", b"datA", &tag).is_err());
/// ```
pub fn hmac(key: &[u8], data: &[u8]) -> [u8; DIGEST_LEN] {
    hmac_parts(key, &[data])
}

/// HMAC-SM3 over the concatenation of `parts`, without copying them together.
pub fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; DIGEST_LEN] {
    // HMAC takes keys of every length, so construction cannot fail; the
    // fallback keeps this function total without a panic path.
    let mut mac = match HmacSm3::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => HmacSm3::new(&Default::default()),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Checks an HMAC-SM3 tag in constant time.
pub fn hmac_verify(key: &[u8], data: &[u8], tag: &[u8]) -> Result<()> {
    if ct_eq(&hmac(key, data), tag) {
        Ok(())
    } else {
        Err(Error::AuthenticationFailed)
    }
}
