//! Hazardous operations: SM2 signing and encryption with a caller-given k.
//!
//! A reused or predictable k reveals the private key (signing) or the
//! message (encryption). These exist only so that the worked examples of
//! GB/T 32918.5-2017 reproduce exactly; they are compiled only with the
//! `hazmat` feature, which no production build enables.

use sm2::elliptic_curve::ops::Reduce;
use sm2::elliptic_curve::point::AffineCoordinates;
use sm2::elliptic_curve::{Group, PrimeField};
use sm2::{NonZeroScalar, ProjectivePoint, Scalar, U256};
use sm3::{Digest, Sm3};

use crate::sm2::{
    convert_ciphertext, za, CiphertextFormat, Signature, Sm2PrivateKey, Sm2PublicKey,
};
use crate::{Error, Result};

fn scalar_k(k: &[u8; 32]) -> Result<NonZeroScalar> {
    Option::<Scalar>::from(Scalar::from_repr((*k).into()))
        .and_then(|k| Option::from(NonZeroScalar::new(k)))
        .ok_or(Error::NonceRejected(
            "k is not in [1, n−1] (GB/T 32918.2 §6.1 A3)",
        ))
}

/// Signs with a given k, following A1–A7 of GB/T 32918.2-2016 §6.1 over the
/// curve arithmetic of the `sm2` crate.
///
/// # Errors
/// [`Error::UserIdTooLong`]; otherwise as [`sign_digest_with_k`].
pub fn sign_with_k(
    key: &Sm2PrivateKey,
    user_id: &str,
    message: &[u8],
    k: &[u8; 32],
) -> Result<Signature> {
    // A1, A2: e = SM3(Z_A ‖ M)
    let z = za(user_id.as_bytes(), &key.public_key())?;
    let e: [u8; 32] = Sm3::new()
        .chain_update(z)
        .chain_update(message)
        .finalize()
        .into();
    sign_digest_with_k(key, &e, k)
}

/// A3–A7 of GB/T 32918.2-2016 §6.1 for a given digest e = SM3(Z_A ‖ M)
/// (32 bytes, big-endian, reduced mod n) and a given k. Where the standard
/// says "return to A3", this returns the error instead.
///
/// # Errors
/// [`Error::NonceRejected`] naming the step: k not in [1, n − 1] (A3),
/// r = 0 or r + k = n (A5), s = 0 (A6).
pub fn sign_digest_with_k(key: &Sm2PrivateKey, e: &[u8; 32], k: &[u8; 32]) -> Result<Signature> {
    let k = scalar_k(k)?;
    let e = <Scalar as Reduce<U256>>::reduce(&U256::from_be_slice(e));
    // A4: (x1, y1) = [k]G
    let point = ProjectivePoint::mul_by_generator(&k).to_affine();
    // A5: r = (e + x1) mod n, r ≠ 0, r + k ≠ n
    let r = e + <Scalar as Reduce<sm2::FieldBytes>>::reduce(&point.x());
    if bool::from(r.is_zero()) {
        return Err(Error::NonceRejected("r = 0 (GB/T 32918.2 §6.1 A5)"));
    }
    if bool::from((r + *k).is_zero()) {
        return Err(Error::NonceRejected("r + k = n (GB/T 32918.2 §6.1 A5)"));
    }
    // A6: s = (1 + d)^-1 · (k − r·d) mod n, s ≠ 0. 1 + d is invertible:
    // every Sm2PrivateKey has d ≤ n − 2.
    let d = *key.inner().to_nonzero_scalar();
    let inv = Option::<Scalar>::from((d + Scalar::ONE).invert()).ok_or(Error::PrivateKeyRange(
        "d = n − 1, for which 1 + d has no inverse mod n",
    ))?;
    let s = inv * (*k - r * d);
    if bool::from(s.is_zero()) {
        return Err(Error::NonceRejected("s = 0 (GB/T 32918.2 §6.1 A6)"));
    }
    // A7
    Signature::from_r_s(&r.to_repr().into(), &s.to_repr().into())
}

/// Encrypts with a given k, following A1–A8 of GB/T 32918.4-2016 §6.1.
///
/// # Errors
/// [`Error::EmptyMessage`]; [`Error::NonceRejected`] if k is not in
/// [1, n − 1]; [`Error::KdfOutputZero`] if this k gives an all-zero t (A5).
pub fn encrypt_with_k(
    public_key: &Sm2PublicKey,
    message: &[u8],
    k: &[u8; 32],
    format: CiphertextFormat,
) -> Result<Vec<u8>> {
    if message.is_empty() {
        return Err(Error::EmptyMessage);
    }
    let k = scalar_k(k)?;
    let raw = crate::sm2::encrypt_with_nonce(public_key, message, &k)?;
    convert_ciphertext(&raw, CiphertextFormat::C1C3C2, format)
}
