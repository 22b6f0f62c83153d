//! The terminal registry and the platform as a small CA: registration,
//! enrollment (a PKCS#10 request from the terminal's own SM2 key, answered
//! with an X.509 certificate signed SM2-with-SM3), suspension and
//! revocation, the published CRL and the allowed software versions.
//! Sign-in is in `signin`.

use serde::Serialize;
use sscard_gm::{random, x509};

use super::{ops, NewKey, Platform, Session};
use crate::audit::AuditEntry;
use crate::key::{KeyAlgorithm, KeyLevel, KeyName, KeyUsage, UseKind};
use crate::operator::OperatorName;
use crate::provider::KeyBlob;
use crate::store::Write;
use crate::terminal_records::TerminalRecord;
use crate::{now_ms, Error, Result};

/// The KMS key that signs terminal certificates and blacklists.
pub const PLATFORM_KEY: &str = "platform-signing";
/// The CA's name in certificates.
pub const CA_NAME: &str = "sscard platform CA";
/// How long a terminal certificate is valid.
pub const CERT_DAYS: u64 = 365;
const CA_CERT_META: &str = "platform_ca_cert";
const SOFTWARE_META: &str = "terminal_software";

/// What to register.
#[derive(Debug, Clone)]
pub struct NewTerminal {
    /// Terminal number, 12 digits.
    pub terminal_no: String,
    /// Device serial.
    pub serial: String,
    /// Institution.
    pub institution: String,
    /// Location.
    pub location: String,
    /// Kind (e.g. `counter`, `self-service`, `mobile`).
    pub kind: String,
    /// Terminal number of a bound PSAM.
    pub psam: String,
    /// How it signs in: `sm2` (it enrolls for a certificate) or `mac` (it
    /// is keyed with a terminal master key, for terminals without SM2).
    pub auth: String,
}

/// An enrollment's answer: the certificate and the CA's.
#[derive(Debug, Clone, Serialize)]
pub struct Enrollment {
    /// The terminal's certificate, PEM.
    pub certificate: String,
    /// The platform CA's certificate, PEM (it also verifies blacklists).
    pub ca_certificate: String,
    /// Serial of the terminal's certificate, hex.
    pub serial: String,
}

pub(super) fn check_terminal_no(no: &str) -> Result<()> {
    if no.len() == 12 && no.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "terminal number {:?}: 12 digits",
            crate::text::bounded(no, 16)
        )))
    }
}

/// The session of a terminal acting with its token.
pub fn terminal_session(terminal_no: &str) -> Result<Session> {
    Ok(Session {
        operator: OperatorName::parse(&format!("terminal-{terminal_no}"))?,
        role: None,
        password_change_only: false,
    })
}

impl Platform {
    pub(super) async fn terminal(&self, no: &str) -> Result<TerminalRecord> {
        self.store
            .get_terminal(no)
            .await?
            .ok_or_else(|| Error::NotFound(format!("terminal {no}")))
    }

    /// Registers a terminal (state `registered` until it enrolls).
    pub async fn register_terminal(
        &self,
        session: &Session,
        new: &NewTerminal,
    ) -> Result<TerminalRecord> {
        self.authorize(session, &ops::TERMINAL_MANAGE).await?;
        if let Err(e) = check_new_terminal(new) {
            let target = if check_terminal_no(&new.terminal_no).is_ok() {
                new.terminal_no.clone()
            } else {
                self.audit_hmac(&new.terminal_no)
            };
            let entry = AuditEntry::refused(
                session.operator.as_str(),
                "terminal.register",
                &target,
                &crate::text::bounded(&e.to_string(), 200),
            );
            return Err(self.refuse(entry, e).await);
        }
        if self.store.get_terminal(&new.terminal_no).await?.is_some() {
            let entry = AuditEntry::refused(
                session.operator.as_str(),
                "terminal.register",
                &new.terminal_no,
                "registered already",
            );
            return Err(self
                .refuse(
                    entry,
                    Error::Conflict(format!("terminal {}", new.terminal_no)),
                )
                .await);
        }
        let record = TerminalRecord {
            terminal_no: new.terminal_no.clone(),
            serial: new.serial.clone(),
            institution: new.institution.clone(),
            location: new.location.clone(),
            kind: new.kind.clone(),
            state: "registered".into(),
            psam: new.psam.clone(),
            public_key: String::new(),
            cert_serial: String::new(),
            cert_expires_ms: 0,
            state_ms: now_ms(),
            created_ms: now_ms(),
            auth: new.auth.clone(),
            key_version: 0,
            master_version: 0,
        };
        let entry = AuditEntry::ok(
            session.operator.as_str(),
            "terminal.register",
            &record.terminal_no,
        )
        .with("institution", record.institution.clone())
        .with("auth", record.auth.clone())
        .with("psam", record.psam.clone());
        self.commit(vec![Write::InsertTerminal(record.clone())], entry)
            .await?;
        Ok(record)
    }

