//! The one error type of `sscard-core`.

/// Everything a platform operation can refuse or fail with. The HTTP layer
/// maps each variant to a status and a stable code in one place.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The platform is sealed: only health and unseal are served.
    #[error("the platform is sealed")]
    Sealed,
    /// The platform has not been initialized (`sscard init`).
    #[error("the platform is not initialized")]
    NotInitialized,
    /// `sscard init` was run on a platform that already has a root key.
    #[error("the platform is already initialized")]
    AlreadyInitialized,
    /// A share was malformed or belongs to another platform.
    #[error("share refused: {0}")]
    BadShare(String),
    /// No valid token was presented, or it expired.
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    /// User name or password wrong (which one is not said).
    #[error("user name or password is wrong")]
    BadCredentials,
    /// The account is locked after repeated failures.
    #[error("the account is locked until {until_ms} (ms since the epoch) after repeated failures")]
    Locked {
        /// When the lock ends, in ms since the Unix epoch.
        until_ms: i64,
    },
    /// The account is disabled.
    #[error("the account is disabled")]
    Disabled,
    /// The account must change its one-time password first.
    #[error("the one-time password must be changed first")]
    PasswordChangeRequired,
    /// The operator's role does not admit this action.
    #[error("role {role} may not {action}")]
    Forbidden {
        /// The caller's role, or "none".
        role: String,
        /// What was attempted.
        action: &'static str,
    },
    /// The request breaks a rule of the platform (e.g. granting a role to oneself).
    #[error("refused: {0}")]
    Refused(String),
    /// Too many requests of one kind at once (e.g. sign-in challenges of
    /// one terminal); the caller may try again later.
    #[error("too many requests: {0}")]
    TooManyRequests(String),
    /// The key's state does not permit this use (e.g. a suspended key).
    #[error("key {name} is {state}: it may not be used to {action}")]
    KeyState {
        /// The key.
        name: String,
        /// Its state.
        state: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// The ciphertext was made under a version below the key's minimum.
    #[error("key {name} version {version} is below the minimum version {min}")]
    KeyVersionRetired {
        /// The key.
        name: String,
        /// The version of the ciphertext.
        version: i64,
        /// The key's minimum version.
        min: i64,
    },
    /// A key component does not match the check value its custodian gave.
    #[error("component {index} does not match its check value")]
    KcvMismatch {
        /// 1-based position of the component on the command line.
        index: usize,
    },
    /// The requester of a dual-controlled operation tried to approve it.
    #[error("the requester cannot approve their own request: another security administrator must")]
    SelfApproval,
    /// The approval is no longer pending, or has expired.
    #[error("approval {id} is {state}")]
    ApprovalClosed {
        /// The approval.
        id: String,
        /// `approved`, `denied` or `expired`.
        state: String,
    },
    /// The key may not leave the platform.
    #[error("key {0} is not exportable")]
    NotExportable(String),
    /// The input is malformed.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The named thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The thing exists already.
    #[error("already exists: {0}")]
    Conflict(String),
    /// What an action was decided on changed before it could commit
    /// (another request changed the same record at the same moment):
    /// nothing was done, and the caller may try again.
    #[error("{0} changed while this request was decided; nothing was done, try again")]
    Stale(String),
    /// Stored data failed its integrity check (barrier tag, audit chain).
    #[error("integrity failure: {0}")]
    Integrity(String),
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(String),
    /// A cryptographic primitive failed.
    #[error("crypto: {0}")]
    Crypto(#[from] sscard_gm::Error),
}

/// Result of platform operations.
pub type Result<T, E = Error> = core::result::Result<T, E>;
