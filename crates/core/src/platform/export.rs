//! Wrapped export of a key (dual-controlled): under a KEK of the platform,
//! SM4-GCM with the key's metadata as AAD, or as an SM2 envelope to a
//! recipient's public key (an HSM, a PSAM issuance system). The check value
//! always travels with the key.
//!
//! The file is JSON:
//! `{"format": "sscard-wrapped-key/1", "name", "algorithm", "usage", "level",
//! "region", "version", "kcv", "wrapping": "kek"|"sm2", "kek", "kek_kcv",
//! "recipient", "iv", "ciphertext"}`; for `kek`, the AAD is the canonical JSON
//! of the fields from `format` to `kcv`; for `sm2`, `ciphertext` is GM/T 0009
//! DER and `recipient` the first 8 bytes of SM3 over the recipient's SPKI.
//!
//! Both forms import into a platform that holds the unwrapping key: the KEK,
//! or an SM2 key pair of usage `kek` whose public key the sender used. An SM2
//! envelope binds no metadata (the recipient may be an HSM that takes the
//! bare key), so on import the KCV binds the material and the second
//! administrator who approves checks the name, usage and region.

use serde::{Deserialize, Serialize};
use sscard_gm::random;
use sscard_gm::sm2::Sm2PublicKey;
use sscard_gm::sm4::GCM_IV_LEN;

use super::{NewKey, Platform, Session};
use crate::key::{KeyAlgorithm, KeyLevel, KeyName, KeyUsage, UseKind};
use crate::provider::KeyBlob;
use crate::{Error, Result};

/// Where an export goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportTarget {
    /// Wrapped under this platform KEK (usage `kek`, SM4).
    Kek(String),
    /// Enveloped to this SM2 public key (SPKI PEM).
    Recipient(String),
}

impl ExportTarget {
    /// Where the key goes, for the approver: `wrapped_to` (`kek <name>` or
    /// `sm2 recipient`) and, for a recipient, the SM3 fingerprint of its
    /// public key (hex of the DER SubjectPublicKeyInfo's digest).
    pub fn describe(&self) -> super::approvals::Details {
        let mut details = super::approvals::Details::new();
        match self {
            Self::Kek(name) => {
                details.insert("wrapped_to".into(), format!("kek {name}"));
            }
            Self::Recipient(pem) => {
                details.insert("wrapped_to".into(), "sm2 recipient".into());
                let fingerprint = sscard_gm::sm2::Sm2PublicKey::from_pem_or_der(pem.as_bytes())
                    .and_then(|k| k.to_spki_der())
                    .map(|der| hex::encode(sscard_gm::sm3::digest(&der)))
                    .unwrap_or_else(|_| "unreadable".into());
                details.insert("recipient_sm3".into(), fingerprint);
            }
        }
        details
    }
}

/// The metadata that is bound to the wrapped key (the AAD under a KEK).
#[derive(Serialize)]
struct Metadata<'a> {
    format: &'static str,
    name: &'a str,
    algorithm: KeyAlgorithm,
    usage: KeyUsage,
    level: &'a str,
    region: &'a str,
    version: i64,
    kcv: &'a str,
}

/// An export file as read back (KEK wrapping).
#[derive(Deserialize)]
struct WrappedFile {
    format: String,
    name: String,
    algorithm: KeyAlgorithm,
    usage: KeyUsage,
    level: String,
    region: String,
    version: i64,
    kcv: String,
    wrapping: String,
    kek: Option<String>,
    recipient: Option<String>,
    iv: Option<String>,
    ciphertext: String,
}

#[derive(Serialize)]
struct Wrapped<'a> {
    #[serde(flatten)]
    metadata: Metadata<'a>,
    wrapping: &'static str,
    kek: Option<String>,
    kek_kcv: Option<String>,
    recipient: Option<String>,
    iv: Option<String>,
    ciphertext: String,
}

