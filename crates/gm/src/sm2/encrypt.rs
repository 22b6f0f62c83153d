//! SM2 public-key encryption (GB/T 32918.4-2016) in the three layouts met
//! in practice: C1 ‖ C3 ‖ C2 (the 2016 standard), C1 ‖ C2 ‖ C3 (the 2010
//! draft, still used by older systems), and the DER form of GM/T 0009-2012
//! §7.2, `SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }`,
//! which OpenSSL reads and writes. C1 is always `04 ‖ x ‖ y`.

use der::asn1::{AnyRef, OctetStringRef, UintRef};
use der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use sm2::elliptic_curve::Group;
use sm2::{NonZeroScalar, ProjectivePoint, PublicKey};
use sm3::{Digest, Sm3};
use zeroize::Zeroizing;

use super::{point, Sm2PrivateKey, Sm2PublicKey};
use crate::{ct_eq, kdf, Error, PointFault, Result};

/// How many nonces `encrypt` draws before it gives up: for a one-byte
/// message each is refused (t all zero) with probability 2⁻⁸.
const NONCE_DRAWS: usize = 32;

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

/// Encrypts `message` (not empty) to `public_key` (A1–A8 of GB/T 32918.4
/// §6.1); a k whose KDF output t is all zero is drawn again (A5).
///
/// # Errors
/// [`Error::EmptyMessage`] for an empty message (klen > 0);
/// [`Error::KdfLength`] for a message longer than the KDF can cover
/// ((2³² − 1) · 32 bytes, §5.4.3); [`Error::Random`] if the system random
/// generator fails.
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
    use sm2::elliptic_curve::Generate;
    for _ in 0..NONCE_DRAWS {
        // A1: k in [1, n − 1].
        let k = NonZeroScalar::try_generate_from_rng(&mut super::system_rng())
            .map_err(|_| Error::Random)?;
        match encrypt_with_nonce(public_key, message, &k) {
            Err(Error::KdfOutputZero) => {}
            Ok(raw) => return convert_ciphertext(&raw, CiphertextFormat::C1C3C2, format),
            Err(other) => return Err(other),
        }
    }
    Err(Error::NonceRejected(
        "every nonce drawn gave an all-zero KDF output",
    ))
}

/// A2–A8 of GB/T 32918.4 §6.1 for a given k, giving C1 ‖ C3 ‖ C2.
/// [`Error::KdfOutputZero`] if t is all zero (A5: the caller draws anew).
pub(crate) fn encrypt_with_nonce(
    public_key: &Sm2PublicKey,
    message: &[u8],
    k: &NonZeroScalar,
) -> Result<Vec<u8>> {
    if message.is_empty() {
        return Err(Error::EmptyMessage);
    }
    // A2: C1 = [k]G.
    let c1 = point_of(ProjectivePoint::mul_by_generator(k))?;
    // A3: S = [h]P_B ≠ O. h = 1 and P_B was validated (GB/T 32918.1 §6.2)
    // when it was read, so S = P_B ≠ O.
    // A4: (x2, y2) = [k]P_B.
    let shared = point_of(ProjectivePoint::from(*public_key.inner().as_affine()) * **k)?;
    let x2y2 = Zeroizing::new(point::xy(&shared));
    // A5: t = KDF(x2 ‖ y2, klen), not all zero.
    let t = kdf::sm3_kdf(&x2y2, message.len())?;
    if t.iter().all(|b| *b == 0) {
        return Err(Error::KdfOutputZero);
    }
    // A6: C2 = M ⊕ t.  A7: C3 = SM3(x2 ‖ M ‖ y2).  A8: C1 ‖ C3 ‖ C2.
    let (x2, y2) = x2y2.split_at(32);
    let c3 = Sm3::new()
        .chain_update(x2)
        .chain_update(message)
        .chain_update(y2)
        .finalize();
    let mut out = point::uncompressed_bytes(&c1);
    out.extend_from_slice(&c3);
    out.extend(message.iter().zip(t.iter()).map(|(m, t)| m ^ t));
    Ok(out)
}

