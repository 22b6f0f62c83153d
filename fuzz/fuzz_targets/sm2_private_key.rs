//! SM2 private keys in PKCS#8 or SEC1, PEM or DER, and raw scalars: never a
//! panic; a key that parses has d in [1, n − 2] (GB/T 32918.1 §6.1), so it
//! signs, and re-encodes to PKCS#8 that parses to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_gm::sm2::{sign, verify, Sm2PrivateKey, DEFAULT_USER_ID};

fn check(key: &Sm2PrivateKey) {
    let der = key.to_pkcs8_der().expect("a parsed key encodes");
    let again = Sm2PrivateKey::from_pkcs8_der(&der).expect("our encoding parses");
    assert_eq!(again.expose_scalar(), key.expose_scalar());
    let pem = key.to_pkcs8_pem().expect("a parsed key encodes");
    let again = Sm2PrivateKey::from_pkcs8_pem(&pem).expect("our encoding parses");
    assert_eq!(again.expose_scalar(), key.expose_scalar());
    // The scalar is in range: the one door accepts it again, and it signs.
    Sm2PrivateKey::from_scalar_bytes(key.expose_scalar().as_slice()).expect("d in [1, n − 2]");
    let sig = sign(key, DEFAULT_USER_ID, b"fuzz").expect("a key that was read signs");
    verify(&key.public_key(), DEFAULT_USER_ID, b"fuzz", &sig).expect("and verifies");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = Sm2PrivateKey::from_pem_or_der(data) {
        check(&key);
    }
    if let Ok(key) = Sm2PrivateKey::from_pkcs8_der(data) {
        check(&key);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(key) = Sm2PrivateKey::from_pkcs8_pem(text) {
            check(&key);
        }
    }
    if let Ok(key) = Sm2PrivateKey::from_scalar_bytes(data) {
        check(&key);
    }
});
