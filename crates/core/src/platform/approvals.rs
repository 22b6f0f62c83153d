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
use crate::store::{ApprovalRecord, KeyField, Write};
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

/// An approval as listed: what the approver is shown before deciding.
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
    /// What is being approved, none of it secret: for a key its name,
    /// algorithm, usage, level, region, exportability and check value; for a
    /// usage change the usage before and after; for an export where to.
    pub details: Details,
}

/// The facts an approver is shown, by name.
pub type Details = std::collections::BTreeMap<String, String>;

/// The facts of a key to be made (an import or an exportable creation).
pub(super) fn new_key_details(new: &super::NewKey) -> Details {
    [
        ("key", new.name.clone()),
        ("algorithm", new.algorithm.as_str().to_string()),
        ("usage", new.usage.as_str().to_string()),
        ("level", new.level.as_str().to_string()),
        ("region", new.region.clone().unwrap_or_default()),
        ("exportable", new.exportable.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The facts of an existing key, with the check value of its newest version.
pub(super) fn key_details(key: &crate::key::KeyRecord, kcv: &str) -> Details {
    [
        ("key", key.name.to_string()),
        ("algorithm", key.algorithm.as_str().to_string()),
        ("usage", key.usage.as_str().to_string()),
        ("level", key.level.as_str().to_string()),
        ("region", key.region.clone()),
        ("exportable", key.exportable.to_string()),
        ("state", key.state.as_str().to_string()),
        ("kcv", kcv.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
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
    /// What is being approved (as in the list).
    pub details: Details,
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
        self.audited(session, DESTROY, name, async {
            let name = KeyName::parse(name)?;
            self.reserved_key(&name, DESTROY)?;
            self.request_destroy_inner(session, &name).await
        })
        .await
    }

    async fn request_destroy_inner(
        &self,
        session: &Session,
        name: &KeyName,
    ) -> Result<PendingApproval> {
        let name = name.clone();
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
        let details = key_details(&key, &self.newest_kcv(&name).await?);
        let id = self
            .file_approval(session, DESTROY, name.as_str(), &(), details)
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
        self.audited(session, EXPORT, name, async {
            let name = KeyName::parse(name)?;
            self.reserved_key(&name, EXPORT)?;
            self.request_export_inner(session, &name, target).await
        })
        .await
    }

    async fn request_export_inner(
        &self,
        session: &Session,
        name: &KeyName,
        target: &super::ExportTarget,
    ) -> Result<PendingApproval> {
        let name = name.clone();
        if let Err(e) = self.check_exportable(&name).await {
            let entry = AuditEntry::refused(
                session.operator.as_str(),
                EXPORT,
                name.as_str(),
                &e.to_string(),
            );
            return Err(self.refuse(entry, e).await);
        }
        let key = self
            .store
            .get_key(&name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key {name}")))?;
        let mut details = key_details(&key, &self.newest_kcv(&name).await?);
        details.extend(target.describe());
        let id = self
            .file_approval(session, EXPORT, name.as_str(), target, details)
            .await?;
        Ok(PendingApproval {
            approval: id,
            kcv: None,
        })
    }

    /// The state of an approval; its requester also gets what it produced.
    pub async fn approval_status(&self, session: &Session, id: &str) -> Result<ApprovalStatus> {
        self.authorize(session, &ops::APPROVAL).await?;
        self.audited(session, "approval.status", id, async {
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
            let result = (mine && !a.result.is_empty())
                .then(|| String::from_utf8_lossy(&a.result).into_owned());
            let mut details = a.details()?;
            // The key's state now, not as it was when the request was filed.
            if let Ok(name) = KeyName::parse(&a.target) {
                if let Some(key) = self.store.get_key(&name).await? {
                    details.insert("state".into(), key.state.as_str().into());
                }
            }
            if result.is_some() {
                // Each handover of what an approved operation produced
                // (a wrapped key) is an action of its own.
                let entry = AuditEntry::ok(session.operator.as_str(), "approval.result", &a.target)
                    .with("approval", a.id.clone())
                    .with("action", a.action.clone());
                self.commit(Vec::new(), entry).await?;
            }
            Ok(ApprovalStatus {
                details,
                id: a.id,
                action: a.action,
                state,
                result,
            })
        })
        .await
    }

    pub(super) async fn file_approval<T: Serialize>(
        &self,
        session: &Session,
        action: &str,
        target: &str,
        payload: &T,
        details: Details,
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
            details: serde_json::to_string(&details).map_err(|e| Error::Invalid(e.to_string()))?,
        };
        let mut entry = AuditEntry::ok(session.operator.as_str(), "approval.request", target)
            .with("action", action)
            .with("approval", id.clone());
        for (k, v) in details {
            if k != "key" {
                entry = entry.with(&k, v);
            }
        }
        self.commit(vec![Write::InsertApproval(record)], entry)
            .await?;
        Ok(id)
    }

    /// Pending approvals, oldest first.
    pub async fn list_approvals(&self, session: &Session) -> Result<Vec<ApprovalView>> {
        self.authorize(session, &ops::APPROVAL).await?;
        self.store
            .list_approvals("pending")
            .await?
            .into_iter()
            .map(|a| {
                Ok(ApprovalView {
                    details: a.details()?,
                    id: a.id,
                    action: a.action,
                    target: a.target,
                    requester: a.requester,
                    state: a.state,
                    expires_ms: a.expires_ms,
                })
            })
            .collect()
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

    /// The check value of a key's newest version (empty if it has none).
    async fn newest_kcv(&self, name: &KeyName) -> Result<String> {
        Ok(self
            .store
            .key_versions(name)
            .await?
            .last()
            .map(|v| v.kcv.clone())
            .unwrap_or_default())
    }

    /// Approves a request of another security administrator and carries it
    /// out. The approval and its effect commit together, and only while the
    /// request is still pending: of two concurrent decisions one wins, and
    /// the other is refused as `approval_closed`.
    pub async fn approve(&self, session: &Session, id: &str) -> Result<ApprovalOutcome> {
        self.audited(session, "approval.approve", id, async {
            retry_stale!(self, self.approve_once(session, id))
        })
        .await
    }

    async fn approve_once(&self, session: &Session, id: &str) -> Result<ApprovalOutcome> {
        let approval = self.open_approval(session, id, "approval.approve").await?;
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
        let mut result = Vec::new();
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
                let key = self
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
                vec![
                    Write::UpdateKey {
                        name: target.clone(),
                        expect: vec![KeyField::State(key.state)],
                        set: vec![KeyField::State(next)],
                        count_use: false,
                    },
                    Write::EraseKeyMaterial(target.clone()),
                ]
            }
            EXPORT => {
                let export: super::ExportTarget = serde_json::from_slice(&payload)
                    .map_err(|_| Error::Integrity("approval payload".into()))?;
                self.check_exportable(&target).await?;
                result = self.wrap_for_export(session, &target, &export).await?;
                let key = self
                    .store
                    .get_key(&target)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("key {target}")))?;
                vec![Self::use_write(&key)]
            }
            other => return Err(Error::Integrity(format!("unknown approval action {other}"))),
        };
        writes.push(Write::DecideApproval {
            id: id.to_string(),
            state: "approved".into(),
            decided_by: who.into(),
            result,
            now_ms: now_ms(),
        });
        self.commit(writes, entry).await?;
        Ok(ApprovalOutcome {
            key: self.view(&target).await?,
            action: approval.action,
            target: approval.target,
        })
    }

    /// Denies (or, for the requester, withdraws) a pending request; refused
    /// as `approval_closed` if it was decided meanwhile.
    pub async fn deny(&self, session: &Session, id: &str) -> Result<()> {
        self.audited(session, "approval.deny", id, async {
            retry_stale!(self, self.deny_once(session, id))
        })
        .await
    }

    async fn deny_once(&self, session: &Session, id: &str) -> Result<()> {
        let approval = self.open_approval(session, id, "approval.deny").await?;
        let entry = AuditEntry::ok(session.operator.as_str(), "approval.deny", &approval.target)
            .with("approval", id)
            .with("action", approval.action.clone());
        let write = Write::DecideApproval {
            id: id.to_string(),
            state: "denied".into(),
            decided_by: session.operator.to_string(),
            result: Vec::new(),
            now_ms: now_ms(),
        };
        self.commit(vec![write], entry).await?;
        Ok(())
    }
}
