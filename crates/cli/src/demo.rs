//! `sscard demo [--dir DIR]`: a walk-through of what the platform does with
//! the national algorithms, on the card-system facts of card-profile.md,
//! with every artefact written to DIR for `openssl` or `sscard gm` to inspect.

use std::path::{Path, PathBuf};

use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::sm2::{self, CiphertextFormat, SignatureFormat, Sm2PrivateKey, DEFAULT_USER_ID};
use sscard_gm::sm4::{self, Sm4Key};
use sscard_gm::{diversify, kcv, random, BlockAlgorithm, BlockKey};

use crate::error::{CliError, CliResult};
use crate::io::{write_file, FileMode};

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the artefacts (created; must not exist yet). Default: a
    /// new directory under the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Region code of the demo card (温州, as card-profile.md's example).
const REGION: &str = "330300";
/// The last 8 bytes of the demo card's ATR: its diversification factor.
const CARD_FACTOR: &str = "8601030000000001";

pub fn run(args: Args) -> CliResult {
    let dir = args.dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sscard-demo-{}", std::process::id()))
    });
    std::fs::create_dir(&dir)
        .map_err(|e| CliError::input(format!("cannot create {}: {e}", dir.display())))?;
    outln!("dir: {}", dir.display());
    platform_signature(&dir)?;
    holder_encryption(&dir)?;
    card_keys()?;
    record_sealing()?;
    outln!("result: ok");
    Ok(())
}

fn step(title: &str) {
    outln!("step: {title}");
}

/// An SM2 key pair of the platform signs a card record; a changed record is refused.
fn platform_signature(dir: &Path) -> CliResult {
    step("SM2 platform key pair, PKCS#8 and SPKI PEM as OpenSSL 3 writes them");
    let key = Sm2PrivateKey::generate()?;
    let key_path = dir.join("platform.key.pem");
    let pub_path = dir.join("platform.pub.pem");
    write_file(&key_path, key.to_pkcs8_pem()?.as_bytes(), FileMode::Secret)?;
    write_file(
        &pub_path,
        key.public_key().to_spki_pem()?.as_bytes(),
        FileMode::Public,
    )?;
    outln!("private_key: {} (0600)", key_path.display());
    outln!("public_key: {}", pub_path.display());

    step("sign a card record with user ID 1234567812345678 (GM/T 0009)");
    let record = format!("card_id={REGION}D156000005000001;holder=hmac;status=active");
    let record_path = dir.join("record.txt");
    write_file(&record_path, record.as_bytes(), FileMode::Public)?;
    let signature = sm2::sign(&key, DEFAULT_USER_ID, record.as_bytes())?;
    let sig_path = dir.join("record.sig");
    write_file(
        &sig_path,
        &signature.encode(SignatureFormat::Der),
        FileMode::Public,
    )?;
    outln!(
        "record_sm3: {}",
        hex::encode(sscard_gm::sm3::digest(record.as_bytes()))
    );
    outln!("signature: {} (DER)", sig_path.display());
    sm2::verify(
        &key.public_key(),
        DEFAULT_USER_ID,
        record.as_bytes(),
        &signature,
    )?;
    outln!("verify: valid");
    let tampered = record.replace("active", "revoked");
    match sm2::verify(
        &key.public_key(),
        DEFAULT_USER_ID,
        tampered.as_bytes(),
        &signature,
    ) {
        Err(sscard_gm::Error::SignatureInvalid) => outln!("verify_tampered: refused"),
        _ => return Err(CliError::Refused("a tampered record verified".into())),
    }
    outln!(
        "check_with_openssl: openssl dgst -sm3 -verify {} -sigopt distid:{DEFAULT_USER_ID} -signature {} {}",
        pub_path.display(),
        sig_path.display(),
        record_path.display()
    );
    Ok(())
}

