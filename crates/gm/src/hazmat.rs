//! Hazardous operations: SM2 signing and encryption with a caller-given k.
//!
//! A reused or predictable k reveals the private key (signing) or the
//! message (encryption). These exist only so that the worked examples of
//! GB/T 32918.5-2017 reproduce exactly; they are compiled only with the
//! `hazmat` feature, which no production build enables.

use sm2::elliptic_curve::ops::Reduce;
use sm2::elliptic_curve::point::AffineCoordinates;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::elliptic_curve::{Group, PrimeField};
use sm2::{NonZeroScalar, ProjectivePoint, Scalar, U256};
use sm3::{Digest, Sm3};

use crate::sm2::{
    convert_ciphertext, za, CiphertextFormat, Signature, Sm2PrivateKey, Sm2PublicKey,
};
use crate::{kdf, Error, Result};

fn scalar_k(k: &[u8; 32]) -> Result<NonZeroScalar> {
    Option::<Scalar>::from(Scalar::from_repr((*k).into()))
        .and_then(|k| Option::from(NonZeroScalar::new(k)))
        .ok_or(Error::KeyEncoding("k must be in [1, n-1]"))
}

/// Signs with a given k, following A1–A7 of GB/T 32918.2-2016 §6.1 over the
/// curve arithmetic of the `sm2` crate.
pub fn sign_with_k(
    key: &Sm2PrivateKey,
    user_id: &str,
    message: &[u8],
    k: &[u8; 32],
) -> Result<Signature> {
    let k = scalar_k(k)?;
    // A1, A2: e = SM3(Z_A ‖ M)
    let z = za(user_id.as_bytes(), &key.public_key())?;
    let e: [u8; 32] = Sm3::new()
        .chain_update(z)
        .chain_update(message)
        .finalize()
        .into();
    let e = <Scalar as Reduce<U256>>::reduce(&U256::from_be_slice(&e));
    // A4: (x1, y1) = [k]G
    let point = ProjectivePoint::mul_by_generator(&k).to_affine();
    // A5: r = (e + x1) mod n, r ≠ 0, r + k ≠ n
    let r = e + <Scalar as Reduce<sm2::FieldBytes>>::reduce(&point.x());
    if bool::from(r.is_zero()) || bool::from((r + *k).is_zero()) {
        return Err(Error::KeyEncoding("this k gives r = 0 or r + k = n"));
    }
    // A6: s = (1 + d)^-1 · (k − r·d) mod n
    let d = *key.inner().to_nonzero_scalar();
    let inv = Option::<Scalar>::from((d + Scalar::ONE).invert())
        .ok_or(Error::KeyEncoding("1 + d is not invertible"))?;
    let s = inv * (*k - r * d);
    Signature::from_r_s(&r.to_repr().into(), &s.to_repr().into())
}

/// Encrypts with a given k, following A1–A8 of GB/T 32918.4-2016 §6.1.
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
    // A2: C1 = [k]G
    let c1 = ProjectivePoint::mul_by_generator(&k)
        .to_affine()
        .to_sec1_point(false);
    // A3: the cofactor of SM2 is 1, so S = [h]P_B is P_B, never infinity.
    // A4: (x2, y2) = [k]P_B
    let shared = (ProjectivePoint::from(*public_key.inner().as_affine()) * *k)
        .to_affine()
        .to_sec1_point(false);
    let x2y2 = shared
        .as_bytes()
        .get(1..)
        .ok_or(Error::KeyEncoding("shared point"))?;
    let (x2, y2) = x2y2.split_at(32);
    // A5: t = KDF(x2 ‖ y2, klen), not all zero
    let t = kdf::sm3_kdf(x2y2, message.len())?;
    if t.iter().all(|b| *b == 0) {
        return Err(Error::KeyEncoding("this k gives an all-zero KDF output"));
    }
    // A6: C2 = M ⊕ t;  A7: C3 = SM3(x2 ‖ M ‖ y2)
    let c2: Vec<u8> = message.iter().zip(t.iter()).map(|(m, t)| m ^ t).collect();
    let c3 = Sm3::new()
        .chain_update(x2)
        .chain_update(message)
        .chain_update(y2)
        .finalize();
    // A8: C = C1 ‖ C3 ‖ C2, then re-encoded as asked.
    let mut out = c1.as_bytes().to_vec();
    out.extend_from_slice(&c3);
    out.extend_from_slice(&c2);
    convert_ciphertext(&out, CiphertextFormat::C1C3C2, format)
}
