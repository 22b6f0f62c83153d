//! BER-TLV (ISO/IEC 7816-4 §5.2, ISO/IEC 8825-1): tags of 1 to 3 bytes,
//! definite lengths of 1 to 4 bytes, constructed values holding TLVs.
//!
//! Bytes from a card are parsed once into a [`Tree`]: every TLV, with those
//! inside constructed values, borrowing its value from the input, nested at
//! most [`Limits::depth`] deep in at most [`Limits::len`] bytes. Anything
//! else is refused as malformed, so that no answer, however hostile, costs
//! more than a few times its own size to search.
//!
//! ```
//! use sscard_apdu::tlv::Tree;
//! // The SSSE select response names the card's algorithm in 9F0C / 86.
//! // 9F0C is primitive by its tag, yet cards put TLVs in it: parse its value.
//! let fci = [0x6F, 0x06, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03];
//! let tree = Tree::parse(&fci).unwrap();
//! let inner = Tree::parse(tree.find(0x9F0C).unwrap().value).unwrap();
//! assert_eq!(inner.find(0x86).unwrap().value, [0x03]);
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
        constructed(self.tag)
    }

    /// Parses a sequence of TLVs that fills `bytes` exactly, without looking
    /// inside constructed values (see [`Tree`] for that).
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
        let (tag, value, rest) = split_one(bytes)?;
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
}

/// Splits the TLV at the start of `bytes` into its tag, its value and the
/// bytes after it, copying nothing.
fn split_one(bytes: &[u8]) -> Result<(u32, &[u8], &[u8])> {
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
    Ok((tag, value, rest))
}

/// Whether a tag marks a constructed value (bit 6 of its first byte).
fn constructed(tag: u32) -> bool {
    tag_bytes(tag).first().is_some_and(|b| b & 0x20 != 0)
}

/// The bounds of a [`Tree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Levels of TLVs: 1 allows no TLV inside a constructed value, 16 allows
    /// fifteen constructed values one inside the other.
    pub depth: usize,
    /// Bytes parsed at most.
    pub len: usize,
}

impl Limits {
    /// 16 levels in at most 65536 bytes: the most one response APDU holds,
    /// far deeper than any card nests its data objects.
    pub const DEFAULT: Limits = Limits {
        depth: 16,
        len: 65_536,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One TLV of a [`Tree`]: its tag, its value (borrowed from the parsed
/// bytes) and how deep it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node<'a> {
    /// The tag, e.g. `0x9F0C`.
    pub tag: u32,
    /// The value; for a constructed tag, the TLVs that follow this node at
    /// the next depth.
    pub value: &'a [u8],
    /// 0 for a TLV of the parsed bytes, 1 for one inside such a TLV's
    /// constructed value, and so on.
    pub depth: usize,
}

impl Node<'_> {
    /// Whether the tag marks a constructed value.
    pub fn is_constructed(&self) -> bool {
        constructed(self.tag)
    }

    /// The TLV as an owned value (one copy of the value).
    pub fn to_tlv(&self) -> Tlv {
        Tlv::new(self.tag, self.value.to_vec())
    }
}

/// BER-TLV bytes parsed once, with the TLVs inside constructed values: every
/// TLV in the order of the bytes, which is depth first. The parse copies no
/// value and keeps a few machine words per TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree<'a> {
    nodes: Vec<Node<'a>>,
}

