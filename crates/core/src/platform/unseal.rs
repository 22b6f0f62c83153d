//! Unseal with M of N shares, seal again, health.

use std::sync::Arc;

use serde::Serialize;
use sscard_gm::sm2::Sm2PrivateKey;
use zeroize::Zeroizing;

use super::flood::Source;
use super::{meta, ops, Platform, Session, State, Unsealed};
use crate::audit::AuditEntry;
use crate::barrier::Keyring;
use crate::seal::{self, ShareFile};
use crate::store::Write;
use crate::{Error, Result};

/// `/v1/sys/health`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Health {
    /// `sscard init` has been run on this store.
    pub initialized: bool,
    /// This node holds no root key.
    pub sealed: bool,
    /// The version of sscard.
    pub version: &'static str,
}

/// Where unsealing stands after a share.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnsealProgress {
    /// Still sealed.
    pub sealed: bool,
    /// Distinct shares given so far.
    pub progress: u8,
    /// Shares needed.
    pub threshold: u8,
}

impl Platform {
    /// Health of this node.
    pub async fn health(&self) -> Result<Health> {
        let initialized = self.store.get_meta(meta::SEAL_CONFIG).await?.is_some();
        Ok(Health {
            initialized,
            sealed: self.unsealed().is_err(),
            version: env!("CARGO_PKG_VERSION"),
        })
    }

    /// Gives one share. With the threshold reached, rebuilds the root key,
    /// opens the keyring and the audit keys, and the platform is unsealed.
    pub async fn unseal(&self, share: &[u8]) -> Result<UnsealProgress> {
        self.unseal_from(share, &Source::local()).await
    }

    /// [`Self::unseal`] for a caller at `source`. Each share is checked when
    /// it is given ([`seal::check_share`]): a malformed or wrong share is
    /// refused at once with its reason and does not count; a share whose
    /// index was given already is refused as a duplicate (`DuplicateShare`),
    /// so that a custodian who gave a wrong share resets the unseal
    /// ([`Self::unseal_reset`]) and gives the right one.
    pub async fn unseal_from(&self, share: &[u8], source: &Source) -> Result<UnsealProgress> {
        let config = self.seal_config().await?;
        let refused =
            |e: &Error| AuditEntry::refused("anonymous", "sys.unseal", "platform", &e.to_string());
        // The share is checked even when unsealed: a foreign share is always named.
        let (file, index) = match ShareFile::parse(share)
            .and_then(|f| seal::check_share(&config, &f).map(|index| (f, index)))
        {
            Ok(checked) => checked,
            Err(e) => return Err(self.refuse_unauthenticated(refused(&e), source, e).await),
        };
        enum Next {
            Done(UnsealProgress),
            Duplicate,
            Open(Vec<ShareFile>),
        }
        let next = {
            let mut state = self.state.write().map_err(|_| super::poisoned())?;
            match &mut *state {
                State::Unsealed(_) => Next::Done(UnsealProgress {
                    sealed: false,
                    progress: config.threshold,
                    threshold: config.threshold,
                }),
                State::Sealed(given) if given.iter().any(|g| g.index() == Some(index)) => {
                    Next::Duplicate
                }
                State::Sealed(given) => {
                    given.push(file);
                    if given.len() < usize::from(config.threshold) {
                        Next::Done(UnsealProgress {
                            sealed: true,
                            progress: u8::try_from(given.len()).unwrap_or(u8::MAX),
                            threshold: config.threshold,
                        })
                    } else {
                        Next::Open(std::mem::take(given))
                    }
                }
            }
        };
        let shares = match next {
            Next::Done(progress) => return Ok(progress),
            Next::Duplicate => {
                let e = Error::DuplicateShare { index };
                return Err(self.refuse_unauthenticated(refused(&e), source, e).await);
            }
            Next::Open(shares) => shares,
        };
        let unsealed = match self.open_with(&config, &shares).await {
            Ok(u) => u,
            Err(e) => {
                // The shares given are forgotten: the next starts afresh.
                let e = Error::BadShare(format!(
                    "the {} shares given do not open this platform ({e}); they are forgotten, start again",
                    shares.len()
                ));
                return Err(self.refuse_unauthenticated(refused(&e), source, e).await);
            }
        };
        // The shares that opened it, by index: each accepted share is on
        // record (a sealed platform writes nothing before this).
        let indices = shares
            .iter()
            .filter_map(|s| s.index().map(|i| i.to_string()))
            .collect::<Vec<_>>()
            .join(",");
        *self.state.write().map_err(|_| super::poisoned())? = State::Unsealed(Arc::new(unsealed));
        self.commit(
            Vec::new(),
            AuditEntry::ok("anonymous", "sys.unseal", "platform")
                .with("source", source.as_str())
                .with("shares", indices),
        )
        .await?;
        Ok(UnsealProgress {
            sealed: false,
            progress: config.threshold,
            threshold: config.threshold,
        })
    }

