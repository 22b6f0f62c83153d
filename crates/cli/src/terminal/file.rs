//! TERMINAL.json: what a terminal keeps — its number, the platform's
//! address, its SM2 key, its certificate and the platform CA's, and its
//! session once signed in. It holds a private key, so it is written with
//! mode 0600; the blacklist cache sits beside it (`<file>.blacklist`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sscard_gm::sm2::{Sm2PrivateKey, Sm2PublicKey};
use sscard_gm::x509;
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
    /// The terminal's SM2 key, PKCS#8 PEM.
    pub key: Zeroizing<String>,
    /// Its certificate, PEM.
    pub certificate: String,
    /// The platform CA's certificate, PEM: it also verifies blacklists.
    pub ca_certificate: String,
    /// The session token of the last sign-in.
    #[serde(default)]
    pub session: Option<Zeroizing<String>>,
    /// When that session ends, ms.
    #[serde(default)]
    pub session_expires_ms: i64,
}

impl TerminalFile {
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

    /// Reports a security event; best effort (a terminal offline still refuses the card).
    pub fn report(&self, kind: &str, card_id: &str, detail: &str) {
        if let Ok(client) = self.client() {
            let _: CliResult<serde_json::Value> = client.post(
                "/v1/terminal/events",
                &json!({"kind": kind, "card_id": card_id, "detail": detail}),
            );
        }
    }
}
