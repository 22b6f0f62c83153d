//! The terminal registry and the platform as a small CA: registration,
//! enrollment (a PKCS#10 request from the terminal's own SM2 key, answered
//! with an X.509 certificate signed SM2-with-SM3), suspension and
//! revocation, and sign-in (签到): a single-use challenge signed by the
//! terminal's key, the running software's SM3 hash checked against the
//! allowed versions, and working keys enveloped to the terminal.

use serde::Serialize;
use sscard_gm::sm2::{self, Signature, SignatureFormat, Sm2PublicKey};
use sscard_gm::{kcv, random, x509, BlockAlgorithm, BlockKey};

use super::auth::token_hash;
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
/// How long a sign-in challenge and a terminal session live.
pub const CHALLENGE_TTL_MS: i64 = 2 * 60 * 1000;
/// How long a terminal session lives.
pub const SESSION_TTL_MS: i64 = 8 * 60 * 60 * 1000;
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

/// A working key delivered at sign-in.
#[derive(Debug, Clone, Serialize)]
pub struct WorkingKey {
    /// `pin`, `mac` or `data`.
    pub name: String,
    /// The key as an SM2 envelope to the terminal's key (GM/T 0009 DER, hex).
    pub envelope: String,
    /// Its check value.
    pub kcv: String,
}

/// A successful sign-in.
#[derive(Debug, Clone, Serialize)]
pub struct SigninOutcome {
    /// The session token (terminal's bearer token).
    pub session: String,
    /// Session end, ms.
    pub expires_ms: i64,
    /// Fresh working keys.
    pub working_keys: Vec<WorkingKey>,
    /// The blacklist version the terminal should hold.
    pub blacklist_version: i64,
}

fn check_terminal_no(no: &str) -> Result<()> {
    if no.len() == 12 && no.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::Invalid(format!("terminal number {no:?}: 12 digits")))
    }
}

