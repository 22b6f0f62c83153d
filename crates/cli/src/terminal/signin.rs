//! The terminal's side of sign-in and the blacklist: `terminal signin`,
//! `terminal signout`, `terminal sync-blacklist`, `terminal apply-blacklist`.

use std::path::Path;

use serde_json::{json, Value};
use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::sm2::{self, SignatureFormat};
use sscard_gm::{diversify, BlockAlgorithm, BlockKey};
use sscard_terminal::BlacklistCache;
use zeroize::Zeroizing;

use super::file::{sm4_kcv, TerminalFile};
use crate::client::{Client, Connection};
use crate::error::{CliError, CliResult};

/// SM3 of the running program: what sign-in reports as the software hash.
pub fn software_hash() -> CliResult<String> {
    let exe = std::env::current_exe().map_err(|e| CliError::input(format!("the program: {e}")))?;
    let bytes =
        std::fs::read(&exe).map_err(|e| CliError::input(format!("{}: {e}", exe.display())))?;
    Ok(hex::encode(sscard_gm::sm3::digest(&bytes)))
}

/// The proof of sign-in: an SM2 signature (DER) by the terminal's key, or
/// the full SM4 CBC-MAC under its terminal master key.
fn signin_proof(file: &TerminalFile, message: &[u8]) -> CliResult<Vec<u8>> {
    if file.auth == "mac" {
        return mac::mac(&file.tmk()?, MacAlgorithm::CbcMac, None, message, None)
            .map_err(|e| CliError::input(e.to_string()));
    }
    Ok(
        sm2::sign(&file.private_key()?, sm2::DEFAULT_USER_ID, message)
            .map_err(|e| CliError::input(e.to_string()))?
            .encode(SignatureFormat::Der),
    )
}

/// Opens a delivered working key: an SM2 envelope to the terminal's key, or
/// a block under its terminal master key; it must match its check value.
fn open_working_key(
    file: &TerminalFile,
    delivered: &Value,
) -> CliResult<(String, Zeroizing<String>)> {
    let text = |f: &str| delivered.get(f).and_then(Value::as_str).unwrap_or_default();
    let name = text("name").to_string();
    let refused = || {
        CliError::Refused(format!(
            "the {name} working key does not open to its check value"
        ))
    };
    let clear = if file.auth == "mac" {
        let wrapped = hex::decode(text("wrapped")).map_err(|_| refused())?;
        Zeroizing::new(diversify::decrypt_block(&file.tmk()?, &wrapped).map_err(|_| refused())?)
    } else {
        let der = hex::decode(text("envelope")).map_err(|_| refused())?;
        sm2::decrypt(&file.private_key()?, &der, sm2::CiphertextFormat::Der)
            .map_err(|_| refused())?
    };
    let key = BlockKey::new(BlockAlgorithm::Sm4, &clear).map_err(|_| refused())?;
    if sm4_kcv(&key)? != text("kcv") {
        return Err(refused());
    }
    Ok((name, Zeroizing::new(hex::encode_upper(clear.as_slice()))))
}

/// `terminal signin --terminal T`.
pub fn signin(path: &Path) -> CliResult {
    let mut file = TerminalFile::load(path)?;
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
    let proof = signin_proof(
        &file,
        &sscard_core::platform::signin_message(&no, nonce, &hash),
    )?;
    let answer: Value = client.post(
        &format!("/v1/terminals/{no}/signin"),
        &json!({"nonce": nonce, "signature": hex::encode(proof), "software_hash": hash}),
    )?;
    let session = answer
        .get("session")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Unreachable("the server sent no session".into()))?;
    let mut printed = Vec::new();
    file.working_keys.clear();
    for delivered in answer
        .get("working_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (name, key) = open_working_key(&file, delivered)?;
        let kcv = delivered.get("kcv").and_then(Value::as_str).unwrap_or("-");
        printed.push(format!("working_key: {name} kcv={kcv}"));
        file.working_keys.insert(name, key);
    }
    file.session = Some(Zeroizing::new(session.to_string()));
    file.psam = answer
        .get("psam")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    file.session_expires_ms = answer
        .get("expires_ms")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // The published version now: no older list is applied from here on.
    let published = answer
        .get("blacklist_version")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    file.blacklist_floor = file.blacklist_floor.max(published);
    file.save(path)?;
    outln!("terminal: {no}");
    outln!(
        "session_expires: {}",
        sscard_core::clock::format_time(file.session_expires_ms)
    );
    for line in printed {
        outln!("{line}");
    }
    if !file.psam.is_empty() {
        outln!("psam: {}", file.psam);
    }
    outln!(
        "blacklist_version: {}",
        answer
            .get("blacklist_version")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    );
    for (name, value) in answer
        .get("parameters")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        outln!("parameter: {name}={value}");
    }
    Ok(())
}

