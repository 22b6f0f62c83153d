//! The terminal's side of sign-in and the blacklist: `terminal signin`,
//! `terminal sync-blacklist`, `terminal apply-blacklist`.

use std::path::Path;

use serde_json::{json, Value};
use sscard_gm::sm2::{self, SignatureFormat};
use sscard_terminal::BlacklistCache;
use zeroize::Zeroizing;

use super::file::TerminalFile;
use super::flows::terminal_error;
use crate::client::{Client, Connection};
use crate::error::{CliError, CliResult};

/// SM3 of the running program: what sign-in reports as the software hash.
pub fn software_hash() -> CliResult<String> {
    let exe = std::env::current_exe().map_err(|e| CliError::input(format!("the program: {e}")))?;
    let bytes =
        std::fs::read(&exe).map_err(|e| CliError::input(format!("{}: {e}", exe.display())))?;
    Ok(hex::encode(sscard_gm::sm3::digest(&bytes)))
}

/// `terminal signin --terminal T`.
pub fn signin(path: &Path) -> CliResult {
    let mut file = TerminalFile::load(path)?;
    let key = file.private_key()?;
    let client = Client::new(&Connection {
        addr: file.addr.clone(),
        token: None,
        cacert: None,
    })?;
    let no = file.terminal_no.clone();
    let challenge: Value = client.post(&format!("/v1/terminals/{no}/challenge"), &json!({}))?;
    let nonce = challenge
        .get("nonce")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Unreachable("the server sent no challenge".into()))?;
    let hash = software_hash()?;
    let message = sscard_core::platform::signin_message(&no, nonce, &hash);
    let signature = sm2::sign(&key, sm2::DEFAULT_USER_ID, &message)
        .map_err(|e| CliError::input(e.to_string()))?
        .encode(SignatureFormat::Der);
    let answer: Value = client.post(
        &format!("/v1/terminals/{no}/signin"),
        &json!({"nonce": nonce, "signature": hex::encode(signature), "software_hash": hash}),
    )?;
    let session = answer
        .get("session")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Unreachable("the server sent no session".into()))?;
    file.session = Some(Zeroizing::new(session.to_string()));
    file.session_expires_ms = answer
        .get("expires_ms")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    file.save(path)?;
    println!("terminal: {no}");
    println!(
        "session_expires: {}",
        sscard_core::clock::format_time(file.session_expires_ms)
    );
    for k in answer
        .get("working_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // The key itself arrives as an SM2 envelope to this terminal: open it
        // to check it, print only its check value.
        let name = k.get("name").and_then(Value::as_str).unwrap_or("-");
        let kcv = k.get("kcv").and_then(Value::as_str).unwrap_or("-");
        let opened = k
            .get("envelope")
            .and_then(Value::as_str)
            .and_then(|h| hex::decode(h).ok())
            .and_then(|der| sm2::decrypt(&key, &der, sm2::CiphertextFormat::Der).ok())
            .and_then(|bytes| sscard_gm::BlockKey::new(sscard_gm::BlockAlgorithm::Sm4, &bytes).ok())
            .and_then(|block| sscard_gm::kcv::kcv(&block, 4).ok())
            .map(hex::encode);
        if opened.as_deref() != Some(kcv) {
            return Err(CliError::Refused(format!(
                "the {name} working key does not open to its check value"
            )));
        }
        println!("working_key: {name} kcv={kcv}");
    }
    println!(
        "blacklist_version: {}",
        answer
            .get("blacklist_version")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    );
    Ok(())
}

fn apply(path: &Path, file: &TerminalFile, bytes: &[u8]) -> CliResult<BlacklistCache> {
    let mut cache = BlacklistCache::open(&file.cache_path(path)).map_err(terminal_error)?;
    let before = cache.version();
    if let Err(e) = cache.apply(bytes, &file.platform_key()?) {
        file.report("tamper", "", &format!("blacklist file refused: {e}"));
        return Err(CliError::Refused(format!(
            "blacklist refused, the cache stays at version {before}: {e}"
        )));
    }
    Ok(cache)
}

/// `terminal sync-blacklist --terminal T`: the delta from the cache's
/// version, or the full list when there is none to apply.
pub fn sync(path: &Path) -> CliResult {
    let file = TerminalFile::load(path)?;
    let client = file.client()?;
    let held = BlacklistCache::open(&file.cache_path(path))
        .map_err(terminal_error)?
        .version();
    let delta = if held > 0 {
        client
            .get_bytes(&format!("/v1/terminal/blacklist?delta_from={held}"))
            .ok()
    } else {
        None
    };
    let cache = match delta.map(|bytes| apply(path, &file, &bytes)) {
        Some(Ok(cache)) => cache,
        // Too far behind, up to date, or the delta did not fit: the full list.
        _ => apply(path, &file, &client.get_bytes("/v1/terminal/blacklist")?)?,
    };
    println!("blacklist_version: {}", cache.version());
    println!("cards: {}", cache.len());
    Ok(())
}

/// `terminal apply-blacklist --terminal T --file F`.
pub fn apply_file(path: &Path, list: &Path) -> CliResult {
    let file = TerminalFile::load(path)?;
    let bytes = crate::io::read_file(list)?;
    let cache = apply(path, &file, &bytes)?;
    println!("blacklist_version: {}", cache.version());
    println!("cards: {}", cache.len());
    Ok(())
}
