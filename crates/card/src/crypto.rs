//! The computations a card, its PSAM and the platform's derivation service
//! share, so that the three agree by construction:
//!
//! * card key = the region's master diversified by the card factor;
//! * session key = the card key diversified by a random (8 bytes);
//! * authentication cryptogram = the 8-byte data encrypted under the session
//!   key, zero-padded to a block for SM4 and the 16-byte result folded (left
//!   XOR right), as card-profile.md describes the PSAM step;
//! * secure-messaging MAC = the first 4 bytes of the CBC-MAC (ISO/IEC 9797-1
//!   padding method 2) under the card key, with the card's challenge,
//!   zero-padded to a block, as initial value;
//! * PIN block = digit count ‖ BCD digits, `F`-padded to 8 bytes (then
//!   `80 00…` to a block for SM4), encrypted under the card key.

use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::{diversify, BlockAlgorithm, BlockKey};
use zeroize::Zeroizing;

use crate::profile::{bcd, unbcd};
use crate::{Error, Result};

/// Derives a card key from a master through `factors`, in order.
pub fn derive(master: &BlockKey, factors: &[&[u8]]) -> Result<BlockKey> {
    Ok(diversify::derive_path(master, factors)?)
}

/// The block of an 8-byte value: itself for 3DES, zero-padded for SM4.
pub fn pad8(algorithm: BlockAlgorithm, data: &[u8; 8]) -> Vec<u8> {
    let mut block = data.to_vec();
    block.resize(algorithm.block_size(), 0);
    block
}

/// Folds an encrypted block to 8 bytes: SM4 left XOR right; 3DES as is.
pub fn fold(block: &[u8]) -> Result<[u8; 8]> {
    let mut out = [0u8; 8];
    match block.len() {
        8 => out.copy_from_slice(block),
        16 => {
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = block.get(i).copied().unwrap_or(0) ^ block.get(i + 8).copied().unwrap_or(0);
            }
        }
        other => return Err(Error::Invalid(format!("a {other}-byte block cannot fold"))),
    }
    Ok(out)
}

/// The authentication cryptogram of `data` under `key` with random `rand`
/// (internal authentication: card key, R1, R2; external: key, terminal
/// random, card challenge).
pub fn cryptogram(key: &BlockKey, rand: &[u8; 8], data: &[u8; 8]) -> Result<[u8; 8]> {
    let session = diversify::derive(key, rand)?;
    fold(&diversify::encrypt_block(
        &session,
        &pad8(key.algorithm(), data),
    )?)
}

/// The initial value of a MAC from a card challenge of 4 or 8 bytes.
pub fn challenge_iv(algorithm: BlockAlgorithm, challenge: &[u8]) -> Vec<u8> {
    let mut iv = challenge.to_vec();
    iv.resize(algorithm.block_size(), 0);
    iv
}

/// The 4-byte secure-messaging MAC of `input` under `key`.
pub fn sm_mac(key: &BlockKey, challenge: &[u8], input: &[u8]) -> Result<[u8; 4]> {
    let iv = challenge_iv(key.algorithm(), challenge);
    let full = mac::mac(key, MacAlgorithm::CbcMac, Some(&iv), input, Some(4))?;
    let mut out = [0u8; 4];
    out.copy_from_slice(full.get(..4).unwrap_or(&[0; 4]));
    Ok(out)
}

/// Checks a PIN's form: 4 to 12 decimal digits.
pub fn check_pin(pin: &str) -> Result<()> {
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::Invalid("a PIN is 4 to 12 digits".into()))
    }
}

/// The PIN as VERIFY sends it: BCD, `F`-padded.
pub fn pin_bcd(pin: &str) -> Result<Zeroizing<Vec<u8>>> {
    check_pin(pin)?;
    bcd(pin)
        .map(Zeroizing::new)
        .ok_or_else(|| Error::Invalid("a PIN is 4 to 12 digits".into()))
}

/// The clear PIN block of PIN reload and unblock: digit count ‖ BCD digits,
/// `F`-padded to 8 bytes, then `80 00…` to a block for SM4.
pub fn pin_block(algorithm: BlockAlgorithm, pin: &str) -> Result<Zeroizing<Vec<u8>>> {
    let digits = pin_bcd(pin)?;
    let mut block = Zeroizing::new(vec![0xFFu8; 8]);
    if let Some(first) = block.first_mut() {
        *first = pin.len() as u8;
    }
    for (slot, b) in block.iter_mut().skip(1).zip(digits.iter()) {
        *slot = *b;
    }
    if algorithm == BlockAlgorithm::Sm4 {
        block.push(0x80);
        block.resize(16, 0);
    }
    Ok(block)
}

/// The enciphered PIN block of PIN reload and unblock.
pub fn encipher_pin(key: &BlockKey, pin: &str) -> Result<Vec<u8>> {
    let block = pin_block(key.algorithm(), pin)?;
    Ok(diversify::encrypt_block(key, &block)?)
}

/// Opens an enciphered PIN block; `None` when it does not hold a PIN.
pub fn decipher_pin(key: &BlockKey, enciphered: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let block = Zeroizing::new(diversify::decrypt_block(key, enciphered).ok()?);
    let (&count, rest) = block.split_first()?;
    let count = usize::from(count);
    let digits = unbcd(rest.get(..7)?)?;
    if digits.len() != count || check_pin(&digits).is_err() {
        return None;
    }
    if key.algorithm() == BlockAlgorithm::Sm4 && block.get(8..)? != [0x80, 0, 0, 0, 0, 0, 0, 0] {
        return None;
    }
    bcd(&digits).map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_blocks_round_trip_and_wrong_keys_do_not_open() {
        for algorithm in [BlockAlgorithm::Sm4, BlockAlgorithm::Tdes] {
            let key = BlockKey::new(algorithm, &[0x21; 16]).unwrap();
            let other = BlockKey::new(algorithm, &[0x22; 16]).unwrap();
            let sealed = encipher_pin(&key, "654321").unwrap();
            assert_eq!(sealed.len(), algorithm.block_size());
            assert_eq!(
                decipher_pin(&key, &sealed).unwrap().as_slice(),
                pin_bcd("654321").unwrap().as_slice()
            );
            assert!(decipher_pin(&other, &sealed).is_none());
        }
        assert!(pin_bcd("12a4").is_err());
        assert!(pin_bcd("123").is_err());
    }

    #[test]
    fn cryptograms_fold_sm4_and_depend_on_every_input() {
        let key = BlockKey::new(BlockAlgorithm::Sm4, &[7; 16]).unwrap();
        let a = cryptogram(&key, &[1; 8], &[2; 8]).unwrap();
        assert_ne!(a, cryptogram(&key, &[1; 8], &[3; 8]).unwrap());
        assert_ne!(a, cryptogram(&key, &[4; 8], &[2; 8]).unwrap());
        let session = diversify::derive(&key, &[1; 8]).unwrap();
        let full = diversify::encrypt_block(&session, &pad8(BlockAlgorithm::Sm4, &[2; 8])).unwrap();
        assert_eq!(a, fold(&full).unwrap());
    }
}
