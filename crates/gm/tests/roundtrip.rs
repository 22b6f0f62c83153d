//! Property tests: every encoding round-trips, every mode decrypts what it
//! encrypted, and a flipped bit anywhere in authenticated data is refused.

// A failed check here is a test failure: panicking is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::sm2::{
    self, CiphertextFormat, Signature, SignatureFormat, Sm2PrivateKey, Sm2PublicKey,
};
use sscard_gm::sm4::{self, Padding, Sm4Key};
use sscard_gm::{components, diversify, kcv, BlockAlgorithm, BlockKey, Error};

const FORMATS: [CiphertextFormat; 3] = [
    CiphertextFormat::Der,
    CiphertextFormat::C1C3C2,
    CiphertextFormat::C1C2C3,
];

fn flip(data: &[u8], bit: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    let bit = bit % (out.len() * 8);
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

proptest! {
    #[test]
    fn sm4_block_modes_round_trip(
        key in any::<[u8; 16]>(), iv in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let key = Sm4Key::from_slice(&key).unwrap();
        let ct = sm4::ecb_encrypt(&key, &data, Padding::Pkcs7).unwrap();
        prop_assert_eq!(ct.len(), (data.len() / 16 + 1) * 16);
        prop_assert_eq!(sm4::ecb_decrypt(&key, &ct, Padding::Pkcs7).unwrap(), data.clone());
        let ct = sm4::cbc_encrypt(&key, &iv, &data, Padding::Pkcs7).unwrap();
        prop_assert_eq!(sm4::cbc_decrypt(&key, &iv, &ct, Padding::Pkcs7).unwrap(), data.clone());
        let ct = sm4::ctr_apply(&key, &iv, &data).unwrap();
        prop_assert_eq!(ct.len(), data.len());
        prop_assert_eq!(sm4::ctr_apply(&key, &iv, &ct).unwrap(), data.clone());
        let whole = &data[..data.len() / 16 * 16];
        let ct = sm4::cbc_encrypt(&key, &iv, whole, Padding::None).unwrap();
        prop_assert_eq!(sm4::cbc_decrypt(&key, &iv, &ct, Padding::None).unwrap(), whole.to_vec());
    }

    #[test]
    fn sm4_gcm_round_trips_and_refuses_any_flipped_bit(
        key in any::<[u8; 16]>(), iv in any::<[u8; 12]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..40),
        data in proptest::collection::vec(any::<u8>(), 0..100),
        bit in any::<usize>(),
    ) {
        let key = Sm4Key::from_slice(&key).unwrap();
        let sealed = sm4::gcm_encrypt(&key, &iv, &aad, &data).unwrap();
        prop_assert_eq!(sealed.len(), data.len() + 16);
        prop_assert_eq!(sm4::gcm_decrypt(&key, &iv, &aad, &sealed).unwrap(), data.clone());
        prop_assert_eq!(sm4::gcm_decrypt(&key, &iv, &aad, &flip(&sealed, bit)), Err(Error::AuthenticationFailed));
        if !aad.is_empty() {
            prop_assert_eq!(sm4::gcm_decrypt(&key, &iv, &flip(&aad, bit), &sealed), Err(Error::AuthenticationFailed));
        }
        prop_assert_eq!(sm4::gcm_decrypt(&key, &iv, &aad, &sealed[..sealed.len() - 1]), Err(Error::AuthenticationFailed));
    }

    #[test]
    fn macs_refuse_any_flipped_bit(
        key in any::<[u8; 16]>(), data in proptest::collection::vec(any::<u8>(), 1..64), bit in any::<usize>(),
    ) {
        for (alg, mac_alg) in [
            (BlockAlgorithm::Sm4, MacAlgorithm::CbcMac),
            (BlockAlgorithm::Tdes, MacAlgorithm::CbcMac),
            (BlockAlgorithm::Tdes, MacAlgorithm::Retail),
        ] {
            let key = BlockKey::new(alg, &key).unwrap();
            let tag = mac::mac(&key, mac_alg, None, &data, Some(4)).unwrap();
            prop_assert!(mac::verify(&key, mac_alg, None, &data, &tag).is_ok());
            prop_assert!(mac::verify(&key, mac_alg, None, &flip(&data, bit), &tag).is_err());
            prop_assert!(mac::verify(&key, mac_alg, None, &data, &flip(&tag, bit)).is_err());
        }
    }

    #[test]
    fn hmac_sm3_refuses_any_flipped_bit(key in any::<[u8; 20]>(), data in proptest::collection::vec(any::<u8>(), 1..64), bit in any::<usize>()) {
        let tag = sscard_gm::sm3::hmac(&key, &data);
        prop_assert!(sscard_gm::sm3::hmac_verify(&key, &data, &tag).is_ok());
        prop_assert!(sscard_gm::sm3::hmac_verify(&key, &flip(&data, bit), &tag).is_err());
        prop_assert!(sscard_gm::sm3::hmac_verify(&key, &data, &flip(&tag, bit)).is_err());
    }

    #[test]
    fn components_recombine_and_check_values_check(key in any::<[u8; 16]>(), mask in any::<[u8; 16]>(), mask2 in any::<[u8; 16]>()) {
        let first: Vec<u8> = key.iter().zip(&mask).zip(&mask2).map(|((k, m), n)| k ^ m ^ n).collect();
        let combined = components::combine(BlockAlgorithm::Sm4, &[&first, &mask, &mask2]).unwrap();
        prop_assert_eq!(combined.expose_secret(), &key[..]);
        let original = BlockKey::new(BlockAlgorithm::Sm4, &key).unwrap();
        let check = kcv::kcv(&original, 4).unwrap();
        prop_assert!(kcv::check(&combined, &check).is_ok());
        let other = BlockKey::new(BlockAlgorithm::Sm4, &mask).unwrap();
        prop_assert_eq!(kcv::check(&other, &check).is_ok(), mask == key);
    }

    #[test]
    fn derivation_is_deterministic_and_separates_factors(key in any::<[u8; 16]>(), a in any::<[u8; 8]>(), b in any::<[u8; 8]>()) {
        for alg in [BlockAlgorithm::Sm4, BlockAlgorithm::Tdes] {
            let parent = BlockKey::new(alg, &key).unwrap();
            let ka = diversify::derive(&parent, &a).unwrap();
            let again = diversify::derive(&parent, &a).unwrap();
            prop_assert_eq!(ka.expose_secret(), again.expose_secret());
            let kb = diversify::derive(&parent, &b).unwrap();
            prop_assert_eq!(ka.expose_secret() == kb.expose_secret(), a == b);
            let path = diversify::derive_path(&parent, &[&a, &b]).unwrap();
            let stepwise = diversify::derive(&ka, &b).unwrap();
            prop_assert_eq!(path.expose_secret(), stepwise.expose_secret());
        }
    }
}

