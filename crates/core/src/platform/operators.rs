//! Accounts: created and disabled by the system administrator, given their
//! one role by a security administrator, never by themselves.

use serde::Serialize;
use zeroize::Zeroizing;

use super::{name, ops, Platform, Session};
use crate::audit::AuditEntry;
use crate::operator::{Operator, OperatorName};
use crate::store::{OperatorField, Write};
use crate::{now_ms, password, Error, Result, Role};

/// An operator as listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OperatorView {
    /// User name.
    pub user: String,
    /// Role, if granted.
    pub role: Option<Role>,
    /// Disabled.
    pub disabled: bool,
    /// Still on a one-time password.
    pub must_change_password: bool,
    /// Locked until (ms), 0 if not.
    pub locked_until_ms: i64,
}

impl Platform {
    /// Creates an account with no role and a one-time password, returned once.
    pub async fn add_operator(&self, session: &Session, user: &str) -> Result<Zeroizing<String>> {
        self.authorize(session, &ops::OPERATOR_ADD).await?;
        let unsealed = self.unsealed()?;
        let who = session.operator.as_str();
        let new_name = match name(user).and_then(|n| {
            if is_reserved_actor(n.as_str()) {
                Err(Error::Invalid(format!(
                    "{n} names the platform itself in its records (system, anonymous, terminal-…, hmac-sm3…): choose another name"
                )))
            } else {
                Ok(n)
            }
        }) {
            Ok(n) => n,
            Err(e) => {
                let target = self.audit_hmac(user);
                return Err(self
                    .refuse(
                        AuditEntry::refused(who, ops::OPERATOR_ADD.name, &target, "invalid name"),
                        e,
                    )
                    .await);
            }
        };
        if self.store.get_operator(&new_name).await?.is_some() {
            let entry =
                AuditEntry::refused(who, ops::OPERATOR_ADD.name, new_name.as_str(), "name taken");
            return Err(self
                .refuse(entry, Error::Conflict(format!("operator {new_name}")))
                .await);
        }
        let secret = password::generate()?;
        let op = Operator {
            password: unsealed.keyring.seal(
                &Operator::password_aad(&new_name),
                &self.hash_password(&secret).await?,
            )?,
            name: new_name.clone(),
            role: None,
            disabled: false,
            must_change_password: true,
            failed_logins: 0,
            locked_until_ms: 0,
            created_ms: now_ms(),
        };
        let entry = AuditEntry::ok(who, ops::OPERATOR_ADD.name, new_name.as_str());
        self.commit(vec![Write::InsertOperator(op)], entry).await?;
        Ok(secret)
    }

    /// Disables an account and ends its tokens. Nobody disables themself.
    pub async fn disable_operator(&self, session: &Session, user: &str) -> Result<()> {
        self.authorize(session, &ops::OPERATOR_DISABLE).await?;
        let who = session.operator.as_str();
        let target = name(user)?;
        if target == session.operator {
            let entry = AuditEntry::refused(who, ops::OPERATOR_DISABLE.name, who, "self");
            return Err(self
                .refuse(
                    entry,
                    Error::Refused("nobody disables their own account".into()),
                )
                .await);
        }
        retry_stale!(self, self.disable_once(who, &target))
    }

    async fn disable_once(&self, who: &str, target: &OperatorName) -> Result<()> {
        let Some(op) = self.store.get_operator(target).await? else {
            // A name that is no account may be a password typed in the
            // wrong field: it enters the log only as its HMAC.
            let entry = AuditEntry::refused(
                who,
                ops::OPERATOR_DISABLE.name,
                &self.audit_hmac(target.as_str()),
                "no such account",
            );
            return Err(self
                .refuse(entry, Error::NotFound(format!("operator {target}")))
                .await);
        };
        if let Some(role) = op.role.filter(|_| !op.disabled) {
            let others = self
                .store
                .list_operators()
                .await?
                .into_iter()
                .filter(|o| o.role == Some(role) && !o.disabled && o.name != op.name)
                .count();
            if others == 0 {
                let entry = AuditEntry::refused(
                    who,
                    ops::OPERATOR_DISABLE.name,
                    target.as_str(),
                    "the last holder of its role",
                );
                let e = Error::Refused(format!(
                    "{target} is the last enabled {role} administrator: grant the role to another account first"
                ));
                return Err(self.refuse(entry, e).await);
            }
        }
        let writes = vec![
            Write::DisableOperator(target.clone()),
            Write::DeleteTokensOf(target.clone()),
        ];
        self.commit(
            writes,
            AuditEntry::ok(who, ops::OPERATOR_DISABLE.name, target.as_str()),
        )
        .await?;
        Ok(())
    }

    /// Grants the one role of an account that has none. Nobody grants
    /// themself, and no account holds two roles.
    pub async fn grant_role(&self, session: &Session, user: &str, role: Role) -> Result<()> {
        self.authorize(session, &ops::OPERATOR_GRANT).await?;
        retry_stale!(self, self.grant_role_once(session, user, role))
    }

    async fn grant_role_once(&self, session: &Session, user: &str, role: Role) -> Result<()> {
        let who = session.operator.as_str();
        let target = name(user)?;
        let refuse = |reason: &str| {
            AuditEntry::refused(who, ops::OPERATOR_GRANT.name, target.as_str(), reason)
                .with("role", role.as_str())
        };
        if target == session.operator {
            return Err(self
                .refuse(
                    refuse("self"),
                    Error::Refused("nobody grants a role to themself".into()),
                )
                .await);
        }
        let Some(op) = self.store.get_operator(&target).await? else {
            // A name that is no account enters the log only as its HMAC.
            let entry = AuditEntry::refused(
                who,
                ops::OPERATOR_GRANT.name,
                &self.audit_hmac(target.as_str()),
                "no such account",
            )
            .with("role", role.as_str());
            return Err(self
                .refuse(entry, Error::NotFound(format!("operator {target}")))
                .await);
        };
        if let Some(existing) = op.role {
            let e = Error::Refused(format!(
                "{target} already holds the role {existing}; no account holds two"
            ));
            return Err(self.refuse(refuse("already has a role"), e).await);
        }
        let entry = AuditEntry::ok(who, ops::OPERATOR_GRANT.name, target.as_str())
            .with("role", role.as_str());
        let write = Write::UpdateOperator {
            name: op.name,
            expect: vec![OperatorField::Role(None)],
            set: vec![OperatorField::Role(Some(role))],
        };
        self.commit(vec![write], entry).await?;
        Ok(())
    }

    /// Lists accounts.
    pub async fn list_operators(&self, session: &Session) -> Result<Vec<OperatorView>> {
        self.authorize(session, &ops::OPERATOR_LIST).await?;
        Ok(self
            .store
            .list_operators()
            .await?
            .into_iter()
            .map(|op| OperatorView {
                user: op.name.to_string(),
                role: op.role,
                disabled: op.disabled,
                must_change_password: op.must_change_password,
                locked_until_ms: op.locked_until_ms,
            })
            .collect())
    }
}

/// Whether `name` is one the audit log uses for an actor that is no
/// operator: the platform itself (`system`), an unauthenticated caller
/// (`anonymous`), a terminal (`terminal-…`) or a name kept as its HMAC.
fn is_reserved_actor(name: &str) -> bool {
    matches!(name, "system" | "anonymous")
        || name.starts_with("terminal-")
        || name.starts_with("hmac-sm3")
}
