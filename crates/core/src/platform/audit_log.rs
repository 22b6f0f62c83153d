//! Reading, exporting and verifying the audit log (audit administrator).

use serde::Serialize;
use sscard_gm::sm2::Sm2PublicKey;

use super::{meta, ops, Platform, Session};
use crate::audit::{AuditEntry, AuditRecord, ChainVerifier};
use crate::{Error, Result};

/// Records returned by a page read.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    /// In sequence order.
    pub records: Vec<AuditRecord>,
}

/// The result of verifying the stored chain.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Every record checked is intact.
    pub intact: bool,
    /// Records checked.
    pub records: i64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
    /// The first bad record, if any.
    pub first_bad_seq: Option<i64>,
    /// Why it is bad.
    pub reason: Option<String>,
}

const PAGE: i64 = 1000;

impl Platform {
    /// The platform's audit public key (SPKI PEM), for offline verification.
    pub async fn audit_public_key(&self) -> Result<String> {
        let pem = self
            .store
            .get_meta(meta::AUDIT_PUBLIC_KEY)
            .await?
            .ok_or(Error::NotInitialized)?;
        String::from_utf8(pem).map_err(|_| Error::Integrity("audit public key".into()))
    }

    /// The newest `limit` records.
    pub async fn audit_list(&self, session: &Session, limit: i64) -> Result<AuditPage> {
        self.authorize(session, &ops::AUDIT_READ).await?;
        let head = self.store.audit_head().await?.map_or(0, |r| r.seq);
        let limit = limit.clamp(1, PAGE);
        let records = self
            .store
            .audit_range((head - limit + 1).max(1), limit)
            .await?;
        Ok(AuditPage { records })
    }

    /// Every record, in order, for export: visits them page by page. The
    /// export itself is audited first, and a checkpoint signed now over
    /// that record ends the export, so that an offline verifier with the
    /// audit public key notices any record cut off the end or rewritten.
    /// Returns how many records were visited.
    pub async fn audit_export(
        &self,
        session: &Session,
        mut each: impl FnMut(&AuditRecord),
    ) -> Result<i64> {
        self.authorize(session, &ops::AUDIT_READ).await?;
        let who = session.operator.as_str();
        // The export's record, and right after it a checkpoint signing it:
        // if another record came in between, both again.
        let unsealed = self.unsealed()?;
        let mut end = None;
        for _ in 0..super::STALE_TRIES {
            let exported = self
                .store
                .commit(
                    Vec::new(),
                    AuditEntry::ok(who, crate::audit::EXPORT, "audit"),
                )
                .await?;
            let entry =
                crate::audit::checkpoint_entry(&unsealed.audit_key, exported.seq, &exported.hash)?;
            match self
                .store
                .commit(
                    vec![crate::store::Write::ExpectAuditHead(exported.seq)],
                    entry,
                )
                .await
            {
                Ok(checkpoint) => {
                    end = Some(checkpoint.seq);
                    break;
                }
                Err(Error::Stale(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        let end = end.ok_or_else(|| Error::Stale("the audit head".into()))?;
        let mut from = 1;
        let mut visited = 0;
        'pages: loop {
            let page = self.store.audit_range(from, PAGE).await?;
            for record in &page {
                if record.seq > end {
                    break 'pages;
                }
                each(record);
                visited += 1;
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => from = last.seq + 1,
                _ => break,
            }
        }
        Ok(visited)
    }

    /// Verifies the stored chain and every checkpoint signature.
    pub async fn audit_verify(&self, session: &Session) -> Result<VerifyReport> {
        self.authorize(session, &ops::AUDIT_VERIFY).await?;
        let pem = self.audit_public_key().await?;
        let key = Sm2PublicKey::from_spki_pem(&pem)?;
        let mut verifier = ChainVerifier::new(Some(&key));
        let mut from = 1;
        let mut broken = None;
        'pages: loop {
            let page = self.store.audit_range(from, PAGE).await?;
            for record in &page {
                if let Err(b) = verifier.push(record, None) {
                    broken = Some(b);
                    break 'pages;
                }
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => from = last.seq + 1,
                _ => break,
            }
        }
        let report = VerifyReport {
            intact: broken.is_none(),
            records: verifier.count(),
            checkpoints: verifier.checkpoints(),
            first_bad_seq: broken.as_ref().map(|b| b.seq),
            reason: broken.map(|b| b.reason),
        };
        let outcome = if report.intact { "intact" } else { "broken" };
        let entry = AuditEntry::ok(session.operator.as_str(), ops::AUDIT_VERIFY.name, "audit")
            .with("result", outcome)
            .with("records", report.records.to_string());
        self.commit(Vec::new(), entry).await?;
        Ok(report)
    }
}
