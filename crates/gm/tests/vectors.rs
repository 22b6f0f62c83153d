//! Every known-answer vector of `data/gm-standard-vectors.txt` (copied from
//! the project's shared vectors; each block names its standard and clause).
//! A block whose algorithm this file does not know fails the test, so no
//! vector is silently left out.

// A failed check here is a test failure: panicking is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use sscard_gm::hazmat::{encrypt_with_k, sign_with_k};
use sscard_gm::sm2::{self, CiphertextFormat, Signature, SignatureFormat, Sm2PrivateKey};
use sscard_gm::sm4::{self, Padding, Sm4Key};

/// One block of the vector file: its comment lines and its fields as written.
struct Vector {
    source: String,
    fields: BTreeMap<String, String>,
}

impl Vector {
    fn raw(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("{}: no field {name}", self.source))
    }

    /// A quoted value as its text bytes, any other as hex.
    fn bytes(&self, name: &str) -> Vec<u8> {
        let raw = self.raw(name);
        match raw.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(text) => text.as_bytes().to_vec(),
            None => hex::decode(raw).unwrap_or_else(|e| panic!("{}: {name}: {e}", self.source)),
        }
    }

    /// A value as text, quoted or not (`algorithm = SM3`, `id = "1234…"`).
    fn text(&self, name: &str) -> String {
        let raw = self.raw(name);
        raw.strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(raw)
            .to_string()
    }

    fn number(&self, name: &str) -> u32 {
        self.raw(name).parse().unwrap()
    }

    fn array32(&self, name: &str) -> [u8; 32] {
        self.bytes(name).try_into().unwrap()
    }
}

fn load() -> Vec<Vector> {
    let text = include_str!("data/gm-standard-vectors.txt");
    let mut vectors = Vec::new();
    for block in text.split("\n\n") {
        let mut source = Vec::new();
        let mut fields = BTreeMap::new();
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(comment) = line.strip_prefix('#') {
                source.push(comment.trim().to_string());
                continue;
            }
            let (name, value) = line.split_once(" = ").expect("name = value");
            fields.insert(name.to_string(), value.to_string());
        }
        if !fields.is_empty() {
            vectors.push(Vector {
                source: source.join(" / "),
                fields,
            });
        }
    }
    vectors
}

#[test]
fn every_standard_vector_passes() {
    let vectors = load();
    assert_eq!(vectors.len(), 7, "the vector file has seven blocks");
    for v in &vectors {
        match v.text("algorithm").as_str() {
            "SM3" => check_sm3(v),
            "SM4-ECB" => check_sm4_ecb(v),
            "SM4-ECB-ITERATED" => check_sm4_iterated(v),
            "SM4-GCM" => check_sm4_gcm(v),
            "SM2-SIGN" => check_sm2_sign(v),
            "SM2-ENCRYPT" => check_sm2_encrypt(v),
            other => panic!("{}: unknown algorithm {other}", v.source),
        }
    }
}

fn check_sm3(v: &Vector) {
    assert_eq!(
        sscard_gm::sm3::digest(&v.bytes("message")).as_slice(),
        v.bytes("digest"),
        "{}",
        v.source
    );
}

fn check_sm4_ecb(v: &Vector) {
    let key = Sm4Key::from_slice(&v.bytes("key")).unwrap();
    let ct = sm4::ecb_encrypt(&key, &v.bytes("plaintext"), Padding::None).unwrap();
    assert_eq!(ct, v.bytes("ciphertext"), "{}", v.source);
    let pt = sm4::ecb_decrypt(&key, &ct, Padding::None).unwrap();
    assert_eq!(pt, v.bytes("plaintext"), "{}", v.source);
}

fn check_sm4_iterated(v: &Vector) {
    let key = Sm4Key::from_slice(&v.bytes("key")).unwrap();
    let iterations = v.number("iterations");
    let mut block = v.bytes("plaintext").to_vec();
    for _ in 0..iterations {
        block = sm4::ecb_encrypt(&key, &block, Padding::None).unwrap();
    }
    assert_eq!(block, v.bytes("ciphertext"), "{}", v.source);
}

