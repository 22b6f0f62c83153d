//! Changes of a key's policy under dual control: creating a key that may
//! leave the platform (the one-way `exportable` flag), and changing the one
//! usage of a key. Each waits for a second security administrator.

use serde::{Deserialize, Serialize};

use super::approvals::{PendingApproval, CREATE_EXPORTABLE, SET_USAGE};
use super::{ops, NewKey, Platform, Session};
use crate::audit::AuditEntry;
use crate::key::{KeyName, KeyUsage};
use crate::store::{KeyField, Write};
use crate::{Error, Result};

/// The sealed parameters of a usage change.
#[derive(Serialize, Deserialize)]
struct UsagePayload {
    usage: KeyUsage,
}

impl Platform {
    /// Files the creation of an exportable key for approval; the key is
    /// made when a second security administrator approves.
    pub async fn request_create_exportable(
        &self,
        session: &Session,
        new: &NewKey,
    ) -> Result<PendingApproval> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let name = self.check_new_key(session, new, CREATE_EXPORTABLE).await?;
        let new = NewKey {
            name: name.to_string(),
            exportable: true,
            ..new.clone()
        };
        let details = super::approvals::new_key_details(&new);
        let id = self
            .file_approval(session, CREATE_EXPORTABLE, name.as_str(), &new, details)
            .await?;
        Ok(PendingApproval {
            approval: id,
            kcv: None,
        })
    }

    /// Files a change of a key's usage for approval. The new usage must
    /// admit the key's algorithm and differ from the current one.
    pub async fn request_usage_change(
        &self,
        session: &Session,
        name: &str,
        usage: KeyUsage,
    ) -> Result<PendingApproval> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        self.audited(session, SET_USAGE, name, async {
            let name = KeyName::parse(name)?;
            self.reserved_key(&name, SET_USAGE)?;
            self.request_usage_change_inner(session, &name, usage).await
        })
        .await
    }

    async fn request_usage_change_inner(
        &self,
        session: &Session,
        name: &KeyName,
        usage: KeyUsage,
    ) -> Result<PendingApproval> {
        let name = name.clone();
        let from = match self.check_usage_change(&name, usage).await {
            Ok(from) => from,
            Err(e) => {
                let entry = AuditEntry::refused(
                    session.operator.as_str(),
                    SET_USAGE,
                    name.as_str(),
                    &e.to_string(),
                )
                .with("usage", usage.as_str());
                return Err(self.refuse(entry, e).await);
            }
        };
        let key = self
            .store
            .get_key(&name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key {name}")))?;
        let mut details = super::approvals::key_details(&key, "");
        details.remove("kcv");
        details.insert(
            "usage".into(),
            format!("{} -> {}", from.as_str(), usage.as_str()),
        );
        details.insert("from".into(), from.as_str().into());
        details.insert("to".into(), usage.as_str().into());
        let id = self
            .file_approval(
                session,
                SET_USAGE,
                name.as_str(),
                &UsagePayload { usage },
                details,
            )
            .await?;
        Ok(PendingApproval {
            approval: id,
            kcv: None,
        })
    }

    /// The current usage of `name`, if `usage` may replace it.
    async fn check_usage_change(&self, name: &KeyName, usage: KeyUsage) -> Result<KeyUsage> {
        let key = self
            .store
            .get_key(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key {name}")))?;
        if key.usage == usage {
            return Err(Error::Invalid(format!(
                "key {name} already has usage {}",
                usage.as_str()
            )));
        }
        if !usage.admits(key.algorithm) {
            return Err(Error::Invalid(format!(
                "a {} key cannot serve the usage {}",
                key.algorithm.as_str(),
                usage.as_str()
            )));
        }
        Ok(key.usage)
    }

    /// The writes of an approved exportable creation, and the new KCV.
    pub(super) async fn approved_create(
        &self,
        target: &KeyName,
        payload: &[u8],
    ) -> Result<(Vec<Write>, String)> {
        let new: NewKey = serde_json::from_slice(payload)
            .map_err(|_| Error::Integrity("approval payload".into()))?;
        if self.store.get_key(target).await?.is_some() {
            return Err(Error::Conflict(format!("key {target}")));
        }
        let blob = self.provider.generate(new.algorithm)?;
        self.new_key_writes(target, &new, &blob)
    }

    /// The writes of an approved usage change, with the usage before and after.
    pub(super) async fn approved_usage(
        &self,
        target: &KeyName,
        payload: &[u8],
    ) -> Result<(Vec<Write>, &'static str, &'static str)> {
        let p: UsagePayload = serde_json::from_slice(payload)
            .map_err(|_| Error::Integrity("approval payload".into()))?;
        let from = self.check_usage_change(target, p.usage).await?;
        let write = Write::UpdateKey {
            name: target.clone(),
            expect: vec![KeyField::Usage(from)],
            set: vec![KeyField::Usage(p.usage)],
            count_use: false,
        };
        Ok((vec![write], from.as_str(), p.usage.as_str()))
    }
}
