//! The tamper-evident audit log: records chained by SM3 over the previous
//! record's hash, with periodic checkpoints signed by the platform's SM2 audit
//! key. Personal data and secrets enter a record only as HMAC-SM3 values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sscard_gm::sm2::{self, Signature, SignatureFormat, Sm2PrivateKey, Sm2PublicKey};

use crate::{Error, Result};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action name of a checkpoint record.
pub const CHECKPOINT: &str = "audit.checkpoint";

/// The action of an export's own record, which the checkpoint that ends
/// the export signs.
pub const EXPORT: &str = "audit.export";

/// A record as stored and exported (one JSON object per line, fields in this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, in ms since the Unix epoch.
    pub time_ms: i64,
    /// Who: an operator name, `system`, or `hmac-sm3:…` for an unknown name.
    pub actor: String,
    /// What, as `area.verb` (e.g. `auth.login`).
    pub action: String,
    /// On what.
    pub target: String,
    /// `ok` or `refused`.
    pub outcome: String,
    /// More facts; sensitive values only as `hmac-sm3:…`.
    pub details: BTreeMap<String, String>,
    /// Hash of the previous record (hex), [`GENESIS`] for the first.
    pub prev_hash: String,
    /// SM3 over this record's other fields (hex).
    pub hash: String,
}

/// What an action appends; the store gives it its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// `ok` or `refused`.
    pub outcome: String,
    /// More facts.
    pub details: BTreeMap<String, String>,
}

impl AuditEntry {
    /// A successful action.
    pub fn ok(actor: &str, action: &str, target: &str) -> Self {
        Self {
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            outcome: "ok".into(),
            details: BTreeMap::new(),
        }
    }

    /// A refused action, with the reason.
    pub fn refused(actor: &str, action: &str, target: &str, reason: &str) -> Self {
        let mut e = Self::ok(actor, action, target);
        e.outcome = "refused".into();
        e.details.insert("reason".into(), reason.into());
        e
    }

    /// Adds a fact.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// Seals this entry at position `seq` after `prev_hash`.
    pub fn into_record(self, seq: i64, time_ms: i64, prev_hash: &str) -> AuditRecord {
        let mut record = AuditRecord {
            seq,
            time_ms,
            actor: self.actor,
            action: self.action,
            target: self.target,
            outcome: self.outcome,
            details: self.details,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        record.hash = record.compute_hash();
        record
    }
}

/// HMAC-SM3 of a value that must not appear in clear, as `hmac-sm3:<hex>`.
pub fn hmac_value(key: &[u8], value: &str) -> String {
    format!(
        "hmac-sm3:{}",
        hex::encode(sscard_gm::sm3::hmac(key, value.as_bytes()))
    )
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: i64,
    time_ms: i64,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    outcome: &'a str,
    details: &'a BTreeMap<String, String>,
    prev_hash: &'a str,
}

impl AuditRecord {
    /// SM3 over the canonical JSON of every field but `hash`.
    pub fn compute_hash(&self) -> String {
        let hashed = Hashed {
            seq: self.seq,
            time_ms: self.time_ms,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            outcome: &self.outcome,
            details: &self.details,
            prev_hash: &self.prev_hash,
        };
        // Serializing plain strings and integers cannot fail.
        let bytes = serde_json::to_vec(&hashed).unwrap_or_default();
        hex::encode(sscard_gm::sm3::digest(&bytes))
    }

    /// The record as one export line (canonical JSON, no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The sequence number of the first bad record (the one expected there).
    pub seq: i64,
    /// Line number in an export (from 1), when verifying a file.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl core::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.line {
            Some(line) => write!(f, "record {} (line {line}): {}", self.seq, self.reason),
            None => write!(f, "record {}: {}", self.seq, self.reason),
        }
    }
}

/// Checks records in order, from the first: sequence, links, hashes, and
/// (with `key`) the signature of every checkpoint. Returns how many passed.
#[derive(Debug)]
pub struct ChainVerifier<'k> {
    key: Option<&'k Sm2PublicKey>,
    expected_seq: i64,
    prev_hash: String,
    hashes: BTreeMap<i64, String>,
    checkpoints: u64,
    last_covers_all: bool,
    previous_action: String,
}

impl<'k> ChainVerifier<'k> {
    /// A verifier for a chain starting at record 1.
    pub fn new(key: Option<&'k Sm2PublicKey>) -> Self {
        Self {
            key,
            expected_seq: 1,
            prev_hash: GENESIS.to_string(),
            hashes: BTreeMap::new(),
            checkpoints: 0,
            last_covers_all: false,
            previous_action: String::new(),
        }
    }

