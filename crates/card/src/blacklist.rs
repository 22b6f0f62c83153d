//! The card blacklist as terminals receive it: a compact binary file, a
//! full list or a delta from a base version, signed with the platform's SM2
//! key, and the terminal's persistent cache with fast lookup.
//!
//! File layout (big-endian):
//!
//! ```text
//! "SSBL" | layout 1 (u8) | kind (u8: 0 full, 1 delta) | version (u64)
//! | base version (u64; 0 for a full list) | created (u64, ms)
//! | adds (u32) | removes (u32)
//! | adds: card ids ascending, each the LEB128 varint of its difference from
//!   the previous one (the first from 0), then its reason (u8)
//! | removes: likewise, without reasons
//! | signature (SM2, DER) | signature length (u16)
//! ```
//!
//! A 卡识别码 is 16 bytes, read as one `u128`; sorted identifiers share
//! their region prefix, so the differences are short.

use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"SSBL";
const LAYOUT: u8 = 1;

/// Why a card is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Reported lost (挂失).
    Lost,
    /// Suspended (暂停).
    Suspended,
    /// Cancelled (注销).
    Cancelled,
    /// Replaced by a new card (换卡).
    Replaced,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 4] = [Self::Lost, Self::Suspended, Self::Cancelled, Self::Replaced];

    /// The name in commands and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lost => "lost",
            Self::Suspended => "suspended",
            Self::Cancelled => "cancelled",
            Self::Replaced => "replaced",
        }
    }

    /// Parses a name of [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    fn code(self) -> u8 {
        match self {
            Self::Lost => 1,
            Self::Suspended => 2,
            Self::Cancelled => 3,
            Self::Replaced => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Full list or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every card on the list at `version`.
    Full,
    /// The changes from `base` to `version`.
    Delta,
}

/// A blacklist file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blacklist {
    /// Full or delta.
    pub kind: Kind,
    /// The version it brings a terminal to.
    pub version: u64,
    /// For a delta, the version it applies to; 0 for a full list.
    pub base: u64,
    /// When published, ms since the epoch.
    pub created_ms: u64,
    /// Cards added (all cards, for a full list), ascending, with reasons.
    pub adds: Vec<(u128, Reason)>,
    /// Cards removed, ascending (empty for a full list).
    pub removes: Vec<u128>,
}

fn put_varint(out: &mut Vec<u8>, mut value: u128) {
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn bad(why: &str) -> Error {
    Error::Invalid(format!("blacklist file: {why}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, rest) = self
            .bytes
            .split_at_checked(n)
            .ok_or_else(|| bad("truncated"))?;
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        self.take(1)?
            .first()
            .copied()
            .ok_or_else(|| bad("truncated"))
    }

    fn u32(&mut self) -> Result<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| bad("truncated"))?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self) -> Result<u64> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| bad("truncated"))?;
        Ok(u64::from_be_bytes(b))
    }

    fn varint(&mut self) -> Result<u128> {
        let mut value: u128 = 0;
        for shift in (0..19).map(|i| i * 7) {
            let byte = self.u8()?;
            let part = u128::from(byte & 0x7F);
            if shift == 126 && part > 0x03 {
                return Err(bad("an identifier difference overflows"));
            }
            value |= part << shift;
            if byte & 0x80 == 0 {
                // One encoding per value: no trailing zero groups.
                if byte == 0 && shift > 0 {
                    return Err(bad("a non-minimal identifier difference"));
                }
                return Ok(value);
            }
        }
        Err(bad("an identifier difference overflows"))
    }

    /// `count` ascending identifiers, strictly increasing.
    fn ids(&mut self, count: u32, with_reasons: bool) -> Result<Vec<(u128, Reason)>> {
        let mut out = Vec::with_capacity((count as usize).min(self.bytes.len()));
        let mut last: Option<u128> = None;
        for _ in 0..count {
            let diff = self.varint()?;
            let id = match last {
                None => diff,
                Some(prev) => {
                    if diff == 0 {
                        return Err(bad("identifiers are not strictly ascending"));
                    }
                    prev.checked_add(diff)
                        .ok_or_else(|| bad("an identifier overflows"))?
                }
            };
            let reason = if with_reasons {
                Reason::from_code(self.u8()?).ok_or_else(|| bad("unknown reason"))?
            } else {
                Reason::Lost
            };
            out.push((id, reason));
            last = Some(id);
        }
        Ok(out)
    }
}