/// `terminal signout --terminal T`: ends the session on the platform and
/// forgets it and its working keys here.
pub fn signout(path: &Path) -> CliResult {
    let mut file = TerminalFile::load(path)?;
    let _: Value = file.client()?.post("/v1/terminal/signout", &json!({}))?;
    file.session = None;
    file.session_expires_ms = 0;
    file.working_keys.clear();
    file.save(path)?;
    outln!("terminal: {}", file.terminal_no);
    outln!("signed_out: yes");
    Ok(())
}

fn open_cache(path: &Path, file: &TerminalFile) -> CliResult<BlacklistCache> {
    BlacklistCache::open(&file.cache_path(path), &file.platform_key()?).map_err(|e| {
        file.report("tamper", "", "blacklist cache refused: it does not check");
        CliError::Refused(format!("blacklist cache: {e}"))
    })
}

/// Applies a signed blacklist file; the version applied becomes the
/// terminal's floor (no older list is taken afterwards, even with the cache
/// gone).
fn apply(path: &Path, file: &mut TerminalFile, bytes: &[u8]) -> CliResult<BlacklistCache> {
    let mut cache = open_cache(path, file)?;
    let before = cache.version();
    if let Err(e) = cache.apply(bytes, &file.platform_key()?, file.blacklist_floor) {
        file.report("tamper", "", &format!("blacklist file refused: {e}"));
        return Err(CliError::Refused(format!(
            "blacklist refused, the cache stays at version {before}: {e}"
        )));
    }
    if cache.version() > file.blacklist_floor {
        file.blacklist_floor = cache.version();
        file.save(path)?;
    }
    Ok(cache)
}

/// `terminal sync-blacklist --terminal T`: the delta from the cache's
/// version, or the full list when there is none to apply (or the cache
/// holds many deltas already). Before the platform has published any
/// version, says so and changes nothing.
pub fn sync(path: &Path) -> CliResult {
    let mut file = TerminalFile::load(path)?;
    let client = file.client()?;
    let held = open_cache(path, &file)?;
    if file.blacklist_floor == 0 && held.version() == 0 {
        // Nothing learned at sign-in: ask whether anything is published.
        if let Err(CliError::Input(message)) = client.get_bytes("/v1/terminal/blacklist") {
            if message.contains("not_found") {
                outln!("blacklist_version: 0");
                outln!("cards: 0");
                outln!("published: none yet");
                return Ok(());
            }
        }
    }
    let delta = if held.version() > 0 && !held.wants_full() {
        client
            .get_bytes(&format!(
                "/v1/terminal/blacklist?delta_from={}",
                held.version()
            ))
            .ok()
    } else {
        None
    };
    let cache = match delta.map(|bytes| apply(path, &mut file, &bytes)) {
        Some(Ok(cache)) => cache,
        // Too far behind, up to date, or the delta did not fit: the full list.
        _ => apply(
            path,
            &mut file,
            &client.get_bytes("/v1/terminal/blacklist")?,
        )?,
    };
    outln!("blacklist_version: {}", cache.version());
    outln!("cards: {}", cache.len());
    Ok(())
}

/// `terminal apply-blacklist --terminal T --file F`.
pub fn apply_file(path: &Path, list: &Path) -> CliResult {
    let mut file = TerminalFile::load(path)?;
    let bytes = crate::io::read_file(list)?;
    let cache = apply(path, &mut file, &bytes)?;
    outln!("blacklist_version: {}", cache.version());
    outln!("cards: {}", cache.len());
    Ok(())
}
