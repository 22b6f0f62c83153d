//! Key diversification, one level per 8-byte factor (PBOC practice; DESIGN
//! "Cryptographic profile"):
//!
//! * SM4: child = SM4(K, D ‖ ¬D)
//! * 3DES: child = 3DES(K, D) ‖ 3DES(K, ¬D), parity bits left as computed.
//!
//! Levels chain: ministry → province (region factor) → card (card factor).

use crate::{BlockAlgorithm, BlockKey, Error, Result};

/// Length of a diversification factor in bytes.
pub const FACTOR_LEN: usize = 8;

/// Derives the child key of `parent` for one factor.
///
/// ```
/// use sscard_gm::{diversify::derive, BlockAlgorithm, BlockKey};
/// let parent = BlockKey::new(BlockAlgorithm::Sm4, &[0x42; 16]).unwrap();
/// let child = derive(&parent, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
/// assert_eq!(child.algorithm(), BlockAlgorithm::Sm4);
/// assert_ne!(child.expose_secret(), parent.expose_secret());
/// ```
pub fn derive(parent: &BlockKey, factor: &[u8]) -> Result<BlockKey> {
    let factor: [u8; FACTOR_LEN] = factor.try_into().map_err(|_| Error::FactorLength {
        actual: factor.len(),
    })?;
    let inverted = factor.map(|b| !b);
    let cipher = parent.cipher()?;
    let mut child = zeroize::Zeroizing::new([0u8; 2 * FACTOR_LEN]);
    let (left, right) = child.split_at_mut(FACTOR_LEN);
    left.copy_from_slice(&factor);
    right.copy_from_slice(&inverted);
    match parent.algorithm() {
        // One 16-byte block: D ‖ ¬D together.
        BlockAlgorithm::Sm4 => cipher.encrypt_block(child.as_mut_slice())?,
        // Two 8-byte blocks: D and ¬D separately.
        BlockAlgorithm::Tdes => {
            cipher.encrypt_block(left)?;
            cipher.encrypt_block(right)?;
        }
    }
    BlockKey::new(parent.algorithm(), child.as_slice())
}

/// Derives through several levels, one factor per level, in order.
pub fn derive_path(root: &BlockKey, factors: &[&[u8]]) -> Result<BlockKey> {
    let mut key = root.clone();
    for factor in factors {
        key = derive(&key, factor)?;
    }
    Ok(key)
}

/// Encrypts one block (16 bytes for SM4, 8 for 3DES) under `key`: the
/// card-side computation of authentication answers and cryptograms.
///
/// ```
/// use sscard_gm::{diversify::encrypt_block, BlockAlgorithm, BlockKey};
/// let key = BlockKey::new(BlockAlgorithm::Tdes, &[0x42; 16]).unwrap();
/// assert_eq!(encrypt_block(&key, &[0; 8]).unwrap().len(), 8);
/// assert!(encrypt_block(&key, &[0; 16]).is_err());
/// ```
pub fn encrypt_block(key: &BlockKey, block: &[u8]) -> Result<Vec<u8>> {
    let mut out = block.to_vec();
    key.cipher()?.encrypt_block(&mut out)?;
    Ok(out)
}

/// Decrypts one block under `key`: the card-side opening of an enciphered
/// PIN block (PIN reload and unblock).
///
/// ```
/// use sscard_gm::{diversify::{decrypt_block, encrypt_block}, BlockAlgorithm, BlockKey};
/// let key = BlockKey::new(BlockAlgorithm::Sm4, &[0x42; 16]).unwrap();
/// let block = [0x06, 0x12, 0x34, 0x56, 0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
/// assert_eq!(decrypt_block(&key, &encrypt_block(&key, &block).unwrap()).unwrap(), block);
/// ```
pub fn decrypt_block(key: &BlockKey, block: &[u8]) -> Result<Vec<u8>> {
    let mut out = block.to_vec();
    key.cipher()?.decrypt_block(&mut out)?;
    Ok(out)
}
