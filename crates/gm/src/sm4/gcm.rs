//! SM4-GCM (RFC 8998 §3.1): 12-byte IV, 16-byte tag appended to the
//! ciphertext, optional additional authenticated data.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::AesGcm;
use cipher::consts::U12;

use super::Sm4Key;
use crate::{Error, Result};

/// Length of the GCM initial value in bytes.
pub const GCM_IV_LEN: usize = 12;
/// Length of the GCM authentication tag in bytes.
pub const GCM_TAG_LEN: usize = 16;

type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

fn keyed(key: &Sm4Key) -> Sm4Gcm {
    Sm4Gcm::from(key.cipher())
}

/// Encrypts and authenticates; returns ciphertext ‖ tag.
///
/// ```
/// use sscard_gm::sm4::{gcm_decrypt, gcm_encrypt, Sm4Key};
/// let key = Sm4Key::from_slice(&[5; 16]).unwrap();
/// let sealed = gcm_encrypt(&key, &[0; 12], b"record-id", b"secret").unwrap();
/// assert_eq!(sealed.len(), 6 + 16);
/// assert!(gcm_decrypt(&key, &[0; 12], b"other-id", &sealed).is_err());
/// ```
pub fn gcm_encrypt(key: &Sm4Key, iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = nonce(iv)?;
    keyed(key)
        .encrypt(
            nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::OutputLength {
            max: 1 << 36,
            actual: plaintext.len(),
        })
}

/// Checks the tag (in constant time) and decrypts; input is ciphertext ‖ tag.
pub fn gcm_decrypt(key: &Sm4Key, iv: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    let nonce = nonce(iv)?;
    if sealed.len() < GCM_TAG_LEN {
        return Err(Error::AuthenticationFailed);
    }
    keyed(key)
        .decrypt(nonce, Payload { msg: sealed, aad })
        .map_err(|_| Error::AuthenticationFailed)
}

fn nonce(iv: &[u8]) -> Result<&aes_gcm::Nonce<U12>> {
    iv.try_into().map_err(|_| Error::IvLength {
        expected: GCM_IV_LEN,
        actual: iv.len(),
    })
}