/// Decrypts a ciphertext of the given format (B1–B7 of GB/T 32918.4 §7.1).
///
/// # Errors
/// [`Error::CiphertextEncoding`] if it cannot be parsed in that format;
/// [`Error::CiphertextPoint`] if C1 is not a point of the curve (B1) or is
/// O (B2), naming which check; [`Error::KdfOutputZero`] if t is all zero
/// (B4); [`Error::DecryptionFailed`] if C3 does not match (B6).
pub fn decrypt(
    key: &Sm2PrivateKey,
    ciphertext: &[u8],
    format: CiphertextFormat,
) -> Result<Zeroizing<Vec<u8>>> {
    // B1, B2: C1 is a point of the curve and [h]C1 = C1 ≠ O.
    let cipher = parse(ciphertext, format)?;
    // B3: (x2, y2) = [d_B]C1. Not O: C1 has order n and 0 < d_B < n.
    let d = key.inner().to_nonzero_scalar();
    let shared = point_of(ProjectivePoint::from(*cipher.c1.as_affine()) * *d)
        .map_err(|_| Error::CiphertextPoint(PointFault::OrderNotN))?;
    let x2y2 = Zeroizing::new(point::xy(&shared));
    // B4: t = KDF(x2 ‖ y2, klen), not all zero.
    let t = kdf::sm3_kdf(&x2y2, cipher.c2.len())?;
    if t.iter().all(|b| *b == 0) {
        return Err(Error::KdfOutputZero);
    }
    // B5: M' = C2 ⊕ t.
    let message: Zeroizing<Vec<u8>> =
        Zeroizing::new(cipher.c2.iter().zip(t.iter()).map(|(c, t)| c ^ t).collect());
    // B6: u = SM3(x2 ‖ M' ‖ y2) = C3.
    let (x2, y2) = x2y2.split_at(32);
    let u = Sm3::new()
        .chain_update(x2)
        .chain_update(message.as_slice())
        .chain_update(y2)
        .finalize();
    if !ct_eq(&u, &cipher.c3) {
        return Err(Error::DecryptionFailed);
    }
    // B7.
    Ok(message)
}

/// Re-encodes a ciphertext from one layout to another.
///
/// # Errors
/// As [`decrypt`] for what parsing finds: [`Error::CiphertextEncoding`] or
/// [`Error::CiphertextPoint`].
pub fn convert_ciphertext(
    ciphertext: &[u8],
    from: CiphertextFormat,
    to: CiphertextFormat,
) -> Result<Vec<u8>> {
    let cipher = parse(ciphertext, from)?;
    let c1 = point::uncompressed_bytes(&cipher.c1);
    match to {
        CiphertextFormat::Der => {
            let (x, y) = c1.get(1..).unwrap_or_default().split_at(32);
            let der = |_: der::Error| Error::CiphertextEncoding("DER encoding failed");
            let mut body = UintRef::new(x).and_then(|v| v.to_der()).map_err(der)?;
            body.extend(UintRef::new(y).and_then(|v| v.to_der()).map_err(der)?);
            body.extend(
                OctetStringRef::new(&cipher.c3)
                    .and_then(|v| v.to_der())
                    .map_err(der)?,
            );
            body.extend(
                OctetStringRef::new(cipher.c2)
                    .and_then(|v| v.to_der())
                    .map_err(der)?,
            );
            AnyRef::new(Tag::Sequence, &body)
                .and_then(|v| v.to_der())
                .map_err(der)
        }
        CiphertextFormat::C1C3C2 => {
            let mut out = c1;
            out.extend_from_slice(&cipher.c3);
            out.extend_from_slice(cipher.c2);
            Ok(out)
        }
        CiphertextFormat::C1C2C3 => {
            let mut out = c1;
            out.extend_from_slice(cipher.c2);
            out.extend_from_slice(&cipher.c3);
            Ok(out)
        }
    }
}

