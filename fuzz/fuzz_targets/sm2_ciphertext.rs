//! SM2 ciphertexts in GM/T 0009 DER, C1C3C2 and C1C2C3: never a panic, and
//! a ciphertext that parses converts to every layout and back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_gm::sm2::{convert_ciphertext, CiphertextFormat};

const FORMATS: [CiphertextFormat; 3] = [
    CiphertextFormat::Der,
    CiphertextFormat::C1C3C2,
    CiphertextFormat::C1C2C3,
];

fuzz_target!(|data: &[u8]| {
    for from in FORMATS {
        let Ok(canonical) = convert_ciphertext(data, from, from) else {
            continue;
        };
        for to in FORMATS {
            let there = convert_ciphertext(&canonical, from, to).expect("a parsed ciphertext converts");
            let back = convert_ciphertext(&there, to, from).expect("a converted ciphertext parses");
            assert_eq!(back, canonical);
        }
    }
});
