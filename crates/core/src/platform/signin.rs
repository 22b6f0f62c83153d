//! Sign-in (签到) and sign-out of terminals.
//!
//! A terminal asks for a single-use challenge, then proves itself over
//! `sscard-signin/1|<no>|<nonce>|<software SM3>`: an SM2 signature by its
//! certificate's key, or — for terminals without SM2 — an SM4 CBC-MAC
//! (ISO/IEC 9797-1 algorithm 1, padding method 2, all 16 bytes) under its
//! terminal master key (TMK). The running software's hash is checked
//! against the allowed versions. On success it gets a session and three
//! working keys (PIN, MAC, data): enveloped to its SM2 key, or encrypted
//! under its TMK (SM4 ECB), each with its check value.
//!
//! The platform stores no working key: it derives them from its terminal
//! master (`terminal-master`, SM4, in the provider; the version newest at
//! sign-in, which the session records) through the terminal, the session
//! and the key's name, so it can derive them again for the session's life,
//! across a rotation of the master — the MAC of a terminal's event reports
//! is checked that way — and nothing of them lands in the store. A TMK is derived the same
//! way from the terminal and its keying count, in another domain.

use serde::Serialize;
use sscard_gm::sm2::{Signature, SignatureFormat, Sm2PublicKey};
use sscard_gm::{random, sm2};
use zeroize::Zeroizing;

use super::auth::token_hash;
use super::flood::Source;
use super::terminals::check_terminal_no;
use super::{ops, CardOperation, Platform, Session};
use crate::audit::AuditEntry;
use crate::key::{KeyAlgorithm, KeyUsage, UseKind};
use crate::provider::KeyBlob;
use crate::store::Write;
use crate::terminal_records::{TerminalRecord, TerminalSessionRecord};
use crate::{now_ms, Error, Result};

/// The KMS key that terminal master keys and working keys come from.
pub const TERMINAL_MASTER: &str = "terminal-master";
/// How long a sign-in challenge lives.
pub const CHALLENGE_TTL_MS: i64 = 2 * 60 * 1000;
/// How long a terminal session lives.
pub const SESSION_TTL_MS: i64 = 8 * 60 * 60 * 1000;
/// Unspent challenges one terminal may hold at once, asked from one
/// address: a terminal needs one; more is a caller filling the store. The
/// limit is per address so that nobody can use up another's challenges.
pub const MAX_LIVE_CHALLENGES: i64 = 3;
/// Bytes of a sign-in or event MAC: the whole SM4 block, so that a
/// shortened MAC is never accepted.
pub const MAC_LEN: usize = 16;
/// The working keys every sign-in delivers.
pub const WORKING_KEYS: [&str; 3] = ["pin", "mac", "data"];

/// Diversification domains: the first byte of a terminal's factor.
const TMK_DOMAIN: u8 = 0x54;
const WORKING_DOMAIN: u8 = 0x57;

/// A working key delivered at sign-in.
#[derive(Debug, Clone, Serialize)]
pub struct WorkingKey {
    /// `pin`, `mac` or `data`.
    pub name: String,
    /// SM2 terminals: the key as an SM2 envelope to the terminal's key
    /// (GM/T 0009 DER, hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    /// MAC terminals: the key encrypted under the terminal master key
    /// (SM4 ECB, hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapped: Option<String>,
    /// Its check value.
    pub kcv: String,
}

/// A successful sign-in.
#[derive(Clone, Serialize)]
pub struct SigninOutcome {
    /// The session token (terminal's bearer token).
    pub session: String,
    /// Session end, ms.
    pub expires_ms: i64,
    /// Fresh working keys.
    pub working_keys: Vec<WorkingKey>,
    /// The blacklist version the terminal should hold.
    pub blacklist_version: i64,
    /// The terminal number of the PSAM bound to the terminal (empty: none);
    /// the terminal refuses to work with another.
    pub psam: String,
    /// Operating parameters: the platform's clock (`server_time_ms`, to
    /// set the terminal's), the session's and a challenge's lifetimes in
    /// seconds, and the most challenges a terminal may hold.
    pub parameters: std::collections::BTreeMap<String, i64>,
}

