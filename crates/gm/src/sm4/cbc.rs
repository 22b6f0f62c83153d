//! SM4 in CBC mode with a 16-byte IV.

use cipher::KeyIvInit;

use super::{decrypt_padded, encrypt_padded, Padding, Sm4Key, BLOCK_LEN};
use crate::{Error, Result};

type Enc = cbc::Encryptor<sm4::Sm4>;
type Dec = cbc::Decryptor<sm4::Sm4>;

/// Encrypts in CBC mode.
///
/// ```
/// use sscard_gm::sm4::{cbc_decrypt, cbc_encrypt, Padding, Sm4Key};
/// let key = Sm4Key::from_slice(&[7; 16]).unwrap();
/// let ct = cbc_encrypt(&key, &[0; 16], b"social security", Padding::Pkcs7).unwrap();
/// assert_eq!(ct.len(), 16);
/// assert_eq!(cbc_decrypt(&key, &[0; 16], &ct, Padding::Pkcs7).unwrap(), b"social security");
/// ```
pub fn cbc_encrypt(key: &Sm4Key, iv: &[u8], data: &[u8], padding: Padding) -> Result<Vec<u8>> {
    let mode = Enc::new(key.expose_secret().into(), iv_array(iv)?);
    encrypt_padded(mode, data, padding)
}

/// Decrypts in CBC mode, removing PKCS#7 padding if asked.
pub fn cbc_decrypt(key: &Sm4Key, iv: &[u8], data: &[u8], padding: Padding) -> Result<Vec<u8>> {
    let mode = Dec::new(key.expose_secret().into(), iv_array(iv)?);
    decrypt_padded(mode, data, padding)
}

fn iv_array(iv: &[u8]) -> Result<&cipher::Iv<Enc>> {
    iv.try_into().map_err(|_| Error::IvLength {
        expected: BLOCK_LEN,
        actual: iv.len(),
    })
}
