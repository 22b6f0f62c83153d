//! The terminal-security tables: registry, sign-in challenges, sessions,
//! blacklist, events and alerts.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use sscard_card::blacklist::Reason;
use sscard_core::store::Write;
use sscard_core::terminal_records::{
    AlertRecord, BlacklistEntry, EventRecord, TerminalRecord, TerminalSessionRecord,
};
use sscard_core::{Error, Result};

use crate::guarded::{Update, Value};
use crate::storage;

macro_rules! terminal_columns {
    () => {
        "terminal_no, serial, institution, location, kind, state, psam, public_key, cert_serial, cert_expires, state_ms, created_ms, auth, key_version, master_version"
    };
}
macro_rules! blacklist_columns {
    () => {
        "card_id, reason, added_version, removed_version, updated_ms"
    };
}
macro_rules! event_columns {
    () => {
        "id, time_ms, kind, terminal_no, card_id, institution, detail"
    };
}
macro_rules! alert_columns {
    () => {
        "id, time_ms, rule, subject, count, action, state, acked_by"
    };
}

pub const SELECT_TERMINAL: &str = concat!(
    "SELECT ",
    terminal_columns!(),
    " FROM terminals WHERE terminal_no = $1"
);
pub const SELECT_TERMINALS: &str = concat!(
    "SELECT ",
    terminal_columns!(),
    " FROM terminals ORDER BY terminal_no"
);
/// A card's newest period on the list (a card listed, taken off and listed
/// again has one row per period).
pub const SELECT_BLACKLIST_ENTRY: &str = concat!(
    "SELECT ",
    blacklist_columns!(),
    " FROM blacklist WHERE card_id = $1 ORDER BY added_version DESC LIMIT 1"
);
/// Unordered: the caller sorts the numbers, which is cheaper than sorting
/// text in the database and does not depend on its collation.
pub const SELECT_BLACKLIST_IDS_AT: &str = "SELECT card_id, reason FROM blacklist \
     WHERE added_version <= $1 AND (removed_version = 0 OR removed_version > $1)";
pub const SELECT_BLACKLIST_ADDED: &str = concat!(
    "SELECT ",
    blacklist_columns!(),
    " FROM blacklist WHERE added_version > $1 AND added_version <= $2 \
      AND (removed_version = 0 OR removed_version > $2) ORDER BY card_id"
);
/// Periods on the list at `$1` that ended by `$2`, of cards not on the
/// list at `$2` again (a card taken off and listed again is no removal).
pub const SELECT_BLACKLIST_REMOVED: &str = concat!(
    "SELECT ",
    blacklist_columns!(),
    " FROM blacklist WHERE added_version <= $1 AND removed_version > $1 AND removed_version <= $2 \
      AND NOT EXISTS (SELECT 1 FROM blacklist again WHERE again.card_id = blacklist.card_id \
      AND again.added_version <= $2 AND (again.removed_version = 0 OR again.removed_version > $2)) \
      ORDER BY card_id"
);
pub const COUNT_BLACKLIST_ADDED: &str = "SELECT COUNT(*) AS n FROM blacklist \
     WHERE added_version > $1 AND added_version <= $2 AND (removed_version = 0 OR removed_version > $2)";
pub const COUNT_BLACKLIST_REMOVED: &str = "SELECT COUNT(*) AS n FROM blacklist \
     WHERE added_version <= $1 AND removed_version > $1 AND removed_version <= $2 \
     AND NOT EXISTS (SELECT 1 FROM blacklist again WHERE again.card_id = blacklist.card_id \
     AND again.added_version <= $2 AND (again.removed_version = 0 OR again.removed_version > $2))";
pub const SELECT_EVENTS: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events ORDER BY time_ms DESC, id LIMIT $1"
);
pub const SELECT_ALERTS: &str = concat!(
    "SELECT ",
    alert_columns!(),
    " FROM alerts WHERE state = $1 ORDER BY time_ms DESC, id"
);
pub const SELECT_ALERT: &str = concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = $1");

/// The event count query for a field; the field is one of three names, never input.
pub fn count_events_query(field: &str) -> Result<&'static str> {
    match field {
        "terminal_no" => Ok("SELECT COUNT(*) AS n FROM events WHERE kind = $1 AND terminal_no = $2 AND time_ms >= $3"),
        "card_id" => Ok("SELECT COUNT(*) AS n FROM events WHERE kind = $1 AND card_id = $2 AND time_ms >= $3"),
        "institution" => Ok("SELECT COUNT(*) AS n FROM events WHERE kind = $1 AND institution = $2 AND time_ms >= $3"),
        other => Err(Error::Invalid(format!("events are counted per terminal, card or institution, not {other}"))),
    }
}