impl core::fmt::Debug for SigninOutcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigninOutcome")
            .field("session", &"<secret>")
            .field("expires_ms", &self.expires_ms)
            .field("working_keys", &self.working_keys)
            .field("blacklist_version", &self.blacklist_version)
            .field("psam", &self.psam)
            .field("parameters", &self.parameters)
            .finish()
    }
}

/// A terminal with a live session, as a request's caller.
#[derive(Debug, Clone)]
pub struct SignedInTerminal {
    /// The terminal.
    pub terminal: TerminalRecord,
    /// SM3 of its session token, hex: the working keys' derivation input.
    session_hash: String,
    /// The terminal master version the working keys come from.
    master_version: i64,
}

/// A MAC terminal's key, given once when it is keyed.
pub struct TerminalKeying {
    /// The terminal master key, hex.
    pub key: Zeroizing<String>,
    /// Its check value.
    pub kcv: String,
    /// How many times the terminal has been keyed, this one included.
    pub key_version: i64,
    /// The platform CA's certificate, PEM: it verifies blacklists.
    pub ca_certificate: String,
}

impl core::fmt::Debug for TerminalKeying {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TerminalKeying")
            .field("key", &"<secret>")
            .field("kcv", &self.kcv)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// What a terminal signs or MACs at sign-in.
pub fn signin_message(terminal_no: &str, nonce: &str, software_hash: &str) -> Vec<u8> {
    format!(
        "sscard-signin/1|{terminal_no}|{nonce}|{}",
        software_hash.to_ascii_lowercase()
    )
    .into_bytes()
}

/// What a terminal MACs, with its session's MAC key, when it reports an event.
pub fn event_message(terminal_no: &str, kind: &str, card_id: &str, detail: &str) -> Vec<u8> {
    format!(
        "sscard-event/1|{terminal_no}|{kind}|{}|{detail}",
        card_id.to_ascii_uppercase()
    )
    .into_bytes()
}

/// The factor of a terminal in a domain: domain, the number in BCD, a count.
fn terminal_factor(domain: u8, no: &str, count: i64) -> Result<[u8; 8]> {
    let digits = sscard_card::profile::bcd(no)
        .filter(|b| no.len() == 12 && b.len() == 6)
        .ok_or_else(|| Error::Invalid(format!("terminal number {no:?}: 12 digits")))?;
    let count = u8::try_from(count)
        .map_err(|_| Error::Refused(format!("terminal {no} was keyed too often")))?;
    let mut factor = [0u8; 8];
    factor[0] = domain;
    factor[1..7].copy_from_slice(&digits);
    factor[7] = count;
    Ok(factor)
}

/// The session's factor: the leftmost 8 bytes of its token's SM3.
fn session_factor(session_hash: &str) -> Result<[u8; 8]> {
    hex::decode(session_hash.get(..16).unwrap_or_default())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Integrity("terminal session hash".into()))
}

/// A working key's name as a factor, zero-padded.
fn name_factor(name: &str) -> [u8; 8] {
    let mut factor = [0u8; 8];
    for (slot, byte) in factor.iter_mut().zip(name.bytes()) {
        *slot = byte;
    }
    factor
}

/// An SM2 terminal's public key, as enrolled.
fn terminal_public_key(t: &TerminalRecord) -> Result<Sm2PublicKey> {
    hex::decode(&t.public_key)
        .ok()
        .and_then(|der| Sm2PublicKey::from_pem_or_der(&der).ok())
        .ok_or_else(|| Error::Integrity(format!("terminal {} key", t.terminal_no)))
}

/// The derivation path of a session's working key under the terminal
/// master: the terminal (working-key domain), the session, the key's name.
fn working_key_path(no: &str, session_hash: &str, name: &str) -> Result<[[u8; 8]; 3]> {
    Ok([
        terminal_factor(WORKING_DOMAIN, no, 0)?,
        session_factor(session_hash)?,
        name_factor(name),
    ])
}

