//! Login, password change and token checks.

use serde::Serialize;
use sscard_gm::random;
use zeroize::Zeroizing;

use super::flood::Source;
use super::{name, Platform};
use crate::audit::AuditEntry;
use crate::operator::{Operator, OperatorName, TokenRow};
use crate::store::{OperatorField, Write};
use crate::{now_ms, password, Error, Result, Role};

/// Failed logins before an account is locked.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a lock lasts.
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// How long a token lives.
pub const TOKEN_TTL_MS: i64 = 15 * 60 * 1000;

/// Who is calling, from a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The operator.
    pub operator: OperatorName,
    /// Their role, if granted.
    pub role: Option<Role>,
    /// Only a password change is allowed.
    pub password_change_only: bool,
}

/// A successful login.
#[derive(Serialize)]
pub struct LoginOutcome {
    /// The bearer token (shown once; only its hash is stored).
    pub token: Zeroizing<String>,
    /// Expiry, ms since the epoch.
    pub expires_ms: i64,
    /// The one-time password must be changed before anything else.
    pub password_change_required: bool,
    /// The operator's role.
    pub role: Option<Role>,
}

impl core::fmt::Debug for LoginOutcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoginOutcome")
            .field("expires_ms", &self.expires_ms)
            .field("password_change_required", &self.password_change_required)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

pub(super) fn token_hash(token: &str) -> String {
    hex::encode(sscard_gm::sm3::digest(token.as_bytes()))
}

impl Platform {
    /// Logs in. Failures count towards a lock; every attempt is audited, and
    /// a name that is not an account is recorded only as its HMAC (it may be
    /// a mistyped password).
    ///
    /// Every answer costs one password derivation, whether the name is an
    /// account or not, so that the time of an answer does not tell which
    /// names exist. The outcome is committed only if the account still
    /// holds what it was decided on (its password hash, failure count, lock
    /// and state); otherwise it is decided again on the new state.
    pub async fn login(&self, user: &str, secret: &str) -> Result<LoginOutcome> {
        self.login_from(user, secret, &Source::local()).await
    }

    /// [`Self::login`] for a caller at `source`: refusals that change
    /// nothing (no such account, disabled, locked, sealed) are counted per
    /// source (see [`super::flood`]); every wrong password of an account is
    /// recorded, since it counts towards the lock.
    pub async fn login_from(
        &self,
        user: &str,
        secret: &str,
        source: &Source,
    ) -> Result<LoginOutcome> {
        if self.unsealed().is_err() {
            let entry = AuditEntry::refused("anonymous", "auth.login", "platform", "sealed");
            return Err(self
                .refuse_unauthenticated(entry, source, Error::Sealed)
                .await);
        }
        // The verdict on the password, by the sealed hash it was checked
        // against: a second attempt against the same hash needs no new
        // derivation.
        let mut checked: Option<(Vec<u8>, bool)> = None;
        retry_stale!(self, self.login_once(user, secret, &mut checked, source))
    }

    async fn login_once(
        &self,
        user: &str,
        secret: &str,
        checked: &mut Option<(Vec<u8>, bool)>,
        source: &Source,
    ) -> Result<LoginOutcome> {
        let account = match name(user) {
            Ok(n) => self.store.get_operator(&n).await?,
            Err(_) => None,
        };
        let Some(op) = account else {
            self.spend_equal_time(secret).await?;
            let actor = self.audit_hmac(user);
            let entry = AuditEntry::refused(&actor, "auth.login", &actor, "no such account");
            return Err(self
                .refuse_unauthenticated(entry, source, Error::BadCredentials)
                .await);
        };
        let who = op.name.to_string();
        let now = now_ms();
        if op.disabled {
            self.spend_equal_time(secret).await?;
            let entry = AuditEntry::refused(&who, "auth.login", &who, "account disabled");
            return Err(self
                .refuse_unauthenticated(entry, source, Error::Disabled)
                .await);
        }
        if op.locked_until_ms > now {
            self.spend_equal_time(secret).await?;
            let entry = AuditEntry::refused(&who, "auth.login", &who, "account locked");
            let e = Error::Locked {
                until_ms: op.locked_until_ms,
            };
            return Err(self.refuse_unauthenticated(entry, source, e).await);
        }
        let right = self.password_verdict(&op, secret, checked).await?;
        // What the outcome is decided on.
        let expect = vec![
            OperatorField::Password(op.password.clone()),
            OperatorField::Disabled(false),
            OperatorField::FailedLogins(op.failed_logins),
            OperatorField::LockedUntilMs(op.locked_until_ms),
        ];
        if !right {
            let entry = AuditEntry::refused(&who, "auth.login", &who, "wrong password")
                .with("source", source.as_str());
            let (writes, entry) = failed_password(&op, expect, entry, now);
            self.commit(writes, entry).await?;
            return Err(Error::BadCredentials);
        }
        let token = Zeroizing::new(format!(
            "sst_{}",
            hex::encode(random::bytes(32)?.as_slice())
        ));
        let row = TokenRow {
            hash: token_hash(&token),
            operator: op.name.clone(),
            expires_ms: now + TOKEN_TTL_MS,
            password_change_only: op.must_change_password,
        };
        let outcome = LoginOutcome {
            token,
            expires_ms: row.expires_ms,
            password_change_required: op.must_change_password,
            role: op.role,
        };
        let mut expect = expect;
        expect.push(OperatorField::MustChangePassword(op.must_change_password));
        let write = Write::UpdateOperator {
            name: op.name.clone(),
            expect,
            set: vec![
                OperatorField::FailedLogins(0),
                OperatorField::LockedUntilMs(0),
            ],
        };
        let entry =
            AuditEntry::ok(&who, "auth.login", &who).with("token", self.audit_hmac(&outcome.token));
        self.commit(vec![write, Write::PutToken(row)], entry)
            .await?;
        Ok(outcome)
    }