impl Platform {
    /// Checks that `name` may be exported: exportable, and in a state that
    /// still holds its material.
    pub(super) async fn check_exportable(&self, name: &KeyName) -> Result<()> {
        let key = self
            .store
            .get_key(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key {name}")))?;
        if !key.exportable {
            return Err(Error::NotExportable(name.to_string()));
        }
        Ok(())
    }

    /// Produces the export file of `name` for `target` (after approval).
    pub(super) async fn wrap_for_export(
        &self,
        session: &Session,
        name: &KeyName,
        target: &ExportTarget,
    ) -> Result<Vec<u8>> {
        let (key, version, material) = self
            .use_version(session, name, None, UseKind::Process, "key.export")
            .await?;
        let metadata = Metadata {
            format: "sscard-wrapped-key/1",
            name: name.as_str(),
            algorithm: key.algorithm,
            usage: key.usage,
            level: key.level.as_str(),
            region: &key.region,
            version: version.version,
            kcv: &version.kcv,
        };
        let wrapped = match target {
            ExportTarget::Kek(kek_name) => {
                let kek_name = KeyName::parse(kek_name)?;
                let (kek, kek_version, kek_material) = self
                    .use_version(session, &kek_name, None, UseKind::Protect, "key.export")
                    .await?;
                if kek.usage != KeyUsage::Kek || kek.algorithm != KeyAlgorithm::Sm4 {
                    return Err(Error::Invalid(format!(
                        "{kek_name} is not an SM4 key of usage kek"
                    )));
                }
                let aad =
                    serde_json::to_vec(&metadata).map_err(|e| Error::Invalid(e.to_string()))?;
                let iv = random::bytes(GCM_IV_LEN)?;
                let sealed = self.provider.wrap(&kek_material, &material, &iv, &aad)?;
                Wrapped {
                    metadata,
                    wrapping: "kek",
                    kek: Some(kek_name.to_string()),
                    kek_kcv: Some(kek_version.kcv),
                    recipient: None,
                    iv: Some(hex::encode(iv.as_slice())),
                    ciphertext: hex::encode(sealed),
                }
            }
            ExportTarget::Recipient(pem) => {
                let public = Sm2PublicKey::from_pem_or_der(pem.as_bytes())?;
                Wrapped {
                    metadata,
                    wrapping: "sm2",
                    kek: None,
                    kek_kcv: None,
                    recipient: Some(recipient_id(&public)?),
                    iv: None,
                    ciphertext: hex::encode(self.provider.envelope(&material, &public)?),
                }
            }
        };
        serde_json::to_vec_pretty(&wrapped).map_err(|e| Error::Invalid(e.to_string()))
    }
}

impl Platform {
    /// Opens an export file wrapped under a KEK this platform also holds
    /// (transported there by components, say): checks the AAD-bound metadata
    /// and the KCV, and returns the key to create and its material. The
    /// caller files it for approval like an import by components.
    pub(super) async fn unwrap_export(
        &self,
        session: &Session,
        file: &[u8],
    ) -> Result<(NewKey, KeyBlob, String)> {
        let bad = |why: &str| Error::Invalid(format!("not an export file of sscard: {why}"));
        let f: WrappedFile = serde_json::from_slice(file).map_err(|e| bad(&e.to_string()))?;
        if f.format != "sscard-wrapped-key/1" {
            return Err(bad("the format is not sscard-wrapped-key/1"));
        }
        let level = KeyLevel::parse(&f.level).ok_or_else(|| bad("level"))?;
        let material = match f.wrapping.as_str() {
            "kek" => self.unwrap_under_kek(session, &f, level).await,
            "sm2" => self.open_envelope(session, &f).await,
            _ => return Err(bad("wrapping is neither kek nor sm2")),
        }
        .map_err(|e| match e {
            Error::Crypto(sscard_gm::Error::WeakKey(why)) => Error::WeakKey(why.into()),
            other => other,
        })?;
        let new = NewKey {
            name: f.name.clone(),
            algorithm: f.algorithm,
            usage: f.usage,
            level,
            region: (!f.region.is_empty()).then(|| f.region.clone()),
            exportable: false,
            rotate_every_ms: 0,
            activate_ms: 0,
            expire_ms: 0,
        };
        let check = self.provider.check_value(f.algorithm, &material)?;
        if !sscard_gm::ct_eq(check.as_bytes(), f.kcv.as_bytes()) {
            return Err(Error::KcvMismatch { index: 1 });
        }
        Ok((new, material, check))
    }

