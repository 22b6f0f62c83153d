//! Stored records of terminal security: terminals, the blacklist, security
//! events and alerts.

/// A terminal of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalRecord {
    /// Terminal number, 12 digits.
    pub terminal_no: String,
    /// Device serial.
    pub serial: String,
    /// Institution (hospital, station, library…).
    pub institution: String,
    /// Where it stands.
    pub location: String,
    /// Kind of terminal.
    pub kind: String,
    /// `registered`, `active`, `suspended` or `revoked`.
    pub state: String,
    /// Terminal number of the bound PSAM, if any.
    pub psam: String,
    /// Its SM2 public key (SPKI DER, hex) once enrolled.
    pub public_key: String,
    /// Serial of its certificate (hex), once enrolled.
    pub cert_serial: String,
    /// When the certificate expires, ms.
    pub cert_expires_ms: i64,
    /// When the state last changed (the revocation time once revoked), ms.
    pub state_ms: i64,
    /// When registered, ms.
    pub created_ms: i64,
    /// How it signs in: `sm2` (its certificate's key) or `mac` (a MAC
    /// under its terminal master key, for terminals without SM2).
    pub auth: String,
    /// How many times it was keyed with a terminal master key (`mac`
    /// terminals); 0 before the first.
    pub key_version: i64,
    /// The version of the platform's terminal master its key came from.
    pub master_version: i64,
}

/// A terminal's session, stored by the hash of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalSessionRecord {
    /// SM3 of the token, hex.
    pub hash: String,
    /// The terminal.
    pub terminal_no: String,
    /// Until, ms.
    pub expires_ms: i64,
    /// The terminal master version its working keys come from.
    pub master_version: i64,
}

/// A card on the blacklist, with the versions it came and went in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlacklistEntry {
    /// 卡识别码, hex.
    pub card_id: String,
    /// `lost`, `suspended`, `cancelled` or `replaced`.
    pub reason: String,
    /// The version it appears in.
    pub added_version: i64,
    /// The version it leaves in; 0 while on the list.
    pub removed_version: i64,
    /// Last change, ms.
    pub updated_ms: i64,
}

/// A security event reported by a terminal or the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Random id.
    pub id: String,
    /// When, ms.
    pub time_ms: i64,
    /// `card-auth-failed`, `blacklisted-card`, `pin-blocked`, `psam-missing`,
    /// `tamper`, `software-integrity`, `signin-failed`.
    pub kind: String,
    /// The terminal, or empty.
    pub terminal_no: String,
    /// The card, or empty.
    pub card_id: String,
    /// The institution, or empty.
    pub institution: String,
    /// A short description.
    pub detail: String,
}

/// An alert raised by a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// Random id.
    pub id: String,
    /// When, ms.
    pub time_ms: i64,
    /// The rule, as text.
    pub rule: String,
    /// What it counted (`terminal 000000000042`).
    pub subject: String,
    /// Events counted in the window.
    pub count: i64,
    /// What was done (`alert`, `alert, terminal suspended`).
    pub action: String,
    /// `open` or `acknowledged`.
    pub state: String,
    /// Who acknowledged it.
    pub acked_by: String,
}
