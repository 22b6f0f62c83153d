//! Dual control (双人控制): key import, the creation of an exportable key,
//! a change of usage, export and destruction wait for a second security
//! administrator. The requester cannot approve; an approval expires after a
//! day. What waits is sealed by the barrier: the combined key of an import,
//! never its components.

use serde::Serialize;
use sscard_gm::random;
use zeroize::Zeroizing;

use super::{ops, KeyView, Platform, Session};
use crate::audit::AuditEntry;
use crate::key::{KeyName, Transition};
use crate::store::{ApprovalRecord, Write};
use crate::{now_ms, Error, Result};

/// How long a request waits for its approval.
pub const APPROVAL_TTL_MS: i64 = 24 * 60 * 60 * 1000;

pub(super) const IMPORT: &str = "key.import";
pub(super) const CREATE_EXPORTABLE: &str = "key.create-exportable";
pub(super) const SET_USAGE: &str = "key.set-usage";
const DESTROY: &str = "key.destroy";
const EXPORT: &str = "key.export";

/// A request waiting for approval.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PendingApproval {
    /// Give this to the second security administrator.
    pub approval: String,
    /// For an import: the check value of the combined key.
    pub kcv: Option<String>,
}

/// An approval as listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApprovalView {
    /// Id.
    pub id: String,
    /// Operation.
    pub action: String,
    /// What it acts on.
    pub target: String,
    /// Who asked.
    pub requester: String,
    /// `pending`, `approved`, `denied`.
    pub state: String,
    /// Expiry, ms since the epoch.
    pub expires_ms: i64,
}

/// What an approval did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApprovalOutcome {
    /// Operation.
    pub action: String,
    /// What it acted on.
    pub target: String,
    /// The key afterwards.
    pub key: KeyView,
}

/// An approval's state, and for its requester what it produced.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApprovalStatus {
    /// Id.
    pub id: String,
    /// Operation.
    pub action: String,
    /// `pending`, `approved`, `denied`, or `expired`.
    pub state: String,
    /// For the requester of an approved export: the export file.
    pub result: Option<String>,
}

pub(super) fn payload_aad(id: &str) -> String {
    format!("approval/{id}")
}

impl Platform {
    /// Files the destruction of a key for approval. Only a key that is not in
    /// use (pre-active, deactivated or compromised) can be destroyed.
    pub async fn request_destroy(&self, session: &Session, name: &str) -> Result<PendingApproval> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let name = KeyName::parse(name)?;
        let key = self
            .store
            .get_key(&name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key {name}")))?;
        if key.state.apply(Transition::Destroy).is_none() {
            let entry = AuditEntry::refused(
                session.operator.as_str(),
                DESTROY,
                name.as_str(),
                key.state.as_str(),
            );
            let e = Error::KeyState {
                name: name.to_string(),
                state: key.state.as_str(),
                action: "destroy (deactivate it first)",
            };
            return Err(self.refuse(entry, e).await);
        }
        let id = self
            .file_approval(session, DESTROY, name.as_str(), &(), None)
            .await?;
        Ok(PendingApproval {
            approval: id,
            kcv: None,
        })
    }

