//! The barrier (as Vault's): everything secret is stored as SM4-GCM
//! ciphertext under a keyring whose own ciphertext is wrapped by the root
//! key. Each sealed value carries the keyring term that sealed it, and its
//! record identity is the AAD, so a value moved to another record fails.

use serde::{Deserialize, Serialize};
use sscard_gm::sm4::{gcm_decrypt, gcm_encrypt, GCM_IV_LEN};
use sscard_gm::{random, Sm4Key};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Version tag of a sealed value's layout: `v1 ‖ term(4, BE) ‖ iv(12) ‖ ct ‖ tag`.
const VERSION: &[u8; 2] = b"v1";
/// AAD of the keyring itself under the root key.
const KEYRING_AAD: &[u8] = b"sscard/keyring";

/// The data keys of the barrier, one per term; the newest seals.
pub struct Keyring {
    terms: Vec<(u32, Sm4Key)>,
}

#[derive(Serialize, Deserialize)]
struct StoredTerm {
    term: u32,
    key: String,
}

impl Keyring {
    /// A keyring with one fresh key (term 1).
    pub fn new() -> Result<Self> {
        Ok(Self {
            terms: vec![(1, Sm4Key::from_slice(&random::bytes(Sm4Key::LEN)?)?)],
        })
    }

    /// The newest term.
    pub fn term(&self) -> u32 {
        self.terms.last().map_or(0, |(t, _)| *t)
    }

    /// Adds a new term; values sealed before stay readable.
    pub fn rotate(&mut self) -> Result<u32> {
        let term = self.term() + 1;
        self.terms
            .push((term, Sm4Key::from_slice(&random::bytes(Sm4Key::LEN)?)?));
        Ok(term)
    }

    /// The keyring encrypted under the root key, for the store.
    pub fn wrap(&self, root: &Sm4Key) -> Result<Vec<u8>> {
        let stored: Vec<StoredTerm> = self
            .terms
            .iter()
            .map(|(term, key)| StoredTerm {
                term: *term,
                key: hex::encode(key.expose_secret()),
            })
            .collect();
        let json =
            Zeroizing::new(serde_json::to_vec(&stored).map_err(|e| Error::Invalid(e.to_string()))?);
        for mut s in stored {
            zeroize::Zeroize::zeroize(&mut s.key);
        }
        let iv = random::bytes(GCM_IV_LEN)?;
        let mut out = iv.to_vec();
        out.extend(gcm_encrypt(root, &iv, KEYRING_AAD, &json)?);
        Ok(out)
    }

    /// Opens the stored keyring; fails if `root` is not this platform's root key.
    pub fn unwrap(root: &Sm4Key, wrapped: &[u8]) -> Result<Self> {
        if wrapped.len() < GCM_IV_LEN {
            return Err(Error::Integrity("stored keyring is truncated".into()));
        }
        let (iv, sealed) = wrapped.split_at(GCM_IV_LEN);
        let json = Zeroizing::new(gcm_decrypt(root, iv, KEYRING_AAD, sealed).map_err(|_| {
            Error::BadShare("the shares do not combine into this platform's root key".into())
        })?);
        let stored: Vec<StoredTerm> = serde_json::from_slice(&json)
            .map_err(|_| Error::Integrity("stored keyring is malformed".into()))?;
        let mut terms = Vec::with_capacity(stored.len());
        for mut s in stored {
            let key = Zeroizing::new(
                hex::decode(&s.key).map_err(|_| Error::Integrity("keyring key".into()))?,
            );
            zeroize::Zeroize::zeroize(&mut s.key);
            terms.push((s.term, Sm4Key::from_slice(&key)?));
        }
        if terms.is_empty() {
            return Err(Error::Integrity("stored keyring is empty".into()));
        }
        Ok(Self { terms })
    }

    /// Seals `plaintext` for the record named `aad` under the newest term.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let (term, key) = self.terms.last().ok_or(Error::Sealed)?;
        let iv = random::bytes(GCM_IV_LEN)?;
        let mut out = VERSION.to_vec();
        out.extend_from_slice(&term.to_be_bytes());
        out.extend_from_slice(&iv);
        out.extend(gcm_encrypt(key, &iv, aad.as_bytes(), plaintext)?);
        Ok(out)
    }

    /// Opens a sealed value of the record named `aad`.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let bad = || Error::Integrity(format!("sealed value of {aad} does not open"));
        let rest = sealed.strip_prefix(VERSION.as_slice()).ok_or_else(bad)?;
        if rest.len() < 4 + GCM_IV_LEN {
            return Err(bad());
        }
        let (term, rest) = rest.split_at(4);
        let term = u32::from_be_bytes(term.try_into().map_err(|_| bad())?);
        let (iv, body) = rest.split_at(GCM_IV_LEN);
        let key = self
            .terms
            .iter()
            .find(|(t, _)| *t == term)
            .map(|(_, k)| k)
            .ok_or_else(bad)?;
        gcm_decrypt(key, iv, aad.as_bytes(), body)
            .map(Zeroizing::new)
            .map_err(|_| bad())
    }

    /// The term that sealed a value, if it is a sealed value at all.
    pub fn term_of(sealed: &[u8]) -> Option<u32> {
        let rest = sealed.strip_prefix(VERSION.as_slice())?;
        Some(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?))
    }
}

impl core::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keyring")
            .field("term", &self.term())
            .finish_non_exhaustive()
    }
}
