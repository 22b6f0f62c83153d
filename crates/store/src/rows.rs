//! SQL text and row mapping shared by both backends.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use sscard_core::audit::AuditRecord;
use sscard_core::key::{
    KeyAlgorithm, KeyLevel, KeyName, KeyRecord, KeyState, KeyUsage, KeyVersionRecord,
};
use sscard_core::operator::{Operator, OperatorName, TokenRow};
use sscard_core::store::{ApprovalRecord, CardRecord, KeyField, OperatorField, SealedSlot, Write};
use sscard_core::{now_ms, Error, Result, Role};

use crate::guarded::{Update, Value};
use crate::storage;

macro_rules! operator_columns {
    () => {
        "name, role, disabled, must_change, failed_logins, locked_until_ms, password, created_ms"
    };
}
macro_rules! audit_columns {
    () => {
        "seq, time_ms, actor, action, target, outcome, details, prev_hash, hash"
    };
}

macro_rules! key_columns {
    () => {
        "name, algorithm, usage, level, region, exportable, state, min_version, uses, created_ms, rotate_every_ms, activate_ms, expire_ms"
    };
}

pub const SELECT_KEY: &str = concat!("SELECT ", key_columns!(), " FROM keys WHERE name = $1");
pub const SELECT_KEYS: &str = concat!("SELECT ", key_columns!(), " FROM keys ORDER BY name");
const INSERT_KEY: &str = concat!(
    "INSERT INTO keys (",
    key_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
);
pub const SELECT_KEY_VERSIONS: &str = "SELECT name, version, material, kcv, created_ms \
     FROM key_versions WHERE name = $1 ORDER BY version";

macro_rules! approval_columns {
    () => {
        "id, action, target, requester, payload, state, created_ms, expires_ms, decided_by, result, details"
    };
}

pub const SELECT_APPROVAL: &str = concat!(
    "SELECT ",
    approval_columns!(),
    " FROM approvals WHERE id = $1"
);
pub const SELECT_APPROVALS: &str = concat!(
    "SELECT ",
    approval_columns!(),
    " FROM approvals WHERE state = $1 ORDER BY created_ms, id"
);
const INSERT_APPROVAL: &str = concat!(
    "INSERT INTO approvals (",
    approval_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
);

pub const SELECT_OPERATOR: &str = concat!(
    "SELECT ",
    operator_columns!(),
    " FROM operators WHERE name = $1"
);
pub const SELECT_OPERATORS: &str = concat!(
    "SELECT ",
    operator_columns!(),
    " FROM operators ORDER BY name"
);
const INSERT_OPERATOR: &str = concat!(
    "INSERT INTO operators (",
    operator_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
);
pub const SELECT_AUDIT_RANGE: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2"
);
pub const SELECT_AUDIT_HEAD: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit ORDER BY seq DESC LIMIT 1"
);
pub const INSERT_AUDIT: &str = concat!(
    "INSERT INTO audit (",
    audit_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);

fn flag(b: bool) -> i64 {
    i64::from(b)
}

pub fn operator(row: &AnyRow) -> Result<Operator> {
    let name: String = row.try_get("name").map_err(storage)?;
    let role: Option<String> = row.try_get("role").map_err(storage)?;
    let role = match role {
        Some(r) => {
            Some(Role::parse(&r).ok_or_else(|| Error::Integrity(format!("stored role {r}")))?)
        }
        None => None,
    };
    Ok(Operator {
        name: OperatorName::parse(&name)?,
        role,
        disabled: row.try_get::<i64, _>("disabled").map_err(storage)? != 0,
        must_change_password: row.try_get::<i64, _>("must_change").map_err(storage)? != 0,
        failed_logins: row.try_get("failed_logins").map_err(storage)?,
        locked_until_ms: row.try_get("locked_until_ms").map_err(storage)?,
        password: row.try_get("password").map_err(storage)?,
        created_ms: row.try_get("created_ms").map_err(storage)?,
    })
}

fn parsed<T>(row: &AnyRow, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    let text: String = row.try_get(column).map_err(storage)?;
    parse(&text).ok_or_else(|| Error::Integrity(format!("stored {column} {text:?}")))
}

pub fn key(row: &AnyRow) -> Result<KeyRecord> {
    Ok(KeyRecord {
        name: parsed(row, "name", |n| KeyName::parse(n).ok())?,
        algorithm: parsed(row, "algorithm", KeyAlgorithm::parse)?,
        usage: parsed(row, "usage", KeyUsage::parse)?,
        level: parsed(row, "level", KeyLevel::parse)?,
        region: row.try_get("region").map_err(storage)?,
        exportable: row.try_get::<i64, _>("exportable").map_err(storage)? != 0,
        state: parsed(row, "state", KeyState::parse)?,
        min_version: row.try_get("min_version").map_err(storage)?,
        uses: row.try_get("uses").map_err(storage)?,
        created_ms: row.try_get("created_ms").map_err(storage)?,
        rotate_every_ms: row.try_get("rotate_every_ms").map_err(storage)?,
        activate_ms: row.try_get("activate_ms").map_err(storage)?,
        expire_ms: row.try_get("expire_ms").map_err(storage)?,
    })
}