/// What a terminal signs at sign-in.
pub fn signin_message(terminal_no: &str, nonce: &str, software_hash: &str) -> Vec<u8> {
    format!(
        "sscard-signin/1|{terminal_no}|{nonce}|{}",
        software_hash.to_ascii_lowercase()
    )
    .into_bytes()
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
    async fn terminal(&self, no: &str) -> Result<TerminalRecord> {
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
        check_terminal_no(&new.terminal_no)?;
        if new.serial.is_empty() || new.institution.is_empty() {
            return Err(Error::Invalid(
                "a terminal needs a serial and an institution".into(),
            ));
        }
        if self.store.get_terminal(&new.terminal_no).await?.is_some() {
            return Err(Error::Conflict(format!("terminal {}", new.terminal_no)));
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
        };
        let entry = AuditEntry::ok(
            session.operator.as_str(),
            "terminal.register",
            &record.terminal_no,
        )
        .with("institution", record.institution.clone())
        .with("psam", record.psam.clone());
        self.commit(vec![Write::PutTerminal(record.clone())], entry)
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
        let mut t = self.terminal(no).await?;
        if t.state == "revoked" {
            return Err(Error::Refused(format!("terminal {no} is revoked")));
        }
        let entry = AuditEntry::ok(who, &format!("terminal.{state}"), no)
            .with("from", t.state.clone())
            .with("to", state);
        t.state = state.into();
        t.state_ms = now_ms();
        self.commit(vec![Write::PutTerminal(t.clone())], entry)
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
        if !matches!(state, "suspended" | "active" | "revoked") {
            return Err(Error::Invalid(format!(
                "a terminal is suspended, active or revoked, not {state}"
            )));
        }
        self.set_terminal_state(session.operator.as_str(), no, state)
            .await
    }

    /// The platform's SM2 signing key (created on first use) and its
    /// self-signed CA certificate (made once, kept).
    pub(super) async fn platform_key(&self, session: &Session) -> Result<(KeyBlob, String)> {
        let name = KeyName::parse(PLATFORM_KEY)?;
        if self.store.get_key(&name).await?.is_none() {
            let new = NewKey {
                name: PLATFORM_KEY.into(),
                algorithm: KeyAlgorithm::Sm2,
                usage: KeyUsage::PlatformSigning,
                level: KeyLevel::Province,
                region: Some("000000".into()),
                exportable: false,
                rotate_every_ms: 0,
                activate_ms: 0,
                expire_ms: 0,
            };
            let blob = self.provider.generate(KeyAlgorithm::Sm2)?;
            let (writes, kcv) = self.new_key_writes(&name, &new, &blob)?;
            let entry = AuditEntry::ok(session.operator.as_str(), "key.create", PLATFORM_KEY)
                .with("usage", KeyUsage::PlatformSigning.as_str())
                .with("version", "1")
                .with("kcv", kcv);
            // Two nodes may race here; the loser's insert conflicts and it
            // reads the winner's key.
            match self.commit(writes, entry).await {
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let (_, _, blob) = self
            .use_version(session, &name, None, UseKind::Protect, "platform-sign")
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
                self.commit(
                    vec![Write::PutMeta {
                        key: CA_CERT_META.into(),
                        value: pem.clone().into_bytes(),
                    }],
                    AuditEntry::ok(session.operator.as_str(), "ca.create", CA_NAME),
                )
                .await?;
                pem
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

    /// Enrolls a registered terminal: checks its request's signature and
    /// issues its certificate; the terminal becomes active.
    pub async fn enroll_terminal(
        &self,
        session: &Session,
        no: &str,
        request_der: &[u8],
    ) -> Result<Enrollment> {
        self.authorize(session, &ops::TERMINAL_MANAGE).await?;
        let mut t = self.terminal(no).await?;
        if t.state == "revoked" {
            return Err(Error::Refused(format!("terminal {no} is revoked")));
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
        t.state = "active".into();
        t.state_ms = now_ms();
        let entry = AuditEntry::ok(session.operator.as_str(), "terminal.enroll", no)
            .with("certificate", t.cert_serial.clone())
            .with("subject", subject);
        self.commit(vec![Write::PutTerminal(t.clone())], entry)
            .await?;
        Ok(Enrollment {
            certificate: x509::to_pem("CERTIFICATE", &der)?,
            ca_certificate: ca,
            serial: t.cert_serial,
        })
    }

    /// The published revocation list: an X.509 CRL, signed by the platform
    /// CA, of the certificates of revoked terminals. Anyone may fetch it.
    pub async fn terminal_crl(&self) -> Result<Vec<u8>> {
        self.unsealed()?;
        let session = terminal_session("000000000000")?;
        let (blob, _) = self.platform_key(&session).await?;
        let revoked: Vec<(String, u64)> = self
            .store
            .list_terminals()
            .await?
            .into_iter()
            .filter(|t| t.state == "revoked" && !t.cert_serial.is_empty())
            .map(|t| (t.cert_serial, u64::try_from(t.state_ms / 1000).unwrap_or(0)))
            .collect();
        let now = u64::try_from(now_ms() / 1000).unwrap_or(0);
        let signer = self.ca_signer(&blob);
        let crl = x509::crl(&signer, CA_NAME, &revoked, now, 86_400)?;
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
        if sm3_hex.len() != 64 || hex::decode(sm3_hex).is_err() {
            return Err(Error::Invalid("an SM3 hash is 64 hex digits".into()));
        }
        let mut allowed = self.allowed_software().await?;
        allowed.insert(version.to_string(), sm3_hex.to_ascii_lowercase());
        let value = serde_json::to_vec(&allowed).map_err(|e| Error::Invalid(e.to_string()))?;
        let entry = AuditEntry::ok(
            session.operator.as_str(),
            "terminal.allow-software",
            version,
        )
        .with("sm3", sm3_hex.to_ascii_lowercase());
        self.commit(
            vec![Write::PutMeta {
                key: SOFTWARE_META.into(),
                value,
            }],
            entry,
        )
        .await?;
        Ok(())
    }

    async fn allowed_software(&self) -> Result<std::collections::BTreeMap<String, String>> {
        match self.store.get_meta(SOFTWARE_META).await? {
            Some(v) => {
                serde_json::from_slice(&v).map_err(|_| Error::Integrity("software list".into()))
            }
            None => Ok(Default::default()),
        }
    }

    /// A single-use sign-in challenge for a terminal (no operator needed).
    pub async fn signin_challenge(&self, no: &str) -> Result<String> {
        self.unsealed()?;
        check_terminal_no(no)?;
        let nonce = hex::encode(random::bytes(16)?.as_slice());
        let write = Write::PutNonce {
            nonce: nonce.clone(),
            terminal_no: no.into(),
            expires_ms: now_ms() + CHALLENGE_TTL_MS,
        };
        self.commit(
            vec![write],
            AuditEntry::ok(&format!("terminal-{no}"), "terminal.challenge", no),
        )
        .await?;
        Ok(nonce)
    }

    /// A sign-in refused: audited, and a `signin-failed` (or
    /// `software-integrity`) event, which its rules may act on.
    async fn refuse_signin(
        &self,
        t: Option<&TerminalRecord>,
        no: &str,
        kind: &str,
        reason: &str,
    ) -> Error {
        let institution = t.map(|t| t.institution.clone()).unwrap_or_default();
        let _ = self
            .record_event(
                &format!("terminal-{no}"),
                super::NewEvent {
                    kind: kind.into(),
                    terminal_no: no.into(),
                    card_id: String::new(),
                    institution,
                    detail: reason.into(),
                },
            )
            .await;
        let entry = AuditEntry::refused(&format!("terminal-{no}"), "terminal.signin", no, reason);
        self.refuse(entry, Error::Refused(format!("sign-in refused: {reason}")))
            .await
    }

    /// Sign-in: checks the terminal (enrolled, active, certificate valid),
    /// the challenge (this terminal's, unexpired, unspent), the signature by
    /// the terminal's key, and the software hash; then opens a session and
    /// delivers fresh working keys enveloped to the terminal's key.
    pub async fn signin(
        &self,
        no: &str,
        nonce: &str,
        signature: &[u8],
        software_hash: &str,
    ) -> Result<SigninOutcome> {
        self.unsealed()?;
        let t = match self.store.get_terminal(no).await? {
            Some(t) => t,
            None => {
                return Err(self
                    .refuse_signin(None, no, "signin-failed", "unregistered terminal")
                    .await)
            }
        };
        let reason = match t.state.as_str() {
            "active" if t.cert_expires_ms > now_ms() => None,
            "active" => Some("certificate expired"),
            "registered" => Some("not enrolled"),
            "suspended" => Some("terminal suspended"),
            _ => Some("terminal revoked"),
        };
        if let Some(reason) = reason {
            return Err(self
                .refuse_signin(Some(&t), no, "signin-failed", reason)
                .await);
        }
        match self.store.get_nonce(nonce).await? {
            Some((owner, expires)) if owner == no && expires > now_ms() => {}
            _ => {
                return Err(self
                    .refuse_signin(
                        Some(&t),
                        no,
                        "signin-failed",
                        "unknown, spent or expired challenge",
                    )
                    .await)
            }
        }
        let key = hex::decode(&t.public_key)
            .ok()
            .and_then(|der| Sm2PublicKey::from_pem_or_der(&der).ok())
            .ok_or_else(|| Error::Integrity(format!("terminal {no} key")))?;
        let verified = Signature::parse(signature, SignatureFormat::Der).and_then(|s| {
            sm2::verify(
                &key,
                sm2::DEFAULT_USER_ID,
                &signin_message(no, nonce, software_hash),
                &s,
            )
        });
        if verified.is_err() {
            return Err(self
                .refuse_signin(Some(&t), no, "signin-failed", "signature does not verify")
                .await);
        }
        let allowed = self.allowed_software().await?;
        if !allowed.is_empty()
            && !allowed
                .values()
                .any(|h| h == &software_hash.to_ascii_lowercase())
        {
            return Err(self
                .refuse_signin(
                    Some(&t),
                    no,
                    "software-integrity",
                    "software hash not allowed",
                )
                .await);
        }
        let session = hex::encode(random::bytes(32)?.as_slice());
        let expires_ms = now_ms() + SESSION_TTL_MS;
        let mut working_keys = Vec::new();
        for name in ["pin", "mac", "data"] {
            let bytes = random::bytes(16)?;
            let block = BlockKey::new(BlockAlgorithm::Sm4, &bytes)?;
            working_keys.push(WorkingKey {
                name: name.into(),
                envelope: hex::encode(sm2::encrypt(&key, &bytes, sm2::CiphertextFormat::Der)?),
                kcv: hex::encode(kcv::kcv(&block, 4)?),
            });
        }
        let blacklist_version = self.blacklist_version().await?;
        let writes = vec![
            Write::SpendNonce(nonce.into()),
            Write::PutTerminalSession {
                hash: token_hash(&session),
                terminal_no: no.into(),
                expires_ms,
            },
        ];
        let mut entry = AuditEntry::ok(&format!("terminal-{no}"), "terminal.signin", no)
            .with("blacklist_version", blacklist_version.to_string());
        for k in &working_keys {
            entry = entry.with(&format!("{}_kcv", k.name), k.kcv.clone());
        }
        match self.commit(writes, entry).await {
            Ok(_) => {}
            Err(Error::NotFound(_)) => {
                return Err(self
                    .refuse_signin(
                        Some(&t),
                        no,
                        "signin-failed",
                        "challenge already spent (replay)",
                    )
                    .await)
            }
            Err(e) => return Err(e),
        }
        Ok(SigninOutcome {
            session,
            expires_ms,
            working_keys,
            blacklist_version,
        })
    }

    /// The terminal of a session token, refusing unknown, expired and
    /// sessions of terminals no longer active.
    pub async fn terminal_of_session(&self, token: &str) -> Result<TerminalRecord> {
        self.unsealed()?;
        let (no, expires) = self
            .store
            .get_terminal_session(&token_hash(token))
            .await?
            .ok_or(Error::Unauthenticated("unknown terminal session"))?;
        if expires <= now_ms() {
            return Err(Error::Unauthenticated("terminal session expired"));
        }
        let t = self.terminal(&no).await?;
        if t.state != "active" {
            return Err(Error::Refused(format!("terminal {no} is {}", t.state)));
        }
        Ok(t)
    }
}