/// The holder's social security number travels SM2-encrypted to the platform.
fn holder_encryption(dir: &Path) -> CliResult {
    step("encrypt holder data to an SM2 key (GM/T 0009 DER ciphertext)");
    let key = Sm2PrivateKey::generate()?;
    let holder = b"330302199001011234";
    let ciphertext = sm2::encrypt(&key.public_key(), holder, CiphertextFormat::Der)?;
    let path = dir.join("holder.sm2");
    write_file(&path, &ciphertext, FileMode::Public)?;
    outln!(
        "ciphertext: {} ({} bytes)",
        path.display(),
        ciphertext.len()
    );
    let back = sm2::decrypt(&key, &ciphertext, CiphertextFormat::Der)?;
    outln!(
        "decrypt: {}",
        if back.as_slice() == holder {
            "matches"
        } else {
            "DIFFERS"
        }
    );
    Ok(())
}

/// One key per card: ministry master → city key (region factor) → card key,
/// then the MAC of a secure-messaging UPDATE RECORD under the card key.
fn card_keys() -> CliResult {
    step("diversify a card key: ministry master -> city (region factor) -> card (ATR factor)");
    let master = BlockKey::new(BlockAlgorithm::Sm4, &random::bytes(16)?)?;
    // City factor per card-profile.md: ASCII of the region code, then "sx".
    let mut city_factor = REGION.as_bytes().to_vec();
    city_factor.extend_from_slice(b"sx");
    let card_factor = hex::decode(CARD_FACTOR).map_err(|e| CliError::input(e.to_string()))?;
    let city = diversify::derive(&master, &city_factor)?;
    let card = diversify::derive(&city, &card_factor)?;
    outln!("master_kcv: {}", hex::encode(kcv::kcv(&master, 4)?));
    outln!("city_factor: {}", hex::encode(&city_factor));
    outln!("city_kcv: {}", hex::encode(kcv::kcv(&city, 4)?));
    outln!("card_factor: {CARD_FACTOR}");
    outln!("card_kcv: {}", hex::encode(kcv::kcv(&card, 4)?));

    step("secure messaging: MAC of UPDATE RECORD with the card's challenge as IV");
    let challenge = random::bytes(8)?;
    let mut iv = challenge.to_vec();
    iv.resize(16, 0);
    // UPDATE RECORD of record 1 (tag 01, the 卡识别码) in EF05: CLA 04 (secure
    // messaging), INS DC, P1 01, P2 (5 << 3) | 4 = 2C, Lc = 2 + 16 + 4 (MAC).
    let card_id = format!("{REGION}D1560000050000000000000001");
    let command = hex::decode(format!("04DC012C160110{card_id}"))
        .map_err(|e| CliError::input(e.to_string()))?;
    let tag = mac::mac(&card, MacAlgorithm::CbcMac, Some(&iv), &command, Some(4))?;
    outln!("challenge: {}", hex::encode(challenge.as_slice()));
    outln!("command: {}", hex::encode_upper(&command));
    outln!("mac: {}", hex::encode_upper(&tag));
    Ok(())
}

/// A stored record sealed with SM4-GCM, its identity bound as AAD.
fn record_sealing() -> CliResult {
    step("seal a stored record with SM4-GCM, the record's identity as AAD");
    let key = Sm4Key::from_slice(&random::bytes(16)?)?;
    let iv = random::bytes(12)?;
    let sealed = sm4::gcm_encrypt(&key, &iv, b"holders/42", b"name=Zhang San")?;
    outln!("sealed: {}", hex::encode(&sealed));
    match sm4::gcm_decrypt(&key, &iv, b"holders/43", &sealed) {
        Err(sscard_gm::Error::AuthenticationFailed) => outln!("open_as_other_record: refused"),
        _ => {
            return Err(CliError::Refused(
                "a record opened under another identity".into(),
            ))
        }
    }
    let opened = sm4::gcm_decrypt(&key, &iv, b"holders/42", &sealed)?;
    outln!("open: {}", String::from_utf8_lossy(&opened));
    Ok(())
}
