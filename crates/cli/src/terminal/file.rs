//! TERMINAL.json: what a terminal keeps — its number, the platform's
//! address, its SM2 key and certificate (or, for a terminal without SM2,
//! its terminal master key), the platform CA's certificate, and its session
//! and working keys once signed in. It holds secret keys, so it is written
//! with mode 0600; the blacklist cache sits beside it (`<file>.blacklist`).

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::sm2::{Sm2PrivateKey, Sm2PublicKey};
use sscard_gm::{kcv, x509, BlockAlgorithm, BlockKey};
use zeroize::Zeroizing;

use crate::client::{Client, Connection};
use crate::error::{CliError, CliResult};
use crate::io::{write_file, FileMode};

/// The format tag of a terminal file.
pub const FORMAT: &str = "sscard-terminal/1";

/// A terminal's file.
#[derive(Serialize, Deserialize)]
pub struct TerminalFile {
    /// `sscard-terminal/1`.
    pub format: String,
    /// Terminal number.
    pub terminal_no: String,
    /// The platform.
    pub addr: String,
    /// How it signs in: `sm2` or `mac`.
    #[serde(default = "sm2")]
    pub auth: String,
    /// The terminal's SM2 key, PKCS#8 PEM (`sm2`).
    #[serde(default)]
    pub key: Zeroizing<String>,
    /// Its certificate, PEM (`sm2`).
    #[serde(default)]
    pub certificate: String,
    /// Its terminal master key, hex (`mac`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmk: Option<Zeroizing<String>>,
    /// The platform CA's certificate, PEM: it also verifies blacklists.
    pub ca_certificate: String,
    /// The session token of the last sign-in.
    #[serde(default)]
    pub session: Option<Zeroizing<String>>,
    /// When that session ends, ms.
    #[serde(default)]
    pub session_expires_ms: i64,
    /// That session's working keys (`pin`, `mac`, `data`), hex.
    #[serde(default)]
    pub working_keys: BTreeMap<String, Zeroizing<String>>,
    /// The terminal number of the PSAM bound to this terminal, as the last
    /// sign-in gave it (empty: none); card flows refuse another PSAM.
    #[serde(default)]
    pub psam: String,
    /// The blacklist version the platform gave at the last sign-in: no
    /// list older than this is applied (the floor of freshness).
    #[serde(default)]
    pub blacklist_floor: u64,
}

fn sm2() -> String {
    "sm2".into()
}

fn sm4_key(hex_key: &str, what: &str) -> CliResult<BlockKey> {
    let bytes = Zeroizing::new(
        hex::decode(hex_key).map_err(|_| CliError::input(format!("the {what}: not hex")))?,
    );
    BlockKey::new(BlockAlgorithm::Sm4, &bytes)
        .map_err(|e| CliError::input(format!("the {what}: {e}")))
}

/// The check value of an SM4 key, hex, as the platform prints it.
pub fn sm4_kcv(key: &BlockKey) -> CliResult<String> {
    kcv::kcv(key, kcv::default_len(BlockAlgorithm::Sm4))
        .map(hex::encode)
        .map_err(|e| CliError::input(e.to_string()))
}

impl TerminalFile {
    /// A new file for terminal `no` of the platform at `addr`, not yet keyed.
    pub fn new(no: &str, addr: &str, ca_certificate: &str) -> Self {
        Self {
            format: FORMAT.into(),
            terminal_no: no.into(),
            addr: addr.into(),
            auth: sm2(),
            key: Zeroizing::new(String::new()),
            certificate: String::new(),
            tmk: None,
            ca_certificate: ca_certificate.into(),
            session: None,
            session_expires_ms: 0,
            working_keys: BTreeMap::new(),
            psam: String::new(),
            blacklist_floor: 0,
        }
    }

    /// Reads a terminal file.
    pub fn load(path: &Path) -> CliResult<Self> {
        let text = Zeroizing::new(crate::io::read_file(path)?);
        let file: Self = serde_json::from_slice(&text).map_err(|e| {
            CliError::input(format!("{}: not a terminal file: {e}", path.display()))
        })?;
        if file.format != FORMAT {
            return Err(CliError::input(format!(
                "{}: its format is not {FORMAT}",
                path.display()
            )));
        }
        Ok(file)
    }

    /// Writes it (0600, atomically).
    pub fn save(&self, path: &Path) -> CliResult {
        let text = Zeroizing::new(
            serde_json::to_vec_pretty(self).map_err(|e| CliError::input(e.to_string()))?,
        );
        write_file(path, &text, FileMode::SecretUpdate)
    }

    /// The blacklist cache beside the file.
    pub fn cache_path(&self, path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".blacklist");
        PathBuf::from(name)
    }

    /// The terminal master key of a MAC terminal.
    pub fn tmk(&self) -> CliResult<BlockKey> {
        let hex_key = self
            .tmk
            .as_ref()
            .ok_or_else(|| CliError::input("this terminal has no terminal master key"))?;
        sm4_key(hex_key, "terminal master key")
    }

    /// The terminal master key's check value.
    pub fn tmk_kcv(&self) -> CliResult<String> {
        sm4_kcv(&self.tmk()?)
    }

    /// A working key of the current session.
    pub fn working_key(&self, name: &str) -> CliResult<BlockKey> {
        let hex_key = self.working_keys.get(name).ok_or_else(|| {
            CliError::Refused(format!("no {name} working key: run sscard terminal signin"))
        })?;
        sm4_key(hex_key, &format!("{name} working key"))
    }

    /// The terminal's private key.
    pub fn private_key(&self) -> CliResult<Sm2PrivateKey> {
        Sm2PrivateKey::from_pkcs8_pem(&self.key)
            .map_err(|e| CliError::input(format!("the terminal key: {e}")))
    }

    /// The platform's key, from the CA certificate (self-signed: checked).
    pub fn platform_key(&self) -> CliResult<Sm2PublicKey> {
        let der = x509::from_pem(self.ca_certificate.as_bytes())
            .map_err(|e| CliError::input(format!("the CA certificate: {e}")))?;
        let info = x509::verify_self_signed(&der)
            .map_err(|e| CliError::input(format!("the CA certificate: {e}")))?;
        Ok(info.public_key)
    }

    /// A client of the platform with the terminal's session.
    pub fn client(&self) -> CliResult<Client> {
        let session = self
            .session
            .as_ref()
            .ok_or_else(|| CliError::Refused("not signed in: run sscard terminal signin".into()))?;
        Client::new(&Connection {
            addr: self.addr.clone(),
            token: Some(session.to_string()),
            cacert: None,
        })
    }

    /// Reports a security event, MACed under the session's MAC working
    /// key; best effort (a terminal offline still refuses the card).
    pub fn report(&self, kind: &str, card_id: &str, detail: &str) {
        let message =
            sscard_core::platform::event_message(&self.terminal_no, kind, card_id, detail);
        let Ok(key) = self.working_key("mac") else {
            return;
        };
        let Ok(tag) = mac::mac(&key, MacAlgorithm::CbcMac, None, &message, None) else {
            return;
        };
        if let Ok(client) = self.client() {
            let _: CliResult<serde_json::Value> = client.post(
                "/v1/terminal/events",
                &json!({"kind": kind, "card_id": card_id, "detail": detail, "mac": hex::encode(tag)}),
            );
        }
    }
}
