//! # sscard-store
//!
//! The platform's storage on sqlx: one embedded SQLite file by default (WAL,
//! `synchronous=FULL`, nothing to start), or PostgreSQL by URL. One code
//! path serves both through sqlx's `Any` driver; each backend has its own
//! migrations, applied at open.

#![forbid(unsafe_code)]

mod guarded;
mod rows;
mod terminals;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Executor, Row};
use sscard_card::blacklist::Reason;
use sscard_core::audit::{AuditEntry, AuditRecord};
use sscard_core::key::{KeyName, KeyRecord, KeyVersionRecord};
use sscard_core::operator::{Operator, OperatorName, TokenRow};
use sscard_core::store::{ApprovalRecord, CardRecord, Store, Write};
use sscard_core::terminal_records::{
    AlertRecord, BlacklistEntry, EventRecord, TerminalRecord, TerminalSessionRecord,
};
use sscard_core::{Error, Result};

/// The file of the embedded database inside a data directory.
pub const SQLITE_FILE: &str = "sscard.db";

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL (or a compatible engine).
    Postgres,
}

/// A [`Store`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

fn storage(e: sqlx::Error) -> Error {
    if let Some(db) = e.as_database_error() {
        if db.is_unique_violation() {
            return Error::Conflict(db.message().to_string());
        }
    }
    Error::Storage(e.to_string())
}

