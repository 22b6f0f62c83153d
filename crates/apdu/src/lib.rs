//! ISO/IEC 7816-4 as the social security card speaks it: command and
//! response APDUs in short and extended length, status words with their
//! meanings, BER-TLV, and the secure-messaging layout of card-profile.md
//! (CLA with the SM bit, a 4-byte MAC over header ‖ data).
//!
//! Pure and without I/O or cryptography: the MAC of secure messaging is
//! computed by a function the caller passes, so that the card, the PSAM and
//! the terminal each bring their own key.
//!
//! ```
//! use sscard_apdu::{Command, Response, StatusWord};
//! // SELECT the SSSE application by its AID.
//! let select = Command::parse(&hex_bytes("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")).unwrap();
//! assert_eq!((select.ins, select.p1, select.data.len()), (0xA4, 0x04, 15));
//! let ok = Response::parse(&[0x90, 0x00]).unwrap();
//! assert_eq!(ok.status, StatusWord::Ok);
//! # fn hex_bytes(s: &str) -> Vec<u8> {
//! #     (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
//! # }
//! ```

#![forbid(unsafe_code)]

mod chip;
mod command;
mod error;
mod response;
pub mod sm;
mod status;
pub mod tlv;

pub use chip::Chip;
pub use command::{Command, LengthForm};
pub use error::Error;
pub use response::Response;
pub use status::StatusWord;

/// The result type of this crate.
pub type Result<T> = core::result::Result<T, Error>;
