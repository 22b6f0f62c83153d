//! Refusals of callers nobody has authenticated (a request without a
//! token, an unknown token, a login for a name that is no account, a
//! sign-in challenge for an unregistered terminal, a malformed share) cost
//! an attacker nothing. Each is audited, but repeats of one kind of refusal
//! — the same action, error code, reason and source address, whatever the
//! route, name or token — within a minute are counted in memory and written
//! as one record with their count when the minute is over, so that a flood
//! grows the log by a bounded amount: at most two records a minute per
//! (action, code, reason, source), and past [`MAX_SOURCES`] of them at
//! once, the rest of an action and code share one count. What such a record names of the request (a route, a terminal
//! number) is bounded and escaped.
//!
//! The first refusal of a minute is always written at once. What a node
//! holds in memory is the count of the repeats after it; it is written by
//! [`Platform::flush_refusals`] (a timer of the server), or with the next
//! refusal after the minute.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Platform;
use crate::audit::AuditEntry;
use crate::{now_ms, Error, Result};

/// How long repeats are counted before their record is written, in ms.
pub const WINDOW_MS: i64 = 60_000;

/// Sources counted apart at once; the rest are counted as one (`*`).
pub const MAX_SOURCES: usize = 4096;

/// Where an unauthenticated request came from: the peer's address as the
/// server saw it, or `local` for calls inside the process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source(String);

impl Source {
    /// A peer address, e.g. `203.0.113.7`.
    pub fn address(addr: impl std::fmt::Display) -> Self {
        Self(addr.to_string())
    }

    /// A call from inside the process (tests, tools).
    pub fn local() -> Self {
        Self("local".into())
    }

    /// The address as written in records.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    action: String,
    /// The refusal's stable code (`unauthenticated`, `bad_share`, …).
    code: String,
    /// The reason the record gives (bounded), so that repeats of one
    /// reason are never counted under another's.
    reason: String,
    source: String,
}

impl Key {
    /// The kind of the refusal `entry` with stable code `code` from `source`.
    fn of(entry: &AuditEntry, code: &str, source: &Source) -> Self {
        Self {
            action: entry.action.clone(),
            code: code.into(),
            reason: entry.details.get("reason").cloned().unwrap_or_default(),
            source: source.as_str().into(),
        }
    }
}

#[derive(Debug)]
struct Window {
    started_ms: i64,
    repeats: u64,
    /// The record to write for the repeats (actor and target of the first).
    entry: AuditEntry,
}

/// The per-node table of refusal windows.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    windows: Mutex<HashMap<Key, Window>>,
}

/// What to do with one refusal.
enum Verdict {
    /// Write it (the first of its minute), with the repeats counted before.
    Write(Option<(AuditEntry, u64)>),
    /// Count it.
    Count,
}

impl Refusals {
    fn admit(&self, key: Key, entry: &AuditEntry, now: i64) -> Verdict {
        let Ok(mut windows) = self.windows.lock() else {
            return Verdict::Write(None);
        };
        let key = capped(&windows, key);
        match windows.get_mut(&key) {
            Some(w) if now - w.started_ms < WINDOW_MS => {
                w.repeats += 1;
                Verdict::Count
            }
            Some(w) => {
                let earlier = (w.repeats > 0).then(|| (w.entry.clone(), w.repeats));
                *w = Window {
                    started_ms: now,
                    repeats: 0,
                    entry: entry.clone(),
                };
                Verdict::Write(earlier)
            }
            None => {
                windows.insert(
                    key,
                    Window {
                        started_ms: now,
                        repeats: 0,
                        entry: entry.clone(),
                    },
                );
                Verdict::Write(None)
            }
        }
    }

    /// Takes the counts of the windows that are over (all of them with
    /// `all`), forgetting those windows.
    fn take_due(&self, now: i64, all: bool) -> Vec<(AuditEntry, u64)> {
        let Ok(mut windows) = self.windows.lock() else {
            return Vec::new();
        };
        let mut due = Vec::new();
        windows.retain(|_, w| {
            if all || now - w.started_ms >= WINDOW_MS {
                if w.repeats > 0 {
                    due.push((w.entry.clone(), w.repeats));
                }
                false
            } else {
                true
            }
        });
        due
    }
}

/// `key`, or past [`MAX_SOURCES`] windows one key for every source and
/// reason of its action and code (its record says `reason: various`).
fn capped(windows: &HashMap<Key, Window>, key: Key) -> Key {
    if windows.len() >= MAX_SOURCES && !windows.contains_key(&key) {
        Key {
            source: "*".into(),
            reason: "various".into(),
            ..key
        }
    } else {
        key
    }
}

/// The record of `repeats` more refusals like `entry`.
fn repeats_entry(entry: AuditEntry, repeats: u64) -> AuditEntry {
    entry
        .with("repeated", repeats.to_string())
        .with("window_s", (WINDOW_MS / 1000).to_string())
}

impl Platform {
    /// Audits a refusal of an unauthenticated caller from `source`, at most
    /// once a minute per action, reason and source (the repeats are
    /// counted), and returns the error to give. `also` runs only when the
    /// refusal is written (e.g. to record an event beside it).
    pub(crate) async fn refuse_unauthenticated(
        &self,
        entry: AuditEntry,
        source: &Source,
        error: Error,
    ) -> Error {
        let kind = error.code_and_status().0;
        self.refuse_unauthenticated_as(entry, source, error, kind)
            .await
    }

