//! # sscard-gm
//!
//! The national algorithms of the social security card system and what the
//! card system builds of them, on RustCrypto's `sm2`, `sm3` and `sm4`:
//!
//! | module | what | standard |
//! |---|---|---|
//! | [`sm3`] | SM3, HMAC-SM3 | GB/T 32905-2016, RFC 2104 |
//! | [`kdf`] | SM3 KDF, PBKDF2-HMAC-SM3 | GB/T 32918.4 §5.4.3, RFC 8018 |
//! | [`sm4`] | SM4 in ECB, CBC, CTR, GCM | GB/T 32907-2016, RFC 8998 |
//! | [`sm2`] | keys, signatures, encryption | GB/T 32918, GM/T 0009-2012 |
//! | [`mac`] | CBC-MAC and retail MAC | ISO/IEC 9797-1 alg. 1 and 3 |
//! | [`diversify`] | card-key diversification | PBOC practice |
//! | [`kcv`], [`components`] | check values, dual-control components | |
//!
//! Pure: no I/O. Secret key types zeroize on drop and hide themselves in
//! `Debug`; MACs, tags and check values compare in constant time.
//!
//! ```
//! use sscard_gm::{diversify, kcv, BlockAlgorithm, BlockKey};
//! let master = BlockKey::new(BlockAlgorithm::Sm4, &[0x5a; 16]).unwrap();
//! let card = diversify::derive(&master, &hex::decode("0000330300000001").unwrap()).unwrap();
//! println!("card key check value {}", hex::encode(kcv::kcv(&card, 4).unwrap()));
//! ```

#![forbid(unsafe_code)]

mod block_key;
pub mod components;
mod ct;
pub mod diversify;
mod error;
#[cfg(feature = "hazmat")]
pub mod hazmat;
pub mod kcv;
pub mod kdf;
pub mod mac;
pub mod random;
pub mod sm2;
pub mod sm3;
pub mod sm4;
mod tdes;
pub mod weak;
pub mod x509;

pub use block_key::{BlockAlgorithm, BlockKey};
pub use ct::ct_eq;
pub use error::{Error, ErrorKind, PointFault, Result};
pub use sm4::Sm4Key;
pub use tdes::TdesKey;
