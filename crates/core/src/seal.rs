//! The root key and its Shamir shares (as Vault's seal): the root key wraps
//! the keyring, and exists only in memory, rebuilt from M of N shares.

use serde::{Deserialize, Serialize};
use sscard_gm::{random, Sm4Key};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// What the store keeps about the seal, in clear: nothing of it is secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealConfig {
    /// Random identity of this platform; every share names it.
    pub platform_id: String,
    /// Number of shares made at init.
    pub shares: u8,
    /// Number of shares needed to unseal.
    pub threshold: u8,
    /// A check of each share by its index: hex SM3 of
    /// `"sscard-share/" ‖ platform_id ‖ "/" ‖ the share's bytes`, so that a
    /// wrong share is refused when it is given, before it can spoil the
    /// combination. Public: a share's bytes are 16 random-looking bytes,
    /// and the check reveals nothing of them. Absent in seal configurations
    /// made before checks were kept (their shares are checked for form only).
    #[serde(default)]
    pub share_checks: std::collections::BTreeMap<u8, String>,
}

/// The length of a share's y bytes: the root key's (an SM4 key).
pub const SHARE_Y_LEN: usize = 16;

/// The check of share bytes `bytes` (x ‖ y) of platform `platform_id`.
pub fn share_check(platform_id: &str, bytes: &[u8]) -> String {
    let mut input = format!("sscard-share/{platform_id}/").into_bytes();
    input.extend_from_slice(bytes);
    hex::encode(sscard_gm::sm3::digest(&input))
}

/// One share as written to its file: JSON naming its platform, so that a
/// share of another platform is refused with that reason.
#[derive(Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct ShareFile {
    /// The platform this share belongs to.
    pub platform_id: String,
    /// Shares needed to unseal.
    pub threshold: u8,
    /// The share's x coordinate and y bytes (blahaj encoding), hex.
    pub share: String,
}

impl core::fmt::Debug for ShareFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShareFile")
            .field("platform_id", &self.platform_id)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl ShareFile {
    /// Parses a share file's contents.
    pub fn parse(text: &[u8]) -> Result<Self> {
        serde_json::from_slice(text)
            .map_err(|_| Error::BadShare("not a share file of sscard (JSON)".into()))
    }

    /// The share's index (its x coordinate), for messages and de-duplication.
    pub fn index(&self) -> Option<u8> {
        hex::decode(self.share.get(..2)?).ok()?.first().copied()
    }

    /// The file's contents.
    pub fn to_json(&self) -> Result<Zeroizing<String>> {
        serde_json::to_string_pretty(self)
            .map(Zeroizing::new)
            .map_err(|e| Error::Invalid(e.to_string()))
    }
}

/// A fresh root key and its shares.
pub fn new_root(shares: u8, threshold: u8) -> Result<(SealConfig, Sm4Key, Vec<ShareFile>)> {
    if threshold == 0 || shares == 0 || threshold > shares {
        return Err(Error::Invalid(format!(
            "need 1 <= threshold ({threshold}) <= shares ({shares})"
        )));
    }
    let mut config = SealConfig {
        platform_id: hex::encode(random::bytes(16)?.as_slice()),
        shares,
        threshold,
        share_checks: Default::default(),
    };
    let root = Sm4Key::from_slice(&random::bytes(Sm4Key::LEN)?)?;
    let mut files = Vec::new();
    for share in blahaj::Sharks(threshold)
        .dealer(root.expose_secret())
        .take(usize::from(shares))
    {
        let bytes = Zeroizing::new(Vec::<u8>::from(&share));
        let index = *bytes
            .first()
            .ok_or_else(|| Error::Integrity("an empty share".into()))?;
        config
            .share_checks
            .insert(index, share_check(&config.platform_id, &bytes));
        files.push(ShareFile {
            platform_id: config.platform_id.clone(),
            threshold,
            share: hex::encode(bytes.as_slice()),
        });
    }
    Ok((config, root, files))
}

/// Rebuilds the root key from shares already checked against `config`.
pub fn combine(config: &SealConfig, files: &[ShareFile]) -> Result<Sm4Key> {
    let shares = files
        .iter()
        .map(|f| {
            let bytes = Zeroizing::new(
                hex::decode(&f.share).map_err(|_| Error::BadShare("share is not hex".into()))?,
            );
            blahaj::Share::try_from(bytes.as_slice()).map_err(|e| Error::BadShare(e.into()))
        })
        .collect::<Result<Vec<_>>>()?;
    let secret = Zeroizing::new(
        blahaj::Sharks(config.threshold)
            .recover(&shares)
            .map_err(|e| Error::BadShare(e.into()))?,
    );
    Ok(Sm4Key::from_slice(&secret)?)
}

/// Checks a share when it is given, naming what is wrong: another
/// platform's, a threshold other than this platform's, not hex, an index of
/// 0 or above the number of shares, y bytes of the wrong length, or bytes
/// that do not match the check kept for that index at init. Returns the
/// share's index.
pub fn check_share(config: &SealConfig, file: &ShareFile) -> Result<u8> {
    if file.platform_id != config.platform_id {
        return Err(Error::BadShare(
            "this share belongs to another platform".into(),
        ));
    }
    if file.threshold != config.threshold {
        return Err(Error::BadShare(format!(
            "the share says {} shares unseal, this platform needs {}: the file was changed",
            file.threshold, config.threshold
        )));
    }
    let bytes = Zeroizing::new(
        hex::decode(&file.share).map_err(|_| Error::BadShare("the share is not hex".into()))?,
    );
    let (&index, y) = bytes
        .split_first()
        .ok_or_else(|| Error::BadShare("the share is empty".into()))?;
    if index == 0 || index > config.shares {
        return Err(Error::BadShare(format!(
            "share index {index}: this platform's shares are numbered 1 to {}",
            config.shares
        )));
    }
    if y.len() != SHARE_Y_LEN {
        return Err(Error::BadShare(format!(
            "share {index} holds {} bytes, not {SHARE_Y_LEN}: the file was cut or changed",
            y.len()
        )));
    }
    if let Some(expected) = config.share_checks.get(&index) {
        let actual = share_check(&config.platform_id, &bytes);
        if !sscard_gm::ct_eq(actual.as_bytes(), expected.as_bytes()) {
            return Err(Error::BadShare(format!(
                "this is not share {index} of this platform: its check fails (the file was changed)"
            )));
        }
    }
    Ok(index)
}
