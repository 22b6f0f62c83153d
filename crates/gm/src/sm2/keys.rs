//! SM2 key pairs: private keys as PKCS#8 (RFC 5958) and public keys as SPKI
//! (RFC 5280), in PEM or DER, in the form OpenSSL 3 writes for
//! `openssl genpkey -algorithm SM2` (algorithm id-ecPublicKey, parameters
//! the SM2 curve OID 1.2.156.10197.1.301).

use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sm2::{PublicKey, SecretKey};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// An SM2 private key. Zeroized on drop (by `sm2::SecretKey`); `Debug`
/// shows only the public key.
///
/// ```
/// use sscard_gm::sm2::Sm2PrivateKey;
/// let key = Sm2PrivateKey::generate().unwrap();
/// let pem = key.to_pkcs8_pem().unwrap();
/// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
/// let again = Sm2PrivateKey::from_pem_or_der(pem.as_bytes()).unwrap();
/// assert_eq!(again.public_key(), key.public_key());
/// assert!(!format!("{key:?}").contains(&hex::encode(key.expose_scalar().as_slice())));
/// ```
#[derive(Clone)]
pub struct Sm2PrivateKey(SecretKey);

impl Sm2PrivateKey {
    /// A new key from the system random generator.
    pub fn generate() -> Result<Self> {
        use sm2::elliptic_curve::Generate;
        SecretKey::try_generate_from_rng(&mut super::system_rng())
            .map(Self)
            .map_err(|_| Error::Random)
    }

    /// Reads a 32-byte private scalar (1 ≤ d ≤ n−2).
    pub fn from_scalar_bytes(bytes: &[u8]) -> Result<Self> {
        SecretKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| Error::KeyEncoding("not a private scalar of the SM2 curve"))
    }

    /// Reads PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        SecretKey::from_pkcs8_der(der)
            .map(Self)
            .map_err(|_| Error::KeyEncoding("not an SM2 private key in PKCS#8 DER"))
    }

    /// Reads PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        SecretKey::from_pkcs8_pem(pem)
            .map(Self)
            .map_err(|_| Error::KeyEncoding("not an SM2 private key in PKCS#8 PEM"))
    }

    /// Reads a key file's contents: PKCS#8 (`PRIVATE KEY`) or SEC1
    /// (`EC PRIVATE KEY`, which `openssl pkey -outform DER` writes), PEM if it
    /// looks like PEM, else DER.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self> {
        let key = match pem_text(bytes) {
            Some(pem) => SecretKey::from_pem(pem).ok(),
            None => SecretKey::from_der(bytes).ok(),
        };
        key.map(Self).ok_or(Error::KeyEncoding(
            "not an SM2 private key in PKCS#8 or SEC1, PEM or DER",
        ))
    }

    /// Writes PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.0
            .to_pkcs8_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|_| Error::KeyEncoding("PKCS#8 encoding failed"))
    }

    /// Writes PKCS#8 PEM with LF line endings, as OpenSSL does.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| Zeroizing::new(pem.to_string()))
            .map_err(|_| Error::KeyEncoding("PKCS#8 encoding failed"))
    }

    /// The public key of this private key.
    pub fn public_key(&self) -> Sm2PublicKey {
        Sm2PublicKey(self.0.public_key())
    }

    /// The private scalar d, big-endian.
    pub fn expose_scalar(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes().into())
    }

    pub(crate) fn inner(&self) -> &SecretKey {
        &self.0
    }
}

impl core::fmt::Debug for Sm2PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sm2PrivateKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// An SM2 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct Sm2PublicKey(PublicKey);

impl Sm2PublicKey {
    /// Reads SPKI DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        PublicKey::from_public_key_der(der)
            .map(Self)
            .map_err(|_| Error::KeyEncoding("not an SM2 public key in SPKI DER"))
    }

    /// Reads SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self> {
        PublicKey::from_public_key_pem(pem)
            .map(Self)
            .map_err(|_| Error::KeyEncoding("not an SM2 public key in SPKI PEM"))
    }

    /// Reads a key file's contents: PEM if it looks like PEM, else DER.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self> {
        match pem_text(bytes) {
            Some(pem) => Self::from_spki_pem(pem),
            None => Self::from_spki_der(bytes),
        }
    }

    /// Reads an uncompressed (`04 ‖ x ‖ y`) or compressed SEC1 point.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self> {
        PublicKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| Error::KeyEncoding("not a point of the SM2 curve"))
    }

    /// Writes SPKI DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        self.0
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .map_err(|_| Error::KeyEncoding("SPKI encoding failed"))
    }

    /// Writes SPKI PEM with LF line endings.
    pub fn to_spki_pem(&self) -> Result<String> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| Error::KeyEncoding("SPKI encoding failed"))
    }

    /// The point as `04 ‖ x ‖ y` (65 bytes).
    pub fn to_sec1_uncompressed(&self) -> Vec<u8> {
        self.0.as_affine().to_sec1_point(false).as_bytes().to_vec()
    }

    pub(crate) fn inner(&self) -> &PublicKey {
        &self.0
    }
}

impl core::fmt::Debug for Sm2PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Sm2PublicKey({})",
            hex::encode(self.to_sec1_uncompressed())
        )
    }
}

/// The text of a PEM file, if the bytes are one (after optional whitespace).
fn pem_text(bytes: &[u8]) -> Option<&str> {
    let text = core::str::from_utf8(bytes).ok()?;
    text.trim_start().starts_with("-----BEGIN ").then_some(text)
}