impl Blacklist {
    /// The bytes that are signed (everything but the signature).
    pub fn encode_unsigned(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + self.adds.len() * 8 + self.removes.len() * 7);
        out.extend_from_slice(MAGIC);
        out.push(LAYOUT);
        out.push(match self.kind {
            Kind::Full => 0,
            Kind::Delta => 1,
        });
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.base.to_be_bytes());
        out.extend_from_slice(&self.created_ms.to_be_bytes());
        out.extend_from_slice(&(self.adds.len() as u32).to_be_bytes());
        out.extend_from_slice(&(self.removes.len() as u32).to_be_bytes());
        let mut last = 0u128;
        for (id, reason) in &self.adds {
            put_varint(&mut out, id.wrapping_sub(last));
            out.push(reason.code());
            last = *id;
        }
        last = 0;
        for id in &self.removes {
            put_varint(&mut out, id.wrapping_sub(last));
            last = *id;
        }
        out
    }

    /// The signed file: the content, then `sign(content)` and its length.
    pub fn encode_signed(&self, sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>) -> Result<Vec<u8>> {
        let mut out = self.encode_unsigned();
        let signature = sign(&out)?;
        let len = u16::try_from(signature.len()).map_err(|_| bad("signature too long"))?;
        out.extend_from_slice(&signature);
        out.extend_from_slice(&len.to_be_bytes());
        Ok(out)
    }

    /// Parses a signed file once `verify(content, signature)` accepts it;
    /// nothing of a file whose signature fails is read.
    pub fn parse_signed(bytes: &[u8], verify: impl FnOnce(&[u8], &[u8]) -> bool) -> Result<Self> {
        let (rest, len) = bytes
            .split_last_chunk::<2>()
            .ok_or_else(|| bad("truncated"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        let split = rest
            .len()
            .checked_sub(len)
            .ok_or_else(|| bad("truncated"))?;
        let (content, signature) = rest.split_at(split);
        if !verify(content, signature) {
            return Err(bad("the platform's signature does not verify"));
        }
        Self::parse_unsigned(content)
    }

    /// Parses the content of a file (the part that is signed).
    pub fn parse_unsigned(content: &[u8]) -> Result<Self> {
        let mut r = Reader { bytes: content };
        if r.take(4)? != MAGIC || r.u8()? != LAYOUT {
            return Err(bad("not a blacklist file of sscard"));
        }
        let kind = match r.u8()? {
            0 => Kind::Full,
            1 => Kind::Delta,
            _ => return Err(bad("unknown kind")),
        };
        let version = r.u64()?;
        let base = r.u64()?;
        let created_ms = r.u64()?;
        let (adds, removes) = (r.u32()?, r.u32()?);
        if kind == Kind::Full && (base != 0 || removes != 0) {
            return Err(bad("a full list has no base and no removals"));
        }
        if kind == Kind::Delta && base >= version {
            return Err(bad("a delta goes forward"));
        }
        let adds = r.ids(adds, true)?;
        let removes = r
            .ids(removes, false)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if !r.bytes.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(Self {
            kind,
            version,
            base,
            created_ms,
            adds,
            removes,
        })
    }
}

/// A terminal's copy of the list: sorted identifiers with their reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cache {
    /// The version it holds (0: none yet).
    pub version: u64,
    ids: Vec<u128>,
    reasons: Vec<Reason>,
}

impl Cache {
    /// How many cards are on it.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Why `card_id` is on the list, if it is (binary search).
    pub fn lookup(&self, card_id: u128) -> Option<Reason> {
        let i = self.ids.binary_search(&card_id).ok()?;
        self.reasons.get(i).copied()
    }

    /// The cache after `file`: a full list replaces it unless it is older
    /// than the cache, or of the same version with other cards (a genuine
    /// but stale or forged-version list is refused); a delta must start at
    /// the cache's version. The cache itself is not changed (apply by
    /// replacing).
    pub fn applied(&self, file: &Blacklist) -> Result<Cache> {
        match file.kind {
            Kind::Full if file.version < self.version => Err(Error::Invalid(format!(
                "the full list of version {} is older than the version {} this terminal holds",
                file.version, self.version
            ))),
            Kind::Full
                if file.version == self.version
                    && !(self.ids.len() == file.adds.len()
                        && self
                            .ids
                            .iter()
                            .zip(&self.reasons)
                            .zip(&file.adds)
                            .all(|((id, reason), (aid, areason))| id == aid && reason == areason)) =>
            {
                Err(Error::Invalid(format!(
                    "the full list of version {} lists other cards than the version {} this terminal holds",
                    file.version, self.version
                )))
            }
            Kind::Full => Ok(Cache {
                version: file.version,
                ids: file.adds.iter().map(|(id, _)| *id).collect(),
                reasons: file.adds.iter().map(|(_, r)| *r).collect(),
            }),
            Kind::Delta => {
                if file.base != self.version {
                    return Err(Error::Invalid(format!(
                        "the delta applies to version {}, this terminal holds {}",
                        file.base, self.version
                    )));
                }
                let mut merged: std::collections::BTreeMap<u128, Reason> = self
                    .ids
                    .iter()
                    .copied()
                    .zip(self.reasons.iter().copied())
                    .collect();
                for id in &file.removes {
                    merged.remove(id);
                }
                merged.extend(file.adds.iter().copied());
                Ok(Cache {
                    version: file.version,
                    ids: merged.keys().copied().collect(),
                    reasons: merged.values().copied().collect(),
                })
            }
        }
    }