pub fn terminal(row: &AnyRow) -> Result<TerminalRecord> {
    Ok(TerminalRecord {
        terminal_no: row.try_get("terminal_no").map_err(storage)?,
        serial: row.try_get("serial").map_err(storage)?,
        institution: row.try_get("institution").map_err(storage)?,
        location: row.try_get("location").map_err(storage)?,
        kind: row.try_get("kind").map_err(storage)?,
        state: row.try_get("state").map_err(storage)?,
        psam: row.try_get("psam").map_err(storage)?,
        public_key: row.try_get("public_key").map_err(storage)?,
        cert_serial: row.try_get("cert_serial").map_err(storage)?,
        cert_expires_ms: row.try_get("cert_expires").map_err(storage)?,
        state_ms: row.try_get("state_ms").map_err(storage)?,
        created_ms: row.try_get("created_ms").map_err(storage)?,
        auth: row.try_get("auth").map_err(storage)?,
        key_version: row.try_get("key_version").map_err(storage)?,
        master_version: row.try_get("master_version").map_err(storage)?,
    })
}

/// A terminal session.
pub fn terminal_session(row: &AnyRow) -> Result<TerminalSessionRecord> {
    Ok(TerminalSessionRecord {
        hash: row.try_get("hash").map_err(storage)?,
        terminal_no: row.try_get("terminal_no").map_err(storage)?,
        expires_ms: row.try_get("expires_ms").map_err(storage)?,
        master_version: row.try_get("master_version").map_err(storage)?,
    })
}

/// (terminal, expiry) of a sign-in challenge.
pub fn owner_and_expiry(row: &AnyRow) -> Result<(String, i64)> {
    Ok((
        row.try_get("terminal_no").map_err(storage)?,
        row.try_get("expires_ms").map_err(storage)?,
    ))
}

pub fn blacklist_entry(row: &AnyRow) -> Result<BlacklistEntry> {
    Ok(BlacklistEntry {
        card_id: row.try_get("card_id").map_err(storage)?,
        reason: row.try_get("reason").map_err(storage)?,
        added_version: row.try_get("added_version").map_err(storage)?,
        removed_version: row.try_get("removed_version").map_err(storage)?,
        updated_ms: row.try_get("updated_ms").map_err(storage)?,
    })
}

/// A card of the list as (number, reason).
pub fn listed_card(row: &AnyRow) -> Result<(u128, Reason)> {
    let hex_id: String = row.try_get("card_id").map_err(storage)?;
    let reason: String = row.try_get("reason").map_err(storage)?;
    let id = hex::decode(&hex_id)
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(u128::from_be_bytes)
        .ok_or_else(|| Error::Integrity(format!("stored card id {hex_id}")))?;
    let reason = Reason::parse(&reason)
        .ok_or_else(|| Error::Integrity(format!("stored reason {reason}")))?;
    Ok((id, reason))
}

pub fn event(row: &AnyRow) -> Result<EventRecord> {
    Ok(EventRecord {
        id: row.try_get("id").map_err(storage)?,
        time_ms: row.try_get("time_ms").map_err(storage)?,
        kind: row.try_get("kind").map_err(storage)?,
        terminal_no: row.try_get("terminal_no").map_err(storage)?,
        card_id: row.try_get("card_id").map_err(storage)?,
        institution: row.try_get("institution").map_err(storage)?,
        detail: row.try_get("detail").map_err(storage)?,
    })
}

pub fn alert(row: &AnyRow) -> Result<AlertRecord> {
    Ok(AlertRecord {
        id: row.try_get("id").map_err(storage)?,
        time_ms: row.try_get("time_ms").map_err(storage)?,
        rule: row.try_get("rule").map_err(storage)?,
        subject: row.try_get("subject").map_err(storage)?,
        count: row.try_get("count").map_err(storage)?,
        action: row.try_get("action").map_err(storage)?,
        state: row.try_get("state").map_err(storage)?,
        acked_by: row.try_get("acked_by").map_err(storage)?,
    })
}