    /// Spends one password derivation (see [`password::spend_equal_time`]).
    async fn spend_equal_time(&self, secret: &str) -> Result<()> {
        let (secret, iterations) = (Zeroizing::new(secret.to_string()), self.password_iterations);
        self.kdf(move || password::spend_equal_time(&secret, iterations))
            .await
    }

    /// A new password's hash at this platform's cost.
    pub(super) async fn hash_password(&self, secret: &str) -> Result<Zeroizing<Vec<u8>>> {
        let (secret, iterations) = (Zeroizing::new(secret.to_string()), self.password_iterations);
        self.kdf(move || password::hash_with(&secret, iterations))
            .await
    }

    /// Whether `secret` is `op`'s password. The verdict is kept with the
    /// sealed hash it was reached on, so that a decision made again over
    /// the same hash (after a stale commit) spends no second derivation.
    async fn password_verdict(
        &self,
        op: &Operator,
        secret: &str,
        checked: &mut Option<(Vec<u8>, bool)>,
    ) -> Result<bool> {
        if let Some((blob, verdict)) = checked {
            if *blob == op.password {
                return Ok(*verdict);
            }
        }
        let hash = self
            .open_secret(&Operator::password_aad(&op.name), &op.password)
            .await?;
        let secret = Zeroizing::new(secret.to_string());
        let verdict = self.kdf(move || password::verify(&secret, &hash)).await?;
        *checked = Some((op.password.clone(), verdict));
        Ok(verdict)
    }

    /// The session of a bearer token, or `Unauthenticated`. A refused token
    /// is audited (as its HMAC: it is a credential, forged or not).
    pub async fn authenticate(&self, token: &str) -> Result<Session> {
        self.authenticate_from(token, &Source::local()).await
    }

