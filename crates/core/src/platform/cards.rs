//! Data preparation and issuance (制卡数据准备, PSAM 发行): the card masters of
//! a region, the card registry, personalization jobs whose keys are derived
//! inside the KMS and leave it only as SM2 envelopes to the card's chip,
//! and PSAM issuance likewise.
//!
//! Card masters are named `<usage>-<region>` (e.g. `card-iauth-master-330300`)
//! at the city level; a card key is the city master diversified by the
//! card factor. A city master is derived from the province master
//! (`<usage>-330000`) by the city factor when the province has one.

use serde::{Deserialize, Serialize};
use sscard_card::perso::{self, CardData, Holder, Job, Step, JOB_FORMAT};
use sscard_card::profile::{self, key_id, CardAlgorithm};
use sscard_gm::random;
use sscard_gm::sm2::{self, CiphertextFormat, Sm2PublicKey};

use super::{ops, NewKey, Platform, Session};
use crate::audit::{self, AuditEntry};
use crate::key::{KeyAlgorithm, KeyLevel, KeyName, KeyUsage, UseKind};
use crate::store::{CardRecord, Write};
use crate::{now_ms, Error, Result};

/// The KMS usage of the master of each card key.
pub fn card_master_usage(id: u8) -> Option<KeyUsage> {
    match id {
        key_id::INTERNAL => Some(KeyUsage::CardIauthMaster),
        key_id::READ => Some(KeyUsage::CardEauthMaster),
        key_id::MAINTENANCE => Some(KeyUsage::CardMaintMaster),
        key_id::PIN_UNBLOCK => Some(KeyUsage::PinUnblockMaster),
        key_id::PIN_RELOAD => Some(KeyUsage::PinReloadMaster),
        _ => None,
    }
}

/// The name of the master of `usage` for `region`.
pub fn master_name(usage: KeyUsage, region: &str) -> String {
    format!("{}-{region}", usage.as_str())
}

/// The province of a region: its first two digits, then `0000`.
fn province_of(region: &str) -> String {
    format!("{}0000", region.get(..2).unwrap_or("00"))
}

/// What provisioning did for one master.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProvisionedKey {
    /// The master's name.
    pub name: String,
    /// `exists`, `created` or `derived` (from the province master).
    pub outcome: String,
    /// Its check value.
    pub kcv: String,
}

/// A PSAM issuance job: the masters of a region as SM2 envelopes to the
/// PSAM's chip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PsamJob {
    /// `sscard-psam-job/1`.
    pub format: String,
    /// Region code.
    pub region: String,
    /// Terminal number.
    pub terminal_no: String,
    /// Cipher of the masters.
    pub algorithm: CardAlgorithm,
    /// The commands.
    pub steps: Vec<Step>,
}

fn card_algorithm(algorithm: KeyAlgorithm) -> Result<CardAlgorithm> {
    match algorithm {
        KeyAlgorithm::Sm4 => Ok(CardAlgorithm::Sm4),
        KeyAlgorithm::Tdes => Ok(CardAlgorithm::Tdes),
        other => Err(Error::Invalid(format!(
            "a card master is sm4 or 3des, not {}",
            other.as_str()
        ))),
    }
}

fn card_error(e: sscard_card::Error) -> Error {
    Error::Invalid(e.to_string())
}

/// Today and ten years on, `YYYYMMDD`.
fn issue_and_expiry() -> (String, String) {
    let today: String = crate::clock::format_time(now_ms())
        .chars()
        .take(10)
        .filter(|c| *c != '-')
        .collect();
    let year: u32 = today.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2026);
    let mut rest = today.get(4..).unwrap_or("0101").to_string();
    if rest == "0229" {
        rest = "0228".into();
    }
    (today.clone(), format!("{}{rest}", year + 10))
}