impl Platform {
    /// The terminal master (created on first use) at `version` (default:
    /// the newest), and the version taken.
    async fn terminal_master(
        &self,
        session: &Session,
        version: Option<i64>,
        kind: UseKind,
    ) -> Result<(KeyBlob, i64)> {
        let name = self
            .own_key(
                session,
                TERMINAL_MASTER,
                KeyAlgorithm::Sm4,
                KeyUsage::TerminalMaster,
            )
            .await?;
        let (_, chosen, blob) = self
            .use_version(session, &name, version, kind, "terminal.key")
            .await?;
        Ok((blob, chosen.version))
    }

    /// Keys a MAC terminal: derives its next terminal master key, which is
    /// given once (to load into the terminal) and afterwards only derived
    /// again inside the provider. A registered terminal becomes active; an
    /// earlier key, if any, no longer signs in.
    pub async fn key_terminal(&self, session: &Session, no: &str) -> Result<TerminalKeying> {
        self.authorize(session, &ops::TERMINAL_MANAGE).await?;
        self.audited(session, "terminal.key", no, async {
            retry_stale!(self, self.key_terminal_once(session, no))
        })
        .await
    }

    async fn key_terminal_once(&self, session: &Session, no: &str) -> Result<TerminalKeying> {
        let mut t = self.terminal(no).await?;
        let before = t.clone();
        if t.state == "revoked" {
            return Err(Error::Refused(format!("terminal {no} is revoked")));
        }
        if t.auth != "mac" {
            return Err(Error::Refused(format!(
                "terminal {no} signs in by SM2: it enrolls for a certificate, it is not keyed"
            )));
        }
        let (_, ca_certificate) = self.platform_key(session).await?;
        let (master, master_version) = self
            .terminal_master(session, None, UseKind::Protect)
            .await?;
        let key_version = t.key_version + 1;
        let factor = terminal_factor(TMK_DOMAIN, no, key_version)?;
        let tmk = self
            .provider
            .derive(KeyAlgorithm::Sm4, &master, &[&factor])?;
        let kcv = self.provider.check_value(KeyAlgorithm::Sm4, &tmk)?;
        t.key_version = key_version;
        t.master_version = master_version;
        // A MAC key has no certificate; its lifetime is a certificate's.
        t.cert_expires_ms =
            now_ms() + i64::try_from(super::terminals::CERT_DAYS).unwrap_or(0) * 86_400_000;
        // A first key makes a registered terminal active; a suspended one
        // stays suspended until an operator activates it.
        if t.state == "registered" {
            t.state = "active".into();
            t.state_ms = now_ms();
        }
        let entry = AuditEntry::ok(session.operator.as_str(), "terminal.key", no)
            .with("key_version", key_version.to_string())
            .with("kcv", kcv.clone());
        self.commit(vec![Write::update_terminal(before, t)], entry)
            .await?;
        Ok(TerminalKeying {
            key: Zeroizing::new(hex::encode_upper(tmk.as_bytes())),
            kcv,
            key_version,
            ca_certificate,
        })
    }

    /// A single-use sign-in challenge for a registered terminal (no operator
    /// needed). An unregistered or revoked terminal is refused as its
    /// sign-in would be (audited, an event); a registered one holds at most
    /// [`MAX_LIVE_CHALLENGES`] live challenges, so that asking without
    /// signing in cannot pile them up.
    pub async fn signin_challenge(&self, no: &str) -> Result<String> {
        self.signin_challenge_from(no, &Source::local()).await
    }

