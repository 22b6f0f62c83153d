//! BER-TLV: never a panic, and what parses encodes to TLVs that parse to the
//! same values (lengths are re-encoded in their shortest form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_apdu::tlv::Tlv;

fuzz_target!(|data: &[u8]| {
    if let Ok(all) = Tlv::parse_all(data) {
        let again = Tlv::parse_all(&Tlv::encode_all(&all)).expect("our encoding parses");
        assert_eq!(again, all);
        for tlv in &all {
            let _ = tlv.children();
        }
    }
});
