//! Secure messaging as the social security card uses it (card-profile.md):
//! the CLA gets the SM bit (`0x04`), and the data field ends with the first
//! 4 bytes of a CBC-MAC over header ‖ Lc ‖ data, where the header carries
//! the SM bit and Lc counts the MAC. The MAC's initial value is the card's
//! last challenge, so a command is good once: a replay meets a new
//! challenge, or none, and fails with `69 88`.
//!
//! The MAC itself is computed by the caller's key (SM4 or 3DES, ISO/IEC
//! 9797-1 padding method 2), passed in as a function.
//!
//! ```
//! use sscard_apdu::{sm, Command};
//! let plain = Command::new(0x00, 0xDC, 0x01, 0x2C, vec![0x01, 0x01, 0xAA], None);
//! let toy_mac = |input: &[u8]| input.iter().fold([0u8; 4], |mut m, b| { m[0] ^= b; m });
//! let protected = sm::protect(&plain, toy_mac);
//! assert_eq!((protected.cla, protected.data.len()), (0x04, 7));
//! assert_eq!(sm::unprotect(&protected, |input, mac| toy_mac(input) == *mac).unwrap(), plain);
//! ```

use crate::{Command, Error, Result};

/// The SM bit of the class byte.
pub const SM_BIT: u8 = 0x04;

/// Length of the MAC that ends the data field.
pub const MAC_LEN: usize = 4;

/// Whether a command's CLA has the SM bit.
pub fn is_protected(command: &Command) -> bool {
    command.cla & SM_BIT != 0
}

/// What the MAC covers for the plain command `plain`: CLA (with the SM bit)
/// INS P1 P2, Lc counting the MAC, then the data. The MAC function pads it.
pub fn mac_input(plain: &Command) -> Vec<u8> {
    let mut input = Vec::with_capacity(5 + plain.data.len());
    input.extend_from_slice(&[plain.cla | SM_BIT, plain.ins, plain.p1, plain.p2]);
    let lc = plain.data.len() + MAC_LEN;
    if lc <= 0xFF {
        input.push(lc as u8);
    } else {
        input.push(0);
        input.extend_from_slice(&(lc.min(0xFFFF) as u16).to_be_bytes());
    }
    input.extend_from_slice(&plain.data);
    input
}

/// The protected form of `plain`: SM bit set, MAC appended.
pub fn protect(plain: &Command, mac: impl FnOnce(&[u8]) -> [u8; MAC_LEN]) -> Command {
    let tag = mac(&mac_input(plain));
    let mut data = plain.data.clone();
    data.extend_from_slice(&tag);
    Command::new(
        plain.cla | SM_BIT,
        plain.ins,
        plain.p1,
        plain.p2,
        data,
        plain.le,
    )
}

/// The plain command inside a protected one, once `verify(mac_input, mac)`
/// accepts its MAC (compare in constant time there).
pub fn unprotect(
    protected: &Command,
    verify: impl FnOnce(&[u8], &[u8; MAC_LEN]) -> bool,
) -> Result<Command> {
    if !is_protected(protected) {
        return Err(Error::NotSecureMessaging);
    }
    let (data, tag) = protected
        .data
        .split_last_chunk::<MAC_LEN>()
        .ok_or(Error::NotSecureMessaging)?;
    let plain = Command::new(
        protected.cla & !SM_BIT,
        protected.ins,
        protected.p1,
        protected.p2,
        data.to_vec(),
        protected.le,
    );
    if verify(&mac_input(&plain), tag) {
        Ok(plain)
    } else {
        Err(Error::MacMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keyed_mac(key: u8) -> impl Fn(&[u8]) -> [u8; 4] {
        move |input: &[u8]| {
            let mut m = [key, 0, 0, 0];
            for (i, b) in input.iter().enumerate() {
                if let Some(slot) = m.get_mut(i % 4) {
                    *slot = slot.rotate_left(3) ^ b;
                }
            }
            m
        }
    }

    #[test]
    fn the_mac_covers_the_header_with_the_sm_bit_and_lc_with_the_mac() {
        let plain = Command::new(0x80, 0x24, 0x00, 0x01, vec![1, 2, 3], None);
        assert_eq!(mac_input(&plain), [0x84, 0x24, 0x00, 0x01, 0x07, 1, 2, 3]);
        let p = protect(&plain, keyed_mac(1));
        assert!(unprotect(&p, |i, m| keyed_mac(2)(i) == *m).is_err());
        let mut tampered = p.clone();
        tampered.p2 = 2;
        assert_eq!(
            unprotect(&tampered, |i, m| keyed_mac(1)(i) == *m),
            Err(Error::MacMismatch)
        );
        assert_eq!(
            unprotect(&plain, |_, _| true),
            Err(Error::NotSecureMessaging)
        );
    }

    proptest! {
        #[test]
        fn protect_then_unprotect_is_the_identity(
            cla in any::<u8>().prop_map(|c| c & !SM_BIT),
            ins in any::<u8>(),
            data in proptest::collection::vec(any::<u8>(), 0..300),
            le in proptest::option::of(1usize..=256),
        ) {
            let plain = Command::new(cla, ins, 1, 2, data, le);
            let protected = protect(&plain, keyed_mac(7));
            let parsed = Command::parse(&protected.encode().unwrap()).unwrap();
            prop_assert_eq!(unprotect(&parsed, |i, m| keyed_mac(7)(i) == *m).unwrap(), plain);
        }
    }
}
