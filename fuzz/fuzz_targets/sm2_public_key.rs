//! SM2 public keys in SPKI PEM or DER, and SEC1 points: never a panic, and
//! a key that parses re-encodes to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_gm::sm2::Sm2PublicKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = Sm2PublicKey::from_pem_or_der(data) {
        let der = key.to_spki_der().expect("a parsed key encodes");
        assert_eq!(Sm2PublicKey::from_spki_der(&der).expect("our encoding parses"), key);
    }
    if let Ok(key) = Sm2PublicKey::from_sec1_bytes(data) {
        let point = key.to_sec1_uncompressed();
        assert_eq!(Sm2PublicKey::from_sec1_bytes(&point).expect("our point parses"), key);
    }
});
