//! SM4 in CTR mode: a 16-byte initial counter block incremented as one
//! 128-bit big-endian number, as OpenSSL's `sm4-ctr` does.

use cipher::{KeyIvInit, StreamCipher};

use super::{Sm4Key, BLOCK_LEN};
use crate::{Error, Result};

type Ctr = ctr::Ctr128BE<sm4::Sm4>;

/// Encrypts or decrypts (the same operation) in CTR mode.
///
/// ```
/// use sscard_gm::sm4::{ctr_apply, Sm4Key};
/// let key = Sm4Key::from_slice(&[9; 16]).unwrap();
/// let ct = ctr_apply(&key, &[1; 16], b"any length").unwrap();
/// assert_eq!(ctr_apply(&key, &[1; 16], &ct).unwrap(), b"any length");
/// ```
pub fn ctr_apply(key: &Sm4Key, iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let iv: &cipher::Iv<Ctr> = iv.try_into().map_err(|_| Error::IvLength {
        expected: BLOCK_LEN,
        actual: iv.len(),
    })?;
    let mut ctr = Ctr::new(key.expose_secret().into(), iv);
    let mut out = data.to_vec();
    ctr.try_apply_keystream(&mut out)
        .map_err(|_| Error::OutputLength {
            max: usize::MAX,
            actual: data.len(),
        })?;
    Ok(out)
}