    /// Forgets the shares given so far (as Vault's `unseal -reset`): the
    /// custodians start again. Only a custodian resets: the request carries
    /// one of this platform's shares, checked as a share given is (and not
    /// counted). Audited; refused when the platform is unsealed (there is
    /// nothing to reset).
    pub async fn unseal_reset(&self, share: &[u8], source: &Source) -> Result<UnsealProgress> {
        let config = self.seal_config().await?;
        if let Err(e) =
            ShareFile::parse(share).and_then(|f| seal::check_share(&config, &f).map(|_| ()))
        {
            let entry =
                AuditEntry::refused("anonymous", "sys.unseal-reset", "platform", &e.to_string());
            return Err(self.refuse_unauthenticated(entry, source, e).await);
        }
        let forgotten = {
            let mut state = self.state.write().map_err(|_| super::poisoned())?;
            match &mut *state {
                State::Unsealed(_) => None,
                State::Sealed(given) => Some(std::mem::take(given).len()),
            }
        };
        let Some(forgotten) = forgotten else {
            return Err(Error::Refused(
                "the platform is unsealed: there is no unseal progress to reset".into(),
            ));
        };
        self.commit(
            Vec::new(),
            AuditEntry::ok("anonymous", "sys.unseal-reset", "platform")
                .with("forgotten", forgotten.to_string())
                .with("source", source.as_str()),
        )
        .await?;
        Ok(UnsealProgress {
            sealed: true,
            progress: 0,
            threshold: config.threshold,
        })
    }

    async fn open_with(&self, config: &seal::SealConfig, shares: &[ShareFile]) -> Result<Unsealed> {
        let root = seal::combine(config, shares)?;
        let wrapped = self
            .store
            .get_meta(meta::KEYRING)
            .await?
            .ok_or_else(|| Error::Integrity("no keyring".into()))?;
        let keyring = Keyring::unwrap(&root, &wrapped)?;
        let sealed_hmac = self
            .store
            .get_meta(meta::AUDIT_HMAC_KEY)
            .await?
            .ok_or_else(|| Error::Integrity("no audit HMAC key".into()))?;
        let audit_hmac = keyring.open(meta::AUDIT_HMAC_KEY, &sealed_hmac)?;
        let sealed_key = self
            .store
            .get_meta(meta::AUDIT_SIGNING_KEY)
            .await?
            .ok_or_else(|| Error::Integrity("no audit signing key".into()))?;
        let der = keyring.open(meta::AUDIT_SIGNING_KEY, &sealed_key)?;
        let audit_key = Sm2PrivateKey::from_pkcs8_der(&der)?;
        Ok(Unsealed {
            root,
            keyring,
            audit_hmac: Zeroizing::new(audit_hmac.to_vec()),
            audit_key,
        })
    }

    /// Seals this node: the root key and keyring leave memory. Sealing is
    /// the emergency stop: every operator token and every terminal session
    /// ends with it (on every node, since they live in the store), and
    /// after the next unseal everyone logs in or signs in again.
    pub async fn seal(&self, session: &Session) -> Result<()> {
        self.authorize(session, &ops::SYS_SEAL).await?;
        self.commit(
            vec![Write::EndAllSessions],
            AuditEntry::ok(session.operator.as_str(), ops::SYS_SEAL.name, "platform")
                .with("sessions", "ended"),
        )
        .await?;
        *self.state.write().map_err(|_| super::poisoned())? = State::Sealed(Vec::new());
        Ok(())
    }

    /// Adds a keyring term: new secrets are sealed under it, older ones stay
    /// readable; no restart, no downtime. The stored keyring is replaced only
    /// if no other node changed it meanwhile. Returns the new term.
    pub async fn rotate_keyring(&self, session: &Session) -> Result<u32> {
        self.authorize(session, &ops::SYS_ROTATE).await?;
        let current = self.unsealed()?;
        let stored = self
            .store
            .get_meta(meta::KEYRING)
            .await?
            .ok_or_else(|| Error::Integrity("no keyring".into()))?;
        let mut keyring = Keyring::unwrap(&current.root, &stored)?;
        let term = keyring.rotate()?;
        let wrapped = keyring.wrap(&current.root)?;
        let write = Write::ReplaceMeta {
            key: meta::KEYRING.into(),
            expected: stored,
            value: wrapped,
        };
        let entry = AuditEntry::ok(session.operator.as_str(), ops::SYS_ROTATE.name, "keyring")
            .with("term", term.to_string());
        self.commit(vec![write], entry).await?;
        self.install_keyring(&current, keyring)?;
        Ok(term)
    }

    /// Opens a barrier-sealed value. A value sealed under a term this node
    /// has not seen (another node rotated) makes it reload the keyring first.
    pub(crate) async fn open_secret(&self, aad: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let current = self.unsealed()?;
        if Keyring::term_of(sealed).is_some_and(|term| term > current.keyring.term()) {
            let wrapped = self
                .store
                .get_meta(meta::KEYRING)
                .await?
                .ok_or_else(|| Error::Integrity("no keyring".into()))?;
            let keyring = Keyring::unwrap(&current.root, &wrapped)?;
            self.install_keyring(&current, keyring)?;
        }
        self.unsealed()?.keyring.open(aad, sealed)
    }

    fn install_keyring(&self, current: &Unsealed, keyring: Keyring) -> Result<()> {
        let next = Unsealed {
            root: current.root.clone(),
            keyring,
            audit_hmac: current.audit_hmac.clone(),
            audit_key: current.audit_key.clone(),
        };
        let mut state = self.state.write().map_err(|_| super::poisoned())?;
        // A node sealed meanwhile stays sealed.
        if matches!(*state, State::Unsealed(_)) {
            *state = State::Unsealed(Arc::new(next));
        }
        Ok(())
    }
}
