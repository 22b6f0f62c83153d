//! Keys of the card system (密钥安全): what a key is for, what it is made
//! of, and the life it may lead. The KMS operations that store and use keys
//! build on these types.

mod algorithm;
mod record;
mod state;
mod usage;

pub use algorithm::KeyAlgorithm;
pub use record::{KeyName, KeyRecord, KeyVersionRecord};
pub use state::{KeyState, Transition, UseKind};
pub use usage::{KeyLevel, KeyUsage};
