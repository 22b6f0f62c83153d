//! The storage the platform needs, as a trait: `sscard-store` implements it
//! on SQLite and PostgreSQL. The store is untrusted: secrets reach it only
//! sealed by the barrier.

use async_trait::async_trait;
use sscard_card::blacklist::Reason;

use crate::audit::{AuditEntry, AuditRecord};
use crate::key::{KeyName, KeyRecord, KeyVersionRecord};
use crate::operator::{Operator, OperatorName, TokenRow};
use crate::terminal_records::{
    AlertRecord, BlacklistEntry, EventRecord, TerminalRecord, TerminalSessionRecord,
};
use crate::Result;

/// One change of state, applied with its audit record in one transaction.
///
/// A write that changes a row carries its precondition: the values the
/// change was decided on (`expect`), which must still hold when it commits.
/// An update that finds its row changed, gone or already decided fails the
/// whole transaction with [`Error::Stale`](crate::Error::Stale), audit
/// record included, so that no decision is applied over a state it did not
/// see. Updates set only the columns they name.
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
    /// Creates a platform-wide value that must not exist yet; fails with
    /// `Stale` if it does.
    InsertMeta {
        /// The name.
        key: String,
        /// The value.
        value: Vec<u8>,
    },
    /// A precondition only: the value of `key` is still `value` (`None`:
    /// still absent); fails with `Stale` otherwise.
    ExpectMeta {
        /// The name.
        key: String,
        /// The value read, or `None` if there was none.
        value: Option<Vec<u8>>,
    },
    /// Replaces a value only if it still holds `expected` (compare and
    /// swap), failing with `Stale` otherwise.
    ReplaceMeta {
        /// The name.
        key: String,
        /// The value the caller read.
        expected: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// A precondition only: the record appended by this commit comes right
    /// after record `seq` (a checkpoint signs over the newest record);
    /// fails with `Stale` if another record came in between.
    ExpectAuditHead(i64),
    /// Creates an operator, failing with `Conflict` if the name is taken.
    InsertOperator(Operator),
    /// Changes the columns `set` of an operator whose columns `expect`
    /// still hold their values.
    UpdateOperator {
        /// The operator.
        name: OperatorName,
        /// What the change was decided on.
        expect: Vec<OperatorField>,
        /// What changes.
        set: Vec<OperatorField>,
    },
    /// Disables an operator unless it is the last enabled holder of its
    /// role (fails with `Stale` then, or if the operator is gone): no duty
    /// of the three is ever left to nobody.
    DisableOperator(OperatorName),
    /// Stores a token hash.
    PutToken(TokenRow),
    /// Removes every token of an operator.
    DeleteTokensOf(OperatorName),
    /// Ends every operator token and every terminal session (sealing).
    EndAllSessions,
    /// Creates a key, failing with `Conflict` if the name is taken.
    InsertKey(KeyRecord),
    /// Changes the columns `set` of a key whose columns `expect` still
    /// hold their values, and counts a use if `count_use`.
    UpdateKey {
        /// The key.
        name: KeyName,
        /// What the change (or the use) was decided on.
        expect: Vec<KeyField>,
        /// What changes.
        set: Vec<KeyField>,
        /// Adds one to the key's use counter (`uses = uses + 1`).
        count_use: bool,
    },
    /// Adds a version of a key (fails with `Conflict` if that version exists).
    InsertKeyVersion(KeyVersionRecord),
    /// Erases the material of every version of a key (destruction), and
    /// every wrapped copy of it an approved export still holds for its
    /// requester.
    EraseKeyMaterial(KeyName),
    /// Creates a terminal, failing with `Conflict` if its number is taken.
    InsertTerminal(TerminalRecord),
    /// Replaces a terminal's record with `set` if it still is `expect`
    /// (the record as read); only the columns that differ are written.
    UpdateTerminal {
        /// The record as read.
        expect: Box<TerminalRecord>,
        /// The record as it is to be.
        set: Box<TerminalRecord>,
    },
    /// Stores a sign-in challenge, unless the terminal already has
    /// `max_live` unexpired ones asked from `source` (then fails with
    /// `TooManyRequests`).
    PutNonce {
        /// The challenge, hex.
        nonce: String,
        /// For this terminal.
        terminal_no: String,
        /// The address it was asked from.
        source: String,
        /// Until.
        expires_ms: i64,
        /// Now, for counting the live challenges.
        now_ms: i64,
        /// The most live challenges a terminal may hold.
        max_live: i64,
    },
    /// Spends a sign-in challenge; fails with `NotFound` if it is gone
    /// (spent or never made), which refuses a replayed sign-in.
    SpendNonce(String),
    /// Stores a terminal session by the hash of its token.
    PutTerminalSession(TerminalSessionRecord),
    /// Ends a terminal session (sign-out), by the hash of its token; fails
    /// with `NotFound` if there is none.
    EndTerminalSession(String),
    /// Creates or replaces a blacklist entry, if the card's entry is still
    /// `expect` (`None`: the card had none).
    PutBlacklistEntry {
        /// The entry as read.
        expect: Option<BlacklistEntry>,
        /// The entry as it is to be.
        entry: BlacklistEntry,
    },
    /// Adds a security event.
    InsertEvent(EventRecord),
    /// Raises an alert, unless an open alert of the same rule and subject
    /// exists (then fails with `Stale`: the alert is raised already).
    InsertAlert(AlertRecord),
    /// Acknowledges an alert that is still open.
    AckAlert {
        /// The alert.
        id: String,
        /// Who acknowledges it.
        by: String,
    },
    /// Adds a card to the registry (fails with `Conflict` if its id or
    /// holder is there already).
    InsertCard(CardRecord),
    /// Moves a card from state `from` to `state`, at a time.
    SetCardState {
        /// The 卡识别码, hex.
        card_id: String,
        /// The state the move was decided on.
        from: String,
        /// The new state.
        state: String,
        /// When.
        at_ms: i64,
    },
    /// Files a new approval (fails with `Conflict` if its id exists).
    InsertApproval(ApprovalRecord),
    /// Decides an approval that is still pending and unexpired at
    /// `now_ms`; drops its sealed payload.
    DecideApproval {
        /// The approval.
        id: String,
        /// `approved` or `denied`.
        state: String,
        /// Who decided.
        decided_by: String,
        /// What the approved operation produced for the requester.
        result: Vec<u8>,
        /// Now.
        now_ms: i64,
    },
    /// Replaces a sealed value with the same value sealed under a newer
    /// keyring term, only if it still holds `expected` (a value changed or
    /// erased meanwhile is left as it is).
    Reseal {
        /// Where the value is.
        slot: SealedSlot,
        /// The value as read.
        expected: Vec<u8>,
        /// The value sealed under the newest term.
        value: Vec<u8>,
    },
}