impl<'a> Tree<'a> {
    /// Parses a sequence of TLVs that fills `bytes` exactly, within
    /// [`Limits::DEFAULT`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        Self::parse_with(bytes, Limits::DEFAULT)
    }

    /// Parses a sequence of TLVs that fills `bytes` exactly, and the
    /// contents of every constructed value, which must be TLVs filling it.
    /// Refuses bytes longer than `limits.len` and nesting deeper than
    /// `limits.depth`.
    pub fn parse_with(bytes: &'a [u8], limits: Limits) -> Result<Self> {
        if bytes.len() > limits.len {
            return Err(Error::Tlv("longer than the limit"));
        }
        let mut nodes = Vec::new();
        // The bytes left at each open level: the input, then the rest of
        // each constructed value being read.
        let mut open: Vec<&'a [u8]> = vec![bytes];
        while let Some(rest) = open.pop() {
            if rest.is_empty() {
                continue;
            }
            let (tag, value, after) = split_one(rest)?;
            let depth = open.len();
            nodes.push(Node { tag, value, depth });
            open.push(after);
            if constructed(tag) && !value.is_empty() {
                if depth + 1 >= limits.depth {
                    return Err(Error::Tlv("nested deeper than the limit"));
                }
                open.push(value);
            }
        }
        Ok(Self { nodes })
    }

    /// Every TLV, depth first (in the order of the bytes).
    pub fn nodes(&self) -> &[Node<'a>] {
        &self.nodes
    }

    /// The TLVs of the parsed bytes themselves (depth 0).
    pub fn top(&self) -> impl Iterator<Item = &Node<'a>> {
        self.nodes.iter().filter(|n| n.depth == 0)
    }

    /// The first TLV with `tag`, searching constructed values depth first.
    pub fn find(&self, tag: u32) -> Option<&Node<'a>> {
        self.nodes.iter().find(|n| n.tag == tag)
    }

    /// The TLVs directly inside the constructed value of the node at
    /// `index` of [`Self::nodes`].
    pub fn children(&self, index: usize) -> impl Iterator<Item = &Node<'a>> {
        let depth = self.nodes.get(index).map(|n| n.depth + 1);
        self.nodes
            .get(index.saturating_add(1)..)
            .unwrap_or_default()
            .iter()
            .take_while(move |n| Some(n.depth) >= depth)
            .filter(move |n| Some(n.depth) == depth)
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

    /// Tags of one to three bytes, primitive or constructed as asked.
    fn tag(constructed: bool) -> impl Strategy<Value = u32> {
        let form = if constructed { 0x20 } else { 0x00 };
        prop_oneof![
            (0u32..=0xFF)
                .prop_filter("single-byte tag", |t| t & 0x1F != 0x1F)
                .prop_map(move |t| (t & !0x20) | form),
            (0u32..4, 0x80u32..0x100, 0u32..0x80).prop_map(move |(class, mid, last)| {
                (((class << 6) | form | 0x1F) << 16) | (mid << 8) | last
            }),
            (0u32..4, 0u32..0x80)
                .prop_map(move |(class, second)| { (((class << 6) | form | 0x1F) << 8) | second }),
        ]
    }

    /// A TLV whose constructed values hold TLVs.
    #[derive(Debug, Clone)]
    enum Shape {
        Primitive(u32, Vec<u8>),
        Constructed(u32, Vec<Shape>),
    }

    impl Shape {
        fn encode(&self) -> Vec<u8> {
            match self {
                Shape::Primitive(tag, value) => Tlv::new(*tag, value.clone()).encode(),
                Shape::Constructed(tag, inner) => {
                    Tlv::new(*tag, inner.iter().flat_map(Shape::encode).collect()).encode()
                }
            }
        }

        /// (tag, value, depth) of itself and everything inside, depth first.
        fn flatten(&self, depth: usize, out: &mut Vec<(u32, Vec<u8>, usize)>) {
            match self {
                Shape::Primitive(tag, value) => out.push((*tag, value.clone(), depth)),
                Shape::Constructed(tag, inner) => {
                    out.push((*tag, inner.iter().flat_map(Shape::encode).collect(), depth));
                    for shape in inner {
                        shape.flatten(depth + 1, out);
                    }
                }
            }
        }
    }

    fn shape() -> impl Strategy<Value = Shape> {
        let leaf = (tag(false), proptest::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(t, v)| Shape::Primitive(t, v));
        leaf.prop_recursive(6, 64, 6, |inner| {
            (tag(true), proptest::collection::vec(inner, 0..6))
                .prop_map(|(t, children)| Shape::Constructed(t, children))
        })
    }

    /// A constructed `A0` around `inner`, `levels` times.
    fn nest(levels: usize, inner: Vec<u8>) -> Vec<u8> {
        (0..levels).fold(inner, |bytes, _| Tlv::new(0xA0, bytes).encode())
    }

    #[test]
    fn a_tree_holds_every_tlv_depth_first_and_copies_nothing() {
        let fci = [
            0x6F, 0x0F, 0x84, 0x02, 0xA0, 0x00, 0xA5, 0x09, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03,
            0xBF, 0x0C, 0x00, 0x90, 0x00,
        ];
        let tree = Tree::parse(&fci).unwrap();
        let seen: Vec<(u32, usize)> = tree.nodes().iter().map(|n| (n.tag, n.depth)).collect();
        assert_eq!(
            seen,
            [
                (0x6F, 0),
                (0x84, 1),
                (0xA5, 1),
                (0x9F0C, 2),
                (0xBF0C, 2),
                (0x90, 0)
            ]
        );
        // 84's value looks like a TLV; 84 is primitive, so it is not one.
        assert_eq!(tree.find(0x84).unwrap().value, [0xA0, 0x00]);
        assert_eq!(tree.find(0xA0), None);
        let value = tree.find(0x9F0C).unwrap().value;
        assert_eq!(value.as_ptr(), fci[11..].as_ptr(), "borrowed, not copied");
        let inner = Tree::parse(value).unwrap();
        assert_eq!(inner.find(0x86).unwrap().to_tlv(), Tlv::new(0x86, vec![3]));
        let top: Vec<u32> = tree.top().map(|n| n.tag).collect();
        assert_eq!(top, [0x6F, 0x90]);
        let children: Vec<u32> = tree.children(0).map(|n| n.tag).collect();
        assert_eq!(children, [0x84, 0xA5]);
        let children: Vec<u32> = tree.children(2).map(|n| n.tag).collect();
        assert_eq!(children, [0x9F0C, 0xBF0C]);
        assert_eq!(tree.children(1).count(), 0);
        assert_eq!(tree.children(99).count(), 0);
        assert!(Tree::parse(&[]).unwrap().nodes().is_empty());
    }

    #[test]
    fn depth_and_length_are_bounded() {
        let limits = Limits::DEFAULT;
        // 16 levels: fifteen constructed values, a primitive in the last.
        let deepest = nest(limits.depth - 1, vec![0x80, 0x00]);
        let tree = Tree::parse(&deepest).unwrap();
        assert_eq!(tree.nodes().len(), limits.depth);
        assert_eq!(tree.nodes().last().unwrap().depth, limits.depth - 1);
        // An empty constructed value at the deepest level is fine too.
        assert!(Tree::parse(&nest(limits.depth, Vec::new())).is_ok());
        // One level more is malformed, at any size.
        for inner in [vec![0x80, 0x00], vec![0xA0, 0x00]] {
            let too_deep = nest(limits.depth, inner);
            assert_eq!(
                Tree::parse(&too_deep),
                Err(Error::Tlv("nested deeper than the limit"))
            );
        }
        let tight = Limits { depth: 2, len: 16 };
        assert!(Tree::parse_with(&nest(1, vec![0x80, 0x00]), tight).is_ok());
        assert!(Tree::parse_with(&nest(2, vec![0x80, 0x00]), tight).is_err());
        assert_eq!(
            Tree::parse_with(
                &[0x80, 0x0F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                tight
            ),
            Err(Error::Tlv("longer than the limit"))
        );
        let big = Tlv::new(0x80, vec![0; limits.len]).encode();
        assert!(Tree::parse(&big).is_err());
    }

    #[test]
    fn constructed_values_must_hold_tlvs_that_fill_them() {
        for bad in [
            // A constructed value that is not TLVs.
            &[0xA5, 0x01, 0xFF][..],
            // A child running past its parent's end.
            &[0xA5, 0x03, 0x80, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00],
            // A child claiming 4 GiB with a 4-byte length.
            &[0x6F, 0x06, 0x80, 0x84, 0xFF, 0xFF, 0xFF, 0xFF],
            // A parent claiming more than there is.
            &[0x6F, 0x84, 0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00],
            // Trailing bytes that are not a TLV.
            &[0x80, 0x00, 0x01],
        ] {
            assert!(Tree::parse(bad).is_err(), "{bad:02x?}");
        }
        // A primitive value is never looked into.
        assert!(Tree::parse(&[0x80, 0x01, 0xFF]).is_ok());
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

        #[test]
        fn a_tree_round_trips_nested_tlvs(shapes in proptest::collection::vec(shape(), 0..4)) {
            let bytes: Vec<u8> = shapes.iter().flat_map(Shape::encode).collect();
            let mut expected = Vec::new();
            for shape in &shapes {
                shape.flatten(0, &mut expected);
            }
            let tree = Tree::parse(&bytes).unwrap();
            let got: Vec<(u32, Vec<u8>, usize)> = tree
                .nodes()
                .iter()
                .map(|n| (n.tag, n.value.to_vec(), n.depth))
                .collect();
            prop_assert_eq!(got, expected);
            // The top level is what the flat parse sees, and encodes back.
            let top: Vec<Tlv> = tree.top().map(Node::to_tlv).collect();
            prop_assert_eq!(&top, &Tlv::parse_all(&bytes).unwrap());
            prop_assert_eq!(Tlv::encode_all(&top), bytes);
        }

        #[test]
        fn any_bytes_make_a_tree_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(tree) = Tree::parse(&bytes) {
                let top: Vec<Tlv> = tree.top().map(Node::to_tlv).collect();
                prop_assert_eq!(top, Tlv::parse_all(&bytes).unwrap());
                for node in tree.nodes() {
                    prop_assert!(node.depth < Limits::DEFAULT.depth);
                    let inside = bytes.as_ptr_range();
                    prop_assert!(inside.start <= node.value.as_ptr_range().start);
                    prop_assert!(node.value.as_ptr_range().end <= inside.end);
                }
            }
        }
    }
}
