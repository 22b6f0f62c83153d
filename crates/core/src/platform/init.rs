//! `sscard init`: the root key and its shares, the keyring, the audit keys,
//! and the first operators, one per role.

use serde::Serialize;
use sscard_gm::random;
use sscard_gm::sm2::Sm2PrivateKey;
use zeroize::Zeroizing;

use super::{meta, Platform};
use crate::audit::AuditEntry;
use crate::barrier::Keyring;
use crate::operator::{Operator, OperatorName};
use crate::seal::{self, ShareFile};
use crate::store::{Store, Write};
use crate::{password, Error, Result, Role};

/// An operator to create at init.
#[derive(Debug, Clone)]
pub struct NewOperator {
    /// The key under which `operators.json` lists it (`system`, `security`, …).
    pub label: String,
    /// User name.
    pub name: OperatorName,
    /// Role.
    pub role: Role,
    /// Whether the generated password must be changed at first login.
    pub one_time: bool,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Number of shares.
    pub shares: u8,
    /// Shares needed to unseal.
    pub threshold: u8,
    /// The first operators.
    pub operators: Vec<NewOperator>,
    /// PBKDF2 iterations of their password hashes
    /// ([`password::ITERATIONS`] unless a test lowers it).
    pub password_iterations: u32,
}

impl InitOptions {
    /// The standard first operators: one per role, one-time passwords.
    pub fn standard(shares: u8, threshold: u8) -> Result<Self> {
        let op = |label: &str, name: &str, role| -> Result<NewOperator> {
            Ok(NewOperator {
                label: label.into(),
                name: OperatorName::parse(name)?,
                role,
                one_time: true,
            })
        };
        Ok(Self {
            shares,
            threshold,
            operators: vec![
                op("system", "sysadmin", Role::System)?,
                op("security", "secadmin", Role::Security)?,
                op("audit", "auditor", Role::Audit)?,
            ],
            password_iterations: password::ITERATIONS,
        })
    }
}

/// A created operator's credentials, for `operators.json`.
#[derive(Serialize)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// The generated password.
    pub password: Zeroizing<String>,
}

/// What init made: the share files and the operators' passwords.
pub struct InitOutput {
    /// One per share.
    pub shares: Vec<ShareFile>,
    /// By label, in the order given.
    pub operators: Vec<(String, Credentials)>,
}

impl Platform {
    /// Initializes an empty store. Refused if the store has a root key already.
    pub async fn initialize(store: &dyn Store, options: &InitOptions) -> Result<InitOutput> {
        Self::initialize_then(store, options, |_| Ok(())).await
    }

    /// Initializes an empty store, calling `persist` with the shares and
    /// passwords before anything is committed: if `persist` fails (it could
    /// not write the share files), the store stays uninitialized, and no root
    /// key exists that nobody holds.
    pub async fn initialize_then(
        store: &dyn Store,
        options: &InitOptions,
        persist: impl FnOnce(&InitOutput) -> Result<()>,
    ) -> Result<InitOutput> {
        if store.get_meta(meta::SEAL_CONFIG).await?.is_some() {
            return Err(Error::AlreadyInitialized);
        }
        let (config, root, shares) = seal::new_root(options.shares, options.threshold)?;
        let keyring = Keyring::new()?;
        let audit_hmac = random::bytes(32)?;
        let audit_key = Sm2PrivateKey::generate()?;
        let config_json = serde_json::to_vec(&config).map_err(|e| Error::Invalid(e.to_string()))?;

        let mut writes = vec![
            Write::InsertMeta {
                key: meta::SEAL_CONFIG.into(),
                value: config_json,
            },
            Write::InsertMeta {
                key: meta::KEYRING.into(),
                value: keyring.wrap(&root)?,
            },
            Write::InsertMeta {
                key: meta::AUDIT_HMAC_KEY.into(),
                value: keyring.seal(meta::AUDIT_HMAC_KEY, &audit_hmac)?,
            },
            Write::InsertMeta {
                key: meta::AUDIT_SIGNING_KEY.into(),
                value: keyring.seal(meta::AUDIT_SIGNING_KEY, &audit_key.to_pkcs8_der()?)?,
            },
            Write::InsertMeta {
                key: meta::AUDIT_PUBLIC_KEY.into(),
                value: audit_key.public_key().to_spki_pem()?.into_bytes(),
            },
        ];
        let now = crate::now_ms();
        let mut operators = Vec::new();
        for new in &options.operators {
            let secret = password::generate()?;
            let hash = password::hash_with(&secret, options.password_iterations)?;
            writes.push(Write::InsertOperator(Operator {
                name: new.name.clone(),
                role: Some(new.role),
                disabled: false,
                must_change_password: new.one_time,
                failed_logins: 0,
                locked_until_ms: 0,
                password: keyring.seal(&Operator::password_aad(&new.name), &hash)?,
                created_ms: now,
            }));
            operators.push((
                new.label.clone(),
                Credentials {
                    user: new.name.to_string(),
                    password: secret,
                },
            ));
        }
        let names: Vec<String> = options
            .operators
            .iter()
            .map(|o| format!("{}:{}", o.name, o.role))
            .collect();
        let entry = AuditEntry::ok("system", "sys.init", "platform")
            .with("shares", options.shares.to_string())
            .with("threshold", options.threshold.to_string())
            .with("operators", names.join(","));
        let output = InitOutput { shares, operators };
        persist(&output)?;
        match store.commit(writes, entry).await {
            Ok(_) => Ok(output),
            // Another init won the race: its root key is the platform's.
            Err(Error::Stale(_)) | Err(Error::Conflict(_)) => Err(Error::AlreadyInitialized),
            Err(e) => Err(e),
        }
    }
}
