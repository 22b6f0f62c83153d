//! The three operator roles (三员分立) and what each may do.

use serde::{Deserialize, Serialize};

/// An operator role. No account holds two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 系统管理员: platform settings, terminals, applications, accounts.
    System,
    /// 安全管理员: keys, security policy, granting roles, approvals, seal.
    Security,
    /// 审计管理员: reads and verifies the audit log, nothing else.
    Audit,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::System, Role::Security, Role::Audit];

    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Security => "security",
            Role::Audit => "audit",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl core::fmt::Display for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
