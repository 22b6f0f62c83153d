//! The platform's use cases over a [`Store`]: init, seal and unseal, login,
//! operators, audit. Every action appends its audit record in the same
//! transaction as its effect; a refusal is audited too.

/// Runs a read-decide-commit attempt (an expression giving a future,
/// evaluated afresh for each try) again while its commit finds that what it
/// decided on changed meanwhile ([`Error::Stale`]): the next try reads the
/// new state and decides again (and may then refuse). Gives up with the
/// `Stale` error after [`STALE_TRIES`] tries.
macro_rules! retry_stale {
    ($platform:expr, $attempt:expr) => {{
        let mut tries: u32 = 0;
        loop {
            match $attempt.await {
                Err($crate::Error::Stale(what)) if tries + 1 < $crate::platform::STALE_TRIES => {
                    tries += 1;
                    $platform.stale_pause(tries, &what).await;
                }
                other => break other,
            }
        }
    }};
}

/// Runs one use of a key for a session as the audited action `$action`
/// (`"key.encrypt"`, …): authorizes it, parses the key's name, runs `$body`
/// (an `async` block that sees the parsed name as `$key`) under
/// [`retry_stale!`], and audits every refusal under `$action`, the name its
/// success is audited under, whatever refused it: the name, the input, the
/// state, the version, the usage or the cryptography.
macro_rules! key_use {
    ($platform:expr, $session:expr, $action:expr, $name:expr, |$key:ident| $body:expr) => {{
        $platform
            .authorize($session, &$crate::platform::ops::KEY_USE)
            .await?;
        let outcome = match $crate::key::KeyName::parse($name) {
            Ok(parsed) => {
                let $key = &parsed;
                match $platform.reserved_key($key, $action) {
                    Err(e) => Err(e),
                    Ok(()) => retry_stale!($platform, $body),
                }
            }
            Err(e) => Err(e),
        };
        $platform
            .audit_key_refusal($session, $action, $name, outcome)
            .await
    }};
}

tokio::task_local! {
    /// Whether a refusal record was written (or counted) within the
    /// current scope: a request, or an operation run by [`Platform::audited`].
    static REFUSAL_RECORDED: std::cell::Cell<bool>;
}

/// Notes that a refusal was recorded in the current scope, if any.
fn note_refusal_recorded() {
    let _ = REFUSAL_RECORDED.try_with(|c| c.set(true));
}

/// Runs `work` in a scope of its own, and says whether a refusal record
/// was written (or counted) while it ran. A server runs each request so,
/// to audit a refusal that no operation recorded.
pub async fn refusal_scope<T>(work: impl std::future::Future<Output = T>) -> (T, bool) {
    let (value, recorded) = REFUSAL_RECORDED
        .scope(std::cell::Cell::new(false), async {
            let value = work.await;
            (value, REFUSAL_RECORDED.with(std::cell::Cell::get))
        })
        .await;
    if recorded {
        note_refusal_recorded();
    }
    (value, recorded)
}

/// Tries of a decision whose commit keeps finding its state changed.
pub(crate) const STALE_TRIES: u32 = 64;

mod approvals;
mod audit_log;
mod auth;
mod blacklist;
mod cards;
mod derivation;
mod events;
mod export;
mod flood;
mod import;
mod init;
mod keys;
mod operators;
mod policy;
mod rewrap;
mod schedule;
mod signin;
mod terminals;
mod transit;
mod unseal;

use std::sync::{Arc, RwLock};

use sscard_gm::sm2::Sm2PrivateKey;
use sscard_gm::Sm4Key;
use zeroize::Zeroizing;

use crate::audit::{self, AuditEntry, AuditRecord};
use crate::barrier::Keyring;
use crate::operator::OperatorName;
use crate::provider::{CryptoProvider, SoftwareProvider};
use crate::seal::{SealConfig, ShareFile};
use crate::store::{Store, Write};
use crate::{Error, Result, Role};

pub use crate::provider::CardOperation;
pub use approvals::{ApprovalOutcome, ApprovalStatus, ApprovalView, PendingApproval};
pub use audit_log::{AuditPage, VerifyReport};
pub use auth::{LoginOutcome, Session};
pub use cards::{card_master_usage, master_name, ProvisionedKey, PsamJob};
pub use events::{EventRule, NewEvent};
pub use export::ExportTarget;
pub use flood::Source;
pub use init::{InitOptions, InitOutput, NewOperator};
pub use keys::{KeyVersionView, KeyView, NewKey};
pub use operators::OperatorView;
pub use rewrap::RewrapProgress;
pub use signin::{
    event_message, signin_message, SignedInTerminal, SigninOutcome, TerminalKeying, WorkingKey,
    MAC_LEN, MAX_LIVE_CHALLENGES, TERMINAL_MASTER, WORKING_KEYS,
};
pub use terminals::{terminal_session, Enrollment, NewTerminal};
pub use transit::DataKey;
pub use unseal::{Health, UnsealProgress};