pub fn key_version(row: &AnyRow) -> Result<KeyVersionRecord> {
    Ok(KeyVersionRecord {
        name: parsed(row, "name", |n| KeyName::parse(n).ok())?,
        version: row.try_get("version").map_err(storage)?,
        material: row.try_get("material").map_err(storage)?,
        kcv: row.try_get("kcv").map_err(storage)?,
        created_ms: row.try_get("created_ms").map_err(storage)?,
    })
}

macro_rules! card_columns {
    () => {
        "card_id, ssn_index, region, card_no, card_factor, algorithm, state, created_ms, issued_ms"
    };
}

pub const SELECT_CARD: &str = concat!("SELECT ", card_columns!(), " FROM cards WHERE card_id = $1");
pub const SELECT_CARD_BY_SSN: &str = concat!(
    "SELECT ",
    card_columns!(),
    " FROM cards WHERE ssn_index = $1"
);
const INSERT_CARD: &str = concat!(
    "INSERT INTO cards (",
    card_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);

pub fn card(row: &AnyRow) -> Result<CardRecord> {
    Ok(CardRecord {
        card_id: row.try_get("card_id").map_err(storage)?,
        ssn_index: row.try_get("ssn_index").map_err(storage)?,
        region: row.try_get("region").map_err(storage)?,
        card_no: row.try_get("card_no").map_err(storage)?,
        card_factor: row.try_get("card_factor").map_err(storage)?,
        algorithm: row.try_get("algorithm").map_err(storage)?,
        state: row.try_get("state").map_err(storage)?,
        created_ms: row.try_get("created_ms").map_err(storage)?,
        issued_ms: row.try_get("issued_ms").map_err(storage)?,
    })
}

pub fn approval(row: &AnyRow) -> Result<ApprovalRecord> {
    Ok(ApprovalRecord {
        id: row.try_get("id").map_err(storage)?,
        action: row.try_get("action").map_err(storage)?,
        target: row.try_get("target").map_err(storage)?,
        requester: row.try_get("requester").map_err(storage)?,
        payload: row.try_get("payload").map_err(storage)?,
        state: row.try_get("state").map_err(storage)?,
        created_ms: row.try_get("created_ms").map_err(storage)?,
        expires_ms: row.try_get("expires_ms").map_err(storage)?,
        decided_by: row.try_get("decided_by").map_err(storage)?,
        result: row.try_get("result").map_err(storage)?,
        details: row.try_get("details").map_err(storage)?,
    })
}

pub fn token(row: &AnyRow) -> Result<TokenRow> {
    let operator: String = row.try_get("operator").map_err(storage)?;
    Ok(TokenRow {
        hash: row.try_get("hash").map_err(storage)?,
        operator: OperatorName::parse(&operator)?,
        expires_ms: row.try_get("expires_ms").map_err(storage)?,
        password_change_only: row
            .try_get::<i64, _>("password_change_only")
            .map_err(storage)?
            != 0,
    })
}

pub fn audit(row: &AnyRow) -> Result<AuditRecord> {
    let details: String = row.try_get("details").map_err(storage)?;
    Ok(AuditRecord {
        seq: row.try_get("seq").map_err(storage)?,
        time_ms: row.try_get("time_ms").map_err(storage)?,
        actor: row.try_get("actor").map_err(storage)?,
        action: row.try_get("action").map_err(storage)?,
        target: row.try_get("target").map_err(storage)?,
        outcome: row.try_get("outcome").map_err(storage)?,
        details: serde_json::from_str(&details)
            .map_err(|_| Error::Integrity("stored audit details".into()))?,
        prev_hash: row.try_get("prev_hash").map_err(storage)?,
        hash: row.try_get("hash").map_err(storage)?,
    })
}

/// The column and value of an operator field.
fn operator_field(field: OperatorField) -> Result<(&'static str, Value)> {
    Ok(match field {
        OperatorField::Role(role) => ("role", Value::OptText(role.map(|r| r.as_str().into()))),
        OperatorField::Disabled(d) => ("disabled", Value::Int(flag(d))),
        OperatorField::MustChangePassword(m) => ("must_change", Value::Int(flag(m))),
        OperatorField::FailedLogins(n) => ("failed_logins", Value::Int(n)),
        OperatorField::LockedUntilMs(t) => ("locked_until_ms", Value::Int(t)),
        OperatorField::Password(p) => ("password", Value::Bytes(p)),
        other => return Err(Error::Storage(format!("no column for {other:?}"))),
    })
}

