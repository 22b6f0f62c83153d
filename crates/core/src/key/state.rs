//! The life of a key, after NIST SP 800-57 Part 1 §7 and the KMIP object
//! states, with a suspended state for a key taken out of use for a while.
//!
//! ```text
//!   pre-active ──activate──▶ active ◀──activate── suspended
//!       │                      │ └────suspend──────▶ │
//!       │                      └──deactivate──▶ deactivated ◀──deactivate──┘
//!       │                                         │
//!       └────────────destroy──────────────▶ destroyed ◀──destroy── compromised
//!   any state but destroyed ──compromise──▶ compromised
//! ```

use serde::{Deserialize, Serialize};

/// The state of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Created, not yet to be used.
    PreActive,
    /// In use: protects and processes.
    Active,
    /// Taken out of use for a while: neither protects nor processes.
    Suspended,
    /// Retired: only processes what it protected before (decrypt, verify).
    Deactivated,
    /// Known or suspected to be disclosed: only processes, for recovery.
    Compromised,
    /// Its material is gone: nothing it protected can be processed.
    Destroyed,
}

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transition {
    /// Into use (from pre-active or suspended).
    Activate,
    /// Out of use for a while.
    Suspend,
    /// Retired for good.
    Deactivate,
    /// Declared compromised.
    Compromise,
    /// Material erased.
    Destroy,
}

/// What a use of a key does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseKind {
    /// Applies protection: encrypt, sign, MAC, derive, wrap, export.
    Protect,
    /// Processes protected data: decrypt, verify, unwrap.
    Process,
}

impl Transition {
    /// Every transition.
    pub const ALL: [Transition; 5] = [
        Self::Activate,
        Self::Suspend,
        Self::Deactivate,
        Self::Compromise,
        Self::Destroy,
    ];

    /// Parses a name of [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The name used in commands and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Suspend => "suspend",
            Self::Deactivate => "deactivate",
            Self::Compromise => "compromise",
            Self::Destroy => "destroy",
        }
    }
}

impl KeyState {
    /// Every state.
    pub const ALL: [KeyState; 6] = [
        Self::PreActive,
        Self::Active,
        Self::Suspended,
        Self::Deactivated,
        Self::Compromised,
        Self::Destroyed,
    ];

    /// The state after `transition`, or `None` if it is not allowed from here.
    pub fn apply(self, transition: Transition) -> Option<KeyState> {
        use KeyState::*;
        use Transition::*;
        match (self, transition) {
            (PreActive | Suspended, Activate) => Some(Active),
            (Active, Suspend) => Some(Suspended),
            (Active | Suspended, Deactivate) => Some(Deactivated),
            (PreActive | Active | Suspended | Deactivated, Compromise) => Some(Compromised),
            (PreActive | Deactivated | Compromised, Destroy) => Some(Destroyed),
            _ => None,
        }
    }

    /// Whether a key in this state may be used so.
    pub fn permits(self, kind: UseKind) -> bool {
        match self {
            Self::Active => true,
            Self::Deactivated | Self::Compromised => kind == UseKind::Process,
            Self::PreActive | Self::Suspended | Self::Destroyed => false,
        }
    }

    /// Parses a name of [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The name used in commands and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreActive => "pre-active",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deactivated => "deactivated",
            Self::Compromised => "compromised",
            Self::Destroyed => "destroyed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyState::*;
    use Transition::*;

    const TRANSITIONS: [Transition; 5] = Transition::ALL;

    #[test]
    fn names_round_trip() {
        for t in Transition::ALL {
            assert_eq!(Transition::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
        for state in KeyState::ALL {
            assert_eq!(KeyState::parse(state.as_str()), Some(state));
        }
        assert_eq!(Transition::parse("revive"), None);
    }

    /// Every (state, transition) pair, with the one expected outcome.
    #[test]
    fn every_allowed_and_refused_transition() {
        let allowed = [
            (PreActive, Activate, Active),
            (PreActive, Compromise, Compromised),
            (PreActive, Destroy, Destroyed),
            (Active, Suspend, Suspended),
            (Active, Deactivate, Deactivated),
            (Active, Compromise, Compromised),
            (Suspended, Activate, Active),
            (Suspended, Deactivate, Deactivated),
            (Suspended, Compromise, Compromised),
            (Deactivated, Compromise, Compromised),
            (Deactivated, Destroy, Destroyed),
            (Compromised, Destroy, Destroyed),
        ];
        let mut checked = 0;
        for state in KeyState::ALL {
            for transition in TRANSITIONS {
                let expected = allowed
                    .iter()
                    .find(|(s, t, _)| *s == state && *t == transition)
                    .map(|(_, _, to)| *to);
                assert_eq!(
                    state.apply(transition),
                    expected,
                    "{state:?} --{transition:?}-->"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 30);
        // An active key is never destroyed directly: it is retired first.
        assert_eq!(Active.apply(Destroy), None);
        // Nothing comes back from destroyed.
        assert!(TRANSITIONS.iter().all(|t| Destroyed.apply(*t).is_none()));
    }

    #[test]
    fn only_an_active_key_protects_and_retired_keys_only_process() {
        for state in KeyState::ALL {
            assert_eq!(
                state.permits(UseKind::Protect),
                state == Active,
                "{state:?}"
            );
        }
        let processing: Vec<KeyState> = KeyState::ALL
            .into_iter()
            .filter(|s| s.permits(UseKind::Process))
            .collect();
        assert_eq!(processing, [Active, Deactivated, Compromised]);
    }
}
