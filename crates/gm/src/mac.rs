//! MACs of the card system (ISO/IEC 9797-1:2011).
//!
//! * Algorithm 1 (CBC-MAC) with padding method 2 (`80 00…`), over SM4 or
//!   3DES blocks: the MAC of secure messaging (card-profile: the first 4
//!   bytes are appended to the command).
//! * Algorithm 3 (the "retail MAC"): single DES under K1 over every block,
//!   then decrypt under K2 and encrypt under K1 for the last.

use zeroize::Zeroizing;

use crate::block_key::RawBlockCipher;
use crate::{ct_eq, BlockKey, Error, Result, TdesKey};

/// Which MAC to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MacAlgorithm {
    /// ISO/IEC 9797-1 algorithm 1: plain CBC-MAC under the key's cipher.
    CbcMac,
    /// ISO/IEC 9797-1 algorithm 3 (retail MAC); needs a 3DES key.
    Retail,
}

/// Pads with ISO/IEC 9797-1 method 2: one `80`, then `00` to a block boundary.
pub fn pad_method2(data: &[u8], block: usize) -> Vec<u8> {
    let mut padded = Vec::with_capacity(data.len() + block);
    padded.extend_from_slice(data);
    padded.push(0x80);
    while !padded.len().is_multiple_of(block) {
        padded.push(0x00);
    }
    padded
}

/// Computes the MAC of `data`: the last CBC block, whole (`len` = `None`) or its
/// leftmost `len` bytes. `iv` defaults to zeros and must be one block long.
///
/// ```
/// use sscard_gm::{mac::{mac, MacAlgorithm}, BlockAlgorithm, BlockKey};
/// let key = BlockKey::new(BlockAlgorithm::Sm4, &[0x11; 16]).unwrap();
/// let m = mac(&key, MacAlgorithm::CbcMac, None, b"\x04\xdc\x01\x2c", Some(4)).unwrap();
/// assert_eq!(m.len(), 4);
/// ```
pub fn mac(
    key: &BlockKey,
    algorithm: MacAlgorithm,
    iv: Option<&[u8]>,
    data: &[u8],
    len: Option<usize>,
) -> Result<Vec<u8>> {
    let full = match algorithm {
        MacAlgorithm::CbcMac => cbc_mac(&key.cipher()?, iv, data, None)?,
        MacAlgorithm::Retail => match key {
            BlockKey::Tdes(tdes) if tdes.expose_secret().len() == 16 => retail_mac(tdes, iv, data)?,
            _ => {
                return Err(Error::KeyLength {
                    algorithm: "retail MAC (3DES)",
                    expected: "a 16-byte 3DES key",
                    actual: key.expose_secret().len(),
                })
            }
        },
    };
    truncate(full, len)
}

/// Checks a MAC (possibly truncated to its leftmost bytes) in constant time.
pub fn verify(
    key: &BlockKey,
    algorithm: MacAlgorithm,
    iv: Option<&[u8]>,
    data: &[u8],
    expected: &[u8],
) -> Result<()> {
    let computed = mac(key, algorithm, iv, data, Some(expected.len()))?;
    if ct_eq(&computed, expected) {
        Ok(())
    } else {
        Err(Error::AuthenticationFailed)
    }
}

fn truncate(mut full: Vec<u8>, len: Option<usize>) -> Result<Vec<u8>> {
    if let Some(len) = len {
        if len == 0 || len > full.len() {
            return Err(Error::OutputLength {
                max: full.len(),
                actual: len,
            });
        }
        full.truncate(len);
    }
    Ok(full)
}

/// CBC over the padded data; with `last`, the final block is encrypted under
/// `last` instead of `cipher` (the output transformation of algorithm 3).
fn cbc_mac(
    cipher: &RawBlockCipher,
    iv: Option<&[u8]>,
    data: &[u8],
    last: Option<&RawBlockCipher>,
) -> Result<Vec<u8>> {
    let block = cipher.block_size();
    let mut state = Zeroizing::new(vec![0u8; block]);
    if let Some(iv) = iv {
        if iv.len() != block {
            return Err(Error::IvLength {
                expected: block,
                actual: iv.len(),
            });
        }
        state.copy_from_slice(iv);
    }
    let padded = pad_method2(data, block);
    let count = padded.len() / block;
    for (index, chunk) in padded.chunks_exact(block).enumerate() {
        for (s, d) in state.iter_mut().zip(chunk) {
            *s ^= d;
        }
        match last {
            Some(last) if index + 1 == count => last.encrypt_block(&mut state)?,
            _ => cipher.encrypt_block(&mut state)?,
        }
    }
    Ok(state.to_vec())
}

fn retail_mac(key: &TdesKey, iv: Option<&[u8]>, data: &[u8]) -> Result<Vec<u8>> {
    let des = RawBlockCipher::single_des(key)?;
    let tdes = BlockKey::Tdes(key.clone()).cipher()?;
    // E_K1(D_K2(E_K1(x))) is exactly 3DES-EDE2 encryption of x.
    cbc_mac(&des, iv, data, Some(&tdes))
}
