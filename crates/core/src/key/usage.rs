//! One function per key (card-profile: "one key per card, one function per
//! key"), and the level of the hierarchy a key belongs to.

use serde::{Deserialize, Serialize};

use super::KeyAlgorithm;

/// What a key is for (`--usage`). A key has exactly one usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyUsage {
    /// Master of the cards' internal-authentication keys (proves a card genuine).
    CardIauthMaster,
    /// Master of the cards' external-authentication keys (protected reads and writes).
    CardEauthMaster,
    /// Master of the PIN-unblock keys.
    PinUnblockMaster,
    /// Master of the PIN-reload keys.
    PinReloadMaster,
    /// Master of the application-maintenance (transport) keys.
    CardMaintMaster,
    /// Transport key of PSAM issuance.
    PsamTransport,
    /// Key-encryption key: wraps other keys for transport.
    Kek,
    /// Master of data keys (envelope encryption of stored fields).
    DataMaster,
    /// Encrypts application data (transit).
    Encrypt,
    /// Signs audit checkpoints.
    AuditSigning,
    /// Signs what the platform publishes (blacklists, certificates).
    PlatformSigning,
    /// Issues electronic social security card credentials.
    EsscIssuing,
    /// Master of the terminal master keys (TMK) of terminals without SM2
    /// and of the working keys delivered at sign-in.
    TerminalMaster,
}

impl KeyUsage {
    /// Every usage.
    pub const ALL: [KeyUsage; 13] = [
        Self::CardIauthMaster,
        Self::CardEauthMaster,
        Self::PinUnblockMaster,
        Self::PinReloadMaster,
        Self::CardMaintMaster,
        Self::PsamTransport,
        Self::Kek,
        Self::DataMaster,
        Self::Encrypt,
        Self::AuditSigning,
        Self::PlatformSigning,
        Self::EsscIssuing,
        Self::TerminalMaster,
    ];

    /// The name used in commands and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CardIauthMaster => "card-iauth-master",
            Self::CardEauthMaster => "card-eauth-master",
            Self::PinUnblockMaster => "pin-unblock-master",
            Self::PinReloadMaster => "pin-reload-master",
            Self::CardMaintMaster => "card-maint-master",
            Self::PsamTransport => "psam-transport",
            Self::Kek => "kek",
            Self::DataMaster => "data-master",
            Self::Encrypt => "encrypt",
            Self::AuditSigning => "audit-signing",
            Self::PlatformSigning => "platform-signing",
            Self::EsscIssuing => "essc-issuing",
            Self::TerminalMaster => "terminal-master",
        }
    }

    /// Parses a name of [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == name)
    }

    /// Whether a key of this usage belongs to a region (行政区划) below the
    /// ministry level: the card masters and the PSAM transport key, which
    /// are diversified by region. Other keys (data, transit, signing, KEKs)
    /// may name a region, and need none.
    pub fn is_regional(self) -> bool {
        matches!(
            self,
            Self::CardIauthMaster
                | Self::CardEauthMaster
                | Self::PinUnblockMaster
                | Self::PinReloadMaster
                | Self::CardMaintMaster
                | Self::PsamTransport
        )
    }

    /// Whether a key of this usage signs (an SM2 key of another usage, a
    /// KEK, only receives envelopes).
    pub fn signs(self) -> bool {
        matches!(
            self,
            Self::PlatformSigning | Self::AuditSigning | Self::EsscIssuing
        )
    }

    /// Whether a key of `algorithm` can serve this usage: card masters and
    /// transport keys are block-cipher keys, signing keys are SM2.
    pub fn admits(self, algorithm: KeyAlgorithm) -> bool {
        use KeyAlgorithm::{HmacSm3, Sm2, Sm4, Tdes};
        match self {
            Self::CardIauthMaster
            | Self::CardEauthMaster
            | Self::PinUnblockMaster
            | Self::PinReloadMaster
            | Self::CardMaintMaster
            | Self::PsamTransport => matches!(algorithm, Sm4 | Tdes),
            // An SM2 KEK is the platform's transport key pair: others
            // envelope keys to its public key.
            Self::Kek => matches!(algorithm, Sm4 | Sm2),
            Self::DataMaster => algorithm == Sm4,
            Self::Encrypt => algorithm == Sm4,
            Self::AuditSigning | Self::PlatformSigning => algorithm == Sm2,
            Self::EsscIssuing => matches!(algorithm, Sm2 | HmacSm3),
            Self::TerminalMaster => algorithm == Sm4,
        }
    }
}

/// The level of the key hierarchy (ministry → province → city).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyLevel {
    /// 部级: root keys of nationally readable and writable files.
    Ministry,
    /// 省级: diversified per province.
    Province,
    /// 市级: diversified per city, the level that derives per-card keys.
    City,
}

impl KeyLevel {
    /// Every level, top down.
    pub const ALL: [KeyLevel; 3] = [Self::Ministry, Self::Province, Self::City];

    /// The name used in commands and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ministry => "ministry",
            Self::Province => "province",
            Self::City => "city",
        }
    }

    /// Parses a name of [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for usage in KeyUsage::ALL {
            assert_eq!(KeyUsage::parse(usage.as_str()), Some(usage));
            let json = serde_json::to_string(&usage).unwrap();
            assert_eq!(json, format!("\"{}\"", usage.as_str()));
        }
        for alg in KeyAlgorithm::ALL {
            assert_eq!(KeyAlgorithm::parse(alg.as_str()), Some(alg));
            assert_eq!(
                serde_json::to_string(&alg).unwrap(),
                format!("\"{}\"", alg.as_str())
            );
        }
        for level in KeyLevel::ALL {
            assert_eq!(KeyLevel::parse(level.as_str()), Some(level));
        }
        assert_eq!(KeyUsage::parse("card-master"), None);
    }

    #[test]
    fn every_usage_admits_some_algorithm_and_card_masters_are_symmetric() {
        for usage in KeyUsage::ALL {
            assert!(
                KeyAlgorithm::ALL.iter().any(|a| usage.admits(*a)),
                "{usage:?}"
            );
        }
        assert!(KeyUsage::CardIauthMaster.admits(KeyAlgorithm::Tdes));
        assert!(!KeyUsage::CardIauthMaster.admits(KeyAlgorithm::Sm2));
        assert!(!KeyUsage::AuditSigning.admits(KeyAlgorithm::Sm4));
    }
}
