//! Keys of the KMS: create inside the platform, rotate, retire versions,
//! suspend and activate, and encrypt/decrypt with versioned ciphertext
//! (`sscard:v<N>:<hex of iv ‖ SM4-GCM ciphertext ‖ tag>`). Every operation is
//! audited with the key's name, version and check value, never the key.

use serde::{Deserialize, Serialize};
use sscard_gm::sm4::GCM_IV_LEN;
use sscard_gm::{random, BlockAlgorithm};
use zeroize::Zeroizing;

use super::{ops, Platform, Session};
use crate::audit::AuditEntry;
use crate::key::{
    KeyAlgorithm, KeyLevel, KeyName, KeyRecord, KeyState, KeyUsage, KeyVersionRecord, Transition,
    UseKind,
};
use crate::provider::KeyBlob;
use crate::store::{KeyField, Write};
use crate::{now_ms, Error, Result};

/// What to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewKey {
    /// Name.
    pub name: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// The one usage.
    pub usage: KeyUsage,
    /// Level of the hierarchy.
    pub level: KeyLevel,
    /// Region code: 6 digits, required below the ministry level.
    pub region: Option<String>,
    /// May leave the platform wrapped (one-way: set only here).
    pub exportable: bool,
    /// Rotate automatically once the newest version is this old (ms); 0 for never.
    pub rotate_every_ms: i64,
    /// Comes into use at this time (ms since the epoch); until then it is
    /// pre-active. 0 for at once.
    #[serde(default)]
    pub activate_ms: i64,
    /// Stops protecting at this time (ms) and is deactivated; 0 for never.
    #[serde(default)]
    pub expire_ms: i64,
}

/// A key as shown: metadata and the check value of each version.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyView {
    /// Name.
    pub name: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// Usage.
    pub usage: KeyUsage,
    /// Level.
    pub level: KeyLevel,
    /// Region code, empty for the ministry level.
    pub region: String,
    /// Exportable.
    pub exportable: bool,
    /// State.
    pub state: KeyState,
    /// Versions below this are retired.
    pub min_version: i64,
    /// Uses so far.
    pub uses: i64,
    /// Scheduled rotation period (ms), 0 for none.
    pub rotate_every_ms: i64,
    /// Activation time (ms), 0 for at creation.
    pub activate_ms: i64,
    /// Expiry time (ms), 0 for never.
    pub expire_ms: i64,
    /// Every version, oldest first.
    pub versions: Vec<KeyVersionView>,
}

/// One version as shown.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyVersionView {
    /// From 1.
    pub version: i64,
    /// Key check value, hex.
    pub kcv: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// The block algorithm of a symmetric key algorithm.
pub(super) fn block_algorithm(algorithm: KeyAlgorithm) -> Option<BlockAlgorithm> {
    match algorithm {
        KeyAlgorithm::Sm4 => Some(BlockAlgorithm::Sm4),
        KeyAlgorithm::Tdes => Some(BlockAlgorithm::Tdes),
        KeyAlgorithm::Sm2 | KeyAlgorithm::HmacSm3 => None,
    }
}

/// Only `encrypt` keys and data masters encrypt and decrypt data: a card
/// master or a KEK is never used as a data key.
fn check_encryption_usage(key: &KeyRecord) -> Result<()> {
    if matches!(key.usage, KeyUsage::Encrypt | KeyUsage::DataMaster) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "key {} has usage {}, not encrypt or data-master",
            key.name,
            key.usage.as_str()
        )))
    }
}