proptest! {
    // SM2 is slower: fewer cases, still a fresh key each.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sm2_keys_round_trip_through_every_encoding(_seed in any::<u8>()) {
        let key = Sm2PrivateKey::generate().unwrap();
        let der = key.to_pkcs8_der().unwrap();
        prop_assert_eq!(Sm2PrivateKey::from_pem_or_der(&der).unwrap().expose_scalar(), key.expose_scalar());
        let pem = key.to_pkcs8_pem().unwrap();
        prop_assert_eq!(Sm2PrivateKey::from_pem_or_der(pem.as_bytes()).unwrap().expose_scalar(), key.expose_scalar());
        let public = key.public_key();
        prop_assert_eq!(&Sm2PublicKey::from_pem_or_der(&public.to_spki_der().unwrap()).unwrap(), &public);
        prop_assert_eq!(&Sm2PublicKey::from_pem_or_der(public.to_spki_pem().unwrap().as_bytes()).unwrap(), &public);
        prop_assert_eq!(&Sm2PublicKey::from_sec1_bytes(&public.to_sec1_uncompressed()).unwrap(), &public);
    }

    #[test]
    fn sm2_signatures_round_trip_and_refuse_flipped_bits(
        message in proptest::collection::vec(any::<u8>(), 0..100), bit in any::<usize>(), id in "[ -~]{0,40}",
    ) {
        let key = Sm2PrivateKey::generate().unwrap();
        let public = key.public_key();
        let sig = sm2::sign(&key, &id, &message).unwrap();
        prop_assert!(sm2::verify(&public, &id, &message, &sig).is_ok());
        for format in [SignatureFormat::Der, SignatureFormat::Raw] {
            let encoded = sig.encode(format);
            prop_assert_eq!(Signature::parse(&encoded, format).unwrap(), sig);
            // A flipped bit either breaks the encoding or the signature.
            let flipped = flip(&encoded, bit);
            match Signature::parse(&flipped, format) {
                Ok(other) => prop_assert_eq!(sm2::verify(&public, &id, &message, &other), Err(Error::SignatureInvalid)),
                Err(e) => prop_assert!(matches!(e, Error::SignatureEncoding(_) | Error::SignatureRange(_))),
            }
        }
        if !message.is_empty() {
            prop_assert_eq!(sm2::verify(&public, &id, &flip(&message, bit), &sig), Err(Error::SignatureInvalid));
        }
    }

    #[test]
    fn sm2_ciphertexts_round_trip_and_refuse_flipped_bits(
        message in proptest::collection::vec(any::<u8>(), 1..100), bit in any::<usize>(),
    ) {
        let key = Sm2PrivateKey::generate().unwrap();
        for format in FORMATS {
            let ct = sm2::encrypt(&key.public_key(), &message, format).unwrap();
            let plain = sm2::decrypt(&key, &ct, format).unwrap();
            prop_assert_eq!(plain.as_slice(), &message[..]);
            for to in FORMATS {
                let converted = sm2::convert_ciphertext(&ct, format, to).unwrap();
                prop_assert_eq!(sm2::convert_ciphertext(&converted, to, format).unwrap(), ct.clone());
            }
            prop_assert!(sm2::decrypt(&key, &flip(&ct, bit), format).is_err());
            prop_assert!(sm2::decrypt(&key, &ct[..ct.len() - 1], format).is_err());
        }
    }
}