async fn exec<'q>(
    tx: &mut Transaction<'static, Any>,
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
) -> Result<u64> {
    Ok(query
        .execute(&mut **tx)
        .await
        .map_err(storage)?
        .rows_affected())
}

/// Every column of a terminal's row but its number, with its value.
fn terminal_values(t: &TerminalRecord) -> [(&'static str, Value); 14] {
    [
        ("serial", Value::Text(t.serial.clone())),
        ("institution", Value::Text(t.institution.clone())),
        ("location", Value::Text(t.location.clone())),
        ("kind", Value::Text(t.kind.clone())),
        ("state", Value::Text(t.state.clone())),
        ("psam", Value::Text(t.psam.clone())),
        ("public_key", Value::Text(t.public_key.clone())),
        ("cert_serial", Value::Text(t.cert_serial.clone())),
        ("cert_expires", Value::Int(t.cert_expires_ms)),
        ("state_ms", Value::Int(t.state_ms)),
        ("created_ms", Value::Int(t.created_ms)),
        ("auth", Value::Text(t.auth.clone())),
        ("key_version", Value::Int(t.key_version)),
        ("master_version", Value::Int(t.master_version)),
    ]
}

/// Applies a terminal-security write; `Ok(false)` when `write` is not one.
pub async fn apply(tx: &mut Transaction<'static, Any>, write: &Write) -> Result<bool> {
    match write {
        Write::InsertTerminal(t) => {
            exec(
                tx,
                sqlx::query(concat!(
                    "INSERT INTO terminals (",
                    terminal_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                ))
                .bind(t.terminal_no.clone())
                .bind(t.serial.clone())
                .bind(t.institution.clone())
                .bind(t.location.clone())
                .bind(t.kind.clone())
                .bind(t.state.clone())
                .bind(t.psam.clone())
                .bind(t.public_key.clone())
                .bind(t.cert_serial.clone())
                .bind(t.cert_expires_ms)
                .bind(t.state_ms)
                .bind(t.created_ms)
                .bind(t.auth.clone())
                .bind(t.key_version)
                .bind(t.master_version),
            )
            .await?;
        }
        Write::UpdateTerminal { expect, set } => {
            if expect.terminal_no != set.terminal_no {
                return Err(Error::Storage("a terminal keeps its number".into()));
            }
            let mut update = Update::row(
                "terminals",
                "terminal_no",
                Value::Text(expect.terminal_no.clone()),
                format!("terminal {}", expect.terminal_no),
            );
            let before = terminal_values(expect);
            for ((column, old), (_, new)) in before.iter().zip(terminal_values(set)) {
                if *old != new {
                    update = update.set(column, new);
                }
            }
            for (column, old) in before {
                update = update.expect(column, old);
            }
            update.run(tx).await?;
        }
        Write::PutNonce {
            nonce,
            terminal_no,
            source,
            expires_ms,
            now_ms,
            max_live,
        } => {
            exec(
                tx,
                sqlx::query("DELETE FROM signin_nonces WHERE expires_ms < $1").bind(*now_ms),
            )
            .await?;
            // Counted inside the transaction, after the audit head's lock:
            // concurrent challenges of one terminal are counted one by one.
            let live: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM signin_nonces WHERE terminal_no = $1 AND source = $2 AND expires_ms > $3",
            )
            .bind(terminal_no.clone())
            .bind(source.clone())
            .bind(*now_ms)
            .fetch_one(&mut **tx)
            .await
            .map_err(storage)?
            .try_get("n")
            .map_err(storage)?;
            if live >= *max_live {
                return Err(Error::TooManyRequests(format!(
                    "terminal {terminal_no} has {live} unanswered sign-in challenges; answer one or wait for them to expire"
                )));
            }
            exec(
                tx,
                sqlx::query("INSERT INTO signin_nonces (nonce, terminal_no, expires_ms, source) VALUES ($1, $2, $3, $4)")
                    .bind(nonce.clone())
                    .bind(terminal_no.clone())
                    .bind(*expires_ms)
                    .bind(source.clone()),
            )
            .await?;
        }
        Write::SpendNonce(nonce) => {
            if exec(
                tx,
                sqlx::query("DELETE FROM signin_nonces WHERE nonce = $1").bind(nonce.clone()),
            )
            .await?
                != 1
            {
                return Err(Error::NotFound(
                    "sign-in challenge (spent or never issued)".into(),
                ));
            }
        }
        Write::PutTerminalSession(TerminalSessionRecord {
            hash,
            terminal_no,
            expires_ms,
            master_version,
        }) => {
            exec(
                tx,
                sqlx::query(
                    "DELETE FROM terminal_sessions WHERE expires_ms < $1 OR terminal_no = $2",
                )
                .bind(sscard_core::now_ms())
                .bind(terminal_no.clone()),
            )
            .await?;
            exec(
                tx,
                sqlx::query("INSERT INTO terminal_sessions (hash, terminal_no, expires_ms, master_version) VALUES ($1, $2, $3, $4)")
                    .bind(hash.clone())
                    .bind(terminal_no.clone())
                    .bind(*expires_ms)
                    .bind(*master_version),
            )
            .await?;
        }
        Write::EndTerminalSession(hash) => {
            if exec(
                tx,
                sqlx::query("DELETE FROM terminal_sessions WHERE hash = $1").bind(hash.clone()),
            )
            .await?
                != 1
            {
                return Err(Error::NotFound("terminal session".into()));
            }
        }
        Write::PutBlacklistEntry { expect, entry: e } => {
            let what = format!("the blacklist entry of card {}", e.card_id);
            // The card's newest period is still the one the change was
            // decided on (or there still is none).
            let newest = sqlx::query(SELECT_BLACKLIST_ENTRY)
                .bind(e.card_id.clone())
                .fetch_optional(&mut **tx)
                .await
                .map_err(storage)?
                .map(|r| blacklist_entry(&r))
                .transpose()?;
            if newest.as_ref() != expect.as_ref() {
                return Err(Error::Stale(what));
            }
            match expect {
                // The same period changes (taken off, or listed again in
                // the version it left in, which is not published yet).
                Some(old) if old.added_version == e.added_version => {
                    Update::row(
                        "blacklist",
                        "card_id",
                        Value::Text(old.card_id.clone()),
                        what,
                    )
                    .set("reason", Value::Text(e.reason.clone()))
                    .set("removed_version", Value::Int(e.removed_version))
                    .set("updated_ms", Value::Int(e.updated_ms))
                    .expect("added_version", Value::Int(old.added_version))
                    .expect("removed_version", Value::Int(old.removed_version))
                    .run(tx)
                    .await?;
                }
                // A new period.
                _ => {
                    exec(
                        tx,
                        sqlx::query(concat!(
                            "INSERT INTO blacklist (",
                            blacklist_columns!(),
                            ") VALUES ($1, $2, $3, $4, $5)"
                        ))
                        .bind(e.card_id.clone())
                        .bind(e.reason.clone())
                        .bind(e.added_version)
                        .bind(e.removed_version)
                        .bind(e.updated_ms),
                    )
                    .await?;
                }
            }
        }
        Write::InsertEvent(e) => {
            exec(
                tx,
                sqlx::query(concat!(
                    "INSERT INTO events (",
                    event_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ))
                .bind(e.id.clone())
                .bind(e.time_ms)
                .bind(e.kind.clone())
                .bind(e.terminal_no.clone())
                .bind(e.card_id.clone())
                .bind(e.institution.clone())
                .bind(e.detail.clone()),
            )
            .await?;
        }
        Write::InsertAlert(a) => {
            let open = sqlx::query(
                "SELECT id FROM alerts WHERE rule = $1 AND subject = $2 AND state = 'open'",
            )
            .bind(a.rule.clone())
            .bind(a.subject.clone())
            .fetch_optional(&mut **tx)
            .await
            .map_err(storage)?;
            if open.is_some() {
                return Err(Error::Stale(format!("the open alert of {}", a.subject)));
            }
            exec(
                tx,
                sqlx::query(concat!(
                    "INSERT INTO alerts (",
                    alert_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(a.id.clone())
                .bind(a.time_ms)
                .bind(a.rule.clone())
                .bind(a.subject.clone())
                .bind(a.count)
                .bind(a.action.clone())
                .bind(a.state.clone())
                .bind(a.acked_by.clone()),
            )
            .await?;
        }
        Write::AckAlert { id, by } => {
            Update::row(
                "alerts",
                "id",
                Value::Text(id.clone()),
                format!("alert {id}"),
            )
            .set("state", Value::Text("acknowledged".into()))
            .set("acked_by", Value::Text(by.clone()))
            .expect("state", Value::Text("open".into()))
            .run(tx)
            .await?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}
