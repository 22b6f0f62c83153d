//! The signer's identity hash Z_A (GB/T 32918.2-2016 §5.5).

use hex_literal::hex;
use sm3::{Digest, Sm3};

use super::Sm2PublicKey;
use crate::{Error, Result};

/// The user ID used when none is given (GM/T 0009-2012 §10).
pub const DEFAULT_USER_ID: &str = "1234567812345678";

// Curve parameters of GB/T 32918.5-2017 §2, as they enter Z_A.
const A: [u8; 32] = hex!("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc");
const B: [u8; 32] = hex!("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93");
const GX: [u8; 32] = hex!("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7");
const GY: [u8; 32] = hex!("bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0");

/// Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A).
///
/// ```
/// use sscard_gm::sm2::{za, Sm2PrivateKey, DEFAULT_USER_ID};
/// let key = Sm2PrivateKey::generate().unwrap();
/// let z = za(DEFAULT_USER_ID.as_bytes(), &key.public_key()).unwrap();
/// assert_eq!(z.len(), 32);
/// ```
pub fn za(user_id: &[u8], public_key: &Sm2PublicKey) -> Result<[u8; 32]> {
    let entl = user_id
        .len()
        .checked_mul(8)
        .and_then(|bits| u16::try_from(bits).ok())
        .ok_or(Error::UserIdTooLong)?;
    let point = public_key.to_sec1_uncompressed();
    let (x, y) = point
        .get(1..)
        .map(|xy| xy.split_at(32))
        .ok_or(Error::KeyEncoding("public key point"))?;
    let mut h = Sm3::new();
    h.update(entl.to_be_bytes());
    h.update(user_id);
    h.update(A);
    h.update(B);
    h.update(GX);
    h.update(GY);
    h.update(x);
    h.update(y);
    Ok(h.finalize().into())
}
