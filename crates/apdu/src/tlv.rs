//! BER-TLV (ISO/IEC 7816-4 §5.2, ISO/IEC 8825-1): tags of 1 to 3 bytes,
//! definite lengths of 1 to 4 bytes, constructed values holding TLVs.
//!
//! ```
//! use sscard_apdu::tlv::Tlv;
//! // The SSSE select response names the card's algorithm in 9F0C / 86.
//! // 9F0C is primitive by its tag, yet cards put TLVs in it: parse its value.
//! let fci = [0x6F, 0x06, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03];
//! let all = Tlv::parse_all(&fci).unwrap();
//! let inner = Tlv::parse_all(&Tlv::find(&all, 0x9F0C).unwrap().value).unwrap();
//! assert_eq!(Tlv::find(&inner, 0x86).unwrap().value, [0x03]);
//! ```

use crate::{Error, Result};

/// One TLV: its tag (the tag bytes as a big-endian number) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// The tag, e.g. `0x9F0C`.
    pub tag: u32,
    /// The value.
    pub value: Vec<u8>,
}

impl Tlv {
    /// A TLV.
    pub fn new(tag: u32, value: Vec<u8>) -> Self {
        Self { tag, value }
    }

    /// Whether the tag marks a constructed value (bit 6 of its first byte).
    pub fn is_constructed(&self) -> bool {
        tag_bytes(self.tag).first().is_some_and(|b| b & 0x20 != 0)
    }

    /// The TLVs inside a constructed value.
    pub fn children(&self) -> Result<Vec<Tlv>> {
        if !self.is_constructed() {
            return Err(Error::Tlv("a primitive value has no children"));
        }
        Self::parse_all(&self.value)
    }

    /// Parses a sequence of TLVs that fills `bytes` exactly.
    pub fn parse_all(mut bytes: &[u8]) -> Result<Vec<Tlv>> {
        let mut all = Vec::new();
        while !bytes.is_empty() {
            let (tlv, rest) = Self::parse_one(bytes)?;
            all.push(tlv);
            bytes = rest;
        }
        Ok(all)
    }

    /// Parses one TLV at the start of `bytes`; returns it and the rest.
    pub fn parse_one(bytes: &[u8]) -> Result<(Tlv, &[u8])> {
        let (&first, mut rest) = bytes.split_first().ok_or(Error::Tlv("no tag"))?;
        let mut tag = u32::from(first);
        if first & 0x1F == 0x1F {
            // Subsequent tag bytes while bit 8 is set; at most 3 tag bytes.
            for count in 1.. {
                let (&next, after) = rest
                    .split_first()
                    .ok_or(Error::Tlv("tag runs past the end"))?;
                if count > 2 {
                    return Err(Error::Tlv("tag longer than 3 bytes"));
                }
                tag = (tag << 8) | u32::from(next);
                rest = after;
                if next & 0x80 == 0 {
                    break;
                }
            }
        }
        let (&len_byte, after) = rest.split_first().ok_or(Error::Tlv("no length"))?;
        rest = after;
        let len = match len_byte {
            0..=0x7F => usize::from(len_byte),
            0x81..=0x84 => {
                let n = usize::from(len_byte & 0x7F);
                let (len_bytes, after) = rest
                    .split_at_checked(n)
                    .ok_or(Error::Tlv("length runs past the end"))?;
                rest = after;
                len_bytes
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
            }
            _ => return Err(Error::Tlv("indefinite or over-long length")),
        };
        let (value, rest) = rest
            .split_at_checked(len)
            .ok_or(Error::Tlv("value shorter than its length"))?;
        Ok((Tlv::new(tag, value.to_vec()), rest))
    }

    /// Encodes the TLV with the shortest length form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = tag_bytes(self.tag);
        let len = self.value.len();
        match len {
            0..=0x7F => out.push(len as u8),
            0x80..=0xFF => out.extend([0x81, len as u8]),
            0x100..=0xFFFF => {
                out.push(0x82);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                let bytes = (len as u32).to_be_bytes();
                let skip = usize::from(len <= 0xFF_FFFF);
                out.push(0x80 | (4 - skip) as u8);
                out.extend_from_slice(bytes.get(skip..).unwrap_or_default());
            }
        }
        out.extend_from_slice(&self.value);
        out
    }

    /// Encodes a sequence of TLVs.
    pub fn encode_all(all: &[Tlv]) -> Vec<u8> {
        all.iter().flat_map(Tlv::encode).collect()
    }

    /// The first TLV with `tag`, searching constructed values depth first.
    pub fn find(all: &[Tlv], tag: u32) -> Option<Tlv> {
        for tlv in all {
            if tlv.tag == tag {
                return Some(tlv.clone());
            }
            if let Ok(children) = tlv.children() {
                if let Some(found) = Self::find(&children, tag) {
                    return Some(found);
                }
            }
        }
        None
    }
}

/// The bytes of a tag number: as many as it needs, at least one.
fn tag_bytes(tag: u32) -> Vec<u8> {
    let bytes = tag.to_be_bytes();
    let skip = bytes.iter().take(3).take_while(|b| **b == 0).count();
    bytes.get(skip..).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tags_and_lengths_of_every_form() {
        let t = Tlv::new(0x9F0C, vec![0x86, 0x01, 0x03]);
        assert_eq!(t.encode(), [0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03]);
        let long = Tlv::new(0x5F20, vec![0x41; 300]);
        assert_eq!(
            long.encode().get(..5).unwrap(),
            [0x5F, 0x20, 0x82, 0x01, 0x2C]
        );
        assert_eq!(Tlv::parse_all(&long.encode()).unwrap(), vec![long]);
        // A non-minimal length is accepted, as BER allows.
        assert_eq!(
            Tlv::parse_all(&[0x80, 0x81, 0x01, 0xAA]).unwrap(),
            vec![Tlv::new(0x80, vec![0xAA])]
        );
        for bad in [
            &[0x9F][..],
            &[0x9F, 0x81, 0x81, 0x81, 0x01, 0x00],
            &[0x80, 0x80],
            &[0x80, 0x85, 0, 0, 0, 0, 1],
            &[0x80, 0x02, 0x00],
            &[0x80, 0x82, 0x01],
        ] {
            assert!(Tlv::parse_all(bad).is_err(), "{bad:02x?}");
        }
    }

    fn tlv() -> impl Strategy<Value = Tlv> {
        let tag = prop_oneof![
            (0u32..=0xFF).prop_filter("single-byte tag", |t| t & 0x1F != 0x1F),
            (0x1Fu32..=0xFF)
                .prop_filter("multi-byte first", |t| t & 0x1F == 0x1F)
                .prop_flat_map(|first| (Just(first), 0u32..0x80))
                .prop_map(|(first, second)| (first << 8) | second),
        ];
        (tag, proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(t, v)| Tlv::new(t, v))
    }

    proptest! {
        #[test]
        fn encode_then_parse_is_the_identity(all in proptest::collection::vec(tlv(), 0..5)) {
            prop_assert_eq!(Tlv::parse_all(&Tlv::encode_all(&all)).unwrap(), all);
        }

        #[test]
        fn any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(all) = Tlv::parse_all(&bytes) {
                prop_assert_eq!(Tlv::parse_all(&Tlv::encode_all(&all)).unwrap(), all);
            }
        }
    }
}