impl Platform {
    /// Creates every card master of `region`, or derives it from the
    /// province master where one exists. Idempotent: existing masters stay.
    pub async fn provision_region(
        &self,
        session: &Session,
        region: &str,
        algorithm: KeyAlgorithm,
    ) -> Result<Vec<ProvisionedKey>> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        self.audited(session, "key.provision-region", region, async {
            if !profile::is_region(region) {
                return Err(Error::Invalid(format!(
                    "{region:?} is not a 6-digit region code"
                )));
            }
            card_algorithm(algorithm)?;
            let province = province_of(region);
            let mut done = Vec::new();
            for id in key_id::ALL_KEYS {
                let usage = card_master_usage(id).ok_or(Error::Invalid("card key".into()))?;
                let name = KeyName::parse(&master_name(usage, region))?;
                if let Some(existing) = self.store.get_key(&name).await? {
                    let kcv = self
                        .store
                        .key_versions(&existing.name)
                        .await?
                        .last()
                        .map(|v| v.kcv.clone())
                        .unwrap_or_default();
                    done.push(ProvisionedKey {
                        name: name.to_string(),
                        outcome: "exists".into(),
                        kcv,
                    });
                    continue;
                }
                let parent = KeyName::parse(&master_name(usage, &province))?;
                let new = NewKey {
                    name: name.to_string(),
                    algorithm,
                    usage,
                    level: if province == region {
                        KeyLevel::Province
                    } else {
                        KeyLevel::City
                    },
                    region: Some(region.into()),
                    exportable: false,
                    rotate_every_ms: 0,
                    activate_ms: 0,
                    expire_ms: 0,
                };
                if province != region && self.store.get_key(&parent).await?.is_some() {
                    let (parent_key, parent_version, parent_blob) = self
                        .use_version(
                            session,
                            &parent,
                            None,
                            UseKind::Protect,
                            "key.provision-region",
                        )
                        .await?;
                    let blob = self.provider.derive(
                        parent_key.algorithm,
                        &parent_blob,
                        &[&profile::city_factor(region)],
                    )?;
                    let new = NewKey {
                        algorithm: parent_key.algorithm,
                        ..new
                    };
                    let (writes, kcv) = self.new_key_writes(&name, &new, &blob)?;
                    let entry =
                        AuditEntry::ok(session.operator.as_str(), "key.create", name.as_str())
                            .with("usage", usage.as_str())
                            .with("level", "city")
                            .with("version", "1")
                            .with("kcv", kcv.clone())
                            .with("derived_from", parent.to_string())
                            .with("from_version", parent_version.version.to_string())
                            .with("from_kcv", parent_version.kcv);
                    self.commit(writes, entry).await?;
                    done.push(ProvisionedKey {
                        name: name.to_string(),
                        outcome: "derived".into(),
                        kcv,
                    });
                } else {
                    let view = self.create_key(session, &new).await?;
                    done.push(ProvisionedKey {
                        name: name.to_string(),
                        outcome: "created".into(),
                        kcv: view
                            .versions
                            .last()
                            .map(|v| v.kcv.clone())
                            .unwrap_or_default(),
                    });
                }
            }
            Ok(done)
        })
        .await
    }

    /// The blind index of a social security number.
    fn ssn_index(&self, ssn: &str) -> Result<String> {
        let unsealed = self.unsealed()?;
        Ok(audit::hmac_value(
            &unsealed.audit_hmac,
            &format!("ssn:{}", ssn.to_ascii_uppercase()),
        ))
    }

    /// The masters of `region` for every card key, all of one algorithm.
    async fn region_masters(&self, region: &str) -> Result<(KeyAlgorithm, Vec<(u8, KeyName)>)> {
        let mut algorithm = None;
        let mut masters = Vec::new();
        for id in key_id::ALL_KEYS {
            let usage = card_master_usage(id).ok_or(Error::Invalid("card key".into()))?;
            let name = KeyName::parse(&master_name(usage, region))?;
            let key = self.store.get_key(&name).await?.ok_or_else(|| {
                Error::Invalid(format!(
                    "region {region} has no {}: run sscard key provision-region --region {region}",
                    name
                ))
            })?;
            if algorithm.is_some_and(|a| a != key.algorithm) {
                return Err(Error::Invalid(format!(
                    "the card masters of region {region} are not all of one algorithm"
                )));
            }
            algorithm = Some(key.algorithm);
            masters.push((id, name));
        }
        let algorithm = algorithm.ok_or(Error::Invalid("no card masters".into()))?;
        Ok((algorithm, masters))
    }

    /// Registers the card of a holder for personalization: its card factor,
    /// 卡识别码 and card number. A holder whose card was prepared but not
    /// confirmed gets the same card again, so an interrupted run never
    /// makes a second card; a holder with an issued card is refused.
    pub async fn prepare_card(&self, session: &Session, holder: &Holder) -> Result<CardRecord> {
        self.authorize(session, &ops::CARD_ISSUE).await?;
        let checked = holder.check().map_err(card_error)?;
        let index = self.ssn_index(&checked.holder.ssn)?;
        if let Some(card) = self.store.get_card_by_ssn_index(&index).await? {
            return match card.state.as_str() {
                "prepared" => Ok(card),
                _ => Err(Error::Conflict(format!(
                    "the holder already has the issued card {}",
                    card.card_id
                ))),
            };
        }
        let region = &checked.holder.region;
        let (algorithm, _) = self.region_masters(region).await?;
        let factor: [u8; 8] = random::bytes(8)?
            .as_slice()
            .try_into()
            .map_err(|_| Error::Invalid("random".into()))?;
        let card_id = profile::card_id(region, &factor)
            .ok_or_else(|| Error::Invalid(format!("region {region}")))?;
        let card = CardRecord {
            card_id: hex::encode_upper(card_id),
            ssn_index: index,
            region: region.clone(),
            card_no: hex::encode_upper(factor).chars().take(9).collect(),
            card_factor: hex::encode_upper(factor),
            algorithm: algorithm.as_str().into(),
            state: "prepared".into(),
            created_ms: now_ms(),
            issued_ms: 0,
        };
        let entry = AuditEntry::ok(session.operator.as_str(), "card.prepare", &card.card_id)
            .with("region", region.clone());
        self.commit(vec![Write::InsertCard(card.clone())], entry)
            .await?;
        Ok(card)
    }

    async fn card(&self, card_id: &str) -> Result<CardRecord> {
        self.store
            .get_card(&card_id.to_ascii_uppercase())
            .await?
            .ok_or_else(|| Error::NotFound(format!("card {card_id}")))
    }

    /// The personalization job of a prepared card for the chip whose SM2
    /// transport key is `chip_key` (SEC1): the holder's records, each card
    /// key derived inside the KMS and enveloped to the chip, the PIN
    /// enveloped too, then END PERSONALIZATION.
    pub async fn card_job(
        &self,
        session: &Session,
        card_id: &str,
        holder: &Holder,
        chip_key: &[u8],
        pin: &str,
    ) -> Result<Job> {
        self.authorize(session, &ops::CARD_ISSUE).await?;
        let card = self.card(card_id).await?;
        if card.state != "prepared" {
            return Err(Error::Conflict(format!(
                "card {} is {}",
                card.card_id, card.state
            )));
        }
        let checked = holder.check().map_err(card_error)?;
        if !sscard_gm::ct_eq(
            self.ssn_index(&checked.holder.ssn)?.as_bytes(),
            card.ssn_index.as_bytes(),
        ) {
            return Err(Error::Invalid(format!(
                "the holder is not the one card {} was prepared for",
                card.card_id
            )));
        }
        sscard_card::crypto::check_pin(pin).map_err(card_error)?;
        let chip = Sm2PublicKey::from_sec1_bytes(chip_key)
            .map_err(|e| Error::Invalid(format!("the chip key is not an SM2 public key: {e}")))?;
        let factor = hex::decode(&card.card_factor)
            .map_err(|_| Error::Integrity(format!("card {} factor", card.card_id)))?;
        let card_id_bytes: [u8; 16] = hex::decode(&card.card_id)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::Integrity(format!("card {}", card.card_id)))?;
        let (issued, expires) = issue_and_expiry();
        let data = CardData {
            card_id: card_id_bytes,
            card_no: card.card_no.clone(),
            issued,
            expires,
        };
        let records = perso::records(&checked, &data).map_err(card_error)?;
        let mut steps = perso::record_steps(&records).map_err(card_error)?;
        let (algorithm, masters) = self.region_masters(&card.region).await?;
        let mut entry =
            AuditEntry::ok(session.operator.as_str(), "card.personalize", &card.card_id)
                .with("region", card.region.clone());
        for (id, name) in masters {
            let (_, version, blob) = self
                .use_version(session, &name, None, UseKind::Protect, "card.personalize")
                .await?;
            let derived = self.provider.derive(algorithm, &blob, &[&factor])?;
            let envelope = self.provider.envelope(&derived, &chip)?;
            let version_byte = u8::try_from(version.version).unwrap_or(u8::MAX);
            steps.push(perso::put_key_step(id, version_byte, &envelope).map_err(card_error)?);
            entry = entry.with(
                name.as_str(),
                format!("v{} kcv {}", version.version, version.kcv),
            );
        }
        let pin_bcd = sscard_card::crypto::pin_bcd(pin).map_err(card_error)?;
        let pin_envelope = sm2::encrypt(&chip, &pin_bcd, CiphertextFormat::Der)?;
        steps.push(perso::put_key_step(key_id::PIN, 1, &pin_envelope).map_err(card_error)?);
        steps.push(perso::end_step().map_err(card_error)?);
        self.commit(Vec::new(), entry).await?;
        Ok(Job {
            format: JOB_FORMAT.into(),
            card_id: card.card_id,
            region: card.region,
            algorithm: card_algorithm(algorithm)?,
            card_factor: card.card_factor,
            steps,
        })
    }

    /// Confirms that a card was personalized; idempotent.
    pub async fn card_issued(&self, session: &Session, card_id: &str) -> Result<CardRecord> {
        self.authorize(session, &ops::CARD_ISSUE).await?;
        let card = self.card(card_id).await?;
        if card.state == "issued" {
            return Ok(card);
        }
        let at = now_ms();
        let write = Write::SetCardState {
            card_id: card.card_id.clone(),
            from: card.state.clone(),
            state: "issued".into(),
            at_ms: at,
        };
        let entry = AuditEntry::ok(session.operator.as_str(), "card.issued", &card.card_id);
        match self.commit(vec![write], entry).await {
            Ok(_) => {}
            // Confirmed by another request at the same moment: idempotent.
            Err(Error::Stale(_)) => return self.card(card_id).await,
            Err(e) => return Err(e),
        }
        Ok(CardRecord {
            state: "issued".into(),
            issued_ms: at,
            ..card
        })
    }

    /// The issuance job of a PSAM for `region`: each card master enveloped
    /// to the PSAM chip's SM2 transport key `chip_key` (SEC1).
    pub async fn psam_job(
        &self,
        session: &Session,
        region: &str,
        terminal_no: &str,
        algorithm: KeyAlgorithm,
        chip_key: &[u8],
    ) -> Result<PsamJob> {
        self.authorize(session, &ops::CARD_ISSUE).await?;
        if terminal_no.len() != 12 || !terminal_no.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Invalid("a terminal number is 12 digits".into()));
        }
        let (master_algorithm, masters) = self.region_masters(region).await?;
        if master_algorithm != algorithm {
            return Err(Error::Invalid(format!(
                "the masters of region {region} are {}, not {}",
                master_algorithm.as_str(),
                algorithm.as_str()
            )));
        }
        let chip = Sm2PublicKey::from_sec1_bytes(chip_key)
            .map_err(|e| Error::Invalid(format!("the chip key is not an SM2 public key: {e}")))?;
        let mut steps = Vec::new();
        let mut entry = AuditEntry::ok(session.operator.as_str(), "psam.issue", terminal_no)
            .with("region", region);
        for (id, name) in masters {
            let (_, version, blob) = self
                .use_version(session, &name, None, UseKind::Protect, "psam.issue")
                .await?;
            let envelope = self.provider.envelope(&blob, &chip)?;
            let version_byte = u8::try_from(version.version).unwrap_or(u8::MAX);
            steps.push(perso::put_key_step(id, version_byte, &envelope).map_err(card_error)?);
            entry = entry.with(
                name.as_str(),
                format!("v{} kcv {}", version.version, version.kcv),
            );
        }
        steps.push(perso::end_step().map_err(card_error)?);
        self.commit(Vec::new(), entry).await?;
        Ok(PsamJob {
            format: "sscard-psam-job/1".into(),
            region: region.into(),
            terminal_no: terminal_no.into(),
            algorithm: card_algorithm(algorithm)?,
            steps,
        })
    }
}