impl Write {
    /// The update of a terminal from its record as read to `after`.
    pub fn update_terminal(before: TerminalRecord, after: TerminalRecord) -> Self {
        Self::UpdateTerminal {
            expect: Box::new(before),
            set: Box::new(after),
        }
    }
}

/// A column of an operator's row with a value, in an
/// [`Write::UpdateOperator`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperatorField {
    /// The role (`None`: no role yet).
    Role(Option<crate::Role>),
    /// Disabled.
    Disabled(bool),
    /// On a one-time password.
    MustChangePassword(bool),
    /// Failed logins since the last success.
    FailedLogins(i64),
    /// Locked until (ms since the epoch).
    LockedUntilMs(i64),
    /// The barrier-sealed password hash.
    Password(Vec<u8>),
}

impl core::fmt::Debug for OperatorField {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Role(r) => write!(f, "Role({r:?})"),
            Self::Disabled(d) => write!(f, "Disabled({d})"),
            Self::MustChangePassword(m) => write!(f, "MustChangePassword({m})"),
            Self::FailedLogins(n) => write!(f, "FailedLogins({n})"),
            Self::LockedUntilMs(t) => write!(f, "LockedUntilMs({t})"),
            Self::Password(_) => f.write_str("Password(..)"),
        }
    }
}

/// A column of a key's row with a value, in a [`Write::UpdateKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyField {
    /// Lifecycle state.
    State(crate::key::KeyState),
    /// Minimum version.
    MinVersion(i64),
    /// Usage.
    Usage(crate::key::KeyUsage),
}

/// A place in storage that holds a barrier-sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealedSlot {
    /// A platform-wide value (`meta`).
    Meta(String),
    /// An operator's password hash.
    OperatorPassword(OperatorName),
    /// The material of one key version.
    KeyVersion(KeyName, i64),
    /// The parameters of an approval.
    ApprovalPayload(String),
}

/// A card in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    /// The 卡识别码, hex.
    pub card_id: String,
    /// HMAC-SM3 of the holder's social security number (blind index), hex.
    pub ssn_index: String,
    /// Region code.
    pub region: String,
    /// 卡号.
    pub card_no: String,
    /// The card factor, hex.
    pub card_factor: String,
    /// `sm4` or `3des`.
    pub algorithm: String,
    /// `prepared` (job made, card not yet confirmed) or `issued`.
    pub state: String,
    /// When prepared, ms since the epoch.
    pub created_ms: i64,
    /// When confirmed issued, 0 before.
    pub issued_ms: i64,
}