/// Names of the platform's stored values.
pub(crate) mod meta {
    pub const SEAL_CONFIG: &str = "seal_config";
    pub const KEYRING: &str = "keyring";
    pub const AUDIT_HMAC_KEY: &str = "audit_hmac_key";
    pub const AUDIT_SIGNING_KEY: &str = "audit_signing_key";
    pub const AUDIT_PUBLIC_KEY: &str = "audit_public_key";
}

/// An operation that needs a role: its audit name and the roles it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// Audit action name, `area.verb`.
    pub name: &'static str,
    /// The roles that may perform it.
    pub roles: &'static [Role],
}

/// Every role-guarded operation of the platform, with the roles it admits.
pub mod ops {
    use super::Operation;
    use crate::Role;

    /// Create an account (system administrator).
    pub const OPERATOR_ADD: Operation = Operation {
        name: "operator.add",
        roles: &[Role::System],
    };
    /// Disable an account (system administrator).
    pub const OPERATOR_DISABLE: Operation = Operation {
        name: "operator.disable",
        roles: &[Role::System],
    };
    /// List accounts (system and security administrators).
    pub const OPERATOR_LIST: Operation = Operation {
        name: "operator.list",
        roles: &[Role::System, Role::Security],
    };
    /// Grant a role (security administrator).
    pub const OPERATOR_GRANT: Operation = Operation {
        name: "operator.grant",
        roles: &[Role::Security],
    };
    /// Seal the platform (security administrator).
    pub const SYS_SEAL: Operation = Operation {
        name: "sys.seal",
        roles: &[Role::Security],
    };
    /// Rotate the barrier keyring (security administrator).
    pub const SYS_ROTATE: Operation = Operation {
        name: "sys.rotate",
        roles: &[Role::Security],
    };
    /// Read the audit log (audit administrator).
    pub const AUDIT_READ: Operation = Operation {
        name: "audit.read",
        roles: &[Role::Audit],
    };
    /// Verify the audit log (audit administrator).
    pub const AUDIT_VERIFY: Operation = Operation {
        name: "audit.verify",
        roles: &[Role::Audit],
    };

    /// Create keys, rotate them, change their state and minimum version, list
    /// and show them (security administrator).
    pub const KEY_MANAGE: Operation = Operation {
        name: "key.manage",
        roles: &[Role::Security],
    };
    /// Encrypt and decrypt with a key (security administrator; applications
    /// get their own access with the platform-access issue).
    pub const KEY_USE: Operation = Operation {
        name: "key.use",
        roles: &[Role::Security],
    };

    /// Prepare and personalize cards, issue PSAMs (security administrator).
    pub const CARD_ISSUE: Operation = Operation {
        name: "card.issue",
        roles: &[Role::Security],
    };

    /// Register, enroll, suspend and revoke terminals (system administrator).
    pub const TERMINAL_MANAGE: Operation = Operation {
        name: "terminal.manage",
        roles: &[Role::System],
    };

    /// Add to and remove from the card blacklist, publish it (security administrator).
    pub const BLACKLIST_MANAGE: Operation = Operation {
        name: "blacklist.manage",
        roles: &[Role::Security],
    };

    /// Read security events and alerts, acknowledge alerts, set the rules
    /// (security administrator).
    pub const EVENT_MANAGE: Operation = Operation {
        name: "event.manage",
        roles: &[Role::Security],
    };

    /// List, approve and deny dual-controlled requests (security administrator).
    pub const APPROVAL: Operation = Operation {
        name: "approval.decide",
        roles: &[Role::Security],
    };

    /// All of them, for tests that try each against every role.
    pub const ALL: &[Operation] = &[
        APPROVAL,
        CARD_ISSUE,
        TERMINAL_MANAGE,
        BLACKLIST_MANAGE,
        EVENT_MANAGE,
        KEY_MANAGE,
        KEY_USE,
        OPERATOR_ADD,
        OPERATOR_DISABLE,
        OPERATOR_LIST,
        OPERATOR_GRANT,
        SYS_SEAL,
        SYS_ROTATE,
        AUDIT_READ,
        AUDIT_VERIFY,
    ];
}

/// What only an unsealed platform has in memory.
struct Unsealed {
    root: Sm4Key,
    keyring: Keyring,
    audit_hmac: Zeroizing<Vec<u8>>,
    audit_key: Sm2PrivateKey,
}

enum State {
    Sealed(Vec<ShareFile>),
    Unsealed(Arc<Unsealed>),
}

