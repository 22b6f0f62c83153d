//! SM4 in ECB mode: for single-block key operations and interoperability, not
//! for data (identical blocks give identical ciphertext).

use cipher::KeyInit;

use super::{decrypt_padded, encrypt_padded, Padding, Sm4Key};
use crate::Result;

type Enc = ecb::Encryptor<sm4::Sm4>;
type Dec = ecb::Decryptor<sm4::Sm4>;

/// Encrypts in ECB mode.
///
/// GB/T 32907-2016 Appendix A.1:
/// ```
/// use sscard_gm::sm4::{ecb_encrypt, Padding, Sm4Key};
/// let key = Sm4Key::from_slice(&hex::decode("0123456789abcdeffedcba9876543210").unwrap()).unwrap();
/// let ct = ecb_encrypt(&key, key.expose_secret(), Padding::None).unwrap();
/// assert_eq!(hex::encode(ct), "681edf34d206965e86b3e94f536e4246");
/// ```
pub fn ecb_encrypt(key: &Sm4Key, data: &[u8], padding: Padding) -> Result<Vec<u8>> {
    encrypt_padded(Enc::new(key.expose_secret().into()), data, padding)
}

/// Decrypts in ECB mode, removing PKCS#7 padding if asked.
pub fn ecb_decrypt(key: &Sm4Key, data: &[u8], padding: Padding) -> Result<Vec<u8>> {
    decrypt_padded(Dec::new(key.expose_secret().into()), data, padding)
}
