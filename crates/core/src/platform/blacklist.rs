//! The card blacklist: cards reported lost, suspended, cancelled or
//! replaced; published versions, each available as a full list and as a
//! delta from any earlier version, in the compact signed format of
//! `sscard_card::blacklist`, signed with the platform's SM2 key.

use std::sync::Arc;

use sscard_card::blacklist::{Blacklist, Kind, Reason};

use super::{ops, Platform, Session};
use crate::audit::AuditEntry;
use crate::store::Write;
use crate::terminal_records::BlacklistEntry;
use crate::{now_ms, Error, Result};

const VERSION_META: &str = "blacklist_version";

fn card_id(hex_id: &str) -> Result<String> {
    let bytes = hex::decode(hex_id)
        .ok()
        .filter(|b| b.len() == 16)
        .ok_or_else(|| {
            Error::Invalid(format!("card id {hex_id:?}: the 卡识别码 as 32 hex digits"))
        })?;
    Ok(hex::encode_upper(bytes))
}

fn as_u128(card_id: &str) -> Result<u128> {
    let bytes: [u8; 16] = hex::decode(card_id)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Integrity(format!("stored card id {card_id}")))?;
    Ok(u128::from_be_bytes(bytes))
}

fn reason(entry: &BlacklistEntry) -> Result<Reason> {
    Reason::parse(&entry.reason)
        .ok_or_else(|| Error::Integrity(format!("stored reason {}", entry.reason)))
}

impl Platform {
    /// The published version (0 before the first publication).
    pub(super) async fn blacklist_version(&self) -> Result<i64> {
        Ok(match self.store.get_meta(VERSION_META).await? {
            Some(v) => String::from_utf8_lossy(&v).parse().unwrap_or(0),
            None => 0,
        })
    }

    /// Puts a card on the list from the next version.
    pub async fn blacklist_add(&self, session: &Session, card: &str, why: &str) -> Result<()> {
        self.authorize(session, &ops::BLACKLIST_MANAGE).await?;
        let card = card_id(card)?;
        let reason = Reason::parse(why).ok_or_else(|| {
            Error::Invalid(format!(
                "reason {why:?}: lost, suspended, cancelled or replaced"
            ))
        })?;
        let next = self.blacklist_version().await? + 1;
        if let Some(e) = self.store.get_blacklist_entry(&card).await? {
            if e.removed_version == 0 {
                return Err(Error::Conflict(format!(
                    "card {card} is on the list ({})",
                    e.reason
                )));
            }
        }
        let entry = BlacklistEntry {
            card_id: card.clone(),
            reason: reason.as_str().into(),
            added_version: next,
            removed_version: 0,
            updated_ms: now_ms(),
        };
        let audit = AuditEntry::ok(session.operator.as_str(), "blacklist.add", &card)
            .with("reason", reason.as_str())
            .with("version", next.to_string());
        self.commit(vec![Write::PutBlacklistEntry(entry)], audit)
            .await?;
        Ok(())
    }

    /// Takes a card off the list from the next version.
    pub async fn blacklist_remove(&self, session: &Session, card: &str) -> Result<()> {
        self.authorize(session, &ops::BLACKLIST_MANAGE).await?;
        let card = card_id(card)?;
        let mut entry = self
            .store
            .get_blacklist_entry(&card)
            .await?
            .filter(|e| e.removed_version == 0)
            .ok_or_else(|| Error::NotFound(format!("card {card} on the blacklist")))?;
        let next = self.blacklist_version().await? + 1;
        entry.removed_version = next;
        entry.updated_ms = now_ms();
        let audit = AuditEntry::ok(session.operator.as_str(), "blacklist.remove", &card)
            .with("version", next.to_string());
        self.commit(vec![Write::PutBlacklistEntry(entry)], audit)
            .await?;
        Ok(())
    }