/// An operation waiting for a second security administrator.
#[derive(Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    /// Random id, hex.
    pub id: String,
    /// The operation, e.g. `key.import`, `key.destroy`.
    pub action: String,
    /// What it acts on.
    pub target: String,
    /// Who asked.
    pub requester: String,
    /// Barrier-sealed parameters (AAD `approval/<id>`).
    pub payload: Vec<u8>,
    /// `pending`, `approved` or `denied`.
    pub state: String,
    /// When asked, ms since the epoch.
    pub created_ms: i64,
    /// After this it can no longer be approved.
    pub expires_ms: i64,
    /// Who approved or denied; empty while pending.
    pub decided_by: String,
    /// What the approved operation produced for the requester (empty if nothing).
    pub result: Vec<u8>,
    /// What is being approved, for the approver's eyes: a JSON object of
    /// names and values, none of them secret.
    pub details: String,
}

impl ApprovalRecord {
    /// The details as names and values.
    pub fn details(&self) -> crate::Result<std::collections::BTreeMap<String, String>> {
        if self.details.is_empty() {
            return Ok(Default::default());
        }
        serde_json::from_str(&self.details)
            .map_err(|_| crate::Error::Integrity(format!("details of approval {}", self.id)))
    }
}

impl core::fmt::Debug for ApprovalRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ApprovalRecord")
            .field("id", &self.id)
            .field("action", &self.action)
            .field("target", &self.target)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
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

    /// An approval by id.
    async fn get_approval(&self, id: &str) -> Result<Option<ApprovalRecord>>;

    /// Approvals in a state (`pending`, …), oldest first.
    async fn list_approvals(&self, state: &str) -> Result<Vec<ApprovalRecord>>;

    /// A terminal by number.
    async fn get_terminal(&self, terminal_no: &str) -> Result<Option<TerminalRecord>>;

    /// Every terminal, by number.
    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>>;

    /// A sign-in challenge: (terminal, expiry).
    async fn get_nonce(&self, nonce: &str) -> Result<Option<(String, i64)>>;

    /// How many of a terminal's sign-in challenges asked from `source` are
    /// still unspent and unexpired at `now_ms`.
    async fn count_live_nonces(&self, terminal_no: &str, source: &str, now_ms: i64) -> Result<i64>;

    /// A terminal session by token hash.
    async fn get_terminal_session(&self, hash: &str) -> Result<Option<TerminalSessionRecord>>;

    /// A blacklist entry by card.
    async fn get_blacklist_entry(&self, card_id: &str) -> Result<Option<BlacklistEntry>>;

    /// The cards on the list at `version`, ascending, each as its 卡识别码
    /// read as one number and its reason: 24 bytes a card, so that a list
    /// of 10^8 cards fits in memory (its rows, as text, would not).
    async fn blacklist_ids_at(&self, version: i64) -> Result<Vec<(u128, Reason)>>;

    /// The changes after `from` up to `to`: entries added (and still on the
    /// list at `to`), and entries on the list at `from` removed by `to`.
    async fn blacklist_changes(
        &self,
        from: i64,
        to: i64,
    ) -> Result<(Vec<BlacklistEntry>, Vec<BlacklistEntry>)>;

    /// How many entries [`Self::blacklist_changes`] would give, without
    /// reading them: (added, removed).
    async fn blacklist_change_counts(&self, from: i64, to: i64) -> Result<(i64, i64)>;

    /// Events of `kind` since `since_ms` whose `field` (`terminal_no`,
    /// `card_id` or `institution`) is `value`.
    async fn count_events(
        &self,
        kind: &str,
        field: &str,
        value: &str,
        since_ms: i64,
    ) -> Result<i64>;

    /// The newest events, newest first.
    async fn list_events(&self, limit: i64) -> Result<Vec<EventRecord>>;

    /// Alerts in a state (`open`, `acknowledged`), newest first.
    async fn list_alerts(&self, state: &str) -> Result<Vec<AlertRecord>>;

    /// An alert by id.
    async fn get_alert(&self, id: &str) -> Result<Option<AlertRecord>>;

    /// A card by its 卡识别码 (hex).
    async fn get_card(&self, card_id: &str) -> Result<Option<CardRecord>>;

    /// The card of a holder, by the blind index of the social security number.
    async fn get_card_by_ssn_index(&self, ssn_index: &str) -> Result<Option<CardRecord>>;

    /// Up to `limit` records with `seq >= from_seq`, in order.
    async fn audit_range(&self, from_seq: i64, limit: i64) -> Result<Vec<AuditRecord>>;

    /// The newest record, if any.
    async fn audit_head(&self) -> Result<Option<AuditRecord>>;

    /// Applies `writes` and appends `entry` to the audit chain in one
    /// transaction: both happen or neither does. Returns the appended record.
    async fn commit(&self, writes: Vec<Write>, entry: AuditEntry) -> Result<AuditRecord>;
}
