//! The seam between the platform and whatever holds the keys (an HSM, a
//! 密码机). The platform never touches key material itself: it asks a
//! [`CryptoProvider`] to generate, import, check, use, wrap and unwrap keys,
//! and stores what the provider returns, a [`KeyBlob`], behind the barrier.
//!
//! [`SoftwareProvider`] is the provider of this crate: the blob is the key
//! itself, and the operations run in process on `sscard-gm`.
//!
//! # A GM/T 0018 (SDF) device
//!
//! A device with the SDF interface of GM/T 0018 plugs in as another
//! implementation, in a crate of its own that links the vendor's library.
//! Its blob is the key encrypted under the device's key-encryption key
//! (`SDF_GenerateKeyWithKEK`, `SDF_ImportKeyWithKEK`), so keys exist in
//! clear only inside the device and storage holds only device ciphertexts,
//! themselves sealed again by the barrier. Each method opens a session
//! (`SDF_OpenDevice`, `SDF_OpenSession`), imports the blob as a session key
//! handle, and calls the matching function: `SDF_Encrypt`/`SDF_Decrypt`
//! with `SGD_SM4_ECB` for card computations and derivation,
//! `SDF_CalculateMAC` for MACs, `SDF_InternalSign_ECC` and
//! `SDF_ExportSignPublicKey_ECC` for SM2 keys kept in the device's key
//! index, `SDF_ExchangeDigitEnvelopeBaseOnECC` for SM2 envelopes, and
//! `SDF_HashInit/Update/Final` with `SGD_SM3` for HMAC. Check values are
//! computed in the device by encrypting a zero block. A PKCS#11 token
//! (`cryptoki`) with GM mechanisms fits the same way, with `C_WrapKey` and
//! `C_UnwrapKey` for blobs.

mod card_operation;
mod software;

pub use card_operation::CardOperation;
pub use software::SoftwareProvider;

use zeroize::Zeroizing;

use crate::key::KeyAlgorithm;
use crate::Result;
use sscard_gm::sm2::Sm2PublicKey;

/// A key as its provider holds it. For the software provider this is the
/// key itself (hence zeroized and never shown); for a device, the key
/// under the device's own key. The platform treats it as opaque.
#[derive(Clone)]
pub struct KeyBlob(Zeroizing<Vec<u8>>);

impl KeyBlob {
    /// A blob from the bytes the provider produced or storage returned.
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The bytes to store (behind the barrier).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl core::fmt::Debug for KeyBlob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyBlob(..)")
    }
}

/// What holds and uses the platform's keys.
pub trait CryptoProvider: Send + Sync {
    /// A short name for logs and health (`software`, `sdf`, `pkcs11`).
    fn name(&self) -> &'static str;

    /// A fresh key of `algorithm`.
    fn generate(&self, algorithm: KeyAlgorithm) -> Result<KeyBlob>;

    /// Takes in a key given in clear (custodians' combined components, a
    /// key unwrapped from transport). SM2 keys are PKCS#8 DER. A weak block
    /// key ([`sscard_gm::weak::check_key`]) is refused, whichever way it
    /// arrives.
    fn import(&self, algorithm: KeyAlgorithm, clear: &[u8]) -> Result<KeyBlob>;

    /// The check value of a key (hex): the KCV of a block key, 4 bytes of
    /// HMAC-SM3 over a zero block for HMAC keys, 4 bytes of SM3 over the
    /// public key (SPKI DER) for SM2 keys.
    fn check_value(&self, algorithm: KeyAlgorithm, key: &KeyBlob) -> Result<String>;

    /// SM4-GCM encryption under an SM4 key: ciphertext ‖ tag.
    fn seal(&self, key: &KeyBlob, iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>>;

    /// SM4-GCM decryption under an SM4 key.
    fn open(
        &self,
        key: &KeyBlob,
        iv: &[u8],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>>;

    /// HMAC-SM3 under an HMAC key.
    fn hmac(&self, key: &KeyBlob, data: &[u8]) -> Result<Vec<u8>>;

    /// An SM2 signature (DER) with the default user ID.
    fn sign(&self, key: &KeyBlob, data: &[u8]) -> Result<Vec<u8>>;

    /// The public key of an SM2 key.
    fn public_key(&self, key: &KeyBlob) -> Result<Sm2PublicKey>;

    /// Derives the card key of a block-cipher master through `factors` (one
    /// level each) and applies `operation` to `data`.
    fn card_compute(
        &self,
        algorithm: KeyAlgorithm,
        master: &KeyBlob,
        factors: &[&[u8]],
        operation: &CardOperation,
        data: &[u8],
    ) -> Result<Vec<u8>>;

    /// A child key of a block-cipher master through `factors` (one
    /// diversification level each): a city master from a province master,
    /// a card key from a city master.
    fn derive(
        &self,
        algorithm: KeyAlgorithm,
        master: &KeyBlob,
        factors: &[&[u8]],
    ) -> Result<KeyBlob>;

    /// Wraps `key` under an SM4 KEK with SM4-GCM (export).
    fn wrap(&self, kek: &KeyBlob, key: &KeyBlob, iv: &[u8], aad: &[u8]) -> Result<Vec<u8>>;

    /// Unwraps a key of `algorithm` wrapped by [`Self::wrap`] (import).
    fn unwrap(
        &self,
        kek: &KeyBlob,
        algorithm: KeyAlgorithm,
        iv: &[u8],
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<KeyBlob>;

    /// Envelopes `key` to an SM2 public key (GM/T 0009 DER ciphertext).
    fn envelope(&self, key: &KeyBlob, to: &Sm2PublicKey) -> Result<Vec<u8>>;

    /// Opens an SM2 envelope with an SM2 key of this provider.
    fn open_envelope(
        &self,
        recipient: &KeyBlob,
        algorithm: KeyAlgorithm,
        envelope: &[u8],
    ) -> Result<KeyBlob>;
}
