//! Operations for applications beyond encrypt/decrypt (as Vault's transit):
//! rewrap to the newest version, data keys for envelope encryption,
//! HMAC-SM3, and SM2 signatures. Each use is audited with version and KCV.

use serde::Serialize;
use sscard_gm::random;
use sscard_gm::sm2::{self, Signature, SignatureFormat};
use zeroize::Zeroizing;

use super::{Platform, Session};
use crate::audit::AuditEntry;
use crate::key::{KeyAlgorithm, KeyRecord, KeyVersionRecord, UseKind};
use crate::{Error, Result};

/// A fresh data key: in clear for the caller's use now, and wrapped for
/// storage beside the data it protects.
#[derive(Serialize)]
pub struct DataKey {
    /// The data key (16 bytes), hex. Use and forget.
    pub plaintext: Zeroizing<String>,
    /// The same key under the data master: `sscard:v<N>:…`.
    pub ciphertext: String,
}

impl Platform {
    /// Counts a use and audits it with the version and KCV.
    async fn record_use(
        &self,
        session: &Session,
        key: &KeyRecord,
        version: &KeyVersionRecord,
        action: &str,
    ) -> Result<()> {
        let entry = AuditEntry::ok(session.operator.as_str(), action, key.name.as_str())
            .with("version", version.version.to_string())
            .with("kcv", version.kcv.clone());
        self.commit(vec![Self::use_write(key)], entry)
            .await
            .map(|_| ())
    }

    /// Decrypts a ciphertext and encrypts it again under the newest version,
    /// without the plaintext leaving the platform.
    pub async fn rewrap(&self, session: &Session, name: &str, ciphertext: &str) -> Result<String> {
        let plain = self.decrypt(session, name, ciphertext).await?;
        self.encrypt(session, name, &plain).await
    }

    /// A new 16-byte data key, in clear and wrapped under a `data-master` key.
    pub async fn data_key(&self, session: &Session, name: &str) -> Result<DataKey> {
        let key = random::bytes(16)?;
        let ciphertext = self.encrypt(session, name, &key).await?;
        Ok(DataKey {
            plaintext: Zeroizing::new(hex::encode(key.as_slice())),
            ciphertext,
        })
    }

    /// HMAC-SM3 of `data` under an HMAC key, hex.
    pub async fn hmac(&self, session: &Session, name: &str, data: &[u8]) -> Result<String> {
        key_use!(self, session, "key.hmac", name, |name| async {
            let (key, version, material) = self
                .find_version(name, None, UseKind::Protect, "key.hmac")
                .await?;
            if key.algorithm != KeyAlgorithm::HmacSm3 {
                return Err(Error::Invalid(format!("key {name} is not an hmac-sm3 key")));
            }
            let tag = hex::encode(self.provider.hmac(&material, data)?);
            self.record_use(session, &key, &version, "key.hmac").await?;
            Ok(tag)
        })
    }

    /// Signs `data` with an SM2 key (user ID 1234567812345678), DER, hex.
    pub async fn sign(&self, session: &Session, name: &str, data: &[u8]) -> Result<String> {
        key_use!(self, session, "key.sign", name, |name| async {
            let (key, version, material) = self
                .find_version(name, None, UseKind::Protect, "key.sign")
                .await?;
            if key.algorithm != KeyAlgorithm::Sm2 {
                return Err(Error::Invalid(format!("key {name} is not an sm2 key")));
            }
            if !key.usage.signs() {
                return Err(Error::Invalid(format!(
                    "key {name} has usage {}: it does not sign",
                    key.usage.as_str()
                )));
            }
            let signature = self.provider.sign(&material, data)?;
            self.record_use(session, &key, &version, "key.sign").await?;
            Ok(hex::encode(signature))
        })
    }

    /// Verifies a signature of [`Self::sign`] against the newest version.
    /// A signature that does not verify is refused with
    /// [`sscard_gm::Error::SignatureInvalid`] (and audited).
    pub async fn verify(
        &self,
        session: &Session,
        name: &str,
        data: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        key_use!(self, session, "key.verify", name, |name| async {
            let (key, version, material) = self
                .find_version(name, None, UseKind::Process, "key.verify")
                .await?;
            if key.algorithm != KeyAlgorithm::Sm2 {
                return Err(Error::Invalid(format!("key {name} is not an sm2 key")));
            }
            let public = self.provider.public_key(&material)?;
            let signature = Signature::parse(signature, SignatureFormat::Der)?;
            sm2::verify(&public, sm2::DEFAULT_USER_ID, data, &signature)?;
            self.record_use(session, &key, &version, "key.verify").await
        })
    }
}
