//! SM2 public keys in SPKI PEM or DER, and points in every encoding of
//! GB/T 32918.1 §4.2: never a panic, and a key that parses re-encodes to the
//! same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_gm::sm2::Sm2PublicKey;

fn check(key: &Sm2PublicKey) {
    let der = key.to_spki_der().expect("a parsed key encodes");
    assert_eq!(
        &Sm2PublicKey::from_spki_der(&der).expect("our encoding parses"),
        key
    );
    let pem = key.to_spki_pem().expect("a parsed key encodes");
    assert_eq!(
        &Sm2PublicKey::from_spki_pem(&pem).expect("our encoding parses"),
        key
    );
    let point = key.to_sec1_uncompressed();
    assert_eq!(
        &Sm2PublicKey::from_sec1_bytes(&point).expect("our point parses"),
        key
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = Sm2PublicKey::from_pem_or_der(data) {
        check(&key);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(key) = Sm2PublicKey::from_spki_pem(text) {
            check(&key);
        }
    }
    if let Ok(key) = Sm2PublicKey::from_sec1_bytes(data) {
        check(&key);
    }
});
