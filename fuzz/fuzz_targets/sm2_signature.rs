//! SM2 signatures, DER `SEQUENCE{r,s}` and raw r‖s: never a panic, and a
//! signature that parses encodes back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_gm::sm2::{Signature, SignatureFormat};

fuzz_target!(|data: &[u8]| {
    for format in [SignatureFormat::Der, SignatureFormat::Raw] {
        if let Ok(sig) = Signature::parse(data, format) {
            for to in [SignatureFormat::Der, SignatureFormat::Raw] {
                let encoded = sig.encode(to);
                assert_eq!(Signature::parse(&encoded, to).expect("our encoding parses"), sig);
            }
            // DER is canonical: what parsed is what we write.
            if format == SignatureFormat::Der {
                assert_eq!(sig.encode(format), data);
            }
        }
    }
});