    /// Records checked so far.
    pub fn count(&self) -> i64 {
        self.expected_seq - 1
    }

    /// Signed checkpoints checked so far.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints
    }

    fn fail(&self, line: Option<usize>, reason: impl Into<String>) -> ChainBreak {
        ChainBreak {
            seq: self.expected_seq,
            line,
            reason: reason.into(),
        }
    }

    /// Checks the next record.
    pub fn push(&mut self, record: &AuditRecord, line: Option<usize>) -> Result<(), ChainBreak> {
        if record.seq != self.expected_seq {
            return Err(self.fail(
                line,
                format!(
                    "sequence number {} where {} was expected (a record is missing or moved)",
                    record.seq, self.expected_seq
                ),
            ));
        }
        if record.prev_hash != self.prev_hash {
            return Err(self.fail(line, "prev_hash does not match the previous record's hash"));
        }
        if record.compute_hash() != record.hash {
            return Err(self.fail(line, "hash does not match the record's content"));
        }
        if record.action == CHECKPOINT {
            self.check_checkpoint(record, line)?;
        }
        self.hashes.insert(record.seq, record.hash.clone());
        self.prev_hash = record.hash.clone();
        self.expected_seq += 1;
        self.last_covers_all = record.action == CHECKPOINT
            && self.key.is_some()
            && self.previous_action == EXPORT
            && record.details.get("through_seq").map(String::as_str)
                == Some((record.seq - 1).to_string().as_str());
        self.previous_action = record.action.clone();
        Ok(())
    }

    /// Checks the end of an export: with a key, its last record must be a
    /// signed checkpoint over the record just before it, and that record
    /// the export's own (`audit.export`): an export ends so, made at export
    /// time, and no record can be cut off its end (not even at an earlier
    /// periodic checkpoint) or rewritten and re-chained after its last
    /// signature.
    pub fn finish_export(&self) -> Result<(), ChainBreak> {
        if self.count() == 0 {
            return Err(self.fail(None, "the export holds no record"));
        }
        if !self.last_covers_all {
            return Err(ChainBreak {
                seq: self.expected_seq - 1,
                line: None,
                reason: "the export does not end with a signed checkpoint over its own record \
                         (records were cut off the end, or added after the last signature)"
                    .into(),
            });
        }
        Ok(())
    }

    fn check_checkpoint(
        &mut self,
        record: &AuditRecord,
        line: Option<usize>,
    ) -> Result<(), ChainBreak> {
        let Some(key) = self.key else {
            return Ok(());
        };
        let get = |k: &str| record.details.get(k).cloned().unwrap_or_default();
        let (through_seq, through_hash, signature) =
            (get("through_seq"), get("through_hash"), get("signature"));
        let seq: i64 = through_seq
            .parse()
            .map_err(|_| self.fail(line, "checkpoint without through_seq"))?;
        if self.hashes.get(&seq) != Some(&through_hash) {
            return Err(self.fail(line, "checkpoint names a hash the chain does not have"));
        }
        let signature = hex::decode(&signature)
            .ok()
            .and_then(|der| Signature::parse(&der, SignatureFormat::Der).ok())
            .ok_or_else(|| self.fail(line, "checkpoint signature is malformed"))?;
        sm2::verify(
            key,
            sm2::DEFAULT_USER_ID,
            checkpoint_message(seq, &through_hash).as_bytes(),
            &signature,
        )
        .map_err(|_| self.fail(line, "checkpoint signature does not verify"))?;
        self.checkpoints += 1;
        Ok(())
    }
}

/// The message a checkpoint signs.
pub fn checkpoint_message(seq: i64, hash: &str) -> String {
    format!("sscard-audit-checkpoint:{seq}:{hash}")
}

/// The entry of a checkpoint over record `seq` with hash `hash`.
pub fn checkpoint_entry(key: &Sm2PrivateKey, seq: i64, hash: &str) -> Result<AuditEntry> {
    let signature = sm2::sign(
        key,
        sm2::DEFAULT_USER_ID,
        checkpoint_message(seq, hash).as_bytes(),
    )?;
    Ok(AuditEntry::ok("system", CHECKPOINT, "audit")
        .with("through_seq", seq.to_string())
        .with("through_hash", hash)
        .with(
            "signature",
            hex::encode(signature.encode(SignatureFormat::Der)),
        ))
}