/// The platform: a store and the seal state of this node.
pub struct Platform {
    store: Arc<dyn Store>,
    provider: Arc<dyn CryptoProvider>,
    state: RwLock<State>,
    checkpoint_every: i64,
    /// The signed full blacklist of the newest version, built once per
    /// node: at 10^8 cards it takes the store minutes to list them.
    full_blacklist: tokio::sync::Mutex<Option<(i64, Arc<Vec<u8>>)>>,
    /// PBKDF2 iterations of new password hashes, and of the derivation a
    /// refused login spends.
    password_iterations: u32,
    /// Refusals of unauthenticated callers being counted.
    refusals: flood::Refusals,
    /// Password derivations running at once: each takes a core for about
    /// 0.1 s, so they run off the request threads, a few at a time, and a
    /// flood of logins waits its turn instead of stalling every request.
    kdf_permits: Arc<tokio::sync::Semaphore>,
}

impl Platform {
    /// Records between signed checkpoints, unless set otherwise.
    pub const CHECKPOINT_EVERY: i64 = 100;

    /// Password derivations a node runs at once.
    pub const KDF_AT_ONCE: usize = 2;

    /// Runs a password derivation (`work`) on the blocking pool, at most
    /// [`Self::KDF_AT_ONCE`] at a time.
    pub(crate) async fn kdf<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .kdf_permits
            .acquire()
            .await
            .map_err(|_| Error::Storage("password derivations closed".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| Error::Storage("a password derivation failed to run".into()))?
    }