    /// Opens the ciphertext of a file wrapped under a KEK of this platform,
    /// checking the metadata bound as AAD.
    async fn unwrap_under_kek(
        &self,
        session: &Session,
        f: &WrappedFile,
        level: KeyLevel,
    ) -> Result<KeyBlob> {
        let bad = |why: &str| Error::Invalid(format!("not an export file of sscard: {why}"));
        let kek_name = KeyName::parse(f.kek.as_deref().ok_or_else(|| bad("no kek"))?)?;
        let (kek, _, kek_material) = self
            .use_version(session, &kek_name, None, UseKind::Process, "key.import")
            .await?;
        if kek.usage != KeyUsage::Kek || kek.algorithm != KeyAlgorithm::Sm4 {
            return Err(Error::Invalid(format!(
                "{kek_name} is not an SM4 key of usage kek"
            )));
        }
        let metadata = Metadata {
            format: "sscard-wrapped-key/1",
            name: &f.name,
            algorithm: f.algorithm,
            usage: f.usage,
            level: level.as_str(),
            region: &f.region,
            version: f.version,
            kcv: &f.kcv,
        };
        let aad = serde_json::to_vec(&metadata).map_err(|e| Error::Invalid(e.to_string()))?;
        let iv = hex::decode(f.iv.as_deref().unwrap_or_default()).map_err(|_| bad("iv"))?;
        let sealed = hex::decode(&f.ciphertext).map_err(|_| bad("ciphertext"))?;
        self.provider
            .unwrap(&kek_material, f.algorithm, &iv, &aad, &sealed)
            .map_err(|e| match e {
                weak @ Error::Crypto(sscard_gm::Error::WeakKey(_)) => weak,
                _ => bad("it does not open under this KEK, or its metadata was changed"),
            })
    }

    /// Opens an SM2 envelope addressed to one of this platform's SM2 keys of
    /// usage `kek`, found by the recipient id of the file.
    async fn open_envelope(&self, session: &Session, f: &WrappedFile) -> Result<KeyBlob> {
        let bad = |why: &str| Error::Invalid(format!("not an export file of sscard: {why}"));
        let recipient = f.recipient.as_deref().ok_or_else(|| bad("no recipient"))?;
        let ciphertext = hex::decode(&f.ciphertext).map_err(|_| bad("ciphertext"))?;
        for key in self.store.list_keys().await? {
            if key.usage != KeyUsage::Kek || key.algorithm != KeyAlgorithm::Sm2 {
                continue;
            }
            for version in self.store.key_versions(&key.name).await? {
                if version.version < key.min_version || version.material.is_empty() {
                    continue;
                }
                let (_, _, material) = self
                    .use_version(
                        session,
                        &key.name,
                        Some(version.version),
                        UseKind::Process,
                        "key.import",
                    )
                    .await?;
                if recipient_id(&self.provider.public_key(&material)?)? != recipient {
                    continue;
                }
                return self
                    .provider
                    .open_envelope(&material, f.algorithm, &ciphertext)
                    .map_err(|e| match e {
                        weak @ Error::Crypto(sscard_gm::Error::WeakKey(_)) => weak,
                        _ => bad("the envelope does not open under this platform's key"),
                    });
            }
        }
        Err(bad(
            "it is addressed to no SM2 key of usage kek of this platform",
        ))
    }
}

/// The recipient id of an SM2 envelope: the first 8 bytes of SM3 over the
/// recipient's SPKI DER, hex.
fn recipient_id(public: &Sm2PublicKey) -> Result<String> {
    let fingerprint = sscard_gm::sm3::digest(&public.to_spki_der()?);
    Ok(hex::encode(fingerprint.get(..8).unwrap_or_default()))
}