    /// [`Self::authenticate`] for a caller at `source`; the repeats of a
    /// refusal are counted per source (see [`super::flood`]).
    pub async fn authenticate_from(&self, token: &str, source: &Source) -> Result<Session> {
        let refused = |reason: &'static str| {
            AuditEntry::refused("anonymous", "auth.token", &self.audit_hmac(token), reason)
        };
        if self.unsealed().is_err() {
            return Err(self
                .refuse_unauthenticated(refused("sealed"), source, Error::Sealed)
                .await);
        }
        let Some(row) = self.store.get_token(&token_hash(token)).await? else {
            let e = Error::Unauthenticated("unknown token");
            return Err(self
                .refuse_unauthenticated(refused("unknown token"), source, e)
                .await);
        };
        if row.expires_ms <= now_ms() {
            let e = Error::Unauthenticated("token expired: log in again with sscard login");
            return Err(self
                .refuse_unauthenticated(refused("token expired"), source, e)
                .await);
        }
        let op = self.store.get_operator(&row.operator).await?;
        match op {
            Some(op) if !op.disabled => Ok(Session {
                operator: op.name,
                role: op.role,
                password_change_only: row.password_change_only,
            }),
            _ => {
                let e = Error::Unauthenticated("account disabled");
                Err(self
                    .refuse_unauthenticated(refused("account disabled"), source, e)
                    .await)
            }
        }
    }

    /// Audits a refused request that no operation recorded (a server calls
    /// this for every 4xx answer without a record of its own): by its
    /// caller when the caller is known, else counted as an unauthenticated
    /// refusal; the route is recorded as its template (`POST
    /// /v1/keys/{name}/rotate`), the reason as the answer's code.
    pub async fn audit_unrecorded_refusal(
        &self,
        caller: Option<&str>,
        route: &str,
        code: &str,
        source: &Source,
    ) -> Result<()> {
        let route = crate::text::bounded(&crate::text::escape(route), 128);
        match caller {
            Some(caller) => {
                let entry = AuditEntry::refused(caller, "request.refused", &route, code)
                    .with("source", source.as_str());
                self.commit(Vec::new(), entry).await.map(|_| ())
            }
            None => {
                let entry = AuditEntry::refused("anonymous", "request.refused", &route, code);
                match self
                    .refuse_unauthenticated_as(entry, source, Error::Invalid(code.into()), code)
                    .await
                {
                    Error::Storage(e) => Err(Error::Storage(e)),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Changes the caller's password (and ends their one-time-password state).
    /// Every token of the operator ends; they log in again. The change
    /// commits only over the password hash the old password was checked
    /// against.
    pub async fn change_password(&self, session: &Session, old: &str, new: &str) -> Result<()> {
        let mut checked: Option<(Vec<u8>, bool)> = None;
        retry_stale!(
            self,
            self.change_password_once(session, old, new, &mut checked)
        )
    }

    async fn change_password_once(
        &self,
        session: &Session,
        old: &str,
        new: &str,
        checked: &mut Option<(Vec<u8>, bool)>,
    ) -> Result<()> {
        let unsealed = self.unsealed()?;
        let who = session.operator.to_string();
        let op = self
            .store
            .get_operator(&session.operator)
            .await?
            .ok_or_else(|| Error::NotFound(who.clone()))?;
        let right = self.password_verdict(&op, old, checked).await?;
        if !right {
            // A wrong current password counts as a failed login does: five
            // lock the account (and end its tokens), so that a stolen token
            // cannot guess the password behind it.
            let entry = AuditEntry::refused(&who, "auth.password", &who, "wrong current password");
            let expect = vec![
                OperatorField::Password(op.password.clone()),
                OperatorField::Disabled(false),
                OperatorField::FailedLogins(op.failed_logins),
                OperatorField::LockedUntilMs(op.locked_until_ms),
            ];
            let (writes, entry) = failed_password(&op, expect, entry, now_ms());
            self.commit(writes, entry).await?;
            return Err(Error::BadCredentials);
        }
        if new.chars().count() < 12 || new == old {
            let entry = AuditEntry::refused(&who, "auth.password", &who, "new password too weak");
            let e = Error::Invalid(
                "the new password needs at least 12 characters and must differ".into(),
            );
            return Err(self.refuse(entry, e).await);
        }
        let sealed = unsealed.keyring.seal(
            &Operator::password_aad(&op.name),
            &self.hash_password(new).await?,
        )?;
        let writes = vec![
            Write::UpdateOperator {
                name: op.name.clone(),
                expect: vec![
                    OperatorField::Password(op.password.clone()),
                    OperatorField::Disabled(false),
                ],
                set: vec![
                    OperatorField::Password(sealed),
                    OperatorField::MustChangePassword(false),
                ],
            },
            Write::DeleteTokensOf(session.operator.clone()),
        ];
        self.commit(writes, AuditEntry::ok(&who, "auth.password", &who))
            .await?;
        Ok(())
    }
}

/// The writes and record of a wrong password given for `op`: the failure
/// counted over the count read (`expect`), and at the fifth a lock of
/// [`LOCK_MS`] that also ends the account's tokens.
fn failed_password(
    op: &Operator,
    expect: Vec<OperatorField>,
    entry: AuditEntry,
    now: i64,
) -> (Vec<Write>, AuditEntry) {
    let mut failed = op.failed_logins + 1;
    let mut locked_until = op.locked_until_ms;
    let mut entry = entry.with("failed_logins", failed.to_string());
    let mut writes = Vec::new();
    if failed >= MAX_FAILED_LOGINS {
        locked_until = now + LOCK_MS;
        failed = 0;
        entry = entry.with("locked_until_ms", locked_until.to_string());
        writes.push(Write::DeleteTokensOf(op.name.clone()));
    }
    writes.insert(
        0,
        Write::UpdateOperator {
            name: op.name.clone(),
            expect,
            set: vec![
                OperatorField::FailedLogins(failed),
                OperatorField::LockedUntilMs(locked_until),
            ],
        },
    );
    (writes, entry)
}
