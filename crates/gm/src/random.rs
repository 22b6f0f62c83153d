//! Random bytes from the operating system, for keys, IVs and challenges.

use sm2::elliptic_curve::rand_core::TryRng;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// `len` random bytes from the operating system's generator, zeroized on drop.
///
/// ```
/// let iv = sscard_gm::random::bytes(12).unwrap();
/// assert_eq!(iv.len(), 12);
/// ```
pub fn bytes(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    crate::sm2::system_rng()
        .try_fill_bytes(&mut out)
        .map_err(|_| Error::Random)?;
    Ok(out)
}
