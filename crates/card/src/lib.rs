//! The card carrier of the social security card in software: a virtual
//! card and a virtual PSAM that speak ISO/IEC 7816-4 as card-profile.md
//! describes deployed cards, their persistent memory, the computations
//! they share with the platform, the personalization script, the bridge
//! that shows them to a real PC/SC stack through `vpcd`, and a wrapper that
//! makes them answer as T=0 cards do.

#![forbid(unsafe_code)]

pub mod blacklist;
pub mod card;
pub mod crypto;
mod error;
pub mod image;
pub mod perso;
pub mod profile;
pub mod psam;
pub mod t0;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vpcd;

pub use card::VirtualCard;
pub use error::Error;
pub use psam::VirtualPsam;

/// The result type of this crate.
pub type Result<T> = core::result::Result<T, Error>;
