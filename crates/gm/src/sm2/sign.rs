//! SM2 digital signatures (GB/T 32918.2-2016) with a user ID, encoded as DER
//! `SEQUENCE { r INTEGER, s INTEGER }` (GM/T 0009-2012 §7.3) or raw r ‖ s.

use sm2::dsa::signature::{RandomizedSigner, Verifier};
use sm2::dsa::{SigningKey, VerifyingKey};

use super::{Sm2PrivateKey, Sm2PublicKey};
use crate::{Error, Result};

/// How a signature is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureFormat {
    /// DER `SEQUENCE { r, s }`, as OpenSSL writes it.
    #[default]
    Der,
    /// r ‖ s, 32 bytes each (64 bytes).
    Raw,
}

/// An SM2 signature (r, s), both in [1, n−1].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(sm2::dsa::Signature);

impl Signature {
    /// Reads a signature in the given format.
    ///
    /// ```
    /// use sscard_gm::sm2::{Signature, SignatureFormat};
    /// assert!(Signature::parse(&[0x30, 0x06, 0x02, 0x01], SignatureFormat::Der).is_err());
    /// assert!(Signature::parse(&[1; 63], SignatureFormat::Raw).is_err());
    /// ```
    pub fn parse(bytes: &[u8], format: SignatureFormat) -> Result<Self> {
        match format {
            SignatureFormat::Der => sm2::dsa::Signature::from_der(bytes)
                .map(Self)
                .map_err(|_| Error::SignatureEncoding("not a DER SEQUENCE { r, s } of SM2")),
            SignatureFormat::Raw => sm2::dsa::Signature::from_slice(bytes)
                .map(Self)
                .map_err(|_| Error::SignatureEncoding("not 64 bytes r ‖ s with 0 < r, s < n")),
        }
    }

    /// Builds a signature from r and s (32 bytes each, big-endian).
    pub fn from_r_s(r: &[u8; 32], s: &[u8; 32]) -> Result<Self> {
        let mut raw = [0u8; 64];
        let (left, right) = raw.split_at_mut(32);
        left.copy_from_slice(r);
        right.copy_from_slice(s);
        Self::parse(&raw, SignatureFormat::Raw)
    }

    /// Writes the signature in the given format.
    pub fn encode(&self, format: SignatureFormat) -> Vec<u8> {
        match format {
            SignatureFormat::Der => self.0.to_der().to_bytes().to_vec(),
            SignatureFormat::Raw => self.0.to_bytes().to_vec(),
        }
    }

    /// r, 32 bytes big-endian.
    pub fn r(&self) -> [u8; 32] {
        self.0.r_bytes().into()
    }

    /// s, 32 bytes big-endian.
    pub fn s(&self) -> [u8; 32] {
        self.0.s_bytes().into()
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0.to_bytes()))
    }
}

/// Signs `message` for the signer identity `user_id` (A1–A7 of GB/T 32918.2
/// §6.1). The nonce k comes from RFC 6979 hedged with fresh randomness.
///
/// ```
/// use sscard_gm::sm2::{sign, verify, Sm2PrivateKey, DEFAULT_USER_ID};
/// let key = Sm2PrivateKey::generate().unwrap();
/// let sig = sign(&key, DEFAULT_USER_ID, b"card 330300").unwrap();
/// assert!(verify(&key.public_key(), DEFAULT_USER_ID, b"card 330300", &sig).is_ok());
/// assert!(verify(&key.public_key(), "another id", b"card 330300", &sig).is_err());
/// ```
pub fn sign(key: &Sm2PrivateKey, user_id: &str, message: &[u8]) -> Result<Signature> {
    let signer = SigningKey::new(user_id, key.inner()).map_err(|_| Error::UserIdTooLong)?;
    signer
        .try_sign_with_rng(&mut super::system_rng(), message)
        .map(Signature)
        .map_err(|_| Error::Random)
}

/// Verifies a signature (B1–B7 of GB/T 32918.2 §7.1).
pub fn verify(
    public_key: &Sm2PublicKey,
    user_id: &str,
    message: &[u8],
    signature: &Signature,
) -> Result<()> {
    let verifier =
        VerifyingKey::new(user_id, *public_key.inner()).map_err(|_| Error::UserIdTooLong)?;
    verifier
        .verify(message, &signature.0)
        .map_err(|_| Error::SignatureInvalid)
}
