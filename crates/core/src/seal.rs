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
    let config = SealConfig {
        platform_id: hex::encode(random::bytes(16)?.as_slice()),
        shares,
        threshold,
    };
    let root = Sm4Key::from_slice(&random::bytes(Sm4Key::LEN)?)?;
    let files = blahaj::Sharks(threshold)
        .dealer(root.expose_secret())
        .take(usize::from(shares))
        .map(|share| {
            let bytes = Zeroizing::new(Vec::<u8>::from(&share));
            ShareFile {
                platform_id: config.platform_id.clone(),
                threshold,
                share: hex::encode(bytes.as_slice()),
            }
        })
        .collect();
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

/// Checks that a share belongs to this platform and is well formed.
pub fn check_share(config: &SealConfig, file: &ShareFile) -> Result<()> {
    if file.platform_id != config.platform_id {
        return Err(Error::BadShare(
            "this share belongs to another platform".into(),
        ));
    }
    if file.threshold != config.threshold || file.index().is_none() {
        return Err(Error::BadShare("malformed share".into()));
    }
    Ok(())
}
