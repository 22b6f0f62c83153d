//! # sscard-core
//!
//! The domain of the sscard platform. It holds the seal and the barrier (the
//! root key in Shamir shares; secrets stored only as SM4-GCM ciphertext), the
//! operators with separated duties (三员分立), the tamper-evident audit log,
//! and the storage trait. It knows nothing of HTTP or SQL: `sscard-server`
//! serves it, and `sscard-store` stores it.

#![forbid(unsafe_code)]

pub mod audit;
pub mod barrier;
pub mod clock;
mod error;
pub mod key;
mod name;
pub mod operator;
pub mod password;
pub mod platform;
pub mod provider;
mod role;
pub mod seal;
pub mod store;
pub mod terminal_records;
pub mod text;

pub use clock::{format_time, now_ms};
pub use error::{Error, Result};
pub use role::Role;