    /// [`Self::signin_challenge`] for a caller at `source`: refusals that
    /// cost the caller nothing are counted per source (see
    /// [`super::flood`]).
    pub async fn signin_challenge_from(&self, no: &str, source: &Source) -> Result<String> {
        self.unsealed()?;
        if let Err(e) = check_terminal_no(no) {
            let entry = AuditEntry::refused(
                "anonymous",
                "terminal.challenge",
                &self.audit_hmac(no),
                "not a terminal number",
            );
            return Err(self.refuse_unauthenticated(entry, source, e).await);
        }
        match self.store.get_terminal(no).await? {
            Some(t) if t.state == "revoked" => {
                return Err(self
                    .refuse_signin(
                        Some(&t),
                        no,
                        "signin-failed",
                        "terminal revoked",
                        None,
                        source,
                    )
                    .await)
            }
            Some(_) => {}
            None => {
                return Err(self
                    .refuse_signin(
                        None,
                        no,
                        "signin-failed",
                        "unregistered terminal",
                        None,
                        source,
                    )
                    .await)
            }
        }
        let too_many = || {
            Error::TooManyRequests(format!(
                "terminal {no} holds {MAX_LIVE_CHALLENGES} unspent challenges; sign in with one or wait {} s",
                CHALLENGE_TTL_MS / 1000
            ))
        };
        let refused_for_many = AuditEntry::refused(
            &format!("terminal-{no}"),
            "terminal.challenge",
            no,
            "too many unanswered challenges",
        );
        if self
            .store
            .count_live_nonces(no, source.as_str(), now_ms())
            .await?
            >= MAX_LIVE_CHALLENGES
        {
            return Err(self
                .refuse_unauthenticated(refused_for_many, source, too_many())
                .await);
        }
        let nonce = hex::encode(random::bytes(16)?.as_slice());
        // The limit is checked again inside the commit, so that concurrent
        // requests cannot pass it together.
        let now = now_ms();
        let write = Write::PutNonce {
            nonce: nonce.clone(),
            terminal_no: no.into(),
            source: source.as_str().into(),
            expires_ms: now + CHALLENGE_TTL_MS,
            now_ms: now,
            max_live: MAX_LIVE_CHALLENGES,
        };
        match self
            .commit(
                vec![write],
                AuditEntry::ok(&format!("terminal-{no}"), "terminal.challenge", no),
            )
            .await
        {
            Ok(_) => Ok(nonce),
            Err(Error::TooManyRequests(_)) => Err(self
                .refuse_unauthenticated(refused_for_many, source, too_many())
                .await),
            Err(e) => Err(e),
        }
    }

    /// A sign-in refused: audited, and a `signin-failed` (or
    /// `software-integrity`) event, which its rules may act on. A challenge
    /// that was answered (`spent`) is used up with the refusal: single-use
    /// means one answer, right or wrong.
    async fn refuse_signin(
        &self,
        t: Option<&TerminalRecord>,
        no: &str,
        kind: &str,
        reason: &str,
        spent: Option<&str>,
        source: &Source,
    ) -> Error {
        let entry = AuditEntry::refused(&format!("terminal-{no}"), "terminal.signin", no, reason);
        let error = Error::Refused(format!("sign-in refused: {reason}"));
        // Nothing stored of the terminal (its institution, …) is copied into
        // a refusal: the caller is not authenticated.
        let event = super::NewEvent {
            kind: kind.into(),
            terminal_no: no.into(),
            card_id: String::new(),
            institution: String::new(),
            detail: reason.into(),
        };
        let Some(nonce) = spent else {
            // No challenge was spent: the refusal cost the caller nothing,
            // so its repeats are counted, and its event is recorded with the
            // refusal's record only.
            if self.refusal_is_due(&entry, error.code_and_status().0, source) {
                let _ = self.record_event(&format!("terminal-{no}"), event).await;
            }
            let _ = t;
            return self.refuse_unauthenticated(entry, source, error).await;
        };
        let entry = entry.with("source", source.as_str());
        // The answer that spends the challenge raises the event; answers to
        // a challenge a concurrent one spent already are refused as spent,
        // with their record and no event of their own.
        match self
            .commit(vec![Write::SpendNonce(nonce.into())], entry.clone())
            .await
        {
            Ok(_) => {
                let _ = self.record_event(&format!("terminal-{no}"), event).await;
                return error;
            }
            Err(Error::NotFound(_)) => {}
            Err(e) => return e,
        }
        let entry = entry.with("challenge", "spent already");
        self.refuse(entry, error).await
    }

