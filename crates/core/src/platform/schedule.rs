//! The key schedule, run by servers on a timer: scheduled rotation, and the
//! activation and expiry dates of NIST SP 800-57 cryptoperiods. Each change
//! is audited as the operator `system`.

use super::Platform;
use crate::audit::AuditEntry;
use crate::key::{KeyState, Transition};
use crate::now_ms;
use crate::store::{KeyField, Write};
use crate::{Error, Result};

impl Platform {
    /// Rotates every active key whose newest version is older than its
    /// period. Servers call this on a timer; returns the keys rotated.
    pub async fn rotate_due_keys(&self) -> Result<Vec<String>> {
        self.unsealed()?;
        let now = now_ms();
        let mut rotated = Vec::new();
        for key in self.store.list_keys().await? {
            if key.rotate_every_ms <= 0 || key.state != KeyState::Active {
                continue;
            }
            let newest = self
                .store
                .key_versions(&key.name)
                .await?
                .last()
                .map_or(0, |v| v.created_ms);
            if now - newest >= key.rotate_every_ms {
                self.rotate_as("system", &key.name, true).await?;
                rotated.push(key.name.to_string());
            }
        }
        Ok(rotated)
    }

    /// Activates pre-active keys whose activation time has come, and
    /// deactivates keys past their expiry (they then only process). Returns
    /// each key changed with its new state.
    pub async fn apply_key_dates(&self) -> Result<Vec<(String, KeyState)>> {
        self.unsealed()?;
        let now = now_ms();
        let mut changed = Vec::new();
        for key in self.store.list_keys().await? {
            let transition = if key.expired_at(now) {
                Transition::Deactivate
            } else if key.state == KeyState::PreActive
                && key.activate_ms > 0
                && now >= key.activate_ms
            {
                Transition::Activate
            } else {
                continue;
            };
            let Some(next) = key.state.apply(transition) else {
                continue;
            };
            let action = format!("key.{}", transition.as_str());
            let entry = AuditEntry::ok("system", &action, key.name.as_str())
                .with("from", key.state.as_str())
                .with("to", next.as_str())
                .with("scheduled", "true");
            let write = Write::UpdateKey {
                name: key.name.clone(),
                expect: vec![KeyField::State(key.state)],
                set: vec![KeyField::State(next)],
                count_use: false,
            };
            match self.commit(vec![write], entry).await {
                Ok(_) => changed.push((key.name.to_string(), next)),
                // An operator changed the key meanwhile: the next run
                // decides again on what it finds then.
                Err(Error::Stale(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(changed)
    }
}
