//! SM2 private keys in PKCS#8 or SEC1, PEM or DER: never a panic, and a key
//! that parses re-encodes to PKCS#8 that parses to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_gm::sm2::Sm2PrivateKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = Sm2PrivateKey::from_pem_or_der(data) {
        let der = key.to_pkcs8_der().expect("a parsed key encodes");
        let again = Sm2PrivateKey::from_pem_or_der(&der).expect("our encoding parses");
        assert_eq!(again.expose_scalar(), key.expose_scalar());
    }
});