fn check_sm4_gcm(v: &Vector) {
    let key = Sm4Key::from_slice(&v.bytes("key")).unwrap();
    let sealed =
        sm4::gcm_encrypt(&key, &v.bytes("iv"), &v.bytes("aad"), &v.bytes("plaintext")).unwrap();
    let mut expected = v.bytes("ciphertext").to_vec();
    expected.extend_from_slice(&v.bytes("tag"));
    assert_eq!(sealed, expected, "{}", v.source);
    let opened = sm4::gcm_decrypt(&key, &v.bytes("iv"), &v.bytes("aad"), &expected).unwrap();
    assert_eq!(opened, v.bytes("plaintext"), "{}", v.source);
}

fn check_sm2_sign(v: &Vector) {
    let key = Sm2PrivateKey::from_scalar_bytes(&v.bytes("private_key")).unwrap();
    let public = key.public_key();
    let point = public.to_sec1_uncompressed();
    assert_eq!(&point[1..33], v.bytes("public_x"), "{}", v.source);
    assert_eq!(&point[33..], v.bytes("public_y"), "{}", v.source);

    let id = v.text("id");
    let za = sm2::za(id.as_bytes(), &public).unwrap();
    assert_eq!(za.as_slice(), v.bytes("za"), "{}: Z_A", v.source);
    let mut za_m = za.to_vec();
    za_m.extend_from_slice(&v.bytes("message"));
    assert_eq!(
        sscard_gm::sm3::digest(&za_m).as_slice(),
        v.bytes("e"),
        "{}: e",
        v.source
    );

    let message = &v.bytes("message");
    let sig = sign_with_k(&key, &id, message, &v.array32("k")).unwrap();
    assert_eq!(sig.r().as_slice(), v.bytes("r"), "{}: r", v.source);
    assert_eq!(sig.s().as_slice(), v.bytes("s"), "{}: s", v.source);

    // The standard's (r, s) verifies through the crate's own verifier, in both encodings.
    let given = Signature::from_r_s(&v.array32("r"), &v.array32("s")).unwrap();
    sm2::verify(&public, &id, message, &given).unwrap();
    let der = given.encode(SignatureFormat::Der);
    let reparsed = Signature::parse(&der, SignatureFormat::Der).unwrap();
    sm2::verify(&public, &id, message, &reparsed).unwrap();
    assert!(sm2::verify(&public, &id, b"message digesT", &given).is_err());
}

fn check_sm2_encrypt(v: &Vector) {
    let key = Sm2PrivateKey::from_scalar_bytes(&v.bytes("private_key")).unwrap();
    let message = &v.bytes("message");
    let k = v.array32("k");

    let mut c1c3c2 = vec![0x04];
    c1c3c2.extend_from_slice(&v.bytes("c1_x"));
    c1c3c2.extend_from_slice(&v.bytes("c1_y"));
    c1c3c2.extend_from_slice(&v.bytes("c3"));
    c1c3c2.extend_from_slice(&v.bytes("c2"));
    let ours = encrypt_with_k(&key.public_key(), message, &k, CiphertextFormat::C1C3C2).unwrap();
    assert_eq!(
        hex::encode(&ours),
        hex::encode(&c1c3c2),
        "{}: C1C3C2",
        v.source
    );

    let der = encrypt_with_k(&key.public_key(), message, &k, CiphertextFormat::Der).unwrap();
    assert_eq!(der, v.bytes("der"), "{}: GM/T 0009 DER", v.source);

    let c1c2c3 = encrypt_with_k(&key.public_key(), message, &k, CiphertextFormat::C1C2C3).unwrap();
    assert_eq!(&c1c2c3[..65], &c1c3c2[..65]);
    assert_eq!(&c1c2c3[65..65 + message.len()], v.bytes("c2"));
    assert_eq!(&c1c2c3[65 + message.len()..], v.bytes("c3"));

    for (ct, format) in [
        (&c1c3c2, CiphertextFormat::C1C3C2),
        (&c1c2c3, CiphertextFormat::C1C2C3),
        (&der, CiphertextFormat::Der),
    ] {
        let pt = sm2::decrypt(&key, ct, format).unwrap();
        assert_eq!(pt.as_slice(), message, "{}: decrypt {format:?}", v.source);
    }
}
