//! Guarded updates: `UPDATE … SET <the columns that change> WHERE <key> AND
//! <every value the change was decided on>`. An update that matches no row
//! fails with [`Error::Stale`], which rolls back the whole transaction (the
//! audit record with it). Every commit first takes the audit head's row
//! lock (PostgreSQL) or the write lock (SQLite), so the guard is evaluated
//! against everything committed before, on both backends.

use sqlx::{Any, Transaction};
use sscard_core::{Error, Result};

use crate::storage;

/// A value bound into a guarded statement.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer column.
    Int(i64),
    /// A text column.
    Text(String),
    /// A nullable text column.
    OptText(Option<String>),
    /// A binary column.
    Bytes(Vec<u8>),
}

/// One guarded update of one row.
pub struct Update {
    table: &'static str,
    key: (&'static str, Value),
    set: Vec<(&'static str, Value)>,
    increments: Vec<&'static str>,
    expect: Vec<(&'static str, Value)>,
    what: String,
}

impl Update {
    /// An update of the row of `table` whose `column` is `key`; `what`
    /// names the row in the `Stale` error.
    pub fn row(table: &'static str, column: &'static str, key: Value, what: String) -> Self {
        Self {
            table,
            key: (column, key),
            set: Vec::new(),
            increments: Vec::new(),
            expect: Vec::new(),
            what,
        }
    }

    /// Sets `column` to `value`.
    pub fn set(mut self, column: &'static str, value: Value) -> Self {
        self.set.push((column, value));
        self
    }

    /// Adds one to `column`.
    pub fn increment(mut self, column: &'static str) -> Self {
        self.increments.push(column);
        self
    }

    /// Requires `column` to hold `value` still.
    pub fn expect(mut self, column: &'static str, value: Value) -> Self {
        self.expect.push((column, value));
        self
    }

    /// The statement and its bound values, in order. With nothing to set it
    /// is a `SELECT` that checks the guard only.
    fn statement(&self) -> (String, Vec<&Value>) {
        let mut binds: Vec<&Value> = Vec::new();
        let mut assignments = Vec::new();
        for (column, value) in &self.set {
            binds.push(value);
            assignments.push(format!("{column} = ${}", binds.len()));
        }
        for column in &self.increments {
            assignments.push(format!("{column} = {column} + 1"));
        }
        let mut conditions = Vec::new();
        let (key_column, key_value) = &self.key;
        binds.push(key_value);
        conditions.push(format!("{key_column} = ${}", binds.len()));
        for (column, value) in &self.expect {
            if matches!(value, Value::OptText(None)) {
                conditions.push(format!("{column} IS NULL"));
                continue;
            }
            binds.push(value);
            conditions.push(format!("{column} = ${}", binds.len()));
        }
        let sql = if assignments.is_empty() {
            format!(
                "SELECT 1 AS found FROM {} WHERE {}",
                self.table,
                conditions.join(" AND ")
            )
        } else {
            format!(
                "UPDATE {} SET {} WHERE {}",
                self.table,
                assignments.join(", "),
                conditions.join(" AND ")
            )
        };
        (sql, binds)
    }

    /// Runs the update; no matching row is `Stale`.
    pub async fn run(self, tx: &mut Transaction<'static, Any>) -> Result<()> {
        let (sql, binds) = self.statement();
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = match value.clone() {
                Value::Int(i) => query.bind(i),
                Value::Text(t) => query.bind(t),
                Value::OptText(t) => query.bind(t),
                Value::Bytes(b) => query.bind(b),
            };
        }
        let matched = if self.set.is_empty() && self.increments.is_empty() {
            query
                .fetch_optional(&mut **tx)
                .await
                .map_err(storage)?
                .map_or(0, |_| 1)
        } else {
            query
                .execute(&mut **tx)
                .await
                .map_err(storage)?
                .rows_affected()
        };
        if matched != 1 {
            return Err(Error::Stale(self.what));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_set_only_what_changes_and_guard_what_was_read() {
        let update = Update::row("keys", "name", Value::Text("k".into()), "key k".into())
            .set("state", Value::Text("suspended".into()))
            .increment("uses")
            .expect("state", Value::Text("active".into()))
            .expect("role", Value::OptText(None));
        let (sql, binds) = update.statement();
        assert_eq!(
            sql,
            "UPDATE keys SET state = $1, uses = uses + 1 WHERE name = $2 AND state = $3 AND role IS NULL"
        );
        assert_eq!(binds.len(), 3);
        let guard = Update::row("meta", "key", Value::Text("v".into()), "v".into())
            .expect("value", Value::Bytes(vec![1]));
        assert_eq!(
            guard.statement().0,
            "SELECT 1 AS found FROM meta WHERE key = $1 AND value = $2"
        );
    }
}