    /// Whether `proof` over `message` comes from the terminal: its SM2
    /// signature (DER), or the full MAC under its terminal master key.
    async fn proof_holds(&self, t: &TerminalRecord, message: &[u8], proof: &[u8]) -> Result<bool> {
        if t.auth == "mac" {
            if proof.len() != MAC_LEN {
                return Ok(false);
            }
            let session = super::terminal_session(&t.terminal_no)?;
            let (master, _) = self
                .terminal_master(&session, Some(t.master_version), UseKind::Process)
                .await?;
            let factor = terminal_factor(TMK_DOMAIN, &t.terminal_no, t.key_version)?;
            let check = CardOperation::VerifyMac {
                iv: None,
                mac: proof.to_vec(),
            };
            return Ok(self
                .provider
                .card_compute(KeyAlgorithm::Sm4, &master, &[&factor], &check, message)
                .is_ok());
        }
        let key = terminal_public_key(t)?;
        Ok(Signature::parse(proof, SignatureFormat::Der)
            .and_then(|s| sm2::verify(&key, sm2::DEFAULT_USER_ID, message, &s))
            .is_ok())
    }

    /// Sign-in: checks the terminal (registered, keyed or enrolled, active,
    /// its key in date), the challenge (this terminal's, unexpired,
    /// unspent), the proof by the terminal's key, and the software hash;
    /// then opens a session and delivers its working keys.
    pub async fn signin(
        &self,
        no: &str,
        nonce: &str,
        proof: &[u8],
        software_hash: &str,
    ) -> Result<SigninOutcome> {
        self.signin_from(no, nonce, proof, software_hash, &Source::local())
            .await
    }

