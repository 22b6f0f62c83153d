//! Rewrap of stored material after a keyring rotation: every value the
//! barrier sealed under an older term (key material, password hashes,
//! pending approvals, the audit keys) is sealed again under the newest term,
//! a batch at a time. Each batch is one transaction with one audit record;
//! a value changed meanwhile is left alone, so the work can stop and resume
//! at any point and two runs never undo each other.

use serde::Serialize;

use super::{meta, ops, Platform, Session};
use crate::audit::AuditEntry;
use crate::barrier::Keyring;
use crate::key::KeyVersionRecord;
use crate::operator::Operator;
use crate::store::{SealedSlot, Write};
use crate::Result;

/// How far a rewrap has come.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct RewrapProgress {
    /// The term values are sealed under now.
    pub term: u32,
    /// Values resealed by this call.
    pub resealed: usize,
    /// Values still sealed under an older term.
    pub remaining: usize,
}

/// A sealed value as stored, with the name it is bound to.
struct Stored {
    slot: SealedSlot,
    aad: String,
    sealed: Vec<u8>,
}

impl Platform {
    /// Reseals up to `limit` values sealed under an older keyring term.
    pub async fn rewrap_stored(&self, session: &Session, limit: usize) -> Result<RewrapProgress> {
        self.authorize(session, &ops::SYS_ROTATE).await?;
        let term = self.unsealed()?.keyring.term();
        let stale: Vec<Stored> = self
            .stored_sealed_values()
            .await?
            .into_iter()
            .filter(|s| Keyring::term_of(&s.sealed).is_some_and(|t| t < term))
            .collect();
        let batch = stale.len().min(limit);
        let mut writes = Vec::with_capacity(batch);
        for stored in stale.iter().take(batch) {
            let plain = self.open_secret(&stored.aad, &stored.sealed).await?;
            writes.push(Write::Reseal {
                slot: stored.slot.clone(),
                expected: stored.sealed.clone(),
                value: self.unsealed()?.keyring.seal(&stored.aad, &plain)?,
            });
        }
        if !writes.is_empty() {
            let entry = AuditEntry::ok(session.operator.as_str(), "sys.rewrap", "barrier")
                .with("term", term.to_string())
                .with("resealed", batch.to_string())
                .with("remaining", (stale.len() - batch).to_string());
            self.commit(writes, entry).await?;
        }
        Ok(RewrapProgress {
            term,
            resealed: batch,
            remaining: stale.len() - batch,
        })
    }

    /// Every barrier-sealed value in storage.
    async fn stored_sealed_values(&self) -> Result<Vec<Stored>> {
        let mut all = Vec::new();
        for key in [meta::AUDIT_HMAC_KEY, meta::AUDIT_SIGNING_KEY] {
            if let Some(sealed) = self.store.get_meta(key).await? {
                all.push(Stored {
                    slot: SealedSlot::Meta(key.into()),
                    aad: key.into(),
                    sealed,
                });
            }
        }
        for op in self.store.list_operators().await? {
            all.push(Stored {
                aad: Operator::password_aad(&op.name),
                slot: SealedSlot::OperatorPassword(op.name),
                sealed: op.password,
            });
        }
        for key in self.store.list_keys().await? {
            for v in self.store.key_versions(&key.name).await? {
                all.push(Stored {
                    aad: KeyVersionRecord::aad(&v.name, v.version),
                    slot: SealedSlot::KeyVersion(v.name, v.version),
                    sealed: v.material,
                });
            }
        }
        for a in self.store.list_approvals("pending").await? {
            all.push(Stored {
                aad: super::approvals::payload_aad(&a.id),
                slot: SealedSlot::ApprovalPayload(a.id),
                sealed: a.payload,
            });
        }
        Ok(all)
    }
}
