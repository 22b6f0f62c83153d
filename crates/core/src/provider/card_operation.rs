//! What a provider computes under a derived card key for the derivation
//! service: what the card itself computes (ISO/IEC 7816-4 secure messaging
//! MACs, authentication cryptograms), so that the derived key never leaves
//! the provider. It belongs to the provider, which the platform calls; the
//! provider depends on nothing of the platform.

/// What to compute under the derived card key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOperation {
    /// ISO/IEC 9797-1 CBC-MAC (padding method 2), optional IV, leftmost `len` bytes.
    Mac {
        /// Initial value (one block), e.g. the card's challenge, zero-padded.
        iv: Option<Vec<u8>>,
        /// Leftmost bytes to return (secure messaging uses 4).
        len: Option<usize>,
    },
    /// Checks a MAC in constant time.
    VerifyMac {
        /// Initial value.
        iv: Option<Vec<u8>>,
        /// The MAC to check (its length is the truncation).
        mac: Vec<u8>,
    },
    /// Encrypts whole blocks in ECB mode (no padding): card authentication
    /// answers and cryptograms are single blocks.
    EncryptBlocks,
}
