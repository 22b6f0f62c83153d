//! SM2 key pairs: private keys as PKCS#8 (RFC 5958) and public keys as SPKI
//! (RFC 5280), in PEM or DER, written in the form OpenSSL 3 writes for
//! `openssl genpkey -algorithm SM2` (algorithm id-ecPublicKey, parameters
//! the SM2 curve OID 1.2.156.10197.1.301).
//!
//! Every form OpenSSL and the other SM2 toolkits write is read: PKCS#8 or SEC1
//! (`PRIVATE KEY`, `EC PRIVATE KEY`, `SM2 PRIVATE KEY`), the SM2 OID as the
//! AlgorithmIdentifier, explicit curve parameters equal to SM2's,
//! compressed, uncompressed and hybrid points, PEM with text around its
//! blocks, CRLF line endings and several blocks. Every key read is checked
//! as GB/T 32918.1 asks: d ∈ [1, n − 2] (§6.1), the public key by §6.2 a–d.

use sm2::elliptic_curve::PrimeField;
use sm2::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use sm2::{NonZeroScalar, PublicKey, Scalar, SecretKey};
use zeroize::Zeroizing;

use super::keyfile::{self, Layout, PrivateParts};
use super::pem::{self, Fault};
use super::point;
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
    /// A new key from the system random generator, d uniform in [1, n − 2]
    /// (GB/T 32918.1 §6.1).
    ///
    /// # Errors
    /// [`Error::Random`] if the system random generator fails.
    pub fn generate() -> Result<Self> {
        use sm2::elliptic_curve::Generate;
        // The generator gives d in [1, n − 1]; d = n − 1 (chance 2⁻²⁵⁶) is
        // drawn again. Eight draws of n − 1 in a row mean a broken generator.
        for _ in 0..8 {
            let key = SecretKey::try_generate_from_rng(&mut super::system_rng())
                .map_err(|_| Error::Random)?;
            let d = Zeroizing::new(<[u8; 32]>::from(key.to_bytes()));
            if let Ok(key) = Self::from_secret(&d) {
                return Ok(key);
            }
        }
        Err(Error::Random)
    }

    /// Reads the private scalar d, big-endian: 32 bytes, or fewer with the
    /// leading zero bytes left out.
    ///
    /// # Errors
    /// [`Error::KeyLength`] if `bytes` is empty or longer than 32 bytes;
    /// [`Error::PrivateKeyRange`] if d is not in [1, n − 2] (GB/T 32918.1 §6.1).
    ///
    /// ```
    /// use sscard_gm::{sm2::Sm2PrivateKey, Error};
    /// let n_minus_1 = hex::decode("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54122").unwrap();
    /// assert!(matches!(Sm2PrivateKey::from_scalar_bytes(&n_minus_1), Err(Error::PrivateKeyRange(_))));
    /// assert!(Sm2PrivateKey::from_scalar_bytes(&[1]).is_ok());
    /// ```
    pub fn from_scalar_bytes(bytes: &[u8]) -> Result<Self> {
        let mut d = Zeroizing::new([0u8; 32]);
        let offset = 32usize
            .checked_sub(bytes.len())
            .filter(|_| !bytes.is_empty())
            .ok_or(Error::KeyLength {
                algorithm: "SM2 private",
                expected: "1 to 32 bytes (the scalar d, big-endian)",
                actual: bytes.len(),
            })?;
        if let Some(tail) = d.get_mut(offset..) {
            tail.copy_from_slice(bytes);
        }
        Self::from_secret(&d)
    }

    /// Reads PKCS#8 DER, its algorithm id-ecPublicKey with the SM2 curve
    /// (explicit parameters too, if they are SM2's) or the SM2 OID itself.
    ///
    /// # Errors
    /// [`Error::KeyEncoding`] if it is not PKCS#8 DER of an EC key (a SEC1
    /// key included); [`Error::EncryptedKey`] for an EncryptedPrivateKeyInfo;
    /// [`Error::NotSm2`] for another algorithm or curve;
    /// [`Error::PrivateKeyRange`] if d is not in [1, n − 2];
    /// [`Error::PublicKeyInvalid`] or [`Error::KeyMismatch`] if the public
    /// key stored with it is not a valid point or not \[d\]G.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        Self::from_parts(keyfile::private_key(der)?, Some(Layout::Pkcs8))
    }

    /// Reads PKCS#8 PEM: the first private-key block of the text, which
    /// must hold PKCS#8 (`-----BEGIN PRIVATE KEY-----`); text around the
    /// blocks is skipped (RFC 7468 §2).
    ///
    /// # Errors
    /// As [`from_pkcs8_der`](Self::from_pkcs8_der), and
    /// [`Error::KeyEncoding`] if the text holds no private-key block or a
    /// block that is not base64.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        Self::from_pem(pem.as_bytes(), Some(Layout::Pkcs8))
    }

    /// Reads a key file's contents, PEM if it holds a `-----BEGIN` line,
    /// else DER: PKCS#8 or SEC1 (which `openssl pkey -outform DER` and
    /// `openssl ec` write), under the labels `PRIVATE KEY`, `EC PRIVATE KEY`
    /// or `SM2 PRIVATE KEY`. In PEM the first private-key block is read;
    /// `EC PARAMETERS` / `SM2 PARAMETERS` blocks must name SM2 and are
    /// otherwise skipped, as are other blocks and text.
    ///
    /// # Errors
    /// [`Error::EncryptedKey`] for an encrypted key (`ENCRYPTED PRIVATE
    /// KEY`, or `Proc-Type: 4,ENCRYPTED`); otherwise as
    /// [`from_pkcs8_der`](Self::from_pkcs8_der).
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self> {
        if pem::looks_like_pem(bytes) {
            Self::from_pem(bytes, None)
        } else {
            Self::from_parts(keyfile::private_key(bytes)?, None)
        }
    }

    fn from_pem(bytes: &[u8], layout: Option<Layout>) -> Result<Self> {
        let mut public = false;
        for block in pem::blocks(bytes) {
            match block.label.as_str() {
                "PRIVATE KEY" | "EC PRIVATE KEY" | "SM2 PRIVATE KEY" => {
                    if block.encrypted {
                        return Err(Error::EncryptedKey);
                    }
                    let der = block
                        .der()
                        .map_err(|f| Error::KeyEncoding(private_pem(f)))?;
                    return Self::from_parts(keyfile::private_key(&der)?, layout);
                }
                "ENCRYPTED PRIVATE KEY" => return Err(Error::EncryptedKey),
                "EC PARAMETERS" | "SM2 PARAMETERS" => parameters(&block)?,
                "PUBLIC KEY" => public = true,
                _ => {}
            }
        }
        Err(Error::KeyEncoding(if public {
            "the PEM holds a public key, not a private key"
        } else {
            "the PEM holds no private key (no PRIVATE KEY, EC PRIVATE KEY or SM2 PRIVATE KEY block)"
        }))
    }

    fn from_parts(parts: PrivateParts, layout: Option<Layout>) -> Result<Self> {
        if layout.is_some_and(|l| l != parts.layout) {
            return Err(Error::KeyEncoding(
                "the private key is SEC1 (EC PRIVATE KEY), not PKCS#8",
            ));
        }
        let key = Self::from_secret(&parts.scalar)?;
        if parts.public.is_some_and(|p| p != key.0.public_key()) {
            return Err(Error::KeyMismatch);
        }
        Ok(key)
    }

    /// The one door of every private key: d ∈ [1, n − 2] (GB/T 32918.1 §6.1).
    /// d = n − 1 is refused because 1 + d ≡ 0 has no inverse, which signing
    /// needs (GB/T 32918.2 §6.1 A6). Constant time in d but for the verdict.
    fn from_secret(d: &[u8; 32]) -> Result<Self> {
        let scalar = Option::<Scalar>::from(Scalar::from_repr((*d).into()))
            .ok_or(Error::PrivateKeyRange("d ≥ n"))?;
        if bool::from(scalar.is_zero()) {
            return Err(Error::PrivateKeyRange("d = 0"));
        }
        if bool::from((scalar + Scalar::ONE).is_zero()) {
            return Err(Error::PrivateKeyRange(
                "d = n − 1, for which 1 + d has no inverse mod n",
            ));
        }
        Option::<NonZeroScalar>::from(NonZeroScalar::new(scalar))
            .map(|d| Self(SecretKey::from(d)))
            .ok_or(Error::PrivateKeyRange("d = 0"))
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
    /// Reads SPKI DER, its algorithm id-ecPublicKey with the SM2 curve
    /// (explicit parameters too, if they are SM2's) or the SM2 OID itself;
    /// the point compressed, uncompressed or hybrid.
    ///
    /// # Errors
    /// [`Error::KeyEncoding`] if it is not SPKI DER (a private key is named
    /// as such); [`Error::NotSm2`] for another algorithm or curve;
    /// [`Error::PublicKeyInvalid`] if the point fails GB/T 32918.1 §6.2.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        keyfile::public_key(der).map(Self)
    }

    /// Reads SPKI PEM: the first `-----BEGIN PUBLIC KEY-----` block of the
    /// text; parameter blocks must name SM2, other blocks and text are skipped.
    ///
    /// # Errors
    /// As [`from_spki_der`](Self::from_spki_der), and [`Error::KeyEncoding`]
    /// if the text holds no public-key block or one that is not base64.
    pub fn from_spki_pem(pem: &str) -> Result<Self> {
        Self::from_pem(pem.as_bytes())
    }

    /// Reads a key file's contents: PEM if it holds a `-----BEGIN` line,
    /// else DER.
    ///
    /// # Errors
    /// As [`from_spki_der`](Self::from_spki_der) and
    /// [`from_spki_pem`](Self::from_spki_pem).
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self> {
        if pem::looks_like_pem(bytes) {
            Self::from_pem(bytes)
        } else {
            Self::from_spki_der(bytes)
        }
    }

    fn from_pem(bytes: &[u8]) -> Result<Self> {
        let mut private = false;
        for block in pem::blocks(bytes) {
            match block.label.as_str() {
                "PUBLIC KEY" => {
                    let der = block.der().map_err(|f| Error::KeyEncoding(public_pem(f)))?;
                    return Self::from_spki_der(&der);
                }
                "EC PARAMETERS" | "SM2 PARAMETERS" => parameters(&block)?,
                "PRIVATE KEY" | "EC PRIVATE KEY" | "SM2 PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                    private = true;
                }
                _ => {}
            }
        }
        Err(Error::KeyEncoding(if private {
            "the PEM holds a private key, not a public key (its public key is written by `openssl pkey -pubout`)"
        } else {
            "the PEM holds no public key (no PUBLIC KEY block)"
        }))
    }

    /// Reads a point: uncompressed (`04 ‖ x ‖ y`), compressed (`02`/`03 ‖ x`)
    /// or hybrid (`06`/`07 ‖ x ‖ y`), GB/T 32918.1 §4.2.
    ///
    /// # Errors
    /// [`Error::PublicKeyInvalid`] naming the check of GB/T 32918.1 §6.2 or
    /// §4.2 that failed: `00` is the point at infinity, a coordinate ≥ p,
    /// a point off the curve, a compressed x with no point, a hybrid tag
    /// that does not match y.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self> {
        point::decode(bytes)
            .map(Self)
            .map_err(Error::PublicKeyInvalid)
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
        point::uncompressed_bytes(&self.0)
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

/// A parameters block of a key file: it must name or give SM2.
fn parameters(block: &pem::Block) -> Result<()> {
    let der = block
        .der()
        .map_err(|_| Error::KeyEncoding("an EC PARAMETERS block is not valid PEM"))?;
    keyfile::parameters(&der)
}

fn private_pem(fault: Fault) -> &'static str {
    match fault {
        Fault::NoEnd => "the private key's PEM block has no END line",
        Fault::EndMismatch => "the private key's PEM END line names another label",
        Fault::Base64 => "the private key's PEM body is not valid base64",
    }
}

fn public_pem(fault: Fault) -> &'static str {
    match fault {
        Fault::NoEnd => "the public key's PEM block has no END line",
        Fault::EndMismatch => "the public key's PEM END line names another label",
        Fault::Base64 => "the public key's PEM body is not valid base64",
    }
}
