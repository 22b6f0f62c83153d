//! The terminal SDK of the social security card: a transport to the card
//! and the PSAM (a PC/SC reader through pcsc-lite, or a virtual chip in
//! process), the secure-module operations, and the card flows of
//! card-profile.md: read the basic information after authenticating the
//! card, authenticate the terminal before protected reads, and the PIN.

#![forbid(unsafe_code)]

pub mod cache;
mod error;
pub mod flows;
pub mod module;
pub mod transport;

pub use cache::BlacklistCache;
pub use error::{Error, Result};
pub use flows::{BasicInfo, CardCheck, CardSession, NoCheck};
pub use module::{CardRef, Psam, SecureModule};
pub use transport::{Local, PcscReader, Transport};
