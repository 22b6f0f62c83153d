//! A key as stored: metadata in clear, each version's material sealed by
//! the barrier under the record identity `key/<name>/v<version>`.

use serde::Serialize;

use super::{KeyAlgorithm, KeyLevel, KeyState, KeyUsage};
use crate::Result;

/// A key's name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct KeyName(String);

impl KeyName {
    /// Parses a key name.
    pub fn parse(name: &str) -> Result<Self> {
        crate::name::check(name, "key name")?;
        Ok(Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for KeyName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Name.
    pub name: KeyName,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// The one usage.
    pub usage: KeyUsage,
    /// Level of the hierarchy.
    pub level: KeyLevel,
    /// Region code (行政区划, 6 digits), empty for ministry keys.
    pub region: String,
    /// May leave the platform wrapped; set at creation only.
    pub exportable: bool,
    /// Lifecycle state.
    pub state: KeyState,
    /// Versions below this only fail: neither protect nor process.
    pub min_version: i64,
    /// Uses so far (protect and process).
    pub uses: i64,
    /// Rotate once the newest version is this old (ms); 0 for never.
    pub rotate_every_ms: i64,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Comes into use at this time (ms); 0 for at creation.
    pub activate_ms: i64,
    /// Stops protecting at this time (ms) and is deactivated; 0 for never.
    pub expire_ms: i64,
}

impl KeyRecord {
    /// Whether the key's expiry has passed at `now`.
    pub fn expired_at(&self, now: i64) -> bool {
        self.expire_ms > 0 && now >= self.expire_ms
    }
}

/// One version of a key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyVersionRecord {
    /// The key.
    pub name: KeyName,
    /// From 1.
    pub version: i64,
    /// Barrier-sealed material; empty once destroyed.
    pub material: Vec<u8>,
    /// Key check value (hex).
    pub kcv: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

impl KeyVersionRecord {
    /// The barrier AAD of a version's material.
    pub fn aad(name: &KeyName, version: i64) -> String {
        format!("key/{name}/v{version}")
    }
}

impl core::fmt::Debug for KeyVersionRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyVersionRecord")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("kcv", &self.kcv)
            .finish_non_exhaustive()
    }
}
