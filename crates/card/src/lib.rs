//! The social security card as a terminal, the platform and a chip all
//! know it: the card profile of card-profile.md (the SSSE application, its
//! files, keys and commands), the computations the card shares with the
//! platform and the PSAM, data preparation (holders, records,
//! personalization jobs), and the signed blacklist format.
//!
//! The simulated card and PSAM and the vpcd bridge are in
//! `sscard-card-sim`, which nothing of the platform links.

#![forbid(unsafe_code)]

pub mod blacklist;
pub mod crypto;
mod error;
pub mod perso;
pub mod profile;

pub use error::Error;

/// The result type of this crate.
pub type Result<T> = core::result::Result<T, Error>;
