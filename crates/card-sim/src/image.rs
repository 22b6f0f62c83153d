//! What a virtual card or PSAM keeps across power cycles, as a JSON file:
//! its files, keys, PIN and counters. The file is the chip's memory, so it
//! holds the chip's keys; it is written atomically (temporary file, fsync,
//! rename) after every change, so a counter never goes back.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use sscard_card::profile::CardAlgorithm;
use sscard_card::{Error, Result};

/// Key or PIN bytes in a chip image: hex in the file, zeroized in memory,
/// never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Zeroizing<Vec<u8>>);

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&Zeroizing::new(hex::encode(self.0.as_slice())))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        hex::decode(text.as_str())
            .map(|b| Secret(Zeroizing::new(b)))
            .map_err(serde::de::Error::custom)
    }
}

/// Where a chip is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    /// Made, not yet personalized: takes PUT KEY and plain writes.
    Blank,
    /// Personalized and in use.
    Issued,
    /// The application is blocked (APPLICATION BLOCK); it can be unblocked.
    ApplicationBlocked,
    /// The card is blocked for good (CARD BLOCK).
    CardBlocked,
}

/// A key of a card: its version and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardKeyEntry {
    /// Key version (1–3 coexist in deployed cards; one here).
    pub version: u8,
    /// The key.
    pub key: Secret,
}

/// A virtual card's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardImage {
    /// `sscard-card/1`.
    pub format: String,
    /// Block cipher of the card.
    pub algorithm: CardAlgorithm,
    /// Card generation (1, 2 or 3); a third-generation card protects EF06.
    pub generation: u8,
    /// The 8-byte card factor, hex (also in the ATR and the 卡识别码).
    pub card_factor: String,
    /// Region code the card belongs to.
    pub region: String,
    /// Where the card is in its life.
    pub lifecycle: Lifecycle,
    /// The chip's SM2 key (PKCS#8 DER) that personalization envelopes keys
    /// to; erased at the end of personalization.
    pub transport_key: Option<Secret>,
    /// Keys by key identifier.
    pub keys: BTreeMap<u8, CardKeyEntry>,
    /// The PIN, BCD.
    pub pin: Option<Secret>,
    /// Tries left before the PIN blocks.
    pub pin_tries_left: u8,
    /// Records by SFI, then record number: tag ‖ length ‖ value, hex.
    pub records: BTreeMap<u8, BTreeMap<u8, String>>,
    /// Binary files by SFI, hex.
    pub binaries: BTreeMap<u8, String>,
}

/// A master key of a PSAM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsamKeyEntry {
    /// Key-usage byte: high 3 bits the diversification levels, low 5 the type.
    pub usage: u8,
    /// Key version.
    pub version: u8,
    /// The region master.
    pub key: Secret,
}

/// A virtual PSAM's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsamImage {
    /// `sscard-psam/1`.
    pub format: String,
    /// Block cipher of the masters.
    pub algorithm: CardAlgorithm,
    /// Terminal number, 12 digits (6 bytes BCD in EF 0016).
    pub terminal_no: String,
    /// The region whose masters it holds.
    pub region: String,
    /// Where the PSAM is in its life.
    pub lifecycle: Lifecycle,
    /// The chip's SM2 key for issuance (PKCS#8 DER); erased when issued.
    pub transport_key: Option<Secret>,
    /// Masters by key identifier.
    pub keys: BTreeMap<u8, PsamKeyEntry>,
}

/// Writes a chip's memory after a change, when it has a file; a failed
/// write is the chip's `65 81` (memory failure), and the command fails.
pub fn persist<T: Serialize>(
    path: Option<&Path>,
    image: &T,
) -> core::result::Result<(), sscard_apdu::StatusWord> {
    match path {
        Some(path) => save(path, image).map_err(|_| sscard_apdu::StatusWord::MemoryFailure),
        None => Ok(()),
    }
}

/// A blank chip's SM2 transport key: `69 85` once the chip is personalized
/// (its transport key is gone then).
pub fn transport_key(
    key: Option<&Secret>,
    lifecycle: Lifecycle,
) -> core::result::Result<sscard_gm::sm2::Sm2PrivateKey, sscard_apdu::StatusWord> {
    let der = key
        .filter(|_| lifecycle == Lifecycle::Blank)
        .ok_or(sscard_apdu::StatusWord::ConditionsNotSatisfied)?;
    sscard_gm::sm2::Sm2PrivateKey::from_pkcs8_der(&der.0)
        .map_err(|_| sscard_apdu::StatusWord::NoPreciseDiagnosis)
}

/// Reads a chip image of format `format`.
pub fn load<T: for<'de> Deserialize<'de>>(path: &Path, format: &str) -> Result<T> {
    let text = Zeroizing::new(std::fs::read(path)?);
    let head: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| Error::BadImage(e.to_string()))?;
    if head.get("format").and_then(serde_json::Value::as_str) != Some(format) {
        return Err(Error::BadImage(format!("its format is not {format}")));
    }
    serde_json::from_slice(&text).map_err(|e| Error::BadImage(e.to_string()))
}

/// Writes a chip image atomically: a crash leaves the old or the new file.
pub fn save<T: Serialize>(path: &Path, image: &T) -> Result<()> {
    let text = Zeroizing::new(
        serde_json::to_vec_pretty(image).map_err(|e| Error::BadImage(e.to_string()))?,
    );
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
