//! SM2 digital signatures (GB/T 32918.2-2016) with a user ID, encoded as DER
//! `SEQUENCE { r INTEGER, s INTEGER }` (GM/T 0009-2012 §7.3) or raw r ‖ s.

use der::asn1::{AnyRef, UintRef};
use der::{Decode, Reader, SliceReader, Tag, Tagged};
use sm2::dsa::signature::{RandomizedSigner, Verifier};
use sm2::dsa::{SigningKey, VerifyingKey};
use sm2::elliptic_curve::common::getrandom::SysRng;
use sm2::elliptic_curve::rand_core::{TryCryptoRng, TryRng};
use sm2::elliptic_curve::PrimeField;
use sm2::Scalar;

use super::{Sm2PrivateKey, Sm2PublicKey};
use crate::{Error, Result};

/// How many nonces `sign` draws before it gives up: each is refused with
/// probability about 2⁻²⁵⁵, so only a generator that repeats itself ends here.
const NONCE_DRAWS: usize = 16;

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
    /// # Errors
    /// [`Error::SignatureEncoding`] if the bytes are not a DER `SEQUENCE {
    /// r INTEGER, s INTEGER }` (strict DER, nothing after it) or not 64
    /// bytes r ‖ s; [`Error::SignatureRange`] if r or s is not in
    /// [1, n − 1] (GB/T 32918.2 §7.1 B1, B2), naming which.
    ///
    /// ```
    /// use sscard_gm::sm2::{Signature, SignatureFormat};
    /// use sscard_gm::Error;
    /// assert!(Signature::parse(&[0x30, 0x06, 0x02, 0x01], SignatureFormat::Der).is_err());
    /// assert!(Signature::parse(&[1; 63], SignatureFormat::Raw).is_err());
    /// assert_eq!(
    ///     Signature::parse(&[0; 64], SignatureFormat::Raw),
    ///     Err(Error::SignatureRange("r = 0"))
    /// );
    /// ```
    pub fn parse(bytes: &[u8], format: SignatureFormat) -> Result<Self> {
        let (r, s) = match format {
            SignatureFormat::Der => der_integers(bytes)?,
            SignatureFormat::Raw => {
                let raw: &[u8; 64] = bytes
                    .try_into()
                    .map_err(|_| Error::SignatureEncoding("not 64 bytes r ‖ s"))?;
                let (r, s) = raw.split_at(32);
                (to_32(r), to_32(s))
            }
        };
        Self::from_r_s(&r, &s)
    }

    /// Builds a signature from r and s (32 bytes each, big-endian).
    ///
    /// # Errors
    /// [`Error::SignatureRange`] if r or s is not in [1, n − 1]
    /// (GB/T 32918.2 §7.1 B1, B2), naming which.
    pub fn from_r_s(r: &[u8; 32], s: &[u8; 32]) -> Result<Self> {
        let r_scalar = component(r, "r = 0", "r ≥ n")?;
        let s_scalar = component(s, "s = 0", "s ≥ n")?;
        sm2::dsa::Signature::from_scalars(r_scalar.to_repr(), s_scalar.to_repr())
            .map(Self)
            .map_err(|_| Error::SignatureRange("r or s is out of range"))
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
/// §6.1). The nonce k comes from RFC 6979 hedged with fresh randomness; a k
/// that gives r = 0, r + k = n (A5) or s = 0 (A6) is drawn again, as the
/// standard says ("return to A3").
///
/// # Errors
/// [`Error::UserIdTooLong`] if `user_id` is longer than 8191 bytes;
/// [`Error::Random`] if the system random generator fails;
/// [`Error::NonceRejected`] if every one of many nonces was refused (a
/// generator that repeats itself).
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
    let mut rng = WatchedRng::default();
    for _ in 0..NONCE_DRAWS {
        match signer.try_sign_with_rng(&mut rng, message) {
            Ok(signature) => return Ok(Signature(signature)),
            Err(_) if rng.failed => return Err(Error::Random),
            // d is in [1, n − 2] (checked when the key was made), so what
            // is left to fail is A5 or A6 for this k: draw another.
            Err(_) => {}
        }
    }
    Err(Error::NonceRejected(
        "every nonce drawn gave r = 0, r + k = n or s = 0",
    ))
}