    /// Publishes the changes so far as the next version.
    pub async fn blacklist_publish(&self, session: &Session) -> Result<i64> {
        self.authorize(session, &ops::BLACKLIST_MANAGE).await?;
        let current = self.blacklist_version().await?;
        let next = current + 1;
        // Counted, not read: a first publication may carry 10^8 cards.
        let (adds, removes) = self.store.blacklist_change_counts(current, next).await?;
        let write = Write::ReplaceMeta {
            key: VERSION_META.into(),
            expected: current.to_string().into_bytes(),
            value: next.to_string().into_bytes(),
        };
        let write = if current == 0 && self.store.get_meta(VERSION_META).await?.is_none() {
            Write::PutMeta {
                key: VERSION_META.into(),
                value: next.to_string().into_bytes(),
            }
        } else {
            write
        };
        let audit = AuditEntry::ok(session.operator.as_str(), "blacklist.publish", "blacklist")
            .with("version", next.to_string())
            .with("added", adds.to_string())
            .with("removed", removes.to_string());
        self.commit(vec![write], audit).await?;
        Ok(next)
    }

    /// A signed file for an operator: the full list at `version` (default:
    /// the newest), or the delta to it from `delta_from`.
    pub async fn blacklist_export(
        &self,
        session: &Session,
        version: Option<i64>,
        delta_from: Option<i64>,
    ) -> Result<Vec<u8>> {
        self.authorize(session, &ops::BLACKLIST_MANAGE).await?;
        self.signed_blacklist(session, version, delta_from).await
    }

    /// A signed file for a signed-in terminal (from
    /// [`Self::terminal_of_session`]).
    pub async fn terminal_blacklist(
        &self,
        terminal: &crate::terminal_records::TerminalRecord,
        version: Option<i64>,
        delta_from: Option<i64>,
    ) -> Result<Vec<u8>> {
        let session = super::terminal_session(&terminal.terminal_no)?;
        self.signed_blacklist(&session, version, delta_from).await
    }

    async fn signed_blacklist(
        &self,
        session: &Session,
        version: Option<i64>,
        delta_from: Option<i64>,
    ) -> Result<Vec<u8>> {
        let current = self.blacklist_version().await?;
        let version = version.unwrap_or(current);
        if version < 1 || version > current {
            return Err(Error::NotFound(format!(
                "blacklist version {version} (published: 1 to {current})"
            )));
        }
        let list = match delta_from {
            None => return self.full_blacklist(session, version).await,
            Some(from) => {
                if from < 0 || from >= version {
                    return Err(Error::Invalid(format!(
                        "a delta to version {version} starts before it, not at {from}"
                    )));
                }
                let (adds, removes) = self.store.blacklist_changes(from, version).await?;
                Blacklist {
                    kind: Kind::Delta,
                    version: u64::try_from(version).unwrap_or(0),
                    base: u64::try_from(from).unwrap_or(0),
                    created_ms: u64::try_from(now_ms()).unwrap_or(0),
                    adds: adds
                        .iter()
                        .map(|e| Ok((as_u128(&e.card_id)?, reason(e)?)))
                        .collect::<Result<_>>()?,
                    removes: removes
                        .iter()
                        .map(|e| as_u128(&e.card_id))
                        .collect::<Result<_>>()?,
                }
            }
        };
        self.sign_blacklist(session, &list).await
    }

    /// The signed full list at `version`; the newest is kept once built
    /// (one build at a time, so that a crowd of terminals far behind does
    /// not list 10^8 cards each).
    async fn full_blacklist(&self, session: &Session, version: i64) -> Result<Vec<u8>> {
        let mut cached = self.full_blacklist.lock().await;
        if let Some((v, bytes)) = cached.as_ref() {
            if *v == version {
                return Ok(bytes.as_ref().clone());
            }
        }
        let list = Blacklist {
            kind: Kind::Full,
            version: u64::try_from(version).unwrap_or(0),
            base: 0,
            created_ms: u64::try_from(now_ms()).unwrap_or(0),
            adds: self.store.blacklist_ids_at(version).await?,
            removes: Vec::new(),
        };
        let bytes = self.sign_blacklist(session, &list).await?;
        drop(list);
        if version == self.blacklist_version().await? {
            *cached = Some((version, Arc::new(bytes.clone())));
        }
        Ok(bytes)
    }

    async fn sign_blacklist(&self, session: &Session, list: &Blacklist) -> Result<Vec<u8>> {
        let (blob, _) = self.platform_key(session).await?;
        list.encode_signed(|content| {
            self.provider
                .sign(&blob, content)
                .map_err(|e| sscard_card::Error::Invalid(e.to_string()))
        })
        .map_err(|e| Error::Invalid(e.to_string()))
    }
}