    /// [`Self::refuse_unauthenticated`], counted as the kind of refusal
    /// `kind` (a stable code) rather than by the error's own code.
    pub(crate) async fn refuse_unauthenticated_as(
        &self,
        entry: AuditEntry,
        source: &Source,
        error: Error,
        kind: &str,
    ) -> Error {
        // What the caller sent is bounded and escaped before it is recorded.
        let mut entry = entry.with(
            "source",
            crate::text::bounded(&crate::text::escape(source.as_str()), 64),
        );
        entry.actor = crate::text::bounded(&crate::text::escape(&entry.actor), 128);
        entry.target = crate::text::bounded(&crate::text::escape(&entry.target), 128);
        // Counted by the kind of refusal (its stable code), not its text:
        // a message that names what was wrong would make each a kind of
        // its own.
        let key = Key::of(&entry, kind, source);
        match self.refusals.admit(key, &entry, now_ms()) {
            Verdict::Count => {
                // Counted: its record comes with the count.
                super::note_refusal_recorded();
                error
            }
            Verdict::Write(earlier) => {
                if let Some((earlier, repeats)) = earlier {
                    if let Err(e) = self
                        .commit(Vec::new(), repeats_entry(earlier, repeats))
                        .await
                    {
                        return e;
                    }
                }
                self.refuse(entry, error).await
            }
        }
    }

    /// Whether the next refusal of this kind would be written (not only
    /// counted): callers that record more than the audit record (an event)
    /// do so only then.
    pub(crate) fn refusal_is_due(&self, entry: &AuditEntry, code: &str, source: &Source) -> bool {
        let Ok(windows) = self.refusals.windows.lock() else {
            return true;
        };
        let key = Key::of(entry, code, source);
        windows
            .get(&capped(&windows, key))
            .is_none_or(|w| now_ms() - w.started_ms >= WINDOW_MS)
    }

    /// Writes the counts of refusal windows that are over (every window
    /// with `all`, e.g. at shutdown). Servers call this on a timer. Returns
    /// the records written.
    pub async fn flush_refusals(&self, all: bool) -> Result<usize> {
        let due = self.refusals.take_due(now_ms(), all);
        let written = due.len();
        for (entry, repeats) in due {
            self.commit(Vec::new(), repeats_entry(entry, repeats))
                .await?;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: &str) -> Key {
        Key {
            action: "auth.login".into(),
            code: "bad_credentials".into(),
            reason: "no such account".into(),
            source: source.into(),
        }
    }

    #[test]
    fn repeats_within_a_minute_are_counted_and_written_once_after_it() {
        let r = Refusals::default();
        let e = AuditEntry::refused("anonymous", "auth.login", "x", "no such account");
        assert!(matches!(r.admit(key("a"), &e, 0), Verdict::Write(None)));
        for t in 1..100 {
            assert!(matches!(r.admit(key("a"), &e, t), Verdict::Count));
        }
        // Another source is its own window.
        assert!(matches!(r.admit(key("b"), &e, 5), Verdict::Write(None)));
        assert!(r.take_due(WINDOW_MS - 1, false).is_empty());
        match r.admit(key("a"), &e, WINDOW_MS) {
            Verdict::Write(Some((_, repeats))) => assert_eq!(repeats, 99),
            _ => panic!("the minute is over: the repeats are written"),
        }
        assert!(matches!(
            r.admit(key("a"), &e, WINDOW_MS + 1),
            Verdict::Count
        ));
        let due = r.take_due(2 * WINDOW_MS, false);
        assert_eq!(due.len(), 1, "a's second window holds one repeat; b none");
        assert_eq!(due[0].1, 1);
    }

    #[test]
    fn reasons_of_one_code_are_counted_apart() {
        let r = Refusals::default();
        let reason = |why: &str| Key {
            reason: why.into(),
            ..key("a")
        };
        let e = AuditEntry::refused("anonymous", "sys.unseal", "platform", "another platform");
        assert!(matches!(
            r.admit(reason("another platform"), &e, 0),
            Verdict::Write(None)
        ));
        // A changed share within the minute is written under its own reason.
        let changed = AuditEntry::refused("anonymous", "sys.unseal", "platform", "changed");
        assert!(matches!(
            r.admit(reason("changed"), &changed, 1),
            Verdict::Write(None)
        ));
        assert!(matches!(
            r.admit(reason("changed"), &changed, 2),
            Verdict::Count
        ));
        let due = r.take_due(WINDOW_MS + 1, false);
        assert_eq!(due.len(), 1, "only the changed share was repeated");
        assert_eq!(due[0].0.details["reason"], "changed");
    }

    #[test]
    fn sources_past_the_limit_share_one_count() {
        let r = Refusals::default();
        let e = AuditEntry::refused("anonymous", "auth.login", "x", "no such account");
        for i in 0..MAX_SOURCES {
            assert!(matches!(
                r.admit(key(&i.to_string()), &e, 0),
                Verdict::Write(None)
            ));
        }
        assert!(matches!(r.admit(key("new-1"), &e, 0), Verdict::Write(None)));
        assert!(matches!(r.admit(key("new-2"), &e, 0), Verdict::Count));
        assert_eq!(r.windows.lock().unwrap().len(), MAX_SOURCES + 1);
    }
}
