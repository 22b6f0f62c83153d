//! Weak block keys, refused at import: a key that is all zero or one byte
//! repeated (no key a generator gives; one a person types), a 3DES key
//! whose parts are equal (it is single DES in effect, ANSI X9.52 keying
//! option 3, or 2-key 3DES with K1 = K2), a DES part that is one of the 4
//! weak or 12 semi-weak keys of FIPS 74 §3.6 (parity bits ignored), and
//! components that are all zero or equal to one another (two equal
//! components XOR to zero; an all-zero one adds nothing, so its custodian
//! holds no share of the key).

use crate::{BlockAlgorithm, Error, Result};

/// The DES weak and semi-weak keys of FIPS 74 §3.6, with odd parity.
const DES_WEAK: [[u8; 8]; 16] = [
    // Weak.
    [0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01],
    [0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE],
    [0xE0, 0xE0, 0xE0, 0xE0, 0xF1, 0xF1, 0xF1, 0xF1],
    [0x1F, 0x1F, 0x1F, 0x1F, 0x0E, 0x0E, 0x0E, 0x0E],
    // Semi-weak, in pairs.
    [0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE],
    [0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01],
    [0x1F, 0xE0, 0x1F, 0xE0, 0x0E, 0xF1, 0x0E, 0xF1],
    [0xE0, 0x1F, 0xE0, 0x1F, 0xF1, 0x0E, 0xF1, 0x0E],
    [0x01, 0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1],
    [0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1, 0x01],
    [0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E, 0xFE],
    [0xFE, 0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E],
    [0x01, 0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E],
    [0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E, 0x01],
    [0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1, 0xFE],
    [0xFE, 0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1],
];

/// Whether two DES keys are the same key (the low bit of each byte is
/// parity, not key).
fn same_des(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x & 0xFE == y & 0xFE)
}

/// Refuses a weak key of `algorithm` with [`Error::WeakKey`] naming why.
///
/// ```
/// use sscard_gm::{weak, BlockAlgorithm};
/// assert!(weak::check_key(BlockAlgorithm::Sm4, &[0; 16]).is_err());
/// assert!(weak::check_key(BlockAlgorithm::Sm4, &[0x5A; 16]).is_err());
/// // 2-key 3DES with K1 = K2 is single DES.
/// let mut k = [0x23u8; 16];
/// assert!(weak::check_key(BlockAlgorithm::Tdes, &k).is_err());
/// k[15] = 0x45;
/// assert!(weak::check_key(BlockAlgorithm::Tdes, &k).is_ok());
/// ```
pub fn check_key(algorithm: BlockAlgorithm, key: &[u8]) -> Result<()> {
    if key.iter().all(|&b| b == 0) {
        return Err(Error::WeakKey("the key is all zero"));
    }
    if key.windows(2).all(|w| w.first() == w.last()) {
        return Err(Error::WeakKey("the key is one byte repeated"));
    }
    if algorithm == BlockAlgorithm::Sm4 {
        return Ok(());
    }
    let parts: Vec<&[u8]> = key.chunks(8).collect();
    for (i, a) in parts.iter().enumerate() {
        if DES_WEAK.iter().any(|w| same_des(a, w)) {
            return Err(Error::WeakKey(
                "a part of the 3DES key is a DES weak or semi-weak key (FIPS 74)",
            ));
        }
        if parts.iter().skip(i + 1).any(|b| same_des(a, b)) {
            return Err(Error::WeakKey(
                "two parts of the 3DES key are equal: it is single DES in effect",
            ));
        }
    }
    Ok(())
}

/// Refuses components that are all zero or equal to one another, then the
/// key they combine to if it is weak ([`check_key`]).
///
/// ```
/// use sscard_gm::{weak, BlockAlgorithm};
/// let a = [0x11u8; 16];
/// assert!(weak::check_components(BlockAlgorithm::Sm4, &[&a, &a]).is_err());
/// assert!(weak::check_components(BlockAlgorithm::Sm4, &[&a, &[0; 16]]).is_err());
/// let b: Vec<u8> = (0..16).collect();
/// assert!(weak::check_components(BlockAlgorithm::Sm4, &[&a, &b]).is_ok());
/// ```
pub fn check_components(algorithm: BlockAlgorithm, components: &[&[u8]]) -> Result<()> {
    for (i, a) in components.iter().enumerate() {
        if a.iter().all(|&b| b == 0) {
            return Err(Error::WeakKey(
                "a component is all zero: its custodian holds no share of the key",
            ));
        }
        if components.iter().skip(i + 1).any(|b| a == b) {
            return Err(Error::WeakKey(
                "two components are equal: their custodians hold the same share",
            ));
        }
    }
    let combined = crate::components::combine(algorithm, components)?;
    check_key(algorithm, combined.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_des_weak_key_is_refused_in_either_part_and_parity() {
        for w in DES_WEAK {
            let strong = [0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1];
            for flip_parity in [false, true] {
                let part: Vec<u8> = w
                    .iter()
                    .map(|b| if flip_parity { b ^ 1 } else { *b })
                    .collect();
                let first = [part.as_slice(), &strong].concat();
                let second = [&strong[..], part.as_slice()].concat();
                assert!(check_key(BlockAlgorithm::Tdes, &first).is_err(), "{w:02x?}");
                assert!(
                    check_key(BlockAlgorithm::Tdes, &second).is_err(),
                    "{w:02x?}"
                );
            }
        }
    }

    #[test]
    fn three_key_tdes_with_two_equal_parts_is_refused() {
        let k1 = [0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1];
        let k2 = [0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01];
        for key in [[k1, k1, k2], [k1, k2, k2], [k1, k2, k1]] {
            assert!(matches!(
                check_key(BlockAlgorithm::Tdes, &key.concat()),
                Err(Error::WeakKey(why)) if why.contains("single DES")
            ));
        }
        assert!(check_key(BlockAlgorithm::Tdes, &[k1, k2, [0x45; 8]].concat()).is_ok());
    }
}