/// Verifies a signature (B1–B7 of GB/T 32918.2 §7.1). B1 and B2 (r, s in
/// [1, n − 1]) hold for every [`Signature`]; the public key was validated
/// (GB/T 32918.1 §6.2) when it was read.
///
/// # Errors
/// [`Error::UserIdTooLong`] if `user_id` is longer than 8191 bytes;
/// [`Error::SignatureSumZero`] if t = (r + s) mod n = 0 (B5);
/// [`Error::SignatureInvalid`] if R ≠ r (B7).
pub fn verify(
    public_key: &Sm2PublicKey,
    user_id: &str,
    message: &[u8],
    signature: &Signature,
) -> Result<()> {
    let verifier =
        VerifyingKey::new(user_id, *public_key.inner()).map_err(|_| Error::UserIdTooLong)?;
    let t = *signature.0.r() + *signature.0.s();
    if bool::from(t.is_zero()) {
        return Err(Error::SignatureSumZero);
    }
    verifier
        .verify(message, &signature.0)
        .map_err(|_| Error::SignatureInvalid)
}

/// r or s as a scalar in [1, n − 1].
fn component(bytes: &[u8; 32], zero: &'static str, too_big: &'static str) -> Result<Scalar> {
    let scalar = Option::<Scalar>::from(Scalar::from_repr((*bytes).into()))
        .ok_or(Error::SignatureRange(too_big))?;
    if bool::from(scalar.is_zero()) {
        return Err(Error::SignatureRange(zero));
    }
    Ok(scalar)
}

/// r and s of a DER `SEQUENCE { r INTEGER, s INTEGER }` (GM/T 0009 §7.3),
/// each as 32 bytes; an INTEGER longer than 32 bytes is ≥ n.
fn der_integers(bytes: &[u8]) -> Result<([u8; 32], [u8; 32])> {
    const BAD: Error = Error::SignatureEncoding("not a DER SEQUENCE { r INTEGER, s INTEGER }");
    let outer = AnyRef::from_der(bytes).map_err(|_| BAD)?;
    if outer.tag() != Tag::Sequence {
        return Err(BAD);
    }
    let mut reader = SliceReader::new(outer.value()).map_err(|_| BAD)?;
    let r = UintRef::decode(&mut reader).map_err(|_| BAD)?;
    let s = UintRef::decode(&mut reader).map_err(|_| BAD)?;
    if !reader.is_finished() {
        return Err(BAD);
    }
    let r = fit(r.as_bytes()).ok_or(Error::SignatureRange("r ≥ n"))?;
    let s = fit(s.as_bytes()).ok_or(Error::SignatureRange("s ≥ n"))?;
    Ok((r, s))
}

/// A big-endian unsigned integer (leading zeros stripped) as 32 bytes.
fn fit(bytes: &[u8]) -> Option<[u8; 32]> {
    let offset = 32usize.checked_sub(bytes.len())?;
    let mut out = [0u8; 32];
    out.get_mut(offset..)?.copy_from_slice(bytes);
    Some(out)
}

fn to_32(bytes: &[u8]) -> [u8; 32] {
    fit(bytes).unwrap_or_default()
}

/// The system generator, remembering whether it failed: a signing error
/// after a failure is the generator's, any other is a refused nonce.
#[derive(Default)]
struct WatchedRng {
    failed: bool,
}

impl WatchedRng {
    fn watch<T, E>(&mut self, result: core::result::Result<T, E>) -> core::result::Result<T, E> {
        self.failed |= result.is_err();
        result
    }
}

impl TryRng for WatchedRng {
    type Error = <SysRng as TryRng>::Error;

    fn try_next_u32(&mut self) -> core::result::Result<u32, Self::Error> {
        let result = SysRng.try_next_u32();
        self.watch(result)
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, Self::Error> {
        let result = SysRng.try_next_u64();
        self.watch(result)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Self::Error> {
        let result = SysRng.try_fill_bytes(dst);
        self.watch(result)
    }
}

impl TryCryptoRng for WatchedRng {}
