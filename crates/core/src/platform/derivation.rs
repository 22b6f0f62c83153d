//! The derivation service (the HSM or 加密机 functions of a card system):
//! from a master of the right usage and a card's diversification factors,
//! compute what the card computes — a MAC of secure messaging, a block
//! encrypted under the card key (internal-authentication answers,
//! external-authentication cryptograms, PIN blocks) — without the derived
//! key ever leaving the platform.

use super::keys::block_algorithm;
use super::{Platform, Session};
use crate::audit::AuditEntry;
use crate::key::{KeyName, KeyUsage, UseKind};
use crate::provider::CardOperation;
use crate::{Error, Result};

fn is_card_master(usage: KeyUsage) -> bool {
    matches!(
        usage,
        KeyUsage::CardIauthMaster
            | KeyUsage::CardEauthMaster
            | KeyUsage::PinUnblockMaster
            | KeyUsage::PinReloadMaster
            | KeyUsage::CardMaintMaster
            | KeyUsage::PsamTransport
    )
}

impl Platform {
    /// Derives the card key of master `name` through `factors` (one level
    /// each, as `sscard gm derive`) and applies `operation` to `data`.
    /// Returns the result (empty for a MAC that verified).
    pub async fn card_compute(
        &self,
        session: &Session,
        name: &str,
        factors: &[Vec<u8>],
        operation: &CardOperation,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        key_use!(self, session, "key.derive", name, |name| async {
            self.card_compute_once(session, name, factors, operation, data)
                .await
        })
    }

    async fn card_compute_once(
        &self,
        session: &Session,
        name: &KeyName,
        factors: &[Vec<u8>],
        operation: &CardOperation,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let (key, version, material) = self
            .find_version(name, None, UseKind::Protect, "key.derive")
            .await?;
        let who = session.operator.as_str();
        if block_algorithm(key.algorithm).is_none() || !is_card_master(key.usage) {
            return Err(Error::Invalid(format!(
                "key {name} is not a card master (usage {})",
                key.usage.as_str()
            )));
        }
        if factors.is_empty() {
            return Err(Error::Invalid(
                "at least one diversification factor is needed".into(),
            ));
        }
        let slices: Vec<&[u8]> = factors.iter().map(Vec::as_slice).collect();
        let what = match operation {
            CardOperation::Mac { .. } => "mac",
            CardOperation::VerifyMac { .. } => "verify-mac",
            CardOperation::EncryptBlocks => "encrypt",
        };
        let result =
            self.provider
                .card_compute(key.algorithm, &material, &slices, operation, data)?;
        let entry = AuditEntry::ok(who, "key.derive", name.as_str())
            .with("operation", what)
            .with("levels", factors.len().to_string())
            .with("version", version.version.to_string())
            .with("kcv", version.kcv.clone());
        self.commit(vec![Self::use_write(&key)], entry).await?;
        Ok(result)
    }
}
