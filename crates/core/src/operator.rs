//! Operators of the platform and their stored form.

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Role};

/// An operator's user name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OperatorName(String);

impl OperatorName {
    /// Parses a user name.
    pub fn parse(name: &str) -> Result<Self> {
        crate::name::check(name, "user name")?;
        Ok(Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OperatorName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<OperatorName> for String {
    fn from(n: OperatorName) -> Self {
        n.0
    }
}

impl core::fmt::Display for OperatorName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An operator as stored. `password` is the barrier-sealed password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Operator {
    /// User name.
    pub name: OperatorName,
    /// The one role, once granted.
    pub role: Option<Role>,
    /// Disabled accounts cannot log in; their tokens stop working.
    pub disabled: bool,
    /// The password is a one-time password that must be changed at login.
    pub must_change_password: bool,
    /// Failed logins since the last success.
    pub failed_logins: i64,
    /// Logins are refused until then (ms since the epoch); 0 if not locked.
    pub locked_until_ms: i64,
    /// Barrier-sealed PBKDF2-HMAC-SM3 hash.
    pub password: Vec<u8>,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

impl Operator {
    /// The barrier AAD of this operator's password hash.
    pub fn password_aad(name: &OperatorName) -> String {
        format!("operator/{name}/password")
    }
}

impl core::fmt::Debug for Operator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Operator")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A login token as stored: only the SM3 hash of the bearer value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// SM3 of the token, hex.
    pub hash: String,
    /// Whose token.
    pub operator: OperatorName,
    /// Expiry, ms since the epoch.
    pub expires_ms: i64,
    /// Only a password change is allowed with this token.
    pub password_change_only: bool,
}
