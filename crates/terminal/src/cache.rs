//! The terminal's persistent blacklist cache: the last applied version,
//! looked up by binary search before any other step of a card flow. A file
//! is applied only after its signature verifies with the platform's key and,
//! for a delta, only onto the version it was made for; a full list older
//! than the cache, or of the same version with other cards, or any list
//! older than the version the terminal learned at sign-in (its floor), is
//! refused. The cache file keeps the platform's signed files themselves (the
//! newest full list and the deltas applied since), each checked again when
//! the cache is opened, so that a cache changed on disk is refused. The file
//! is replaced atomically, so a refused or interrupted update leaves it as
//! it was.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sscard_card::blacklist::{Blacklist, Cache, Kind, Reason};
use sscard_gm::sm2::{self, Signature, SignatureFormat, Sm2PublicKey};

use crate::flows::CardCheck;
use crate::{Error, Result};

/// The first bytes of a cache file: the format of the signed chain.
const MAGIC: &[u8; 8] = b"SSCBLC2\n";

/// Deltas kept after the newest full list before a terminal should fetch
/// a full list again ([`BlacklistCache::wants_full`]).
pub const MAX_DELTAS: usize = 32;

/// A blacklist cache kept in a file.
#[derive(Debug)]
pub struct BlacklistCache {
    path: PathBuf,
    cache: Cache,
    /// The signed files the cache is made of: a full list, then deltas.
    chain: Vec<Vec<u8>>,
}

/// Parses and verifies one signed file of the platform.
fn verified(file: &[u8], platform: &Sm2PublicKey) -> Result<Blacklist> {
    Blacklist::parse_signed(file, |content, signature| {
        Signature::parse(signature, SignatureFormat::Der)
            .and_then(|s| sm2::verify(platform, sm2::DEFAULT_USER_ID, content, &s))
            .is_ok()
    })
    .map_err(|e| Error::Invalid(e.to_string()))
}

impl BlacklistCache {
    /// Opens the cache at `path` (empty, version 0, if there is none yet),
    /// checking every signed file it keeps with the platform's key: a cache
    /// changed on disk, or kept in an unsigned form, is refused.
    pub fn open(path: &Path, platform: &Sm2PublicKey) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    path: path.to_path_buf(),
                    cache: Cache::default(),
                    chain: Vec::new(),
                })
            }
            Err(e) => return Err(Error::Transport(format!("{}: {e}", path.display()))),
        };
        let refused = |why: &str| {
            Error::Invalid(format!(
                "{}: {why}; the cache is not used (remove it and sync the blacklist again)",
                path.display()
            ))
        };
        let mut rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| refused("not a signed blacklist cache of sscard"))?;
        let mut cache = Cache::default();
        let mut chain = Vec::new();
        while !rest.is_empty() {
            let (len, after) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| refused("truncated"))?;
            let len =
                usize::try_from(u32::from_be_bytes(*len)).map_err(|_| refused("truncated"))?;
            if after.len() < len {
                return Err(refused("truncated"));
            }
            let (file, after) = after.split_at(len);
            let list = verified(file, platform)
                .map_err(|e| refused(&format!("a file in it does not check: {e}")))?;
            if chain.is_empty() != (list.kind == Kind::Full) {
                return Err(refused("it does not start with one full list"));
            }
            cache = cache.applied(&list).map_err(|e| refused(&e.to_string()))?;
            chain.push(file.to_vec());
            rest = after;
        }
        Ok(Self {
            path: path.to_path_buf(),
            cache,
            chain,
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

    /// Whether the cache holds [`MAX_DELTAS`] deltas or more after its full
    /// list: the next update should be a full list.
    pub fn wants_full(&self) -> bool {
        self.chain.len() > MAX_DELTAS
    }

    /// Why a card is on the list, if it is.
    pub fn lookup(&self, card_id: &[u8; 16]) -> Option<Reason> {
        self.cache.lookup(u128::from_be_bytes(*card_id))
    }

    /// Verifies `file` with the platform's key and applies it, unless it is
    /// older than `floor` (the version the terminal learned at sign-in) or
    /// than the cache (see [`Cache::applied`]); on any refusal the cache
    /// (memory and file) is unchanged.
    pub fn apply(&mut self, file: &[u8], platform: &Sm2PublicKey, floor: u64) -> Result<u64> {
        let list = verified(file, platform)?;
        if list.version < floor {
            return Err(Error::Invalid(format!(
                "the list of version {} is older than the version {floor} the platform gave at sign-in",
                list.version
            )));
        }
        let next = self
            .cache
            .applied(&list)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let mut chain = match list.kind {
            Kind::Full => Vec::new(),
            Kind::Delta => self.chain.clone(),
        };
        if !(list.kind == Kind::Full
            && list.version == self.cache.version
            && !self.chain.is_empty())
        {
            chain.push(file.to_vec());
        } else {
            chain.clone_from(&self.chain);
        }
        let mut bytes = MAGIC.to_vec();
        for signed in &chain {
            let len = u32::try_from(signed.len())
                .map_err(|_| Error::Invalid("a blacklist file over 4 GiB".into()))?;
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(signed);
        }
        save(&self.path, &bytes)?;
        self.cache = next;
        self.chain = chain;
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
