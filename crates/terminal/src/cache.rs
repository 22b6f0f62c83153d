//! The terminal's persistent blacklist cache: the last applied version,
//! looked up by binary search before any other step of a card flow. A file
//! is applied only after its signature verifies with the platform's key and,
//! for a delta, only onto the version it was made for; the cache file is
//! replaced atomically, so a refused or interrupted update leaves it as it
//! was.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sscard_card::blacklist::{Blacklist, Cache, Reason};
use sscard_gm::sm2::{self, Signature, SignatureFormat, Sm2PublicKey};

use crate::flows::CardCheck;
use crate::{Error, Result};

/// A blacklist cache kept in a file.
#[derive(Debug)]
pub struct BlacklistCache {
    path: PathBuf,
    cache: Cache,
}

impl BlacklistCache {
    /// Opens the cache at `path` (empty, version 0, if there is none yet).
    pub fn open(path: &Path) -> Result<Self> {
        let cache = match std::fs::read(path) {
            Ok(bytes) => Cache::decode(&bytes)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Cache::default(),
            Err(e) => return Err(Error::Transport(format!("{}: {e}", path.display()))),
        };
        Ok(Self {
            path: path.to_path_buf(),
            cache,
        })
    }

    /// The version held.
    pub fn version(&self) -> u64 {
        self.cache.version
    }

    /// Cards on the list.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Why a card is on the list, if it is.
    pub fn lookup(&self, card_id: &[u8; 16]) -> Option<Reason> {
        self.cache.lookup(u128::from_be_bytes(*card_id))
    }

    /// Verifies `file` with the platform's key and applies it; on any
    /// refusal the cache (memory and file) is unchanged.
    pub fn apply(&mut self, file: &[u8], platform: &Sm2PublicKey) -> Result<u64> {
        let list = Blacklist::parse_signed(file, |content, signature| {
            Signature::parse(signature, SignatureFormat::Der)
                .and_then(|s| sm2::verify(platform, sm2::DEFAULT_USER_ID, content, &s))
                .is_ok()
        })
        .map_err(|e| Error::Invalid(e.to_string()))?;
        let next = self
            .cache
            .applied(&list)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        save(&self.path, &next.encode())?;
        self.cache = next;
        Ok(self.cache.version)
    }
}

impl CardCheck for BlacklistCache {
    fn check(&self, card_id: &[u8; 16]) -> Result<()> {
        match self.lookup(card_id) {
            Some(reason) => Err(Error::Blacklisted(format!(
                "card {} ({}), list version {}",
                hex::encode_upper(card_id),
                reason.as_str(),
                self.version()
            ))),
            None => Ok(()),
        }
    }
}

fn save(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| Error::Transport(format!("{}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}