    /// Every terminal.
    pub async fn list_terminals(&self, session: &Session) -> Result<Vec<TerminalRecord>> {
        self.authorize(session, &ops::TERMINAL_MANAGE).await?;
        self.store.list_terminals().await
    }

    /// Suspends (`suspended`), reactivates (`active`) or revokes (`revoked`,
    /// for good) a terminal. `who` is an operator or `system` (a rule).
    pub(super) async fn set_terminal_state(
        &self,
        who: &str,
        no: &str,
        state: &str,
    ) -> Result<TerminalRecord> {
        retry_stale!(self, self.set_terminal_state_once(who, no, state))
    }

    async fn set_terminal_state_once(
        &self,
        who: &str,
        no: &str,
        state: &str,
    ) -> Result<TerminalRecord> {
        let mut t = self.terminal(no).await?;
        let before = t.clone();
        if t.state == "revoked" {
            return Err(Error::Refused(format!("terminal {no} is revoked")));
        }
        let entry = AuditEntry::ok(who, &format!("terminal.{state}"), no)
            .with("from", t.state.clone())
            .with("to", state);
        t.state = state.into();
        t.state_ms = now_ms();
        self.commit(vec![Write::update_terminal(before, t.clone())], entry)
            .await?;
        Ok(t)
    }

    /// Moves a terminal to `suspended`, `active` or `revoked`.
    pub async fn terminal_state(
        &self,
        session: &Session,
        no: &str,
        state: &str,
    ) -> Result<TerminalRecord> {
        self.authorize(session, &ops::TERMINAL_MANAGE).await?;
        self.audited(session, &format!("terminal.{state}"), no, async {
            if !matches!(state, "suspended" | "active" | "revoked") {
                return Err(Error::Invalid(format!(
                    "a terminal is suspended, active or revoked, not {state}"
                )));
            }
            self.set_terminal_state(session.operator.as_str(), no, state)
                .await
        })
        .await
    }

    /// A key the platform holds for itself (not exported, no schedule),
    /// created on first use.
    pub(super) async fn own_key(
        &self,
        session: &Session,
        name: &str,
        algorithm: KeyAlgorithm,
        usage: KeyUsage,
    ) -> Result<KeyName> {
        let key_name = KeyName::parse(name)?;
        if let Some(existing) = self.store.get_key(&key_name).await? {
            // Only a key the platform made for this purpose serves it: a key
            // of that name made otherwise (another usage, exportable) would
            // hand the platform's secrets to whoever controls it.
            if existing.algorithm != algorithm || existing.usage != usage || existing.exportable {
                return Err(Error::Integrity(format!(
                    "key {name} is not the platform's own ({} {}, exportable {}): it is not used",
                    existing.algorithm.as_str(),
                    existing.usage.as_str(),
                    existing.exportable
                )));
            }
            return Ok(key_name);
        }
        let new = NewKey {
            name: name.into(),
            algorithm,
            usage,
            level: KeyLevel::Province,
            region: Some("000000".into()),
            exportable: false,
            rotate_every_ms: 0,
            activate_ms: 0,
            expire_ms: 0,
        };
        let blob = self.provider.generate(algorithm)?;
        let (writes, kcv) = self.new_key_writes(&key_name, &new, &blob)?;
        let entry = AuditEntry::ok(session.operator.as_str(), "key.create", name)
            .with("usage", usage.as_str())
            .with("version", "1")
            .with("kcv", kcv);
        // Two nodes may race here; the loser's insert conflicts and it
        // uses the winner's key.
        match self.commit(writes, entry).await {
            Ok(_) | Err(Error::Conflict(_)) => Ok(key_name),
            Err(e) => Err(e),
        }
    }

