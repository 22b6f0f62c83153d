//! SM2 public-key encryption (GB/T 32918.4-2016) in the three layouts met
//! in practice: C1 ‖ C3 ‖ C2 (the 2016 standard), C1 ‖ C2 ‖ C3 (the 2010
//! draft, still used by older systems), and the DER form of GM/T 0009-2012
//! §7.2, `SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }`,
//! which OpenSSL reads and writes. C1 is always `04 ‖ x ‖ y`.

use der::{Decode, Encode};
use sm2::pke::{Cipher, DecryptingKey, EncryptingKey, Mode};
use zeroize::Zeroizing;

use super::{Sm2PrivateKey, Sm2PublicKey};
use crate::{Error, Result};

/// How an SM2 ciphertext is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CiphertextFormat {
    /// GM/T 0009 DER, as OpenSSL writes it.
    #[default]
    Der,
    /// C1 ‖ C3 ‖ C2.
    C1C3C2,
    /// C1 ‖ C2 ‖ C3.
    C1C2C3,
}

/// Encrypts `message` (not empty) to `public_key`.
///
/// ```
/// use sscard_gm::sm2::{decrypt, encrypt, CiphertextFormat, Sm2PrivateKey};
/// let key = Sm2PrivateKey::generate().unwrap();
/// let ct = encrypt(&key.public_key(), b"PIN block", CiphertextFormat::C1C3C2).unwrap();
/// assert_eq!(ct.len(), 65 + 32 + 9);
/// assert_eq!(decrypt(&key, &ct, CiphertextFormat::C1C3C2).unwrap().as_slice(), b"PIN block");
/// ```
pub fn encrypt(
    public_key: &Sm2PublicKey,
    message: &[u8],
    format: CiphertextFormat,
) -> Result<Vec<u8>> {
    if message.is_empty() {
        return Err(Error::EmptyMessage);
    }
    let key = EncryptingKey::new_with_mode(*public_key.inner(), Mode::C1C3C2);
    let raw = key
        .encrypt(&mut super::system_rng(), message)
        .map_err(|_| Error::Random)?;
    convert_ciphertext(&raw, CiphertextFormat::C1C3C2, format)
}

/// Decrypts a ciphertext of the given format. A ciphertext that cannot be
/// parsed gives [`Error::CiphertextEncoding`]; one whose C3 does not match
/// gives [`Error::DecryptionFailed`].
pub fn decrypt(
    key: &Sm2PrivateKey,
    ciphertext: &[u8],
    format: CiphertextFormat,
) -> Result<Zeroizing<Vec<u8>>> {
    let cipher = parse(ciphertext, format)?;
    let key = DecryptingKey::new_with_mode(key.inner().to_nonzero_scalar(), Mode::C1C3C2);
    key.decrypt_cipher(&cipher)
        .map(Zeroizing::new)
        .map_err(|_| Error::DecryptionFailed)
}

/// Re-encodes a ciphertext from one layout to another.
pub fn convert_ciphertext(
    ciphertext: &[u8],
    from: CiphertextFormat,
    to: CiphertextFormat,
) -> Result<Vec<u8>> {
    let cipher = parse(ciphertext, from)?;
    match to {
        CiphertextFormat::Der => cipher
            .to_der()
            .map_err(|_| Error::CiphertextEncoding("DER encoding failed")),
        CiphertextFormat::C1C3C2 => cipher
            .to_vec(Mode::C1C3C2, false)
            .map_err(|_| Error::CiphertextEncoding("encoding failed")),
        CiphertextFormat::C1C2C3 => cipher
            .to_vec(Mode::C1C2C3, false)
            .map_err(|_| Error::CiphertextEncoding("encoding failed")),
    }
}

const C1_LEN: usize = 65;
const C3_LEN: usize = 32;

fn parse(ciphertext: &[u8], format: CiphertextFormat) -> Result<Cipher<'_>> {
    let cipher = match format {
        CiphertextFormat::Der => Cipher::from_der(ciphertext)
            .map_err(|_| Error::CiphertextEncoding("not a GM/T 0009 DER SM2 ciphertext"))?,
        CiphertextFormat::C1C3C2 | CiphertextFormat::C1C2C3 => {
            if ciphertext.first() != Some(&0x04) {
                return Err(Error::CiphertextEncoding(
                    "C1 must be an uncompressed point (04 ‖ x ‖ y)",
                ));
            }
            if ciphertext.len() <= C1_LEN + C3_LEN {
                return Err(Error::CiphertextEncoding(
                    "shorter than C1 (65 bytes) + C3 (32 bytes) + at least one byte of C2",
                ));
            }
            let mode = match format {
                CiphertextFormat::C1C2C3 => Mode::C1C2C3,
                _ => Mode::C1C3C2,
            };
            Cipher::from_slice(ciphertext, mode)
                .map_err(|_| Error::CiphertextEncoding("C1 is not a point of the SM2 curve"))?
        }
    };
    if cipher.c2().is_empty() {
        return Err(Error::CiphertextEncoding("C2 is empty"));
    }
    Ok(cipher)
}
