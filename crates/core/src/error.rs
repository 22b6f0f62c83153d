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
    #[error("the account is locked until {} after repeated failures; try again then", crate::clock::format_time(*.until_ms))]
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
    /// A key to import is weak (all zero, equal halves or components, a DES
    /// weak or semi-weak key): refused before it is filed for approval.
    #[error("weak key: {0}")]
    WeakKey(String),
    /// A share was given that is already counted towards the unseal.
    #[error(
        "share {index} was given already; give another custodian's share, or reset the unseal"
    )]
    DuplicateShare {
        /// The share's index.
        index: u8,
    },
    /// The request body is larger than the server accepts.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
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

impl Error {
    /// The stable code of this kind of error and its HTTP status: the one
    /// mapping of the platform. Every variant is named, so that a new one
    /// cannot fall through to a default; an error of the cryptography is
    /// mapped by its [`sscard_gm::ErrorKind`], also without a default.
    pub fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            Self::Sealed => ("sealed", 423),
            Self::NotInitialized => ("not_initialized", 409),
            Self::AlreadyInitialized => ("already_initialized", 409),
            Self::BadShare(_) => ("bad_share", 403),
            Self::DuplicateShare { .. } => ("duplicate_share", 409),
            Self::Unauthenticated(_) => ("unauthenticated", 401),
            Self::BadCredentials => ("bad_credentials", 401),
            Self::Locked { .. } => ("locked", 423),
            Self::Disabled => ("disabled", 403),
            Self::PasswordChangeRequired => ("password_change_required", 403),
            Self::Forbidden { .. } => ("forbidden_role", 403),
            Self::Refused(_) => ("refused", 403),
            Self::TooManyRequests(_) => ("too_many_requests", 429),
            Self::KeyState { .. } => ("key_state", 409),
            Self::KeyVersionRetired { .. } => ("key_version_retired", 409),
            Self::KcvMismatch { .. } => ("kcv_mismatch", 400),
            Self::SelfApproval => ("self_approval", 403),
            Self::ApprovalClosed { .. } => ("approval_closed", 409),
            Self::WeakKey(_) => ("weak_key", 403),
            Self::TooLarge { .. } => ("too_large", 413),
            Self::NotExportable(_) => ("not_exportable", 403),
            Self::Invalid(_) => ("invalid", 400),
            Self::NotFound(_) => ("not_found", 404),
            Self::Conflict(_) => ("conflict", 409),
            Self::Stale(_) => ("conflict", 409),
            Self::Integrity(_) => ("internal", 500),
            Self::Storage(_) => ("internal", 500),
            Self::Crypto(e) => match e.kind() {
                sscard_gm::ErrorKind::SignatureInvalid => ("signature_invalid", 403),
                sscard_gm::ErrorKind::AuthenticationFailed => ("mac_mismatch", 403),
                sscard_gm::ErrorKind::Malformed => ("invalid", 400),
                sscard_gm::ErrorKind::System => ("internal", 500),
            },
        }
    }
}