    /// Files a wrapped export of an exportable key for approval. A key that is
    /// not exportable is refused at once (`not_exportable`).
    pub async fn request_export(
        &self,
        session: &Session,
        name: &str,
        target: &super::ExportTarget,
    ) -> Result<PendingApproval> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let name = KeyName::parse(name)?;
        if let Err(e) = self.check_exportable(&name).await {
            let entry = AuditEntry::refused(
                session.operator.as_str(),
                EXPORT,
                name.as_str(),
                &e.to_string(),
            );
            return Err(self.refuse(entry, e).await);
        }
        let id = self
            .file_approval(session, EXPORT, name.as_str(), target, None)
            .await?;
        Ok(PendingApproval {
            approval: id,
            kcv: None,
        })
    }

    /// The state of an approval; its requester also gets what it produced.
    pub async fn approval_status(&self, session: &Session, id: &str) -> Result<ApprovalStatus> {
        self.authorize(session, &ops::APPROVAL).await?;
        let a = self
            .store
            .get_approval(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("approval {id}")))?;
        let state = if a.state == "pending" && a.expires_ms <= now_ms() {
            "expired".to_string()
        } else {
            a.state.clone()
        };
        let mine = a.requester == session.operator.as_str();
        let result =
            (mine && !a.result.is_empty()).then(|| String::from_utf8_lossy(&a.result).into_owned());
        Ok(ApprovalStatus {
            id: a.id,
            action: a.action,
            state,
            result,
        })
    }

    pub(super) async fn file_approval<T: Serialize>(
        &self,
        session: &Session,
        action: &str,
        target: &str,
        payload: &T,
        check: Option<&str>,
    ) -> Result<String> {
        let id = hex::encode(random::bytes(8)?.as_slice());
        let json =
            Zeroizing::new(serde_json::to_vec(payload).map_err(|e| Error::Invalid(e.to_string()))?);
        let now = now_ms();
        let record = ApprovalRecord {
            id: id.clone(),
            action: action.into(),
            target: target.into(),
            requester: session.operator.to_string(),
            payload: self.unsealed()?.keyring.seal(&payload_aad(&id), &json)?,
            state: "pending".into(),
            created_ms: now,
            expires_ms: now + APPROVAL_TTL_MS,
            decided_by: String::new(),
            result: Vec::new(),
        };
        let mut entry = AuditEntry::ok(session.operator.as_str(), "approval.request", target)
            .with("action", action)
            .with("approval", id.clone());
        if let Some(check) = check {
            entry = entry.with("kcv", check);
        }
        self.commit(vec![Write::PutApproval(record)], entry).await?;
        Ok(id)
    }

    /// Pending approvals, oldest first.
    pub async fn list_approvals(&self, session: &Session) -> Result<Vec<ApprovalView>> {
        self.authorize(session, &ops::APPROVAL).await?;
        Ok(self
            .store
            .list_approvals("pending")
            .await?
            .into_iter()
            .map(|a| ApprovalView {
                id: a.id,
                action: a.action,
                target: a.target,
                requester: a.requester,
                state: a.state,
                expires_ms: a.expires_ms,
            })
            .collect())
    }

    async fn open_approval(
        &self,
        session: &Session,
        id: &str,
        verb: &str,
    ) -> Result<ApprovalRecord> {
        self.authorize(session, &ops::APPROVAL).await?;
        let who = session.operator.as_str();
        let approval = self
            .store
            .get_approval(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("approval {id}")))?;
        let closed = if approval.state != "pending" {
            Some(approval.state.clone())
        } else if approval.expires_ms <= now_ms() {
            Some("expired".to_string())
        } else {
            None
        };
        if let Some(state) = closed {
            let entry =
                AuditEntry::refused(who, verb, &approval.target, &state).with("approval", id);
            return Err(self
                .refuse(
                    entry,
                    Error::ApprovalClosed {
                        id: id.into(),
                        state,
                    },
                )
                .await);
        }
        Ok(approval)
    }

    /// Approves a request of another security administrator and carries it out.
    pub async fn approve(&self, session: &Session, id: &str) -> Result<ApprovalOutcome> {
        let mut approval = self.open_approval(session, id, "approval.approve").await?;
        let who = session.operator.as_str();
        if approval.requester == who {
            let entry =
                AuditEntry::refused(who, "approval.approve", &approval.target, "self-approval")
                    .with("approval", id);
            return Err(self.refuse(entry, Error::SelfApproval).await);
        }
        let payload = self
            .open_secret(&payload_aad(id), &approval.payload)
            .await?;
        approval.state = "approved".into();
        approval.decided_by = who.into();
        // A decided request keeps no sealed copy of what it carried.
        approval.payload = Vec::new();
        let mut entry = AuditEntry::ok(who, "approval.approve", &approval.target)
            .with("approval", id)
            .with("action", approval.action.clone())
            .with("requester", approval.requester.clone());
        let target = KeyName::parse(&approval.target)?;
        let mut writes = match approval.action.as_str() {
            IMPORT => {
                let (writes, check) = self.approved_import(&target, &payload).await?;
                entry = entry.with("version", "1").with("kcv", check);
                writes
            }
            CREATE_EXPORTABLE => {
                let (writes, check) = self.approved_create(&target, &payload).await?;
                entry = entry.with("version", "1").with("kcv", check);
                writes
            }
            SET_USAGE => {
                let (writes, from, to) = self.approved_usage(&target, &payload).await?;
                entry = entry.with("from", from).with("to", to);
                writes
            }
            DESTROY => {
                let mut key = self
                    .store
                    .get_key(&target)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("key {target}")))?;
                let Some(next) = key.state.apply(Transition::Destroy) else {
                    return Err(Error::KeyState {
                        name: target.to_string(),
                        state: key.state.as_str(),
                        action: "destroy",
                    });
                };
                key.state = next;
                vec![
                    Write::UpdateKey(key),
                    Write::EraseKeyMaterial(target.clone()),
                ]
            }
            EXPORT => {
                let export: super::ExportTarget = serde_json::from_slice(&payload)
                    .map_err(|_| Error::Integrity("approval payload".into()))?;
                self.check_exportable(&target).await?;
                approval.result = self.wrap_for_export(session, &target, &export).await?;
                let mut key = self
                    .store
                    .get_key(&target)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("key {target}")))?;
                key.uses += 1;
                vec![Write::UpdateKey(key)]
            }
            other => return Err(Error::Integrity(format!("unknown approval action {other}"))),
        };
        writes.push(Write::PutApproval(approval.clone()));
        self.commit(writes, entry).await?;
        Ok(ApprovalOutcome {
            action: approval.action,
            target: approval.target,
            key: self.view(&target).await?,
        })
    }

    /// Denies (or, for the requester, withdraws) a pending request.
    pub async fn deny(&self, session: &Session, id: &str) -> Result<()> {
        let mut approval = self.open_approval(session, id, "approval.deny").await?;
        approval.state = "denied".into();
        approval.decided_by = session.operator.to_string();
        approval.payload = Vec::new();
        let entry = AuditEntry::ok(session.operator.as_str(), "approval.deny", &approval.target)
            .with("approval", id)
            .with("action", approval.action.clone());
        self.commit(vec![Write::PutApproval(approval)], entry)
            .await?;
        Ok(())
    }
}
