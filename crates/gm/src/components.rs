//! Key components for dual control: a key held in two or three parts by
//! different custodians, combined by XOR.

use zeroize::Zeroizing;

use crate::{BlockAlgorithm, BlockKey, Error, Result};

/// XORs two or more components of equal length into the key of `algorithm`.
///
/// ```
/// use sscard_gm::{components::combine, BlockAlgorithm};
/// let key = combine(BlockAlgorithm::Sm4, &[&[0x0f; 16], &[0xf0; 16]]).unwrap();
/// assert_eq!(key.expose_secret(), &[0xff; 16]);
/// ```
pub fn combine(algorithm: BlockAlgorithm, components: &[&[u8]]) -> Result<BlockKey> {
    let (first, rest) = components
        .split_first()
        .ok_or(Error::Components("none given"))?;
    if rest.is_empty() {
        return Err(Error::Components("at least two are needed"));
    }
    let mut key = Zeroizing::new(first.to_vec());
    for component in rest {
        if component.len() != key.len() {
            return Err(Error::Components("they differ in length"));
        }
        for (k, c) in key.iter_mut().zip(component.iter()) {
            *k ^= c;
        }
    }
    BlockKey::new(algorithm, &key)
}
