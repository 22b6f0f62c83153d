//! Security events from terminals and the platform, and the rules that turn
//! them into alerts: a count of one kind of event in a window, per terminal,
//! card or institution, raises an alert and may suspend the terminal.

use serde::{Deserialize, Serialize};
use sscard_gm::random;

use super::{ops, Platform, Session};
use crate::audit::AuditEntry;
use crate::store::Write;
use crate::terminal_records::{AlertRecord, EventRecord};
use crate::{now_ms, Error, Result};

const RULES_META: &str = "event_rules";

/// The kinds of event.
pub const EVENT_KINDS: [&str; 7] = [
    "card-auth-failed",
    "blacklisted-card",
    "pin-blocked",
    "psam-missing",
    "tamper",
    "software-integrity",
    "signin-failed",
];

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// One of [`EVENT_KINDS`].
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

/// A rule: `count` events of `kind` within `window_s` seconds for one
/// terminal, card or institution (`per`) raise an alert; with `suspend`,
/// and counted per terminal, the terminal is suspended too.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventRule {
    /// Event kind.
    pub kind: String,
    /// `terminal`, `card` or `institution`.
    pub per: String,
    /// Threshold.
    pub count: i64,
    /// Window, seconds.
    pub window_s: i64,
    /// Suspend the terminal when the rule fires.
    pub suspend: bool,
}

impl EventRule {
    fn field(&self) -> &'static str {
        match self.per.as_str() {
            "card" => "card_id",
            "institution" => "institution",
            _ => "terminal_no",
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} {} per {} in {} s{}",
            self.count,
            self.kind,
            self.per,
            self.window_s,
            if self.suspend { ", suspend" } else { "" }
        )
    }
}

/// The rules a platform starts with.
fn default_rules() -> Vec<EventRule> {
    vec![
        EventRule {
            kind: "card-auth-failed".into(),
            per: "terminal".into(),
            count: 5,
            window_s: 60,
            suspend: false,
        },
        EventRule {
            kind: "signin-failed".into(),
            per: "terminal".into(),
            count: 5,
            window_s: 300,
            suspend: false,
        },
        EventRule {
            kind: "blacklisted-card".into(),
            per: "card".into(),
            count: 3,
            window_s: 3600,
            suspend: false,
        },
    ]
}

/// The longest detail of an event, in characters.
pub const MAX_DETAIL: usize = 200;

impl Platform {
    /// The rules in force.
    pub async fn event_rules(&self) -> Result<Vec<EventRule>> {
        rules_of(self.store.get_meta(RULES_META).await?.as_deref())
    }

    /// Sets (adds or replaces, by kind and per) a rule.
    pub async fn set_event_rule(
        &self,
        session: &Session,
        rule: EventRule,
    ) -> Result<Vec<EventRule>> {
        self.authorize(session, &ops::EVENT_MANAGE).await?;
        self.audited(session, "event.rule", &rule.kind.clone(), async {
            if !EVENT_KINDS.contains(&rule.kind.as_str())
                || !matches!(rule.per.as_str(), "terminal" | "card" | "institution")
                || rule.count < 1
                || rule.window_s < 1
                || (rule.suspend && rule.per != "terminal")
            {
                return Err(Error::Invalid(format!(
                    "a rule counts one of {} per terminal, card or institution (count and window >= 1; suspend only per terminal)",
                    EVENT_KINDS.join(", ")
                )));
            }
            retry_stale!(self, async {
                // Changed over the list as read, so that two changes at once
                // both land.
                let read = self.store.get_meta(RULES_META).await?;
                let mut rules = rules_of(read.as_deref())?;
                rules.retain(|r| !(r.kind == rule.kind && r.per == rule.per));
                rules.push(rule.clone());
                let value = serde_json::to_vec(&rules).map_err(|e| Error::Invalid(e.to_string()))?;
                let audit = AuditEntry::ok(session.operator.as_str(), "event.rule", &rule.kind)
                    .with("rule", rule.describe());
                self.commit(
                    vec![
                        Write::ExpectMeta {
                            key: RULES_META.into(),
                            value: read,
                        },
                        Write::PutMeta {
                            key: RULES_META.into(),
                            value,
                        },
                    ],
                    audit,
                )
                .await?;
                Ok(rules)
            })
        })
        .await
    }

