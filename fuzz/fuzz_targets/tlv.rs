//! BER-TLV: never a panic; what parses encodes to TLVs that parse to the
//! same values (lengths are re-encoded in their shortest form); the tree of
//! the same bytes stays within its limits and agrees with the flat parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_apdu::tlv::{Limits, Node, Tlv, Tree};

fuzz_target!(|data: &[u8]| {
    let flat = Tlv::parse_all(data);
    if let Ok(all) = &flat {
        let again = Tlv::parse_all(&Tlv::encode_all(all)).expect("our encoding parses");
        assert_eq!(&again, all);
    }
    if let Ok(tree) = Tree::parse(data) {
        let top: Vec<Tlv> = tree.top().map(Node::to_tlv).collect();
        assert_eq!(Ok(top), flat, "the tree's top level is the flat parse");
        for (i, node) in tree.nodes().iter().enumerate() {
            assert!(node.depth < Limits::DEFAULT.depth);
            if node.is_constructed() {
                let inner: Vec<Tlv> = tree.children(i).map(Node::to_tlv).collect();
                assert_eq!(Ok(inner), Tlv::parse_all(node.value));
            }
        }
    }
});
