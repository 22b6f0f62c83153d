//! The signer's identity hash Z_A (GB/T 32918.2-2016 §5.5).

use sm3::{Digest, Sm3};

use super::curve::{A, B, GX, GY};
use super::Sm2PublicKey;
use crate::{Error, Result};

/// The user ID used when none is given (GM/T 0009-2012 §10).
pub const DEFAULT_USER_ID: &str = "1234567812345678";

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
    let xy = super::point::xy(public_key.inner());
    let (x, y) = xy.split_at(32);
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
