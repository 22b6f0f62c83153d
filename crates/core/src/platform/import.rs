//! Import of keys under dual control: by 2 or 3 custodians' components with
//! their check values, or from an export file wrapped under a shared KEK.
//! Only the sealed, combined key waits for the approval, never its parts.

use serde::{Deserialize, Serialize};
use sscard_gm::{components, kcv, BlockKey};
use zeroize::Zeroizing;

use super::approvals::{PendingApproval, IMPORT};
use super::keys::block_algorithm;
use super::{ops, NewKey, Platform, Session};
use crate::audit::AuditEntry;
use crate::key::KeyName;
use crate::provider::KeyBlob;
use crate::store::Write;
use crate::{Error, Result};

/// The sealed parameters of an import.
#[derive(Serialize, Deserialize)]
struct ImportPayload {
    #[serde(flatten)]
    new: NewKey,
    material: Zeroizing<String>,
}

impl Platform {
    /// Checks each custodian's component against its check value (3, 4 or 8
    /// bytes), combines them by XOR, and files the import for approval.
    /// Components are neither stored nor logged; only their positions are.
    pub async fn import_key(
        &self,
        session: &Session,
        new: &NewKey,
        parts: &[(Zeroizing<Vec<u8>>, Vec<u8>)],
    ) -> Result<PendingApproval> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let who = session.operator.as_str();
        let name = self.check_new_key(session, new, IMPORT).await?;
        let refuse = |reason: &str| AuditEntry::refused(who, IMPORT, name.as_str(), reason);
        let Some(block) = block_algorithm(new.algorithm) else {
            let e = Error::Invalid("components are imported for sm4 and 3des keys".into());
            return Err(self.refuse(refuse("not a block key"), e).await);
        };
        if !(2..=3).contains(&parts.len()) {
            let e = Error::Invalid("an import takes 2 or 3 components".into());
            return Err(self.refuse(refuse("component count"), e).await);
        }
        for (index, (component, check)) in parts.iter().enumerate() {
            let ok = matches!(check.len(), 3 | 4 | 8)
                && BlockKey::new(block, component).is_ok_and(|key| kcv::check(&key, check).is_ok());
            if !ok {
                let position = index + 1;
                let entry = refuse("component check value mismatch")
                    .with("component", position.to_string());
                return Err(self
                    .refuse(entry, Error::KcvMismatch { index: position })
                    .await);
            }
        }
        let slices: Vec<&[u8]> = parts.iter().map(|(c, _)| c.as_slice()).collect();
        // A weak key is refused before anything is filed: all-zero or equal
        // components, a combined key that is all zero, single DES in effect,
        // or a DES weak or semi-weak key.
        if let Err(e) = sscard_gm::weak::check_components(block, &slices) {
            let why = match e {
                sscard_gm::Error::WeakKey(why) => why.to_string(),
                other => other.to_string(),
            };
            let entry = refuse("weak key").with("why", why.clone());
            return Err(self.refuse(entry, Error::WeakKey(why)).await);
        }
        let combined = components::combine(block, &slices)?;
        let blob = self
            .provider
            .import(new.algorithm, combined.expose_secret())?;
        let check = self.provider.check_value(new.algorithm, &blob)?;
        self.file_import(session, &name, new, &blob, check).await
    }

    /// Files the import of a key from an export file wrapped under a KEK this
    /// platform holds; like an import by components it needs an approval.
    pub async fn import_wrapped(&self, session: &Session, file: &[u8]) -> Result<PendingApproval> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let (new, material, check) = match self.unwrap_export(session, file).await {
            Ok(opened) => opened,
            Err(e) => {
                let entry = AuditEntry::refused(
                    session.operator.as_str(),
                    IMPORT,
                    "wrapped",
                    &e.to_string(),
                );
                return Err(self.refuse(entry, e).await);
            }
        };
        let name = self.check_new_key(session, &new, IMPORT).await?;
        self.file_import(session, &name, &new, &material, check)
            .await
    }

    /// Files the import of `material` as key `name` for approval; only this
    /// sealed payload waits, never the parts it was made from.
    async fn file_import(
        &self,
        session: &Session,
        name: &KeyName,
        new: &NewKey,
        blob: &KeyBlob,
        check: String,
    ) -> Result<PendingApproval> {
        let payload = ImportPayload {
            new: NewKey {
                name: name.to_string(),
                ..new.clone()
            },
            material: Zeroizing::new(hex::encode(blob.as_bytes())),
        };
        let mut details = super::approvals::new_key_details(&payload.new);
        details.insert("kcv".into(), check.clone());
        let id = self
            .file_approval(session, IMPORT, name.as_str(), &payload, details)
            .await?;
        Ok(PendingApproval {
            approval: id,
            kcv: Some(check),
        })
    }

    /// The writes of an approved import: the key at version 1, and its KCV.
    pub(super) async fn approved_import(
        &self,
        target: &KeyName,
        payload: &[u8],
    ) -> Result<(Vec<Write>, String)> {
        let p: ImportPayload = serde_json::from_slice(payload)
            .map_err(|_| Error::Integrity("approval payload".into()))?;
        let material = Zeroizing::new(
            hex::decode(p.material.as_str())
                .map_err(|_| Error::Integrity("approval payload".into()))?,
        );
        if self.store.get_key(target).await?.is_some() {
            return Err(Error::Conflict(format!("key {target}")));
        }
        self.new_key_writes(target, &p.new, &KeyBlob::from_bytes(material))
    }
}
