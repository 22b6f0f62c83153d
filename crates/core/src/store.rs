//! The storage the platform needs, as a trait: `sscard-store` implements it
//! on SQLite and PostgreSQL. The store is untrusted: secrets reach it only
//! sealed by the barrier.

use async_trait::async_trait;

use crate::audit::{AuditEntry, AuditRecord};
use crate::key::{KeyName, KeyRecord, KeyVersionRecord};
use crate::operator::{Operator, OperatorName, TokenRow};
use crate::Result;

/// One change of state, applied with its audit record in one transaction.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Write {
    /// Sets a platform-wide value.
    PutMeta {
        /// The name.
        key: String,
        /// The value (sealed by the barrier if secret).
        value: Vec<u8>,
    },
    /// Replaces a value only if it still holds `expected` (compare and
    /// swap), failing with `Conflict` otherwise.
    ReplaceMeta {
        /// The name.
        key: String,
        /// The value the caller read.
        expected: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Creates an operator, failing with `Conflict` if the name is taken.
    InsertOperator(Operator),
    /// Replaces an existing operator.
    UpdateOperator(Operator),
    /// Stores a token hash.
    PutToken(TokenRow),
    /// Removes every token of an operator.
    DeleteTokensOf(OperatorName),
    /// Creates a key, failing with `Conflict` if the name is taken.
    InsertKey(KeyRecord),
    /// Replaces a key's metadata.
    UpdateKey(KeyRecord),
    /// Adds a version of a key.
    InsertKeyVersion(KeyVersionRecord),
}

/// Storage of the platform.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A platform-wide value.
    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// An operator by name.
    async fn get_operator(&self, name: &OperatorName) -> Result<Option<Operator>>;

    /// Every operator, by name.
    async fn list_operators(&self) -> Result<Vec<Operator>>;

    /// A token by the hash of its value.
    async fn get_token(&self, hash: &str) -> Result<Option<TokenRow>>;

    /// A key's metadata by name.
    async fn get_key(&self, name: &KeyName) -> Result<Option<KeyRecord>>;

    /// Every key, by name.
    async fn list_keys(&self) -> Result<Vec<KeyRecord>>;

    /// Every version of a key, oldest first.
    async fn key_versions(&self, name: &KeyName) -> Result<Vec<KeyVersionRecord>>;

    /// Up to `limit` records with `seq >= from_seq`, in order.
    async fn audit_range(&self, from_seq: i64, limit: i64) -> Result<Vec<AuditRecord>>;

    /// The newest record, if any.
    async fn audit_head(&self) -> Result<Option<AuditRecord>>;

    /// Applies `writes` and appends `entry` to the audit chain in one
    /// transaction: both happen or neither does. Returns the appended record.
    async fn commit(&self, writes: Vec<Write>, entry: AuditEntry) -> Result<AuditRecord>;
}