/// Verifies an export (JSON lines). Each line must be a record in canonical
/// form, so that any changed character is caught: as a parse error, as a
/// non-canonical line, or as a hash or link that no longer matches.
pub fn verify_export(text: &str, key: Option<&Sm2PublicKey>) -> Result<(i64, u64), ChainBreak> {
    let mut verifier = ChainVerifier::new(key);
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.is_empty() && index + 1 == text.lines().count() {
            break;
        }
        let record: AuditRecord = serde_json::from_str(line)
            .map_err(|e| verifier.fail(Some(line_no), format!("not a record: {e}")))?;
        if record.to_line() != line {
            return Err(verifier.fail(
                Some(line_no),
                "not in canonical form (the line was altered)",
            ));
        }
        verifier.push(&record, Some(line_no))?;
    }
    if verifier.count() == 0 {
        return Err(verifier.fail(None, "the export holds no record"));
    }
    if key.is_some() {
        verifier.finish_export()?;
    }
    Ok((verifier.count(), verifier.checkpoints()))
}

impl From<ChainBreak> for Error {
    fn from(b: ChainBreak) -> Self {
        Error::Integrity(b.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `n` records ending with a checkpoint over the last, as an
    /// export ends, as its JSON lines.
    /// `n` records with a periodic checkpoint after the second, then the
    /// export's own record and the checkpoint over it, as an export ends.
    fn signed_export(key: &Sm2PrivateKey, n: i64) -> Vec<AuditRecord> {
        let mut records: Vec<AuditRecord> = Vec::new();
        let mut prev = GENESIS.to_string();
        let mut push = |entry: AuditEntry, records: &mut Vec<AuditRecord>| {
            let seq = records.len() as i64 + 1;
            let record = entry.into_record(seq, 1_000 + seq, &prev);
            prev = record.hash.clone();
            records.push(record);
        };
        for i in 1..=n {
            push(
                AuditEntry::ok("tester", "test.write", &format!("item-{i}")),
                &mut records,
            );
            if i == 2 {
                let last = records.last().unwrap().clone();
                push(
                    checkpoint_entry(key, last.seq, &last.hash).unwrap(),
                    &mut records,
                );
            }
        }
        push(AuditEntry::ok("auditor", EXPORT, "audit"), &mut records);
        let last = records.last().unwrap().clone();
        push(
            checkpoint_entry(key, last.seq, &last.hash).unwrap(),
            &mut records,
        );
        records
    }

    fn text(records: &[AuditRecord]) -> String {
        records.iter().map(|r| r.to_line() + "\n").collect()
    }

    /// Records rewritten from `from` on, each hashed and linked again.
    fn rechained(mut records: Vec<AuditRecord>, from: usize) -> Vec<AuditRecord> {
        for i in from..records.len() {
            let prev = if i == 0 {
                GENESIS.to_string()
            } else {
                records[i - 1].hash.clone()
            };
            records[i].prev_hash = prev;
            records[i].hash = records[i].compute_hash();
        }
        records
    }

    #[test]
    fn an_export_ends_signed_and_its_end_cannot_be_cut_or_rewritten() {
        let key = Sm2PrivateKey::generate().unwrap();
        let public = key.public_key();
        let export = signed_export(&key, 5);
        assert_eq!(
            verify_export(&text(&export), Some(&public)).unwrap(),
            (8, 2)
        );
        // Cut at the earlier, periodic checkpoint: every record checks, but
        // that end is not the export's.
        let at_periodic = &export[..3];
        assert_eq!(at_periodic[2].action, CHECKPOINT);
        let e = verify_export(&text(at_periodic), Some(&public)).unwrap_err();
        assert!(
            e.reason.contains("does not end with a signed checkpoint"),
            "{e}"
        );
        // Cut off the end: the chain holds, but its end is not signed.
        let cut = &export[..export.len() - 1];
        assert!(verify_export(&text(cut), None).is_ok());
        let e = verify_export(&text(cut), Some(&public)).unwrap_err();
        assert!(
            e.reason.contains("does not end with a signed checkpoint"),
            "{e}"
        );
        // Rewrite a record and chain everything after it again: the
        // checkpoint's signature no longer names the chain's hash.
        let mut rewritten = export.clone();
        rewritten[3].target = "something else".into();
        let rewritten = rechained(rewritten, 3);
        assert!(verify_export(&text(&rewritten), None).is_ok());
        let e = verify_export(&text(&rewritten), Some(&public)).unwrap_err();
        assert!(e.reason.contains("checkpoint"), "{e}");
        // A record added after the final checkpoint is not covered.
        let mut added = export.clone();
        let extra = AuditEntry::ok("tester", "test.write", "late").into_record(
            export.len() as i64 + 1,
            10_000,
            &export.last().unwrap().hash,
        );
        added.push(extra);
        let e = verify_export(&text(&added), Some(&public)).unwrap_err();
        assert!(
            e.reason.contains("does not end with a signed checkpoint"),
            "{e}"
        );
    }
}