impl SqlStore {
    /// Opens (creating if needed) the SQLite database of a data directory.
    pub async fn open_dir(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Storage(format!("cannot create {}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = dir.join(SQLITE_FILE);
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::connect(&url).await
    }

    /// Connects to a `sqlite://…` or `postgres://…` URL and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::Invalid(format!(
                "unsupported database URL (sqlite:// or postgres://): {}",
                url.split(':').next().unwrap_or_default()
            )));
        };
        let options = AnyConnectOptions::from_str(url).map_err(storage)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers do not block the writer. FULL: an
                        // acknowledged commit survives a crash or power loss.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(storage)?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| Error::Storage(format!("migration: {e}")))?;
        Ok(Self { pool, backend })
    }

    /// A plain PostgreSQL pool without migrations, for administration
    /// (creating schemas in tests and tools).
    pub async fn admin_pool(url: &str) -> Result<sqlx::PgPool> {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect(url)
            .await
            .map_err(storage)
    }

    /// A store in a fresh schema `schema` of the PostgreSQL database at
    /// `url` (one of that name is dropped first): scratch space for
    /// benchmarks and tools. Remove it with [`Self::drop_schema`].
    pub async fn connect_new_schema(url: &str, schema: &str) -> Result<Self> {
        let admin = Self::admin_pool(url).await?;
        let made = async {
            sqlx::query(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                schema_name(schema)?
            ))
            .execute(&admin)
            .await
            .map_err(storage)?;
            sqlx::query(&format!("CREATE SCHEMA {}", schema_name(schema)?))
                .execute(&admin)
                .await
                .map_err(storage)
        }
        .await;
        admin.close().await;
        made?;
        let joiner = if url.contains('?') { '&' } else { '?' };
        Self::connect(&format!("{url}{joiner}options=-c%20search_path%3D{schema}")).await
    }

    /// Drops a schema made by [`Self::connect_new_schema`], with its tables.
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        let admin = Self::admin_pool(url).await?;
        let done = sqlx::query(&format!("DROP SCHEMA {} CASCADE", schema_name(schema)?))
            .execute(&admin)
            .await
            .map_err(storage);
        admin.close().await;
        done.map(|_| ())
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This store as the platform's trait object.
    pub fn into_dyn(self) -> Arc<dyn Store> {
        Arc::new(self)
    }

    /// Hazmat, for benchmarks on a scratch store only: writes blacklist
    /// rows in bulk — `adds` (ascending, not on the list) as added in
    /// `version`, `removes` as removed in it — with no audit record and no
    /// check. The platform never calls this; it adds and removes cards one
    /// audited write at a time.
    pub async fn fill_blacklist_unaudited(
        &self,
        adds: &[(u128, Reason)],
        removes: &[u128],
        version: i64,
    ) -> Result<()> {
        const ROWS: usize = 5_000;
        let mut tx = self.pool.begin().await.map_err(storage)?;
        let now = sscard_core::now_ms();
        for chunk in adds.chunks(ROWS) {
            // Literals, not binds: the values are numbers and fixed words
            // made here, and 5,000 rows exceed the bind limit of neither backend.
            let mut sql = String::with_capacity(chunk.len() * 80 + 100);
            sql.push_str("INSERT INTO blacklist (card_id, reason, added_version, removed_version, updated_ms) VALUES ");
            for (i, (id, reason)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "('{id:032X}', '{}', {version}, 0, {now})",
                    reason.as_str()
                ));
            }
            sqlx::query(&sql).execute(&mut *tx).await.map_err(storage)?;
        }
        for chunk in removes.chunks(ROWS) {
            let ids: Vec<String> = chunk.iter().map(|id| format!("'{id:032X}'")).collect();
            let sql = format!(
                "UPDATE blacklist SET removed_version = {version}, updated_ms = {now} WHERE card_id IN ({})",
                ids.join(",")
            );
            sqlx::query(&sql).execute(&mut *tx).await.map_err(storage)?;
        }
        tx.commit().await.map_err(storage)
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl SqlStore {
    /// The row a query finds, if any, read by `map`.
    async fn optional<'q, T>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
        map: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<Option<T>> {
        let row = query.fetch_optional(&self.pool).await.map_err(storage)?;
        row.map(|r| map(&r)).transpose()
    }

    /// Every row a query finds, read by `map`.
    async fn all<'q, T>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
        map: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        let rows = query.fetch_all(&self.pool).await.map_err(storage)?;
        rows.iter().map(map).collect()
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage)?;
        row.map(|r| r.try_get::<Vec<u8>, _>("value").map_err(storage))
            .transpose()
    }

    async fn get_operator(&self, name: &OperatorName) -> Result<Option<Operator>> {
        self.optional(
            sqlx::query(rows::SELECT_OPERATOR).bind(name.as_str()),
            rows::operator,
        )
        .await
    }

    async fn list_operators(&self) -> Result<Vec<Operator>> {
        self.all(sqlx::query(rows::SELECT_OPERATORS), rows::operator)
            .await
    }

    async fn get_token(&self, hash: &str) -> Result<Option<TokenRow>> {
        self.optional(sqlx::query(
            "SELECT hash, operator, expires_ms, password_change_only FROM tokens WHERE hash = $1",
        )
        .bind(hash), rows::token).await
    }

    async fn get_key(&self, name: &KeyName) -> Result<Option<KeyRecord>> {
        self.optional(sqlx::query(rows::SELECT_KEY).bind(name.as_str()), rows::key)
            .await
    }

    async fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        self.all(sqlx::query(rows::SELECT_KEYS), rows::key).await
    }

    async fn key_versions(&self, name: &KeyName) -> Result<Vec<KeyVersionRecord>> {
        self.all(
            sqlx::query(rows::SELECT_KEY_VERSIONS).bind(name.as_str()),
            rows::key_version,
        )
        .await
    }

    async fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>> {
        self.optional(sqlx::query(rows::SELECT_APPROVAL).bind(id), rows::approval)
            .await
    }

    async fn list_approvals(&self, state: &str) -> Result<Vec<ApprovalRecord>> {
        self.all(
            sqlx::query(rows::SELECT_APPROVALS).bind(state),
            rows::approval,
        )
        .await
    }

    async fn get_terminal(&self, terminal_no: &str) -> Result<Option<TerminalRecord>> {
        self.optional(
            sqlx::query(terminals::SELECT_TERMINAL).bind(terminal_no),
            terminals::terminal,
        )
        .await
    }

    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>> {
        self.all(
            sqlx::query(terminals::SELECT_TERMINALS),
            terminals::terminal,
        )
        .await
    }

    async fn get_nonce(&self, nonce: &str) -> Result<Option<(String, i64)>> {
        let query =
            sqlx::query("SELECT terminal_no, expires_ms FROM signin_nonces WHERE nonce = $1");
        self.optional(query.bind(nonce), terminals::owner_and_expiry)
            .await
    }

    async fn count_live_nonces(&self, terminal_no: &str, source: &str, now_ms: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM signin_nonces WHERE terminal_no = $1 AND source = $2 AND expires_ms > $3",
        )
        .bind(terminal_no)
        .bind(source)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(storage)?;
        row.try_get("n").map_err(storage)
    }

    async fn get_terminal_session(&self, hash: &str) -> Result<Option<TerminalSessionRecord>> {
        let query = sqlx::query(
            "SELECT hash, terminal_no, expires_ms, master_version FROM terminal_sessions WHERE hash = $1",
        );
        self.optional(query.bind(hash), terminals::terminal_session)
            .await
    }

    async fn get_blacklist_entry(&self, card_id: &str) -> Result<Option<BlacklistEntry>> {
        self.optional(
            sqlx::query(terminals::SELECT_BLACKLIST_ENTRY).bind(card_id),
            terminals::blacklist_entry,
        )
        .await
    }

    async fn blacklist_ids_at(&self, version: i64) -> Result<Vec<(u128, Reason)>> {
        // Row by row, so that only the compact pairs are ever held.
        let mut rows = sqlx::query(terminals::SELECT_BLACKLIST_IDS_AT)
            .bind(version)
            .fetch(&self.pool);
        let mut cards = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(storage)? {
            cards.push(terminals::listed_card(&row)?);
        }
        cards.sort_unstable_by_key(|(id, _)| *id);
        Ok(cards)
    }

    async fn blacklist_changes(
        &self,
        from: i64,
        to: i64,
    ) -> Result<(Vec<BlacklistEntry>, Vec<BlacklistEntry>)> {
        let added = sqlx::query(terminals::SELECT_BLACKLIST_ADDED)
            .bind(from)
            .bind(to);
        let removed = sqlx::query(terminals::SELECT_BLACKLIST_REMOVED)
            .bind(from)
            .bind(to);
        Ok((
            self.all(added, terminals::blacklist_entry).await?,
            self.all(removed, terminals::blacklist_entry).await?,
        ))
    }

    async fn blacklist_change_counts(&self, from: i64, to: i64) -> Result<(i64, i64)> {
        let mut counts = [0i64; 2];
        for (slot, query) in counts.iter_mut().zip([
            terminals::COUNT_BLACKLIST_ADDED,
            terminals::COUNT_BLACKLIST_REMOVED,
        ]) {
            let row = sqlx::query(query)
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await
                .map_err(storage)?;
            *slot = row.try_get("n").map_err(storage)?;
        }
        let [added, removed] = counts;
        Ok((added, removed))
    }

    async fn count_events(
        &self,
        kind: &str,
        field: &str,
        value: &str,
        since_ms: i64,
    ) -> Result<i64> {
        let row = sqlx::query(terminals::count_events_query(field)?)
            .bind(kind)
            .bind(value)
            .bind(since_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(storage)?;
        row.try_get("n").map_err(storage)
    }

    async fn list_events(&self, limit: i64) -> Result<Vec<EventRecord>> {
        self.all(
            sqlx::query(terminals::SELECT_EVENTS).bind(limit),
            terminals::event,
        )
        .await
    }

    async fn list_alerts(&self, state: &str) -> Result<Vec<AlertRecord>> {
        self.all(
            sqlx::query(terminals::SELECT_ALERTS).bind(state),
            terminals::alert,
        )
        .await
    }

    async fn get_alert(&self, id: &str) -> Result<Option<AlertRecord>> {
        self.optional(
            sqlx::query(terminals::SELECT_ALERT).bind(id),
            terminals::alert,
        )
        .await
    }

    async fn get_card(&self, card_id: &str) -> Result<Option<CardRecord>> {
        self.optional(sqlx::query(rows::SELECT_CARD).bind(card_id), rows::card)
            .await
    }

    async fn get_card_by_ssn_index(&self, ssn_index: &str) -> Result<Option<CardRecord>> {
        self.optional(
            sqlx::query(rows::SELECT_CARD_BY_SSN).bind(ssn_index),
            rows::card,
        )
        .await
    }

    async fn audit_range(&self, from_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        self.all(
            sqlx::query(rows::SELECT_AUDIT_RANGE)
                .bind(from_seq)
                .bind(limit),
            rows::audit,
        )
        .await
    }

    async fn audit_head(&self) -> Result<Option<AuditRecord>> {
        self.optional(sqlx::query(rows::SELECT_AUDIT_HEAD), rows::audit)
            .await
    }

    async fn commit(&self, writes: Vec<Write>, entry: AuditEntry) -> Result<AuditRecord> {
        let mut tx = self.pool.begin().await.map_err(storage)?;
        // Taking the head row first locks out other appenders until commit
        // (a row lock in PostgreSQL, the write lock in SQLite).
        let head =
            sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *tx)
                .await
                .map_err(storage)?;
        let seq: i64 = head.try_get("seq").map_err(storage)?;
        let prev_hash: String = head.try_get("hash").map_err(storage)?;
        for write in writes {
            if let Write::ExpectAuditHead(expected) = write {
                if seq != expected + 1 {
                    return Err(Error::Stale(format!("the audit head (record {expected})")));
                }
                continue;
            }
            if !terminals::apply(&mut tx, &write).await? {
                rows::apply(&mut tx, write).await?;
            }
        }
        let record = entry.into_record(seq, sscard_core::now_ms(), &prev_hash);
        let details =
            serde_json::to_string(&record.details).map_err(|e| Error::Storage(e.to_string()))?;
        sqlx::query(rows::INSERT_AUDIT)
            .bind(record.seq)
            .bind(record.time_ms)
            .bind(&record.actor)
            .bind(&record.action)
            .bind(&record.target)
            .bind(&record.outcome)
            .bind(details)
            .bind(&record.prev_hash)
            .bind(&record.hash)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&record.hash)
            .execute(&mut *tx)
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(record)
    }
}

/// A schema name spliced into SQL: lower-case letters, digits and `_` only.
fn schema_name(name: &str) -> Result<&str> {
    let fine = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if fine {
        Ok(name)
    } else {
        Err(Error::Invalid(format!(
            "schema name {name:?}: a-z, 0-9 and _"
        )))
    }
}