const C1_LEN: usize = 65;
const C3_LEN: usize = 32;

/// A parsed ciphertext: C1 checked (B1, B2), C3, C2.
struct Parsed<'a> {
    c1: PublicKey,
    c3: [u8; C3_LEN],
    c2: &'a [u8],
}

fn parse(ciphertext: &[u8], format: CiphertextFormat) -> Result<Parsed<'_>> {
    let parsed = match format {
        CiphertextFormat::Der => parse_der(ciphertext)?,
        CiphertextFormat::C1C3C2 | CiphertextFormat::C1C2C3 => {
            match ciphertext.first() {
                // O is the one byte 00 (GB/T 32918.1 §4.2): B2 refuses it.
                Some(0x00) => return Err(Error::CiphertextPoint(PointFault::Infinity)),
                Some(0x04) => {}
                _ => {
                    return Err(Error::CiphertextEncoding(
                        "C1 must be an uncompressed point (04 ‖ x ‖ y)",
                    ))
                }
            }
            if ciphertext.len() <= C1_LEN + C3_LEN {
                return Err(Error::CiphertextEncoding(
                    "shorter than C1 (65 bytes) + C3 (32 bytes) + at least one byte of C2",
                ));
            }
            let (c1, rest) = ciphertext.split_at(C1_LEN);
            let (c3, c2) = match format {
                CiphertextFormat::C1C2C3 => {
                    let (c2, c3) = rest.split_at(rest.len() - C3_LEN);
                    (c3, c2)
                }
                _ => rest.split_at(C3_LEN),
            };
            Parsed {
                c1: point::decode(c1).map_err(Error::CiphertextPoint)?,
                c3: c3
                    .try_into()
                    .map_err(|_| Error::CiphertextEncoding("C3 must be 32 bytes"))?,
                c2,
            }
        }
    };
    if parsed.c2.is_empty() {
        return Err(Error::CiphertextEncoding("C2 is empty"));
    }
    Ok(parsed)
}

/// GM/T 0009 §7.2: `SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING (32),
/// ciphertext OCTET STRING }`.
fn parse_der(ciphertext: &[u8]) -> Result<Parsed<'_>> {
    const BAD: Error = Error::CiphertextEncoding("not a GM/T 0009 DER SM2 ciphertext");
    let outer = AnyRef::from_der(ciphertext).map_err(|_| BAD)?;
    if outer.tag() != Tag::Sequence {
        return Err(BAD);
    }
    let mut reader = SliceReader::new(outer.value()).map_err(|_| BAD)?;
    let x = UintRef::decode(&mut reader).map_err(|_| BAD)?;
    let y = UintRef::decode(&mut reader).map_err(|_| BAD)?;
    let c3 = <&OctetStringRef>::decode(&mut reader).map_err(|_| BAD)?;
    let c2 = <&OctetStringRef>::decode(&mut reader).map_err(|_| BAD)?;
    if !reader.is_finished() {
        return Err(BAD);
    }
    let c3 = c3
        .as_bytes()
        .try_into()
        .map_err(|_| Error::CiphertextEncoding("the hash C3 must be 32 bytes"))?;
    let c1 = point::from_coordinates(x.as_bytes(), y.as_bytes()).map_err(Error::CiphertextPoint)?;
    Ok(Parsed {
        c1,
        c3,
        c2: c2.as_bytes(),
    })
}

/// An affine point of a product that is not O.
fn point_of(point: ProjectivePoint) -> Result<PublicKey> {
    if bool::from(point.is_identity()) {
        return Err(Error::PublicKeyInvalid(PointFault::OrderNotN));
    }
    PublicKey::from_affine(point.to_affine())
        .map_err(|_| Error::PublicKeyInvalid(PointFault::OrderNotN))
}
