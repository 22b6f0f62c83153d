//! Key check values: the encryption of an all-zero block under the key,
//! leftmost bytes (DESIGN "Cryptographic profile").

use crate::{BlockAlgorithm, BlockKey, Error, Result};

/// The length of a check value unless another is asked for: 3 bytes for 3DES
/// (the ANSI X9.24 convention), 4 bytes for SM4.
pub fn default_len(algorithm: BlockAlgorithm) -> usize {
    match algorithm {
        BlockAlgorithm::Sm4 => 4,
        BlockAlgorithm::Tdes => 3,
    }
}

/// The check value of `key`, `len` bytes (1 up to the block size).
///
/// ```
/// use sscard_gm::{kcv::kcv, BlockAlgorithm, BlockKey};
/// let key = BlockKey::new(BlockAlgorithm::Sm4, &[0; 16]).unwrap();
/// assert_eq!(kcv(&key, 4).unwrap().len(), 4);
/// ```
pub fn kcv(key: &BlockKey, len: usize) -> Result<Vec<u8>> {
    let cipher = key.cipher()?;
    let block = cipher.block_size();
    if len == 0 || len > block {
        return Err(Error::OutputLength {
            max: block,
            actual: len,
        });
    }
    let mut zero = vec![0u8; block];
    cipher.encrypt_block(&mut zero)?;
    zero.truncate(len);
    Ok(zero)
}

/// Checks a given check value against the key, in constant time.
pub fn check(key: &BlockKey, expected: &[u8]) -> Result<()> {
    if crate::ct_eq(&kcv(key, expected.len())?, expected) {
        Ok(())
    } else {
        Err(Error::AuthenticationFailed)
    }
}