fn is_region(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

impl Platform {
    async fn key(&self, name: &KeyName) -> Result<KeyRecord> {
        self.store
            .get_key(name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key {name}")))
    }

    /// Creates a key inside the platform: version 1, active. Its material
    /// never leaves in clear.
    pub async fn create_key(&self, session: &Session, new: &NewKey) -> Result<KeyView> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        if new.exportable {
            let entry = AuditEntry::refused(
                session.operator.as_str(),
                "key.create",
                &new.name,
                "exportable needs approval",
            );
            let e = Error::Refused(
                "an exportable key needs a second administrator: request it for approval".into(),
            );
            return Err(self.refuse(entry, e).await);
        }
        let name = self.check_new_key(session, new, "key.create").await?;
        let blob = self.provider.generate(new.algorithm)?;
        let (writes, check) = self.new_key_writes(&name, new, &blob)?;
        let entry = AuditEntry::ok(session.operator.as_str(), "key.create", name.as_str())
            .with("algorithm", new.algorithm.as_str())
            .with("usage", new.usage.as_str())
            .with("level", new.level.as_str())
            .with("version", "1")
            .with("kcv", check)
            .with("exportable", new.exportable.to_string());
        self.commit(writes, entry).await?;
        self.view(&name).await
    }

    /// Checks a new key's name, usage and region, auditing a refusal as `action`.
    pub(super) async fn check_new_key(
        &self,
        session: &Session,
        new: &NewKey,
        action: &str,
    ) -> Result<KeyName> {
        let who = session.operator.as_str();
        let refuse = |reason: &str| AuditEntry::refused(who, action, &new.name, reason);
        let name = match KeyName::parse(&new.name) {
            Ok(n) => n,
            Err(e) => return Err(self.refuse(refuse("invalid name"), e).await),
        };
        if let Err(e) = self.reserved_key(&name, action) {
            return Err(self.refuse(refuse("the platform's own key"), e).await);
        }
        if !new.usage.admits(new.algorithm) {
            let e = Error::Invalid(format!(
                "a {} key cannot serve the usage {}",
                new.algorithm.as_str(),
                new.usage.as_str()
            ));
            return Err(self
                .refuse(refuse("algorithm does not fit the usage"), e)
                .await);
        }
        let region = new.region.clone().unwrap_or_default();
        let needs_region = new.usage.is_regional() && new.level != KeyLevel::Ministry;
        let region_ok = if region.is_empty() {
            !needs_region
        } else {
            is_region(&region)
        };
        if !region_ok {
            let e = Error::Invalid(if region.is_empty() {
                format!(
                    "a {} key below the ministry level belongs to a region: give --region, a 6-digit region code (行政区划)",
                    new.usage.as_str()
                )
            } else {
                "--region must be a 6-digit region code (行政区划)".into()
            });
            return Err(self.refuse(refuse("bad region"), e).await);
        }
        let (activate, expire) = (new.activate_ms.max(0), new.expire_ms.max(0));
        if expire > 0 && (expire <= activate || expire <= now_ms()) {
            let e = Error::Invalid("the expiry must come after activation and after now".into());
            return Err(self.refuse(refuse("bad dates"), e).await);
        }
        if self.store.get_key(&name).await?.is_some() {
            return Err(self
                .refuse(refuse("name taken"), Error::Conflict(format!("key {name}")))
                .await);
        }
        Ok(name)
    }

    /// The writes that store a new key at version 1 as `blob`, and its check value.
    pub(super) fn new_key_writes(
        &self,
        name: &KeyName,
        new: &NewKey,
        blob: &KeyBlob,
    ) -> Result<(Vec<Write>, String)> {
        let check = self.provider.check_value(new.algorithm, blob)?;
        let now = now_ms();
        let record = KeyRecord {
            name: name.clone(),
            algorithm: new.algorithm,
            usage: new.usage,
            level: new.level,
            region: new.region.clone().unwrap_or_default(),
            exportable: new.exportable,
            state: if new.activate_ms > now {
                KeyState::PreActive
            } else {
                KeyState::Active
            },
            min_version: 1,
            uses: 0,
            created_ms: now,
            rotate_every_ms: new.rotate_every_ms.max(0),
            activate_ms: new.activate_ms.max(0),
            expire_ms: new.expire_ms.max(0),
        };
        let version = KeyVersionRecord {
            name: name.clone(),
            version: 1,
            material: self
                .unsealed()?
                .keyring
                .seal(&KeyVersionRecord::aad(name, 1), blob.as_bytes())?,
            kcv: check.clone(),
            created_ms: now,
        };
        Ok((
            vec![Write::InsertKey(record), Write::InsertKeyVersion(version)],
            check,
        ))
    }

    pub(super) async fn view(&self, name: &KeyName) -> Result<KeyView> {
        let key = self.key(name).await?;
        let versions = self.store.key_versions(name).await?;
        Ok(KeyView {
            name: key.name.to_string(),
            algorithm: key.algorithm,
            usage: key.usage,
            level: key.level,
            region: key.region,
            exportable: key.exportable,
            state: key.state,
            min_version: key.min_version,
            uses: key.uses,
            rotate_every_ms: key.rotate_every_ms,
            activate_ms: key.activate_ms,
            expire_ms: key.expire_ms,
            versions: versions
                .into_iter()
                .map(|v| KeyVersionView {
                    version: v.version,
                    kcv: v.kcv,
                    created_ms: v.created_ms,
                })
                .collect(),
        })
    }

    /// Every key with its versions' check values.
    pub async fn list_keys(&self, session: &Session) -> Result<Vec<KeyView>> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let mut views = Vec::new();
        for key in self.store.list_keys().await? {
            views.push(self.view(&key.name).await?);
        }
        Ok(views)
    }

    /// One key: state, versions and the check value of each.
    pub async fn show_key(&self, session: &Session, name: &str) -> Result<KeyView> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        self.view(&KeyName::parse(name)?).await
    }

    /// The public key (SPKI PEM) of the newest version of an SM2 key: what a
    /// sender envelopes keys to, or a verifier checks signatures with.
    pub async fn public_key(&self, session: &Session, name: &str) -> Result<String> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let name = KeyName::parse(name)?;
        let key = self.key(&name).await?;
        if key.algorithm != KeyAlgorithm::Sm2 {
            return Err(Error::Invalid(format!("key {name} is not an sm2 key")));
        }
        let version = self
            .store
            .key_versions(&name)
            .await?
            .pop()
            .ok_or_else(|| Error::NotFound(format!("key {name} version")))?;
        if version.material.is_empty() {
            return Err(Error::KeyState {
                name: name.to_string(),
                state: key.state.as_str(),
                action: "public key",
            });
        }
        let blob = KeyBlob::from_bytes(
            self.open_secret(
                &KeyVersionRecord::aad(&name, version.version),
                &version.material,
            )
            .await?,
        );
        Ok(self.provider.public_key(&blob)?.to_spki_pem()?)
    }

    /// Adds a version; new protection uses it, older versions still process
    /// until the minimum version passes them.
    pub async fn rotate_key(&self, session: &Session, name: &str) -> Result<KeyView> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        self.audited(session, "key.rotate", name, async {
            let name = KeyName::parse(name)?;
            self.reserved_key(&name, "key.rotate")?;
            retry_stale!(self, async {
                match self
                    .rotate_as(session.operator.as_str(), &name, false)
                    .await
                {
                    // Another rotation took the same version number: number again.
                    Err(Error::Conflict(what)) => Err(Error::Stale(what)),
                    other => other,
                }
            })?;
            self.view(&name).await
        })
        .await
    }

    /// Adds a version of `name` on behalf of `who` (an operator, or `system`
    /// for a scheduled rotation).
    pub(super) async fn rotate_as(
        &self,
        who: &str,
        name: &KeyName,
        scheduled: bool,
    ) -> Result<i64> {
        let key = self.key(name).await?;
        if !key.state.permits(UseKind::Protect) {
            let e = Error::KeyState {
                name: name.to_string(),
                state: key.state.as_str(),
                action: "rotate",
            };
            let entry = AuditEntry::refused(who, "key.rotate", name.as_str(), key.state.as_str());
            return Err(self.refuse(entry, e).await);
        }
        let latest = self
            .store
            .key_versions(name)
            .await?
            .last()
            .map_or(0, |v| v.version);
        let version = latest + 1;
        let blob = self.provider.generate(key.algorithm)?;
        let check = self.provider.check_value(key.algorithm, &blob)?;
        let record = KeyVersionRecord {
            name: name.clone(),
            version,
            material: self
                .unsealed()?
                .keyring
                .seal(&KeyVersionRecord::aad(name, version), blob.as_bytes())?,
            kcv: check.clone(),
            created_ms: now_ms(),
        };
        let entry = AuditEntry::ok(who, "key.rotate", name.as_str())
            .with("version", version.to_string())
            .with("kcv", check)
            .with("scheduled", scheduled.to_string());
        self.commit(vec![Write::InsertKeyVersion(record)], entry)
            .await?;
        Ok(version)
    }

    /// Retires every version below `min`: they neither protect nor process.
    /// The minimum only rises.
    pub async fn set_min_version(
        &self,
        session: &Session,
        name: &str,
        min: i64,
    ) -> Result<KeyView> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let who = session.operator.as_str();
        self.audited(session, "key.min-version", name, async {
            let name = KeyName::parse(name)?;
            self.reserved_key(&name, "key.min-version")?;
            retry_stale!(self, self.set_min_version_once(who, &name, min))?;
            self.view(&name).await
        })
        .await
    }

    async fn set_min_version_once(&self, who: &str, name: &KeyName, min: i64) -> Result<()> {
        let name = name.clone();
        let key = self.key(&name).await?;
        let latest = self
            .store
            .key_versions(&name)
            .await?
            .last()
            .map_or(0, |v| v.version);
        if min < key.min_version || min > latest {
            let e = Error::Invalid(format!(
                "the minimum version of {name} can go from {} up to {latest}, not to {min}",
                key.min_version
            ));
            let entry = AuditEntry::refused(who, "key.min-version", name.as_str(), "out of range");
            return Err(self.refuse(entry, e).await);
        }
        let entry = AuditEntry::ok(who, "key.min-version", name.as_str())
            .with("min_version", min.to_string());
        let write = Write::UpdateKey {
            name: name.clone(),
            expect: vec![KeyField::MinVersion(key.min_version)],
            set: vec![KeyField::MinVersion(min)],
            count_use: false,
        };
        self.commit(vec![write], entry).await?;
        Ok(())
    }

    /// Moves a key through its lifecycle (suspend, activate, deactivate,
    /// compromise). Destruction is dual-controlled and is not done here.
    pub async fn transition_key(
        &self,
        session: &Session,
        name: &str,
        transition: Transition,
    ) -> Result<KeyView> {
        self.authorize(session, &ops::KEY_MANAGE).await?;
        let who = session.operator.as_str();
        let action = format!("key.{}", transition.as_str());
        self.audited(session, &action, name, async {
            let name = KeyName::parse(name)?;
            self.reserved_key(&name, &action)?;
            retry_stale!(self, self.transition_key_once(who, &name, transition))?;
            self.view(&name).await
        })
        .await
    }

    async fn transition_key_once(
        &self,
        who: &str,
        name: &KeyName,
        transition: Transition,
    ) -> Result<()> {
        let key = self.key(name).await?;
        let action = format!("key.{}", transition.as_str());
        let next = match (transition, key.state.apply(transition)) {
            (Transition::Destroy, _) => Err(format!(
                "destroying key {name} needs a second administrator: use sscard key destroy"
            )),
            (_, Some(next)) => Ok(next),
            (_, None) => Err(format!(
                "key {name} is {}: {action} is not allowed from there",
                key.state.as_str()
            )),
        };
        let next = match next {
            Ok(next) => next,
            Err(reason) => {
                let entry = AuditEntry::refused(who, &action, name.as_str(), key.state.as_str());
                return Err(self.refuse(entry, Error::Refused(reason)).await);
            }
        };
        let entry = AuditEntry::ok(who, &action, name.as_str())
            .with("from", key.state.as_str())
            .with("to", next.as_str());
        let write = Write::UpdateKey {
            name: name.clone(),
            expect: vec![KeyField::State(key.state)],
            set: vec![KeyField::State(next)],
            count_use: false,
        };
        self.commit(vec![write], entry).await?;
        Ok(())
    }

    /// Refuses `action` on one of the platform's own keys: its CA, blacklist
    /// and CRL key (`platform-signing`), which nothing else may use, rotate
    /// or retire (terminals and certificates depend on it), and the master
    /// of terminal keys (`terminal-master`), which only rotates and is
    /// suspended and activated again: deactivating or marking it compromised
    /// has no way back and would end every terminal's sign-in, so a
    /// compromise is answered by rotating it and keying the terminals again.
    /// Neither is made, used, exported, destroyed or given another usage by
    /// an operator.
    pub(super) fn reserved_key(&self, name: &KeyName, action: &str) -> Result<()> {
        use super::signin::TERMINAL_MASTER;
        use super::terminals::PLATFORM_KEY;
        let name = name.as_str();
        let lifecycle = matches!(action, "key.rotate" | "key.suspend" | "key.activate");
        if name == PLATFORM_KEY || (name == TERMINAL_MASTER && !lifecycle) {
            return Err(Error::Refused(format!(
                "key {name} is the platform's own: only the platform makes and uses it"
            )));
        }
        Ok(())
    }

    /// The write that counts one use of `key`, committed only if the key
    /// still has the state, minimum version and usage the use was decided on.
    pub(super) fn use_write(key: &KeyRecord) -> Write {
        Write::UpdateKey {
            name: key.name.clone(),
            expect: vec![
                KeyField::State(key.state),
                KeyField::MinVersion(key.min_version),
                KeyField::Usage(key.usage),
            ],
            set: Vec::new(),
            count_use: true,
        }
    }

    /// The material of a usable version, checking state and minimum
    /// version; a refusal is audited under `action` (the audit name of the
    /// caller's operation, e.g. `card.personalize`).
    pub(super) async fn use_version(
        &self,
        session: &Session,
        name: &KeyName,
        version: Option<i64>,
        kind: UseKind,
        action: &'static str,
    ) -> Result<(KeyRecord, KeyVersionRecord, KeyBlob)> {
        match self.find_version(name, version, kind, action).await {
            Err(e) if is_refusal(&e) => {
                let entry = AuditEntry::refused(
                    session.operator.as_str(),
                    action,
                    name.as_str(),
                    &refusal_reason(&e),
                );
                Err(self.refuse(entry, e).await)
            }
            other => other,
        }
    }

    /// The material of a usable version, checking state and minimum
    /// version, without auditing (the caller audits).
    pub(super) async fn find_version(
        &self,
        name: &KeyName,
        version: Option<i64>,
        kind: UseKind,
        action: &'static str,
    ) -> Result<(KeyRecord, KeyVersionRecord, KeyBlob)> {
        let verb = action.rsplit('.').next().unwrap_or(action);
        let key = self.key(name).await?;
        // Past its expiry a key only processes, even before the schedule
        // deactivates it.
        let state = if kind == UseKind::Protect && key.expired_at(now_ms()) {
            "expired"
        } else {
            key.state.as_str()
        };
        if !key.state.permits(kind) || state == "expired" {
            return Err(Error::KeyState {
                name: name.to_string(),
                state,
                action: verb,
            });
        }
        let versions = self.store.key_versions(name).await?;
        let chosen = match version {
            Some(v) => versions.into_iter().find(|r| r.version == v),
            None => versions.into_iter().last(),
        }
        .ok_or_else(|| Error::NotFound(format!("key {name} version {}", version.unwrap_or(0))))?;
        if chosen.version < key.min_version {
            return Err(Error::KeyVersionRetired {
                name: name.to_string(),
                version: chosen.version,
                min: key.min_version,
            });
        }
        if chosen.material.is_empty() {
            return Err(Error::KeyState {
                name: name.to_string(),
                state: "destroyed",
                action: verb,
            });
        }
        let blob = KeyBlob::from_bytes(
            self.open_secret(
                &KeyVersionRecord::aad(name, chosen.version),
                &chosen.material,
            )
            .await?,
        );
        Ok((key, chosen, blob))
    }

    /// The outcome of a use of key `name` (see [`key_use!`]), with its
    /// refusal, if it is one, audited under `action`.
    pub(super) async fn audit_key_refusal<T>(
        &self,
        session: &Session,
        action: &'static str,
        name: &str,
        outcome: Result<T>,
    ) -> Result<T> {
        match outcome {
            Err(e) if is_refusal(&e) => {
                let target = match KeyName::parse(name) {
                    Ok(n) => n.to_string(),
                    Err(_) => self.audit_hmac(name),
                };
                let entry = AuditEntry::refused(
                    session.operator.as_str(),
                    action,
                    &target,
                    &refusal_reason(&e),
                );
                Err(self.refuse(entry, e).await)
            }
            other => other,
        }
    }

    /// Encrypts with the newest version of an SM4 `encrypt` key.
    pub async fn encrypt(&self, session: &Session, name: &str, plaintext: &[u8]) -> Result<String> {
        key_use!(self, session, "key.encrypt", name, |name| async {
            let (key, version, material) = self
                .find_version(name, None, UseKind::Protect, "key.encrypt")
                .await?;
            check_encryption_usage(&key)?;
            let iv = random::bytes(GCM_IV_LEN)?;
            let sealed =
                self.provider
                    .seal(&material, &iv, format!("key/{name}").as_bytes(), plaintext)?;
            let mut body = iv.to_vec();
            body.extend(sealed);
            let entry = AuditEntry::ok(session.operator.as_str(), "key.encrypt", name.as_str())
                .with("version", version.version.to_string())
                .with("kcv", version.kcv.clone());
            self.commit(vec![Self::use_write(&key)], entry).await?;
            Ok(format!("sscard:v{}:{}", version.version, hex::encode(body)))
        })
    }

    /// Decrypts a ciphertext of [`Self::encrypt`] with the version it names.
    pub async fn decrypt(
        &self,
        session: &Session,
        name: &str,
        ciphertext: &str,
    ) -> Result<Zeroizing<Vec<u8>>> {
        key_use!(self, session, "key.decrypt", name, |name| async {
            let malformed =
                || Error::Invalid("not a ciphertext of sscard (sscard:v<N>:<hex>)".into());
            let rest = ciphertext
                .trim()
                .strip_prefix("sscard:v")
                .ok_or_else(malformed)?;
            let (version, body) = rest.split_once(':').ok_or_else(malformed)?;
            let version: i64 = version.parse().map_err(|_| malformed())?;
            let body = hex::decode(body).map_err(|_| malformed())?;
            if body.len() < GCM_IV_LEN {
                return Err(malformed());
            }
            let (key, chosen, material) = self
                .find_version(name, Some(version), UseKind::Process, "key.decrypt")
                .await?;
            check_encryption_usage(&key)?;
            let (iv, sealed) = body.split_at(GCM_IV_LEN);
            let plain = self
                .provider
                .open(&material, iv, format!("key/{name}").as_bytes(), sealed)
                .map_err(|_| {
                    Error::Invalid("the ciphertext does not authenticate under this key".into())
                })?;
            let entry = AuditEntry::ok(session.operator.as_str(), "key.decrypt", name.as_str())
                .with("version", chosen.version.to_string())
                .with("kcv", chosen.kcv.clone());
            self.commit(vec![Self::use_write(&key)], entry).await?;
            Ok(plain)
        })
    }
}

/// Whether an error refuses the request (and is audited as a refusal),
/// rather than a failure of the storage that could not record it anyway.
pub(super) fn is_refusal(e: &Error) -> bool {
    !matches!(e, Error::Storage(_))
}

/// The reason of a refusal as recorded: the error's message, bounded.
pub(super) fn refusal_reason(e: &Error) -> String {
    crate::text::bounded(&e.to_string(), 200)
}
