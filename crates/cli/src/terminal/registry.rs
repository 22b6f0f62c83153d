//! The registry side of `sscard terminal` (system administrator): register,
//! list, suspend, activate, revoke, allowed software; and enrollment, where
//! the terminal makes its key pair and request and receives its certificate.

use std::path::Path;

use serde_json::{json, Value};
use sscard_card_sim::VirtualPsam;
use sscard_gm::sm2::Sm2PrivateKey;
use sscard_gm::x509;
use zeroize::Zeroizing;

use super::file::TerminalFile;
use crate::client::{print, Client, Connection};
use crate::error::{CliError, CliResult};

/// What `terminal register` registers.
pub struct Registration<'a> {
    pub no: &'a str,
    pub serial: &'a str,
    pub institution: &'a str,
    pub location: &'a str,
    pub kind: &'a str,
    /// `sm2` or `mac`.
    pub auth: &'a str,
}

/// `terminal register`.
pub fn register(connection: &Connection, t: &Registration, psam: Option<&Path>) -> CliResult {
    let psam_no = match psam {
        Some(path) => VirtualPsam::open(path)
            .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?
            .image()
            .terminal_no
            .clone(),
        None => String::new(),
    };
    let answer: Value = Client::new(connection)?.post(
        "/v1/terminals",
        &json!({"terminal_no": t.no, "serial": t.serial, "institution": t.institution,
                "location": t.location, "kind": t.kind, "psam": psam_no, "auth": t.auth}),
    )?;
    print(&answer, false);
    Ok(())
}

/// `terminal list`: one line per terminal.
pub fn list(connection: &Connection) -> CliResult {
    let answer: Value = Client::new(connection)?.get("/v1/terminals")?;
    for t in answer.as_array().into_iter().flatten() {
        let get = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or("-");
        outln!(
            "terminal: {} state={} auth={} institution={} serial={} psam={}",
            get("terminal_no"),
            get("state"),
            get("auth"),
            get("institution"),
            get("serial"),
            if get("psam").is_empty() {
                "-"
            } else {
                get("psam")
            }
        );
    }
    Ok(())
}

/// `terminal suspend|activate|revoke NO`.
pub fn set_state(connection: &Connection, no: &str, state: &str) -> CliResult {
    let answer: Value = Client::new(connection)?.post(
        &format!("/v1/terminals/{no}/state"),
        &json!({ "state": state }),
    )?;
    outln!(
        "terminal: {no} state={}",
        answer.get("state").and_then(Value::as_str).unwrap_or("-")
    );
    Ok(())
}

/// `terminal crl --out F`: the revocation list as published (DER). A list
/// older than the one `F` holds (a lower CRL number), or of the same
/// number with other certificates, is refused (exit 1) and `F` is kept:
/// a genuine but stale list never replaces a newer one.
pub fn crl(connection: &Connection, out: &Path) -> CliResult {
    let der = Client::new(connection)?.get_bytes("/v1/terminals/crl")?;
    let fetched = sscard_gm::x509::read_crl(&der)
        .map_err(|e| CliError::Unreachable(format!("the server's CRL: {e}")))?;
    if let Ok(held) = std::fs::read(out) {
        if let Ok(held) = sscard_gm::x509::read_crl(&held) {
            if fetched.number < held.number
                || (fetched.number == held.number && fetched.revoked != held.revoked)
            {
                return Err(CliError::Refused(format!(
                    "the CRL fetched (number {}) is older than the one {} holds (number {}); kept",
                    fetched.number,
                    out.display(),
                    held.number
                )));
            }
        }
    }
    crate::io::write_file(out, &der, crate::io::FileMode::Public)?;
    outln!("crl_number: {}", fetched.number);
    outln!("revoked: {}", fetched.revoked.len());
    outln!("bytes: {}", der.len());
    outln!("file: {}", out.display());
    Ok(())
}

/// `terminal allow-software --version V (--sm3 HEX | --file F)`.
pub fn allow_software(connection: &Connection, version: &str, sm3: &str) -> CliResult {
    let _: Value = Client::new(connection)?.post(
        "/v1/terminals/software",
        &json!({"version": version, "sm3": sm3}),
    )?;
    outln!("software: {version} sm3={sm3}");
    Ok(())
}

/// `terminal enroll --no NO --out TERMINAL.json [--mac]`: a fresh SM2 key
/// pair, a PKCS#10 request with it, and the certificate the platform
/// issues; or, with `--mac`, the terminal master key the platform derives.
pub fn enroll(connection: &Connection, no: &str, out: &Path, mac: bool) -> CliResult {
    if out.exists() {
        return Err(CliError::input(format!(
            "{} exists; refusing to overwrite a terminal's key",
            out.display()
        )));
    }
    let client = Client::new(connection)?;
    let (key, answer) = if mac {
        let answer: Value = client.post(&format!("/v1/terminals/{no}/key"), &json!({}))?;
        (None, answer)
    } else {
        let key = Sm2PrivateKey::generate().map_err(|e| CliError::input(e.to_string()))?;
        let csr = x509::request(&key, &format!("terminal {no}"))
            .and_then(|der| x509::to_pem("CERTIFICATE REQUEST", &der))
            .map_err(|e| CliError::input(e.to_string()))?;
        let answer: Value = client.post(
            &format!("/v1/terminals/{no}/enroll"),
            &json!({ "csr": csr }),
        )?;
        (Some(key), answer)
    };
    let field = |f: &str| {
        answer
            .get(f)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| CliError::Unreachable(format!("the server's answer has no {f}")))
    };
    let mut file = TerminalFile::new(no, &connection.addr, &field("ca_certificate")?);
    match key {
        Some(key) => {
            file.key = Zeroizing::new(
                key.to_pkcs8_pem()
                    .map_err(|e| CliError::input(e.to_string()))?
                    .to_string(),
            );
            file.certificate = field("certificate")?;
        }
        None => {
            file.auth = "mac".into();
            file.tmk = Some(Zeroizing::new(field("key")?));
            // The key must be the one whose check value the platform audited.
            if file.tmk_kcv()? != field("kcv")? {
                return Err(CliError::Refused(
                    "the terminal master key does not match its check value".into(),
                ));
            }
        }
    }
    file.save(out)?;
    outln!("terminal: {no}");
    if mac {
        outln!("terminal_key: kcv={}", field("kcv")?);
    } else {
        outln!("certificate: {}", field("serial")?);
    }
    outln!("file: {}", out.display());
    Ok(())
}