    /// The platform's SM2 signing key (created on first use) and its
    /// self-signed CA certificate (made once, kept).
    pub(super) async fn platform_key(&self, session: &Session) -> Result<(KeyBlob, String)> {
        let name = self
            .own_key(
                session,
                PLATFORM_KEY,
                KeyAlgorithm::Sm2,
                KeyUsage::PlatformSigning,
            )
            .await?;
        let (_, _, blob) = self
            .use_version(session, &name, None, UseKind::Protect, "platform.sign")
            .await?;
        let ca = match self.store.get_meta(CA_CERT_META).await? {
            Some(pem) => {
                String::from_utf8(pem).map_err(|_| Error::Integrity("CA certificate".into()))?
            }
            None => {
                let now = u64::try_from(now_ms() / 1000).unwrap_or(0);
                let der = x509::issue(
                    &self.ca_signer(&blob),
                    CA_NAME,
                    CA_NAME,
                    &self.provider.public_key(&blob)?,
                    &[1],
                    now,
                    now + 20 * 365 * 86_400,
                    true,
                )?;
                let pem = x509::to_pem("CERTIFICATE", &der)?;
                let made = self
                    .commit(
                        vec![Write::InsertMeta {
                            key: CA_CERT_META.into(),
                            value: pem.clone().into_bytes(),
                        }],
                        AuditEntry::ok(session.operator.as_str(), "ca.create", CA_NAME),
                    )
                    .await;
                match made {
                    Ok(_) => pem,
                    // Another request made it at the same moment: use that one.
                    Err(Error::Stale(_)) => String::from_utf8(
                        self.store
                            .get_meta(CA_CERT_META)
                            .await?
                            .ok_or_else(|| Error::Integrity("CA certificate".into()))?,
                    )
                    .map_err(|_| Error::Integrity("CA certificate".into()))?,
                    Err(e) => return Err(e),
                }
            }
        };
        Ok((blob, ca))
    }

    /// The CA's signer: the provider signs, so the platform key never
    /// leaves it (an HSM signs certificates and lists in place).
    fn ca_signer<'a>(
        &'a self,
        blob: &'a KeyBlob,
    ) -> impl Fn(&[u8]) -> sscard_gm::Result<Vec<u8>> + 'a {
        move |data| {
            self.provider
                .sign(blob, data)
                .map_err(|_| sscard_gm::Error::Encoding("a signature of the platform key"))
        }
    }

    /// Enrolls a terminal: checks its request's signature and issues its
    /// certificate; a registered terminal becomes active.
    pub async fn enroll_terminal(
        &self,
        session: &Session,
        no: &str,
        request_der: &[u8],
    ) -> Result<Enrollment> {
        self.authorize(session, &ops::TERMINAL_MANAGE).await?;
        self.audited(session, "terminal.enroll", no, async {
            retry_stale!(self, self.enroll_terminal_once(session, no, request_der))
        })
        .await
    }

    async fn enroll_terminal_once(
        &self,
        session: &Session,
        no: &str,
        request_der: &[u8],
    ) -> Result<Enrollment> {
        let mut t = self.terminal(no).await?;
        let before = t.clone();
        if t.state == "revoked" {
            return Err(Error::Refused(format!("terminal {no} is revoked")));
        }
        if t.auth != "sm2" {
            return Err(Error::Refused(format!(
                "terminal {no} signs in by MAC: it is keyed (terminal key), not enrolled"
            )));
        }
        let (subject, key) = x509::parse_request(request_der)
            .map_err(|e| Error::Invalid(format!("the certificate request: {e}")))?;
        let (blob, ca) = self.platform_key(session).await?;
        let serial = random::bytes(8)?;
        let mut serial = serial.to_vec();
        if let Some(first) = serial.first_mut() {
            *first &= 0x7F;
            *first |= 0x10;
        }
        let now = u64::try_from(now_ms() / 1000).unwrap_or(0);
        let not_after = now + CERT_DAYS * 86_400;
        let der = x509::issue(
            &self.ca_signer(&blob),
            CA_NAME,
            &subject,
            &key,
            &serial,
            now,
            not_after,
            false,
        )?;
        t.public_key = hex::encode(key.to_spki_der()?);
        t.cert_serial = hex::encode_upper(&serial);
        t.cert_expires_ms = i64::try_from(not_after * 1000).unwrap_or(i64::MAX);
        // A first key makes a registered terminal active; a suspended one
        // stays suspended until an operator activates it.
        if t.state == "registered" {
            t.state = "active".into();
            t.state_ms = now_ms();
        }
        let entry = AuditEntry::ok(session.operator.as_str(), "terminal.enroll", no)
            .with("certificate", t.cert_serial.clone())
            .with("subject", subject);
        self.commit(vec![Write::update_terminal(before, t.clone())], entry)
            .await?;
        Ok(Enrollment {
            certificate: x509::to_pem("CERTIFICATE", &der)?,
            ca_certificate: ca,
            serial: t.cert_serial,
        })
    }

    /// The published revocation list: an X.509 CRL, signed by the platform
    /// CA, of the certificates of revoked terminals. Anyone may fetch it.
    /// Its CRL number is the time (ms) of the newest revocation: revocation
    /// is final, so the number rises with every change of the list and
    /// stays while the list stays, and a holder of a newer list can refuse
    /// an older one.
    pub async fn terminal_crl(&self) -> Result<Vec<u8>> {
        self.unsealed()?;
        let session = terminal_session("000000000000")?;
        let (blob, _) = self.platform_key(&session).await?;
        let revoked: Vec<TerminalRecord> = self
            .store
            .list_terminals()
            .await?
            .into_iter()
            .filter(|t| t.state == "revoked" && !t.cert_serial.is_empty())
            .collect();
        let number = revoked
            .iter()
            .map(|t| u64::try_from(t.state_ms).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let revoked: Vec<(String, u64)> = revoked
            .into_iter()
            .map(|t| (t.cert_serial, u64::try_from(t.state_ms / 1000).unwrap_or(0)))
            .collect();
        let now = u64::try_from(now_ms() / 1000).unwrap_or(0);
        let signer = self.ca_signer(&blob);
        let crl = x509::crl(&signer, CA_NAME, &revoked, now, 86_400, number)?;
        Ok(crl)
    }

    /// Registers an allowed terminal software version by its SM3 hash.
    pub async fn allow_software(
        &self,
        session: &Session,
        version: &str,
        sm3_hex: &str,
    ) -> Result<()> {
        self.authorize(session, &ops::TERMINAL_MANAGE).await?;
        self.audited(session, "terminal.allow-software", version, async {
            crate::text::check("version", version, 64)?;
            if sm3_hex.len() != 64 || hex::decode(sm3_hex).is_err() {
                return Err(Error::Invalid("an SM3 hash is 64 hex digits".into()));
            }
            retry_stale!(self, self.allow_software_once(session, version, sm3_hex))
        })
        .await
    }

    async fn allow_software_once(
        &self,
        session: &Session,
        version: &str,
        sm3_hex: &str,
    ) -> Result<()> {
        let read = self.store.get_meta(SOFTWARE_META).await?;
        let mut allowed = software_list(read.as_deref())?;
        allowed.insert(version.to_string(), sm3_hex.to_ascii_lowercase());
        let value = serde_json::to_vec(&allowed).map_err(|e| Error::Invalid(e.to_string()))?;
        let entry = AuditEntry::ok(
            session.operator.as_str(),
            "terminal.allow-software",
            version,
        )
        .with("sm3", sm3_hex.to_ascii_lowercase());
        self.commit(
            vec![
                Write::ExpectMeta {
                    key: SOFTWARE_META.into(),
                    value: read,
                },
                Write::PutMeta {
                    key: SOFTWARE_META.into(),
                    value,
                },
            ],
            entry,
        )
        .await?;
        Ok(())
    }

    pub(super) async fn allowed_software(
        &self,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        software_list(self.store.get_meta(SOFTWARE_META).await?.as_deref())
    }
}

