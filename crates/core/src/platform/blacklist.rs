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
/// A fresh random value written by every change of the list: a
/// publication commits only over the changes it counted.
const CHANGE_META: &str = "blacklist_change";

/// The write that marks a change of the list.
fn change_mark() -> Result<Write> {
    Ok(Write::PutMeta {
        key: CHANGE_META.into(),
        value: hex::encode(sscard_gm::random::bytes(8)?.as_slice()).into_bytes(),
    })
}

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
        Ok(self.blacklist_version_read().await?.0)
    }

    /// The published version with the stored value it was read from (a
    /// precondition for the writes decided on it).
    async fn blacklist_version_read(&self) -> Result<(i64, Write)> {
        let stored = self.store.get_meta(VERSION_META).await?;
        let version = match &stored {
            Some(v) => String::from_utf8_lossy(v)
                .parse()
                .map_err(|_| Error::Integrity("blacklist version".into()))?,
            None => 0,
        };
        let expect = Write::ExpectMeta {
            key: VERSION_META.into(),
            value: stored,
        };
        Ok((version, expect))
    }

    /// Puts a card on the list from the next version. Commits only if no
    /// version was published and the card's entry did not change meanwhile.
    pub async fn blacklist_add(&self, session: &Session, card: &str, why: &str) -> Result<()> {
        self.authorize(session, &ops::BLACKLIST_MANAGE).await?;
        self.audited(session, "blacklist.add", card, async {
            let card = card_id(card)?;
            let reason = Reason::parse(why).ok_or_else(|| {
                Error::Invalid(format!(
                    "reason {why:?}: lost, suspended, cancelled or replaced"
                ))
            })?;
            retry_stale!(self, async {
                let (current, version_guard) = self.blacklist_version_read().await?;
                let next = current + 1;
                let existing = self.store.get_blacklist_entry(&card).await?;
                if let Some(e) = &existing {
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
                let write = Write::PutBlacklistEntry {
                    expect: existing,
                    entry,
                };
                self.commit(vec![version_guard, write, change_mark()?], audit)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Takes a card off the list from the next version.
    pub async fn blacklist_remove(&self, session: &Session, card: &str) -> Result<()> {
        self.authorize(session, &ops::BLACKLIST_MANAGE).await?;
        self.audited(session, "blacklist.remove", card, async {
            let card = card_id(card)?;
            retry_stale!(self, async {
                let (current, version_guard) = self.blacklist_version_read().await?;
                let existing = self
                    .store
                    .get_blacklist_entry(&card)
                    .await?
                    .filter(|e| e.removed_version == 0)
                    .ok_or_else(|| Error::NotFound(format!("card {card} on the blacklist")))?;
                let next = current + 1;
                let mut entry = existing.clone();
                entry.removed_version = next;
                entry.updated_ms = now_ms();
                let audit = AuditEntry::ok(session.operator.as_str(), "blacklist.remove", &card)
                    .with("version", next.to_string());
                let write = Write::PutBlacklistEntry {
                    expect: Some(existing),
                    entry,
                };
                self.commit(vec![version_guard, write, change_mark()?], audit)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Publishes the changes so far as the next version. Two publications
    /// at once make two versions, never one version twice.
    pub async fn blacklist_publish(&self, session: &Session) -> Result<i64> {
        self.authorize(session, &ops::BLACKLIST_MANAGE).await?;
        retry_stale!(self, async {
            let (current, version_guard) = self.blacklist_version_read().await?;
            let changes_guard = Write::ExpectMeta {
                key: CHANGE_META.into(),
                value: self.store.get_meta(CHANGE_META).await?,
            };
            let next = current + 1;
            // Counted, not read: a first publication may carry 10^8 cards.
            let (adds, removes) = self.store.blacklist_change_counts(current, next).await?;
            let audit = AuditEntry::ok(session.operator.as_str(), "blacklist.publish", "blacklist")
                .with("version", next.to_string())
                .with("added", adds.to_string())
                .with("removed", removes.to_string());
            let write = Write::PutMeta {
                key: VERSION_META.into(),
                value: next.to_string().into_bytes(),
            };
            self.commit(vec![version_guard, changes_guard, write], audit)
                .await?;
            Ok(next)
        })
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
        self.audited(session, "blacklist.export", "blacklist", async {
            self.signed_blacklist(session, version, delta_from).await
        })
        .await
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
