//! SM2 (GB/T 32918-2016): keys, signatures and public-key encryption, on
//! RustCrypto's `sm2` crate.

mod curve;
mod encrypt;
mod keyfile;
mod keys;
mod pem;
mod point;
mod sign;
mod za;

#[cfg(feature = "hazmat")]
pub(crate) use encrypt::encrypt_with_nonce;
pub use encrypt::{convert_ciphertext, decrypt, encrypt, CiphertextFormat};
pub use keys::{Sm2PrivateKey, Sm2PublicKey};
pub use sign::{sign, verify, Signature, SignatureFormat};
pub use za::{za, DEFAULT_USER_ID};

/// The system random generator, as the `sm2` crate takes it.
pub(crate) fn system_rng() -> sm2::elliptic_curve::common::getrandom::SysRng {
    sm2::elliptic_curve::common::getrandom::SysRng
}