    /// [`Self::signin`] for a caller at `source`.
    pub async fn signin_from(
        &self,
        no: &str,
        nonce: &str,
        proof: &[u8],
        software_hash: &str,
        source: &Source,
    ) -> Result<SigninOutcome> {
        self.unsealed()?;
        if let Err(e) = check_terminal_no(no) {
            // Nothing of a malformed number is recorded but its HMAC.
            let entry = AuditEntry::refused(
                "anonymous",
                "terminal.signin",
                &self.audit_hmac(no),
                "not a terminal number",
            );
            return Err(self.refuse_unauthenticated(entry, source, e).await);
        }
        let t = match self.store.get_terminal(no).await? {
            Some(t) => t,
            None => {
                return Err(self
                    .refuse_signin(
                        None,
                        no,
                        "signin-failed",
                        "unregistered terminal",
                        None,
                        source,
                    )
                    .await)
            }
        };
        let reason = match t.state.as_str() {
            "active" if t.cert_expires_ms > now_ms() => None,
            "active" if t.auth == "mac" => Some("terminal key expired"),
            "active" => Some("certificate expired"),
            "registered" => Some("not enrolled"),
            "suspended" => Some("terminal suspended"),
            _ => Some("terminal revoked"),
        };
        if let Some(reason) = reason {
            return Err(self
                .refuse_signin(Some(&t), no, "signin-failed", reason, None, source)
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
                        None,
                        source,
                    )
                    .await)
            }
        }
        let message = signin_message(no, nonce, software_hash);
        if !self.proof_holds(&t, &message, proof).await? {
            let reason = if t.auth == "mac" {
                "MAC does not verify"
            } else {
                "signature does not verify"
            };
            return Err(self
                .refuse_signin(Some(&t), no, "signin-failed", reason, Some(nonce), source)
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
                    Some(nonce),
                    source,
                )
                .await);
        }
        let session = Zeroizing::new(hex::encode(random::bytes(32)?.as_slice()));
        let hash = token_hash(&session);
        let expires_ms = now_ms() + SESSION_TTL_MS;
        let (working_keys, master_version) = self.deliver_working_keys(&t, &hash).await?;
        let blacklist_version = self.blacklist_version().await?;
        let writes = vec![
            Write::SpendNonce(nonce.into()),
            Write::PutTerminalSession(TerminalSessionRecord {
                hash,
                terminal_no: no.into(),
                expires_ms,
                master_version,
            }),
        ];
        let mut entry = AuditEntry::ok(&format!("terminal-{no}"), "terminal.signin", no)
            .with("auth", t.auth.clone())
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
                        None,
                        source,
                    )
                    .await)
            }
            Err(e) => return Err(e),
        }
        let parameters = [
            ("server_time_ms", now_ms()),
            ("session_seconds", SESSION_TTL_MS / 1000),
            ("challenge_seconds", CHALLENGE_TTL_MS / 1000),
            ("max_live_challenges", MAX_LIVE_CHALLENGES),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Ok(SigninOutcome {
            session: session.to_string(),
            expires_ms,
            working_keys,
            blacklist_version,
            psam: t.psam.clone(),
            parameters,
        })
    }

    /// A working key of a session, derived in the provider from the
    /// newest terminal master.
    fn working_key(
        &self,
        master: &KeyBlob,
        no: &str,
        session_hash: &str,
        name: &str,
    ) -> Result<KeyBlob> {
        let path = working_key_path(no, session_hash, name)?;
        self.provider.derive(
            KeyAlgorithm::Sm4,
            master,
            &path.each_ref().map(|f| f.as_slice()),
        )
    }

    /// The session's working keys, each protected for the terminal, and the
    /// version of the terminal master they come from (the newest).
    async fn deliver_working_keys(
        &self,
        t: &TerminalRecord,
        session_hash: &str,
    ) -> Result<(Vec<WorkingKey>, i64)> {
        let session = super::terminal_session(&t.terminal_no)?;
        let (master, master_version) = self
            .terminal_master(&session, None, UseKind::Protect)
            .await?;
        // What protects the keys for the terminal: its TMK (derived from
        // the master version it was keyed under), or its SM2 key.
        enum Protection {
            UnderTmk(KeyBlob),
            Envelope(Sm2PublicKey),
        }
        let protection = if t.auth == "mac" {
            let (keyed, _) = self
                .terminal_master(&session, Some(t.master_version), UseKind::Protect)
                .await?;
            Protection::UnderTmk(keyed)
        } else {
            Protection::Envelope(terminal_public_key(t)?)
        };
        let tmk_factor = terminal_factor(TMK_DOMAIN, &t.terminal_no, t.key_version)?;
        let mut out = Vec::new();
        for name in WORKING_KEYS {
            let key = self.working_key(&master, &t.terminal_no, session_hash, name)?;
            let kcv = self.provider.check_value(KeyAlgorithm::Sm4, &key)?;
            let (envelope, wrapped) = match &protection {
                Protection::UnderTmk(keyed) => {
                    let wrapped = self.provider.card_compute(
                        KeyAlgorithm::Sm4,
                        keyed,
                        &[&tmk_factor],
                        &CardOperation::EncryptBlocks,
                        key.as_bytes(),
                    )?;
                    (None, Some(hex::encode_upper(wrapped)))
                }
                Protection::Envelope(to) => {
                    (Some(hex::encode(self.provider.envelope(&key, to)?)), None)
                }
            };
            out.push(WorkingKey {
                name: name.into(),
                envelope,
                wrapped,
                kcv,
            });
        }
        Ok((out, master_version))
    }

    /// The terminal master version a session's working keys come from.
    async fn session_master(&self, caller: &SignedInTerminal) -> Result<KeyBlob> {
        let session = super::terminal_session(&caller.terminal.terminal_no)?;
        let (master, _) = self
            .terminal_master(&session, Some(caller.master_version), UseKind::Process)
            .await?;
        Ok(master)
    }

    /// The check values of a live session's working keys, derived again:
    /// what the platform holds of them.
    pub async fn working_key_check_values(
        &self,
        caller: &SignedInTerminal,
    ) -> Result<Vec<(String, String)>> {
        let t = &caller.terminal;
        let master = self.session_master(caller).await?;
        let mut out = Vec::new();
        for name in WORKING_KEYS {
            let key = self.working_key(&master, &t.terminal_no, &caller.session_hash, name)?;
            out.push((
                name.into(),
                self.provider.check_value(KeyAlgorithm::Sm4, &key)?,
            ));
        }
        Ok(out)
    }

    /// Checks the MAC of a message from a signed-in terminal under its
    /// session's MAC working key (full block, constant time).
    pub async fn check_terminal_mac(
        &self,
        caller: &SignedInTerminal,
        message: &[u8],
        mac: &[u8],
    ) -> Result<()> {
        let t = &caller.terminal;
        let refused = || {
            Error::Refused(format!(
                "terminal {}: the MAC does not verify",
                t.terminal_no
            ))
        };
        if mac.len() != MAC_LEN {
            return Err(refused());
        }
        let master = self.session_master(caller).await?;
        let path = working_key_path(&t.terminal_no, &caller.session_hash, "mac")?;
        let check = CardOperation::VerifyMac {
            iv: None,
            mac: mac.to_vec(),
        };
        self.provider
            .card_compute(
                KeyAlgorithm::Sm4,
                &master,
                &path.each_ref().map(|f| f.as_slice()),
                &check,
                message,
            )
            .map(|_| ())
            .map_err(|_| refused())
    }

    /// The terminal of a session token, refusing unknown, expired and
    /// sessions of terminals no longer active.
    pub async fn terminal_of_session(&self, token: &str) -> Result<SignedInTerminal> {
        self.terminal_of_session_from(token, &Source::local()).await
    }

    /// [`Self::terminal_of_session`] for a caller at `source`; a refused
    /// session token is audited (as its HMAC), its repeats counted.
    pub async fn terminal_of_session_from(
        &self,
        token: &str,
        source: &Source,
    ) -> Result<SignedInTerminal> {
        self.unsealed()?;
        let session_hash = token_hash(token);
        let refused = |reason: &'static str| {
            AuditEntry::refused(
                "anonymous",
                "terminal.session",
                &self.audit_hmac(token),
                reason,
            )
        };
        let Some(stored) = self.store.get_terminal_session(&session_hash).await? else {
            let e = Error::Unauthenticated("unknown terminal session");
            return Err(self
                .refuse_unauthenticated(refused("unknown terminal session"), source, e)
                .await);
        };
        let no = stored.terminal_no;
        if stored.expires_ms <= now_ms() {
            let e = Error::Unauthenticated("terminal session expired");
            return Err(self
                .refuse_unauthenticated(refused("terminal session expired"), source, e)
                .await);
        }
        let terminal = self.terminal(&no).await?;
        if terminal.state != "active" {
            return Err(Error::Refused(format!(
                "terminal {no} is {}",
                terminal.state
            )));
        }
        Ok(SignedInTerminal {
            terminal,
            session_hash,
            master_version: stored.master_version,
        })
    }

    /// Sign-out (签退): ends the session; its token and working keys are
    /// dead from now on.
    pub async fn signout(&self, caller: &SignedInTerminal) -> Result<()> {
        let no = &caller.terminal.terminal_no;
        self.commit(
            vec![Write::EndTerminalSession(caller.session_hash.clone())],
            AuditEntry::ok(&format!("terminal-{no}"), "terminal.signout", no),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_separate_domains_terminals_and_counts() {
        let a = terminal_factor(TMK_DOMAIN, "330300000001", 1).unwrap();
        assert_eq!(a, [0x54, 0x33, 0x03, 0x00, 0x00, 0x00, 0x01, 0x01]);
        assert_ne!(
            a,
            terminal_factor(WORKING_DOMAIN, "330300000001", 1).unwrap()
        );
        assert_ne!(a, terminal_factor(TMK_DOMAIN, "330300000002", 1).unwrap());
        assert_ne!(a, terminal_factor(TMK_DOMAIN, "330300000001", 2).unwrap());
        assert!(terminal_factor(TMK_DOMAIN, "33030000000", 1).is_err());
        assert!(terminal_factor(TMK_DOMAIN, "330300000001", 256).is_err());
        assert_eq!(name_factor("pin"), *b"pin\0\0\0\0\0");
        assert!(session_factor("00").is_err());
    }

    #[test]
    fn debug_hides_the_session_token_and_the_terminal_key() {
        let keying = TerminalKeying {
            key: Zeroizing::new("00112233445566778899AABBCCDDEEFF".into()),
            kcv: "1a2b3c4d".into(),
            key_version: 1,
            ca_certificate: String::new(),
        };
        let shown = format!("{keying:?}");
        assert!(
            !shown.contains("00112233") && shown.contains("1a2b3c4d"),
            "{shown}"
        );
        let outcome = SigninOutcome {
            session: "f00dfeedf00dfeed".into(),
            expires_ms: 1,
            working_keys: Vec::new(),
            blacklist_version: 7,
            psam: String::new(),
            parameters: Default::default(),
        };
        let shown = format!("{outcome:?}");
        assert!(
            !shown.contains("f00dfeed") && shown.contains('7'),
            "{shown}"
        );
    }
}
