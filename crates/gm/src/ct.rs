//! Constant-time comparison of MACs, tags and check values.

use subtle::ConstantTimeEq;

/// Compares two byte strings without a data-dependent early exit.
///
/// Only the lengths may leak, and those are public for every value this
/// crate compares (MACs, tags, check values).
///
/// ```
/// assert!(sscard_gm::ct_eq(b"\x01\x02", b"\x01\x02"));
/// assert!(!sscard_gm::ct_eq(b"\x01\x02", b"\x01\x03"));
/// ```
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