/// The column and value of a key field.
fn key_field(field: &KeyField) -> Result<(&'static str, Value)> {
    Ok(match field {
        KeyField::State(s) => ("state", Value::Text(s.as_str().into())),
        KeyField::MinVersion(v) => ("min_version", Value::Int(*v)),
        KeyField::Usage(u) => ("usage", Value::Text(u.as_str().into())),
        other => return Err(Error::Storage(format!("no column for {other:?}"))),
    })
}

/// Applies one write inside the commit's transaction.
pub async fn apply(tx: &mut Transaction<'static, Any>, write: Write) -> Result<()> {
    match write {
        Write::PutMeta { key, value } => {
            // Delete-then-insert is the one upsert both dialects share.
            sqlx::query("DELETE FROM meta WHERE key = $1")
                .bind(&key)
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
            sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                .bind(key)
                .bind(value)
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        Write::InsertMeta { key, value } => {
            let present = sqlx::query("SELECT key FROM meta WHERE key = $1")
                .bind(&key)
                .fetch_optional(&mut **tx)
                .await
                .map_err(storage)?;
            if present.is_some() {
                return Err(Error::Stale(key));
            }
            sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                .bind(key)
                .bind(value)
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        Write::ExpectMeta { key, value } => {
            let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
                .bind(&key)
                .fetch_optional(&mut **tx)
                .await
                .map_err(storage)?;
            let stored = row
                .map(|r| r.try_get::<Vec<u8>, _>("value").map_err(storage))
                .transpose()?;
            if stored != value {
                return Err(Error::Stale(key));
            }
        }
        Write::ReplaceMeta {
            key,
            expected,
            value,
        } => {
            Update::row("meta", "key", Value::Text(key.clone()), key)
                .set("value", Value::Bytes(value))
                .expect("value", Value::Bytes(expected))
                .run(tx)
                .await?;
        }
        Write::InsertOperator(op) => {
            sqlx::query(INSERT_OPERATOR)
                .bind(op.name.as_str().to_string())
                .bind(op.role.map(|r| r.as_str().to_string()))
                .bind(flag(op.disabled))
                .bind(flag(op.must_change_password))
                .bind(op.failed_logins)
                .bind(op.locked_until_ms)
                .bind(op.password)
                .bind(op.created_ms)
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        Write::UpdateOperator { name, expect, set } => {
            let mut update = Update::row(
                "operators",
                "name",
                Value::Text(name.as_str().into()),
                format!("operator {name}"),
            );
            for field in set {
                let (column, value) = operator_field(field)?;
                update = update.set(column, value);
            }
            for field in expect {
                let (column, value) = operator_field(field)?;
                update = update.expect(column, value);
            }
            update.run(tx).await?;
        }
        Write::PutToken(token) => {
            sqlx::query("DELETE FROM tokens WHERE expires_ms < $1")
                .bind(now_ms())
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
            sqlx::query("INSERT INTO tokens (hash, operator, expires_ms, password_change_only) VALUES ($1, $2, $3, $4)")
                .bind(token.hash)
                .bind(token.operator.as_str().to_string())
                .bind(token.expires_ms)
                .bind(flag(token.password_change_only))
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        Write::DisableOperator(name) => {
            let done = sqlx::query(
                "UPDATE operators SET disabled = 1 WHERE name = $1 AND (role IS NULL OR \
                 (SELECT COUNT(*) FROM operators others WHERE others.role = operators.role \
                  AND others.disabled = 0 AND others.name <> $2) >= 1)",
            )
            .bind(name.as_str().to_string())
            .bind(name.as_str().to_string())
            .execute(&mut **tx)
            .await
            .map_err(storage)?;
            if done.rows_affected() != 1 {
                return Err(Error::Stale(format!("operator {name}")));
            }
        }
        Write::EndAllSessions => {
            for table in ["tokens", "terminal_sessions"] {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut **tx)
                    .await
                    .map_err(storage)?;
            }
        }
        Write::DeleteTokensOf(name) => {
            sqlx::query("DELETE FROM tokens WHERE operator = $1")
                .bind(name.as_str().to_string())
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        Write::InsertKey(key) => {
            sqlx::query(INSERT_KEY)
                .bind(key.name.as_str().to_string())
                .bind(key.algorithm.as_str())
                .bind(key.usage.as_str())
                .bind(key.level.as_str())
                .bind(key.region)
                .bind(flag(key.exportable))
                .bind(key.state.as_str())
                .bind(key.min_version)
                .bind(key.uses)
                .bind(key.created_ms)
                .bind(key.rotate_every_ms)
                .bind(key.activate_ms)
                .bind(key.expire_ms)
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        Write::UpdateKey {
            name,
            expect,
            set,
            count_use,
        } => {
            let mut update = Update::row(
                "keys",
                "name",
                Value::Text(name.as_str().into()),
                format!("key {name}"),
            );
            for field in &set {
                let (column, value) = key_field(field)?;
                update = update.set(column, value);
            }
            for field in &expect {
                let (column, value) = key_field(field)?;
                update = update.expect(column, value);
            }
            if count_use {
                update = update.increment("uses");
            }
            update.run(tx).await?;
        }
        Write::InsertKeyVersion(v) => {
            sqlx::query("INSERT INTO key_versions (name, version, material, kcv, created_ms) VALUES ($1, $2, $3, $4, $5)")
                .bind(v.name.as_str().to_string())
                .bind(v.version)
                .bind(v.material)
                .bind(v.kcv)
                .bind(v.created_ms)
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        Write::EraseKeyMaterial(name) => {
            for statement in [
                "UPDATE key_versions SET material = $1 WHERE name = $2",
                "UPDATE approvals SET result = $1 WHERE target = $2",
            ] {
                sqlx::query(statement)
                    .bind(Vec::<u8>::new())
                    .bind(name.as_str().to_string())
                    .execute(&mut **tx)
                    .await
                    .map_err(storage)?;
            }
        }
        Write::Reseal {
            slot,
            expected,
            value,
        } => {
            // Compare-and-swap: no row matches when the value changed meanwhile.
            let query = match &slot {
                SealedSlot::Meta(key) => {
                    sqlx::query("UPDATE meta SET value = $1 WHERE value = $2 AND key = $3")
                        .bind(value)
                        .bind(expected)
                        .bind(key.clone())
                }
                SealedSlot::OperatorPassword(name) => sqlx::query(
                    "UPDATE operators SET password = $1 WHERE password = $2 AND name = $3",
                )
                .bind(value)
                .bind(expected)
                .bind(name.as_str().to_string()),
                SealedSlot::KeyVersion(name, version) => sqlx::query(
                    "UPDATE key_versions SET material = $1 \
                     WHERE material = $2 AND name = $3 AND version = $4",
                )
                .bind(value)
                .bind(expected)
                .bind(name.as_str().to_string())
                .bind(*version),
                SealedSlot::ApprovalPayload(id) => {
                    sqlx::query("UPDATE approvals SET payload = $1 WHERE payload = $2 AND id = $3")
                        .bind(value)
                        .bind(expected)
                        .bind(id.clone())
                }
                _ => return Err(Error::Integrity("unknown sealed slot".into())),
            };
            query.execute(&mut **tx).await.map_err(storage)?;
        }
        Write::InsertCard(card) => {
            sqlx::query(INSERT_CARD)
                .bind(card.card_id)
                .bind(card.ssn_index)
                .bind(card.region)
                .bind(card.card_no)
                .bind(card.card_factor)
                .bind(card.algorithm)
                .bind(card.state)
                .bind(card.created_ms)
                .bind(card.issued_ms)
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        Write::SetCardState {
            card_id,
            from,
            state,
            at_ms,
        } => {
            Update::row(
                "cards",
                "card_id",
                Value::Text(card_id.clone()),
                format!("card {card_id}"),
            )
            .set("state", Value::Text(state))
            .set("issued_ms", Value::Int(at_ms))
            .expect("state", Value::Text(from))
            .run(tx)
            .await?;
        }
        Write::DecideApproval {
            id,
            state,
            decided_by,
            result,
            now_ms,
        } => {
            let done = sqlx::query(
                "UPDATE approvals SET state = $1, decided_by = $2, result = $3, payload = $4 \
                 WHERE id = $5 AND state = 'pending' AND expires_ms > $6",
            )
            .bind(state)
            .bind(decided_by)
            .bind(result)
            .bind(Vec::<u8>::new())
            .bind(&id)
            .bind(now_ms)
            .execute(&mut **tx)
            .await
            .map_err(storage)?;
            if done.rows_affected() != 1 {
                return Err(Error::Stale(format!("approval {id}")));
            }
        }
        Write::InsertApproval(a) => {
            sqlx::query(INSERT_APPROVAL)
                .bind(a.id)
                .bind(a.action)
                .bind(a.target)
                .bind(a.requester)
                .bind(a.payload)
                .bind(a.state)
                .bind(a.created_ms)
                .bind(a.expires_ms)
                .bind(a.decided_by)
                .bind(a.result)
                .bind(a.details)
                .execute(&mut **tx)
                .await
                .map_err(storage)?;
        }
        _ => return Err(Error::Storage("unsupported write".into())),
    }
    Ok(())
}
