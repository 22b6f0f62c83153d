//! What a chip is to a reader: an answer to reset, a reset, and one
//! response APDU for each command APDU (ISO/IEC 7816-3 and -4). The virtual
//! card and PSAM implement it, the vpcd bridge serves one to pcscd, and the
//! terminal SDK talks to one in process as it talks to a reader.

/// A chip that can sit in a reader.
pub trait Chip {
    /// The answer to reset.
    fn atr(&self) -> Vec<u8>;
    /// Power cycle or reset: the session state goes.
    fn reset(&mut self);
    /// One command APDU in, one response APDU out.
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8>;
}

impl<C: Chip + ?Sized> Chip for Box<C> {
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        (**self).transmit(apdu)
    }
}