    /// Records an event and applies the rules; returns the alerts raised.
    pub(super) async fn record_event(&self, who: &str, e: NewEvent) -> Result<Vec<AlertRecord>> {
        if !EVENT_KINDS.contains(&e.kind.as_str()) {
            return Err(Error::Invalid(format!(
                "event kind {:?}: one of {}",
                e.kind,
                EVENT_KINDS.join(", ")
            )));
        }
        let now = now_ms();
        let record = EventRecord {
            id: hex::encode(random::bytes(8)?.as_slice()),
            time_ms: now,
            kind: e.kind.clone(),
            terminal_no: e.terminal_no.clone(),
            card_id: e.card_id.clone(),
            institution: e.institution.clone(),
            detail: crate::text::bounded(&crate::text::escape(&e.detail), MAX_DETAIL),
        };
        let audit = AuditEntry::ok(who, &format!("event.{}", e.kind), &e.terminal_no)
            .with("card", e.card_id.clone());
        self.commit(vec![Write::InsertEvent(record)], audit).await?;
        let mut raised = Vec::new();
        let open = self.store.list_alerts("open").await?;
        for rule in self
            .event_rules()
            .await?
            .into_iter()
            .filter(|r| r.kind == e.kind)
        {
            let value = match rule.field() {
                "card_id" => &e.card_id,
                "institution" => &e.institution,
                _ => &e.terminal_no,
            };
            if value.is_empty() {
                continue;
            }
            let since = now - rule.window_s * 1000;
            let count = self
                .store
                .count_events(&rule.kind, rule.field(), value, since)
                .await?;
            let subject = format!("{} {value}", rule.per);
            let described = rule.describe();
            if count < rule.count
                || open
                    .iter()
                    .any(|a| a.rule == described && a.subject == subject)
            {
                continue;
            }
            let mut action = "alert".to_string();
            if rule.suspend {
                if let Ok(t) = self.set_terminal_state("system", value, "suspended").await {
                    action = format!("alert, terminal {} suspended", t.terminal_no);
                }
            }
            let alert = AlertRecord {
                id: hex::encode(random::bytes(8)?.as_slice()),
                time_ms: now,
                rule: described,
                subject: subject.clone(),
                count,
                action: action.clone(),
                state: "open".into(),
                acked_by: String::new(),
            };
            let audit = AuditEntry::ok("system", "alert.raise", &subject)
                .with("rule", alert.rule.clone())
                .with("action", action);
            // Raised only if no open alert of the rule and subject exists
            // when it commits: two events at once raise one alert.
            match self
                .commit(vec![Write::InsertAlert(alert.clone())], audit)
                .await
            {
                Ok(_) => raised.push(alert),
                Err(Error::Stale(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(raised)
    }

    /// An event reported by a signed-in terminal, with the MAC of
    /// [`super::event_message`] under its session's MAC working key: a
    /// report is believed only from the terminal that holds the session's
    /// keys, not from whoever learnt its token.
    pub async fn report_event(
        &self,
        caller: &super::SignedInTerminal,
        kind: &str,
        card_id: &str,
        detail: &str,
        mac: &[u8],
    ) -> Result<Vec<AlertRecord>> {
        let terminal = &caller.terminal;
        let message = super::event_message(&terminal.terminal_no, kind, card_id, detail);
        if let Err(e) = self.check_terminal_mac(caller, &message, mac).await {
            let entry = AuditEntry::refused(
                &format!("terminal-{}", terminal.terminal_no),
                "event.report",
                &terminal.terminal_no,
                "the MAC does not verify",
            )
            .with("kind", crate::text::bounded(&crate::text::escape(kind), 32));
            return Err(self.refuse(entry, e).await);
        }
        let checked =
            if !card_id.is_empty() && (card_id.len() != 32 || hex::decode(card_id).is_err()) {
                Err(Error::Invalid(
                    "card_id: the 卡识别码 as 32 hex digits".into(),
                ))
            } else if !EVENT_KINDS.contains(&kind) {
                Err(Error::Invalid(format!(
                    "event kind {:?}: one of {}",
                    crate::text::bounded(&crate::text::escape(kind), 32),
                    EVENT_KINDS.join(", ")
                )))
            } else {
                crate::text::check("detail", detail, MAX_DETAIL)
            };
        if let Err(e) = checked {
            let entry = AuditEntry::refused(
                &format!("terminal-{}", terminal.terminal_no),
                "event.report",
                &terminal.terminal_no,
                &crate::text::bounded(&e.to_string(), 200),
            );
            return Err(self.refuse(entry, e).await);
        }
        self.record_event(
            &format!("terminal-{}", terminal.terminal_no),
            NewEvent {
                kind: kind.into(),
                terminal_no: terminal.terminal_no.clone(),
                card_id: card_id.to_ascii_uppercase(),
                institution: terminal.institution.clone(),
                detail: detail.into(),
            },
        )
        .await
    }

    /// The newest events.
    pub async fn list_events(&self, session: &Session, limit: i64) -> Result<Vec<EventRecord>> {
        self.authorize(session, &ops::EVENT_MANAGE).await?;
        self.store.list_events(limit.clamp(1, 10_000)).await
    }

    /// Open alerts.
    pub async fn list_alerts(&self, session: &Session) -> Result<Vec<AlertRecord>> {
        self.authorize(session, &ops::EVENT_MANAGE).await?;
        self.store.list_alerts("open").await
    }

    /// Acknowledges an open alert.
    pub async fn ack_alert(&self, session: &Session, id: &str) -> Result<AlertRecord> {
        self.authorize(session, &ops::EVENT_MANAGE).await?;
        self.audited(session, "alert.ack", id, async {
            let not_open = || Error::NotFound(format!("open alert {id}"));
            let mut alert = self
                .store
                .get_alert(id)
                .await?
                .filter(|a| a.state == "open")
                .ok_or_else(not_open)?;
            alert.state = "acknowledged".into();
            alert.acked_by = session.operator.to_string();
            let audit = AuditEntry::ok(session.operator.as_str(), "alert.ack", &alert.subject)
                .with("alert", id);
            let write = Write::AckAlert {
                id: id.to_string(),
                by: alert.acked_by.clone(),
            };
            match self.commit(vec![write], audit).await {
                Ok(_) => Ok(alert),
                // Acknowledged by someone else at the same moment.
                Err(Error::Stale(_)) => Err(not_open()),
                Err(e) => Err(e),
            }
        })
        .await
    }
}

/// The rules of the stored list (the default rules if none is stored).
fn rules_of(stored: Option<&[u8]>) -> Result<Vec<EventRule>> {
    match stored {
        Some(v) => serde_json::from_slice(v).map_err(|_| Error::Integrity("event rules".into())),
        None => Ok(default_rules()),
    }
}