/// The allowed software versions of the stored list (none if none is stored).
fn software_list(stored: Option<&[u8]>) -> Result<std::collections::BTreeMap<String, String>> {
    match stored {
        Some(v) => serde_json::from_slice(v).map_err(|_| Error::Integrity("software list".into())),
        None => Ok(Default::default()),
    }
}

/// The longest serial of a terminal, in characters.
pub const MAX_SERIAL: usize = 64;
/// The longest institution or location of a terminal, in characters.
pub const MAX_PLACE: usize = 128;
/// The longest kind of a terminal, in characters.
pub const MAX_KIND: usize = 32;

/// Checks what a new terminal is registered with: its number, a serial and
/// an institution (free text, bounded, no control characters), a location
/// and kind (the same, may be empty), a bound PSAM's terminal number (12
/// digits, or none), and how it signs in.
fn check_new_terminal(new: &NewTerminal) -> Result<()> {
    check_terminal_no(&new.terminal_no)?;
    if new.serial.is_empty() || new.institution.is_empty() {
        return Err(Error::Invalid(
            "a terminal needs a serial and an institution".into(),
        ));
    }
    crate::text::check("serial", &new.serial, MAX_SERIAL)?;
    crate::text::check("institution", &new.institution, MAX_PLACE)?;
    crate::text::check("location", &new.location, MAX_PLACE)?;
    crate::text::check("kind", &new.kind, MAX_KIND)?;
    if !new.psam.is_empty() {
        check_terminal_no(&new.psam)
            .map_err(|_| Error::Invalid("psam: a PSAM's terminal number, 12 digits".into()))?;
    }
    if !matches!(new.auth.as_str(), "sm2" | "mac") {
        return Err(Error::Invalid(format!(
            "a terminal signs in by sm2 or mac, not {:?}",
            crate::text::bounded(&crate::text::escape(&new.auth), 16)
        )));
    }
    Ok(())
}
