//! Key derivation on SM3: the KDF of GB/T 32918.4-2016 §5.4.3 (used by SM2
//! encryption and key exchange) and PBKDF2-HMAC-SM3 (RFC 8018) for passwords.

use sm3::{Digest, Sm3};
use zeroize::Zeroizing;

use crate::sm3::DIGEST_LEN;
use crate::{Error, Result};

/// GB/T 32918.4 KDF: `Hv(Z ‖ ct)` for a 32-bit big-endian counter `ct` from 1,
/// concatenated and cut to `len` bytes.
///
/// ```
/// let k = sscard_gm::kdf::sm3_kdf(b"shared secret", 40).unwrap();
/// assert_eq!(k.len(), 40);
/// assert_eq!(&k[..32], &sscard_gm::sm3::digest(b"shared secret\x00\x00\x00\x01"));
/// ```
pub fn sm3_kdf(z: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    // The counter is 32 bits: at most (2^32 - 1) digests (§5.4.3).
    let blocks = len.div_ceil(DIGEST_LEN);
    if len == 0 || u32::try_from(blocks).is_err() {
        return Err(Error::KdfLength);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(blocks * DIGEST_LEN));
    for counter in 1..=blocks {
        let counter = u32::try_from(counter).map_err(|_| Error::KdfLength)?;
        let mut h = Sm3::new();
        h.update(z);
        h.update(counter.to_be_bytes());
        out.extend_from_slice(&h.finalize());
    }
    out.truncate(len);
    Ok(out)
}

/// PBKDF2-HMAC-SM3 (RFC 8018 §5.2) into `out`.
///
/// # Errors
/// [`Error::KdfRounds`] for zero rounds; [`Error::KdfLength`] for an empty `out`.
///
/// ```
/// let mut a = [0u8; 32];
/// let mut b = [0u8; 32];
/// sscard_gm::kdf::pbkdf2_hmac_sm3(b"password", b"salt", 1000, &mut a).unwrap();
/// sscard_gm::kdf::pbkdf2_hmac_sm3(b"password", b"salT", 1000, &mut b).unwrap();
/// assert_ne!(a, b);
/// ```
pub fn pbkdf2_hmac_sm3(password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) -> Result<()> {
    if rounds == 0 {
        return Err(Error::KdfRounds);
    }
    if out.is_empty() {
        return Err(Error::KdfLength);
    }
    pbkdf2::pbkdf2_hmac::<Sm3>(password, salt, rounds, out);
    Ok(())
}
