//! The social security card simulated: a virtual card OS and a virtual
//! PSAM that speak ISO/IEC 7816-4 as card-profile.md describes deployed
//! cards, their persistent memory, the bridge that shows them to a real
//! PC/SC stack through `vpcd`, and a wrapper that makes a chip answer as
//! T=0 cards do.
//!
//! What a terminal, the platform and a chip all need (the card profile,
//! data preparation, the blacklist format) is in `sscard-card`; neither the
//! platform (`sscard-core`, `sscard-store`, `sscard-server`) nor the
//! terminal SDK links this crate outside their tests.

#![forbid(unsafe_code)]

pub mod card;
pub mod image;
pub mod psam;
pub mod t0;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vpcd;

pub use card::VirtualCard;
pub use psam::VirtualPsam;