    /// A sealed platform over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            provider: Arc::new(SoftwareProvider),
            state: RwLock::new(State::Sealed(Vec::new())),
            checkpoint_every: Self::CHECKPOINT_EVERY,
            full_blacklist: tokio::sync::Mutex::new(None),
            password_iterations: crate::password::ITERATIONS,
            refusals: flood::Refusals::default(),
            kdf_permits: Arc::new(tokio::sync::Semaphore::new(Self::KDF_AT_ONCE)),
        }
    }

    /// Hashes new passwords with `iterations` PBKDF2 rounds instead of
    /// [`crate::password::ITERATIONS`] (at least
    /// [`crate::password::MIN_ITERATIONS`]): for tests, which log in
    /// thousands of times.
    pub fn with_password_iterations(mut self, iterations: u32) -> Self {
        self.password_iterations = iterations.max(crate::password::MIN_ITERATIONS);
        self
    }

    /// Uses `provider` for every key operation instead of the software one.
    pub fn with_provider(mut self, provider: Arc<dyn CryptoProvider>) -> Self {
        self.provider = provider;
        self
    }

    /// The provider that holds and uses the keys.
    pub fn provider(&self) -> &dyn CryptoProvider {
        self.provider.as_ref()
    }

    /// Sets how many records pass between signed checkpoints.
    pub fn with_checkpoint_every(mut self, records: i64) -> Self {
        self.checkpoint_every = records.max(1);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether this node is sealed (holds no root key).
    pub fn is_sealed(&self) -> bool {
        self.unsealed().is_err()
    }

    fn unsealed(&self) -> Result<Arc<Unsealed>> {
        match &*self.state.read().map_err(|_| poisoned())? {
            State::Unsealed(u) => Ok(Arc::clone(u)),
            State::Sealed(_) => Err(Error::Sealed),
        }
    }

    async fn seal_config(&self) -> Result<SealConfig> {
        let bytes = self
            .store
            .get_meta(meta::SEAL_CONFIG)
            .await?
            .ok_or(Error::NotInitialized)?;
        serde_json::from_slice(&bytes).map_err(|_| Error::Integrity("seal config".into()))
    }

    /// Commits writes with their audit record, then a signed checkpoint if one is due.
    async fn commit(&self, writes: Vec<Write>, entry: AuditEntry) -> Result<AuditRecord> {
        let refusal = entry.outcome == "refused";
        let record = self.store.commit(writes, entry).await?;
        if refusal {
            note_refusal_recorded();
        }
        if record.seq % self.checkpoint_every == 0 {
            self.checkpoint(&record).await?;
        }
        Ok(record)
    }

    /// Appends a signed checkpoint over `record`, if unsealed, right after
    /// it: if another record came in between, the checkpoint is made over
    /// the newest one instead. Returns the checkpoint.
    async fn checkpoint(&self, record: &AuditRecord) -> Result<Option<AuditRecord>> {
        let Ok(unsealed) = self.unsealed() else {
            return Ok(None);
        };
        let mut over = record.clone();
        for _ in 0..STALE_TRIES {
            let entry = audit::checkpoint_entry(&unsealed.audit_key, over.seq, &over.hash)?;
            match self
                .store
                .commit(vec![Write::ExpectAuditHead(over.seq)], entry)
                .await
            {
                Ok(made) => return Ok(Some(made)),
                Err(Error::Stale(_)) => {
                    over =
                        self.store.audit_head().await?.ok_or_else(|| {
                            Error::Integrity("the audit log lost its head".into())
                        })?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Stale("the audit head".into()))
    }

    /// Appends a signed checkpoint if records were added since the last one
    /// and the newest is older than `max_age_ms`. Servers call this on a timer.
    pub async fn checkpoint_if_stale(&self, max_age_ms: i64) -> Result<bool> {
        let Some(head) = self.store.audit_head().await? else {
            return Ok(false);
        };
        if head.action == audit::CHECKPOINT || crate::now_ms() - head.time_ms < max_age_ms {
            return Ok(false);
        }
        if self.unsealed().is_err() {
            return Ok(false);
        }
        self.checkpoint(&head).await?;
        Ok(true)
    }

    /// The pause before deciding again after a stale decision: a few
    /// milliseconds, longer after each try, with some randomness so that
    /// two contenders do not meet again.
    pub(crate) async fn stale_pause(&self, tries: u32, what: &str) {
        let jitter = sscard_gm::random::bytes(1)
            .ok()
            .and_then(|b| b.first().copied())
            .unwrap_or(0);
        let pause = u64::from(tries.min(10)) + u64::from(jitter % 8);
        tracing::debug!(what, tries, "stale decision, deciding again");
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }

    /// Runs the operation `action` of `session` on `target`: a refusal it
    /// returns that it did not record itself is audited under `action`
    /// (the name its success is audited under), so that no refusal of an
    /// operation goes unrecorded.
    pub(crate) async fn audited<T>(
        &self,
        session: &Session,
        action: &str,
        target: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let (outcome, recorded) = refusal_scope(work).await;
        match outcome {
            Err(e) if !recorded && keys::is_refusal(&e) => {
                let entry = AuditEntry::refused(
                    session.operator.as_str(),
                    action,
                    &self.audit_target(target),
                    &keys::refusal_reason(&e),
                );
                Err(self.refuse(entry, e).await)
            }
            other => other,
        }
    }

    /// Audits a refusal and returns the error to give the caller. If even
    /// the refusal cannot be recorded, the storage error is returned.
    async fn refuse(&self, entry: AuditEntry, error: Error) -> Error {
        match self.commit(Vec::new(), entry).await {
            Ok(_) => error,
            Err(storage) => storage,
        }
    }

    /// `value` as it may appear in an audit record: HMAC-SM3 under the audit
    /// key (or a marker while sealed, when the key is not in memory).
    fn audit_hmac(&self, value: &str) -> String {
        match self.unsealed() {
            Ok(u) => audit::hmac_value(&u.audit_hmac, value),
            Err(_) => "hmac-sm3:unavailable-while-sealed".into(),
        }
    }

    /// A request of `session` for `op` whose input was refused before it
    /// reached the operation (a field that is not hex, an unknown name): the
    /// role is checked first, as the operation would (a caller without the
    /// role learns nothing of the input's checks), then the refusal is
    /// audited under `action` with its reason. Returns the error to give.
    pub async fn refuse_input(
        &self,
        session: &Session,
        op: &Operation,
        action: &str,
        target: &str,
        error: Error,
    ) -> Error {
        if let Err(forbidden) = self.authorize(session, op).await {
            return forbidden;
        }
        let entry = AuditEntry::refused(
            session.operator.as_str(),
            action,
            &self.audit_target(target),
            &crate::text::bounded(&error.to_string(), 200),
        );
        self.refuse(entry, error).await
    }

    /// A target as a refusal records it: as given when it is a text the
    /// log may hold (at most 128 characters, no control character), else
    /// only as its HMAC.
    fn audit_target(&self, target: &str) -> String {
        if crate::text::check("target", target, 128).is_ok() {
            target.to_string()
        } else {
            self.audit_hmac(target)
        }
    }

    /// Checks that `session` may perform `op`; a refusal is audited.
    pub async fn authorize(&self, session: &Session, op: &Operation) -> Result<()> {
        let role = session.role;
        let allowed = !session.password_change_only && role.is_some_and(|r| op.roles.contains(&r));
        if allowed {
            return Ok(());
        }
        let role_name = role.map_or("none", Role::as_str);
        let reason = if session.password_change_only {
            "the one-time password must be changed first".to_string()
        } else {
            format!("role {role_name} is not admitted")
        };
        let entry = AuditEntry::refused(session.operator.as_str(), op.name, op.name, &reason);
        let error = if session.password_change_only {
            Error::PasswordChangeRequired
        } else {
            Error::Forbidden {
                role: role_name.to_string(),
                action: op.name,
            }
        };
        Err(self.refuse(entry, error).await)
    }
}

fn poisoned() -> Error {
    Error::Storage("seal state lock poisoned".into())
}

/// An operator name from user input, or an `Invalid` error.
pub(crate) fn name(input: &str) -> Result<OperatorName> {
    OperatorName::parse(input)
}