proptest! {
    // The parsers take any bytes and answer with an error, never a panic;
    // the fuzz targets in fuzz/ drive the same functions with coverage.
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Sm2PrivateKey::from_pem_or_der(&data);
        let _ = Sm2PublicKey::from_pem_or_der(&data);
        let _ = Signature::parse(&data, SignatureFormat::Der);
        let _ = Signature::parse(&data, SignatureFormat::Raw);
        for from in FORMATS {
            for to in FORMATS {
                let _ = sm2::convert_ciphertext(&data, from, to);
            }
        }
    }

    #[test]
    fn decrypt_never_panics_on_garbage_with_a_valid_prefix(tail in proptest::collection::vec(any::<u8>(), 0..120)) {
        // A real C1 followed by garbage reaches past the point check.
        let key = Sm2PrivateKey::generate().unwrap();
        let mut data = key.public_key().to_sec1_uncompressed();
        data.extend_from_slice(&tail);
        for format in [CiphertextFormat::C1C3C2, CiphertextFormat::C1C2C3] {
            prop_assert!(sm2::decrypt(&key, &data, format).is_err());
        }
    }
}

#[test]
fn secret_types_hide_themselves_in_debug() {
    let sm4 = Sm4Key::from_slice(&[0xAB; 16]).unwrap();
    let block = BlockKey::new(BlockAlgorithm::Tdes, &[0xCD; 16]).unwrap();
    let sm2 = Sm2PrivateKey::generate().unwrap();
    let scalar = hex::encode(sm2.expose_scalar().as_slice());
    assert_eq!(format!("{sm4:?}"), "Sm4Key(<hidden>)");
    assert_eq!(format!("{block:?}"), "Tdes(TdesKey(<hidden>))");
    // The public key is shown; the 64 hex digits of the scalar are not.
    let shown = format!("{sm2:?}");
    assert!(
        shown.starts_with("Sm2PrivateKey { public_key: Sm2PublicKey(04"),
        "{shown}"
    );
    assert!(!shown.contains(&scalar), "{shown}");
}

#[test]
fn wrong_lengths_are_refused_with_their_reason() {
    assert!(matches!(
        Sm4Key::from_slice(&[0; 15]),
        Err(Error::KeyLength { actual: 15, .. })
    ));
    let key = Sm4Key::from_slice(&[0; 16]).unwrap();
    assert_eq!(
        sm4::cbc_encrypt(&key, &[0; 8], b"x", Padding::Pkcs7),
        Err(Error::IvLength {
            expected: 16,
            actual: 8
        })
    );
    assert_eq!(
        sm4::gcm_encrypt(&key, &[0; 16], b"", b"x"),
        Err(Error::IvLength {
            expected: 12,
            actual: 16
        })
    );
    assert_eq!(
        sm4::ecb_encrypt(&key, &[0; 17], Padding::None),
        Err(Error::NotBlockAligned {
            block: 16,
            actual: 17
        })
    );
    let block = BlockKey::new(BlockAlgorithm::Sm4, &[0; 16]).unwrap();
    assert_eq!(
        diversify::derive(&block, &[0; 7]).map(|_| ()),
        Err(Error::FactorLength { actual: 7 })
    );
    assert_eq!(
        kcv::kcv(&block, 17),
        Err(Error::OutputLength {
            max: 16,
            actual: 17
        })
    );
    assert!(matches!(
        mac::mac(&block, MacAlgorithm::Retail, None, b"x", None),
        Err(Error::KeyLength { .. })
    ));
    assert_eq!(
        components::combine(BlockAlgorithm::Sm4, &[&[0; 16]]).map(|_| ()),
        Err(Error::Components("at least two are needed"))
    );
    let sm2 = Sm2PrivateKey::generate().unwrap();
    assert_eq!(
        sm2::encrypt(&sm2.public_key(), b"", CiphertextFormat::Der),
        Err(Error::EmptyMessage)
    );
}