    /// The cache as a file's content (a full list, unsigned: the cache file).
    pub fn encode(&self) -> Vec<u8> {
        Blacklist {
            kind: Kind::Full,
            version: self.version,
            base: 0,
            created_ms: 0,
            adds: self
                .ids
                .iter()
                .copied()
                .zip(self.reasons.iter().copied())
                .collect(),
            removes: Vec::new(),
        }
        .encode_unsigned()
    }

    /// Reads a cache file of [`Self::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Cache> {
        Cache::default().applied(&Blacklist::parse_unsigned(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(kind: Kind, version: u64, base: u64, adds: &[u128], removes: &[u128]) -> Blacklist {
        Blacklist {
            kind,
            version,
            base,
            created_ms: 1,
            adds: adds.iter().map(|id| (*id, Reason::Lost)).collect(),
            removes: removes.to_vec(),
        }
    }

    #[test]
    fn a_full_list_older_than_the_cache_or_of_its_version_with_other_cards_is_refused() {
        let v2 = list(Kind::Full, 2, 0, &[10, 20], &[]);
        let cache = Cache::default().applied(&v2).unwrap();
        let older = list(Kind::Full, 1, 0, &[10, 20, 30], &[]);
        assert!(cache
            .applied(&older)
            .unwrap_err()
            .to_string()
            .contains("older"));
        let other = list(Kind::Full, 2, 0, &[10, 21], &[]);
        assert!(cache
            .applied(&other)
            .unwrap_err()
            .to_string()
            .contains("other cards"));
        let fewer = list(Kind::Full, 2, 0, &[10], &[]);
        assert!(cache.applied(&fewer).is_err());
        // The same list again, and a newer one, apply.
        assert_eq!(cache.applied(&v2).unwrap(), cache);
        let v3 = list(Kind::Full, 3, 0, &[30], &[]);
        assert_eq!(cache.applied(&v3).unwrap().version, 3);
    }

    #[test]
    fn a_delta_applies_only_to_its_base_and_a_changed_byte_fails_the_signature() {
        let full = list(Kind::Full, 1, 0, &[10, 20, 30], &[]);
        let cache = Cache::default().applied(&full).unwrap();
        assert_eq!(cache.lookup(20), Some(Reason::Lost));
        let delta = list(Kind::Delta, 2, 1, &[25], &[20]);
        let next = cache.applied(&delta).unwrap();
        assert_eq!(
            (next.lookup(20), next.lookup(25), next.version),
            (None, Some(Reason::Lost), 2)
        );
        assert!(next.applied(&delta).is_err(), "a delta for another base");
        let sign = |c: &[u8]| {
            Ok(c.iter().fold(vec![0u8; 8], |mut s, b| {
                s[0] ^= b;
                s.rotate_left(1);
                s
            }))
        };
        let file = delta.encode_signed(sign).unwrap();
        let verify = |c: &[u8], s: &[u8]| sign(c).unwrap() == s;
        assert_eq!(Blacklist::parse_signed(&file, verify).unwrap(), delta);
        for i in 0..file.len() {
            let mut changed = file.clone();
            changed[i] ^= 0x01;
            assert!(
                Blacklist::parse_signed(&changed, verify).is_err(),
                "byte {i}"
            );
        }
        assert_eq!(Cache::decode(&next.encode()).unwrap(), next);
    }

    proptest! {
        #[test]
        fn files_round_trip(
            mut adds in proptest::collection::vec(any::<u128>(), 0..50),
            mut removes in proptest::collection::vec(any::<u128>(), 0..50),
            version in 1u64..1000,
        ) {
            adds.sort_unstable();
            adds.dedup();
            removes.sort_unstable();
            removes.dedup();
            let d = list(Kind::Delta, version + 1, version, &adds, &removes);
            prop_assert_eq!(Blacklist::parse_unsigned(&d.encode_unsigned()).unwrap(), d);
        }

        #[test]
        fn any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(b) = Blacklist::parse_unsigned(&bytes) {
                prop_assert_eq!(b.encode_unsigned(), bytes);
            }
        }
    }
}
