//! Every check GB/T 32918 mandates on keys, signatures and ciphertexts: for
//! each, an input that breaks that check alone, and the precise error it
//! gets. The table in the documentation of `sscard_gm::sm2` lists them with
//! the test of each.
//!
//! Curve parameters are those of GB/T 32918.5-2017 §2, written here again on
//! purpose so that the expected values do not come from the code under test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use ::sm2::elliptic_curve::PrimeField;
use ::sm2::Scalar;
use hex_literal::hex;
use sscard_gm::hazmat;
use sscard_gm::sm2::{
    self, CiphertextFormat, Signature, SignatureFormat, Sm2PrivateKey, Sm2PublicKey,
    DEFAULT_USER_ID,
};
use sscard_gm::{kdf, Error, PointFault};

const N: [u8; 32] = hex!("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123");
const P: [u8; 32] = hex!("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF");
const GX: [u8; 32] = hex!("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
/// x of the point whose y is 1: a root of x³ + ax + b − 1 over F_p, found by
/// factoring that cubic (gcd with X^p − X). The test below that uses it
/// first checks that (x, 1) is on the curve.
const X_OF_Y1: [u8; 32] = hex!("9c17043effe1a805a74a9a5e70b9d659705d3242094a566dc016f49311178d1f");

/// A big-endian 256-bit number plus a small one (no carry out expected).
fn plus(a: &[u8; 32], b: u8) -> [u8; 32] {
    let mut out = *a;
    let mut carry = u16::from(b);
    for byte in out.iter_mut().rev() {
        let sum = u16::from(*byte) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// a + b over 256 bits, as 33 bytes.
fn add33(a: &[u8; 32], b: &[u8; 32]) -> [u8; 33] {
    let mut out = [0u8; 33];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i + 1] = sum as u8;
        carry = sum >> 8;
    }
    out[0] = carry as u8;
    out
}

/// n − k, big-endian.
fn n_minus(k: u64) -> [u8; 32] {
    (Scalar::ZERO - Scalar::from(k)).to_repr().into()
}

fn scalar(bytes: &[u8; 32]) -> Scalar {
    Option::from(Scalar::from_repr((*bytes).into())).unwrap()
}

fn point(x: &[u8; 32], y: &[u8; 32], tag: u8) -> Vec<u8> {
    let mut p = vec![tag];
    p.extend_from_slice(x);
    p.extend_from_slice(y);
    p
}

/// y of the point (0, y): x = 0 is on the curve (b is a square mod p).
fn y_of_x0() -> [u8; 32] {
    let mut compressed = [0u8; 33];
    compressed[0] = 0x02;
    let key = Sm2PublicKey::from_sec1_bytes(&compressed).unwrap();
    key.to_sec1_uncompressed()[33..].try_into().unwrap()
}

/// DER TLV with a definite length.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(body);
    out
}

const SM2_OID: [u8; 10] = hex!("06082A811CCF5501822D");
const EC_PUBLIC_KEY_OID: [u8; 9] = hex!("06072A8648CE3D0201");

/// SEC1 ECPrivateKey with only the scalar and the SM2 curve.
fn sec1(d: &[u8]) -> Vec<u8> {
    let mut body = tlv(0x02, &[1]);
    body.extend(tlv(0x04, d));
    body.extend(tlv(0xA0, &SM2_OID));
    tlv(0x30, &body)
}

/// PKCS#8 around a SEC1 key without parameters, as OpenSSL writes it.
fn pkcs8(d: &[u8]) -> Vec<u8> {
    let mut inner = tlv(0x02, &[1]);
    inner.extend(tlv(0x04, d));
    let mut alg = EC_PUBLIC_KEY_OID.to_vec();
    alg.extend(SM2_OID);
    let mut body = tlv(0x02, &[0]);
    body.extend(tlv(0x30, &alg));
    body.extend(tlv(0x04, &tlv(0x30, &inner)));
    tlv(0x30, &body)
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| core::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The error of every way a private scalar reaches an `Sm2PrivateKey`.
fn every_constructor(d: &[u8]) -> Vec<Result<Sm2PrivateKey, Error>> {
    vec![
        Sm2PrivateKey::from_scalar_bytes(d),
        Sm2PrivateKey::from_pkcs8_der(&pkcs8(d)),
        Sm2PrivateKey::from_pkcs8_pem(&pem("PRIVATE KEY", &pkcs8(d))),
        Sm2PrivateKey::from_pem_or_der(&pkcs8(d)),
        Sm2PrivateKey::from_pem_or_der(&sec1(d)),
        Sm2PrivateKey::from_pem_or_der(pem("PRIVATE KEY", &pkcs8(d)).as_bytes()),
        Sm2PrivateKey::from_pem_or_der(pem("EC PRIVATE KEY", &sec1(d)).as_bytes()),
        Sm2PrivateKey::from_pem_or_der(pem("SM2 PRIVATE KEY", &sec1(d)).as_bytes()),
    ]
}

fn assert_refused(d: &[u8], why: &'static str) {
    for (i, result) in every_constructor(d).into_iter().enumerate() {
        assert_eq!(
            result.err(),
            Some(Error::PrivateKeyRange(why)),
            "constructor {i} of d = {}",
            hex::encode(d)
        );
    }
}

// ---- GB/T 32918.1 §6.1: d ∈ [1, n − 2] --------------------------------------

#[test]
fn private_key_zero_is_refused() {
    assert_refused(&[0u8; 32], "d = 0");
}

#[test]
fn private_key_n_minus_1_is_refused() {
    let n_minus_1 = n_minus(1);
    assert_eq!(n_minus_1[31], 0x22);
    assert_refused(
        &n_minus_1,
        "d = n − 1, for which 1 + d has no inverse mod n",
    );
    let message = Sm2PrivateKey::from_scalar_bytes(&n_minus_1)
        .unwrap_err()
        .to_string();
    assert!(message.contains("must be in [1, n−2]"), "{message}");
}

#[test]
fn private_key_n_or_more_is_refused() {
    assert_refused(&N, "d ≥ n");
    assert_refused(&plus(&N, 1), "d ≥ n");
    assert_refused(&[0xFF; 32], "d ≥ n");
    // Longer than 32 bytes in SEC1: 2^256 and more.
    let mut long = vec![1u8];
    long.extend([0u8; 32]);
    assert_eq!(
        Sm2PrivateKey::from_pem_or_der(&sec1(&long)).err(),
        Some(Error::PrivateKeyRange("d ≥ n (longer than 32 bytes)"))
    );
}

#[test]
fn private_keys_at_the_bounds_are_accepted() {
    let n_minus_2 = n_minus(2);
    let one = one();
    for d in [&one[..], &n_minus_2[..], &[1u8][..], &[0u8, 0, 1][..]] {
        for (i, result) in every_constructor(d).into_iter().enumerate() {
            let key = result.unwrap_or_else(|e| panic!("constructor {i}: {e}"));
            let padded = {
                let mut p = [0u8; 32];
                p[32 - d.len()..].copy_from_slice(d);
                p
            };
            assert_eq!(*key.expose_scalar(), padded);
        }
        // The key signs: (1 + d)⁻¹ exists.
        let key = Sm2PrivateKey::from_scalar_bytes(d).unwrap();
        let sig = sm2::sign(&key, DEFAULT_USER_ID, b"m").unwrap();
        sm2::verify(&key.public_key(), DEFAULT_USER_ID, b"m", &sig).unwrap();
    }
}

#[test]
fn private_scalars_of_no_or_too_many_bytes_are_refused() {
    assert!(matches!(
        Sm2PrivateKey::from_scalar_bytes(&[]),
        Err(Error::KeyLength { actual: 0, .. })
    ));
    assert!(matches!(
        Sm2PrivateKey::from_scalar_bytes(&[1; 33]),
        Err(Error::KeyLength { actual: 33, .. })
    ));
    assert_eq!(
        Sm2PrivateKey::from_pem_or_der(&sec1(&[])).err(),
        Some(Error::KeyEncoding("the private key octet string is empty"))
    );
}

// ---- GB/T 32918.1 §6.2 and §4.2: points --------------------------------------

fn fault(bytes: &[u8]) -> Option<Error> {
    Sm2PublicKey::from_sec1_bytes(bytes).err()
}

#[test]
fn point_at_infinity_is_refused() {
    assert_eq!(
        fault(&[0x00]),
        Some(Error::PublicKeyInvalid(PointFault::Infinity))
    );
    // 00 followed by anything is no encoding at all.
    assert_eq!(
        fault(&[0x00, 0x00]),
        Some(Error::PublicKeyInvalid(PointFault::Encoding))
    );
}

#[test]
fn point_encodings_of_wrong_tag_or_length_are_refused() {
    let good = Sm2PrivateKey::generate()
        .unwrap()
        .public_key()
        .to_sec1_uncompressed();
    for bad in [
        &[][..],
        &good[..64],
        &[good.as_slice(), &[0]].concat()[..],
        &[&[0x05], &good[1..]].concat()[..],
        &good[..33],
    ] {
        assert_eq!(
            fault(bad),
            Some(Error::PublicKeyInvalid(PointFault::Encoding)),
            "{}",
            hex::encode(bad)
        );
    }
    // Compressed with 32 bytes of x is the right length; with 64 it is not.
    assert_eq!(
        fault(&[&[0x02], &good[1..]].concat()),
        Some(Error::PublicKeyInvalid(PointFault::Encoding))
    );
}

#[test]
fn point_with_x_of_p_or_more_is_refused() {
    let y = y_of_x0();
    // (0, y) is on the curve; (p, y) is the same point mod p, so only the
    // range check of x refuses it.
    assert!(Sm2PublicKey::from_sec1_bytes(&point(&[0; 32], &y, 0x04)).is_ok());
    for tag in [0x04, 0x06, 0x07] {
        assert_eq!(
            fault(&point(&P, &y, tag)),
            Some(Error::PublicKeyInvalid(PointFault::XOutOfField))
        );
    }
    let mut compressed = vec![0x02];
    compressed.extend_from_slice(&P);
    assert_eq!(
        fault(&compressed),
        Some(Error::PublicKeyInvalid(PointFault::XOutOfField))
    );
}

#[test]
fn point_with_y_of_p_or_more_is_refused() {
    let mut one = [0u8; 32];
    one[31] = 1;
    assert!(Sm2PublicKey::from_sec1_bytes(&point(&X_OF_Y1, &one, 0x04)).is_ok());
    assert_eq!(
        fault(&point(&X_OF_Y1, &plus(&P, 1), 0x04)),
        Some(Error::PublicKeyInvalid(PointFault::YOutOfField))
    );
}

#[test]
fn point_off_the_curve_is_refused() {
    let good = Sm2PrivateKey::generate()
        .unwrap()
        .public_key()
        .to_sec1_uncompressed();
    let mut bad = good.clone();
    bad[64] ^= 1;
    assert_eq!(
        fault(&bad),
        Some(Error::PublicKeyInvalid(PointFault::NotOnCurve))
    );
    // (0, 0) is not a point either (b ≠ 0).
    assert_eq!(
        fault(&point(&[0; 32], &[0; 32], 0x04)),
        Some(Error::PublicKeyInvalid(PointFault::NotOnCurve))
    );
}

#[test]
fn compressed_x_without_a_point_is_refused() {
    // x³ + ax + b is not a square mod p for x = 2.
    let mut compressed = [0u8; 33];
    compressed[0] = 0x03;
    compressed[32] = 2;
    assert_eq!(
        fault(&compressed),
        Some(Error::PublicKeyInvalid(PointFault::NoPointWithX))
    );
}

#[test]
fn hybrid_point_with_the_wrong_parity_tag_is_refused() {
    let public = Sm2PrivateKey::generate().unwrap().public_key();
    let mut hybrid = public.to_sec1_uncompressed();
    let odd = hybrid[64] & 1 == 1;
    hybrid[0] = if odd { 0x07 } else { 0x06 };
    assert_eq!(Sm2PublicKey::from_sec1_bytes(&hybrid).unwrap(), public);
    hybrid[0] ^= 1;
    assert_eq!(
        fault(&hybrid),
        Some(Error::PublicKeyInvalid(PointFault::HybridParity))
    );
}

#[test]
fn compressed_points_read_as_the_same_key() {
    let public = Sm2PrivateKey::generate().unwrap().public_key();
    let full = public.to_sec1_uncompressed();
    let mut compressed = vec![0x02 | (full[64] & 1)];
    compressed.extend_from_slice(&full[1..33]);
    assert_eq!(Sm2PublicKey::from_sec1_bytes(&compressed).unwrap(), public);
}

#[test]
fn point_faults_reach_spki_readers_too() {
    let public = Sm2PrivateKey::generate().unwrap().public_key();
    let mut spki = public.to_spki_der().unwrap();
    let last = spki.len() - 1;
    spki[last] ^= 1;
    assert_eq!(
        Sm2PublicKey::from_spki_der(&spki).err(),
        Some(Error::PublicKeyInvalid(PointFault::NotOnCurve))
    );
    let pem = pem("PUBLIC KEY", &spki);
    assert_eq!(
        Sm2PublicKey::from_pem_or_der(pem.as_bytes()).err(),
        Some(Error::PublicKeyInvalid(PointFault::NotOnCurve))
    );
}

// ---- GB/T 32918.2 §7.1 B1, B2, B5, B7: verification ---------------------------

fn raw(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    [r.as_slice(), s].concat()
}

/// A DER INTEGER of a big-endian unsigned number, minimally encoded.
fn int(v: &[u8]) -> Vec<u8> {
    let start = v.iter().position(|b| *b != 0).unwrap_or(v.len() - 1);
    let mut body = v[start..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    tlv(0x02, &body)
}

fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
    tlv(0x30, &[int(r), int(s)].concat())
}

fn assert_signature_range(r: &[u8; 32], s: &[u8; 32], why: &'static str) {
    let expected = Some(Error::SignatureRange(why));
    assert_eq!(Signature::from_r_s(r, s).err(), expected);
    assert_eq!(
        Signature::parse(&raw(r, s), SignatureFormat::Raw).err(),
        expected
    );
    assert_eq!(
        Signature::parse(&der(r, s), SignatureFormat::Der).err(),
        expected
    );
}

#[test]
fn signature_r_outside_1_to_n_minus_1_is_refused() {
    let mut one = [0u8; 32];
    one[31] = 1;
    assert_signature_range(&[0; 32], &one, "r = 0");
    assert_signature_range(&N, &one, "r ≥ n");
    assert_signature_range(&[0xFF; 32], &one, "r ≥ n");
    // A DER INTEGER of 33 significant bytes is ≥ 2^256.
    let mut big = vec![1u8];
    big.extend([0u8; 32]);
    assert_eq!(
        Signature::parse(&der(&big, &one), SignatureFormat::Der).err(),
        Some(Error::SignatureRange("r ≥ n"))
    );
}

#[test]
fn signature_s_outside_1_to_n_minus_1_is_refused() {
    let mut one = [0u8; 32];
    one[31] = 1;
    assert_signature_range(&one, &[0; 32], "s = 0");
    assert_signature_range(&one, &N, "s ≥ n");
    let mut big = vec![1u8];
    big.extend([0u8; 32]);
    assert_eq!(
        Signature::parse(&der(&one, &big), SignatureFormat::Der).err(),
        Some(Error::SignatureRange("s ≥ n"))
    );
}

#[test]
fn signature_with_r_plus_s_equal_to_n_is_refused() {
    let key = Sm2PrivateKey::generate().unwrap();
    let mut one = [0u8; 32];
    one[31] = 1;
    let n_minus_1 = n_minus(1);
    for (r, s) in [(one, n_minus_1), (n_minus_1, one)] {
        let sig = Signature::from_r_s(&r, &s).unwrap();
        assert_eq!(
            sm2::verify(&key.public_key(), DEFAULT_USER_ID, b"m", &sig),
            Err(Error::SignatureSumZero)
        );
    }
}

#[test]
fn signature_whose_r_does_not_match_is_refused() {
    let key = Sm2PrivateKey::generate().unwrap();
    let sig = sm2::sign(&key, DEFAULT_USER_ID, b"m").unwrap();
    let mut r = sig.r();
    r[31] ^= 1;
    let other = Signature::from_r_s(&r, &sig.s()).unwrap();
    assert_eq!(
        sm2::verify(&key.public_key(), DEFAULT_USER_ID, b"m", &other),
        Err(Error::SignatureInvalid)
    );
}

// ---- GB/T 32918.2 §6.1 A3, A5, A6: signing -----------------------------------

fn one() -> [u8; 32] {
    let mut one = [0u8; 32];
    one[31] = 1;
    one
}

#[test]
fn nonce_outside_1_to_n_minus_1_is_refused() {
    let key = Sm2PrivateKey::generate().unwrap();
    for k in [[0u8; 32], N, [0xFF; 32]] {
        assert_eq!(
            hazmat::sign_digest_with_k(&key, &[7; 32], &k).err(),
            Some(Error::NonceRejected(
                "k is not in [1, n−1] (GB/T 32918.2 §6.1 A3)"
            ))
        );
    }
}

#[test]
fn nonce_giving_r_zero_is_refused() {
    // k = 1: x1 = x_G, so e = n − x_G gives r = 0.
    let key = Sm2PrivateKey::generate().unwrap();
    let e: [u8; 32] = (Scalar::ZERO - scalar(&GX)).to_repr().into();
    assert_eq!(
        hazmat::sign_digest_with_k(&key, &e, &one()).err(),
        Some(Error::NonceRejected("r = 0 (GB/T 32918.2 §6.1 A5)"))
    );
}

#[test]
fn nonce_giving_r_plus_k_equal_to_n_is_refused() {
    // k = 1 and e = n − 1 − x_G give r = n − 1 = n − k.
    let key = Sm2PrivateKey::generate().unwrap();
    let e: [u8; 32] = (Scalar::ZERO - scalar(&GX) - Scalar::ONE).to_repr().into();
    assert_eq!(
        hazmat::sign_digest_with_k(&key, &e, &one()).err(),
        Some(Error::NonceRejected("r + k = n (GB/T 32918.2 §6.1 A5)"))
    );
}

#[test]
fn nonce_giving_s_zero_is_refused() {
    // s = (1 + d)⁻¹ (k − r·d) is 0 when d = k / r: with k = 1, d = r⁻¹.
    let e = [0x11u8; 32];
    let r = scalar(&e) + scalar(&GX);
    let d: [u8; 32] = Option::<Scalar>::from(r.invert()).unwrap().to_repr().into();
    let key = Sm2PrivateKey::from_scalar_bytes(&d).unwrap();
    assert_eq!(
        hazmat::sign_digest_with_k(&key, &e, &one()).err(),
        Some(Error::NonceRejected("s = 0 (GB/T 32918.2 §6.1 A6)"))
    );
    // Another k signs the same digest.
    let mut two = one();
    two[31] = 2;
    assert!(hazmat::sign_digest_with_k(&key, &e, &two).is_ok());
}

#[test]
fn user_ids_longer_than_8191_bytes_are_refused() {
    let key = Sm2PrivateKey::generate().unwrap();
    let long = "a".repeat(8192);
    let longest = "a".repeat(8191);
    assert_eq!(
        sm2::sign(&key, &long, b"m").err(),
        Some(Error::UserIdTooLong)
    );
    assert_eq!(
        sm2::za(long.as_bytes(), &key.public_key()).err(),
        Some(Error::UserIdTooLong)
    );
    let sig = sm2::sign(&key, &longest, b"m").unwrap();
    sm2::verify(&key.public_key(), &longest, b"m", &sig).unwrap();
    assert_eq!(
        sm2::verify(&key.public_key(), &long, b"m", &sig),
        Err(Error::UserIdTooLong)
    );
}

// ---- GB/T 32918.4 §6.1 and §7.1: encryption ------------------------------------

/// A fixed key and the first k for which t = KDF(x2 ‖ y2, 8) is the byte 00.
fn key_and_k_with_zero_t() -> (Sm2PrivateKey, [u8; 32]) {
    let key = Sm2PrivateKey::from_scalar_bytes(&[0x5A; 32]).unwrap();
    for i in 1u32..4096 {
        let mut k = [0u8; 32];
        k[28..].copy_from_slice(&i.to_be_bytes());
        match hazmat::encrypt_with_k(&key.public_key(), b"x", &k, CiphertextFormat::C1C3C2) {
            Err(Error::KdfOutputZero) => return (key, k),
            Ok(_) => {}
            Err(other) => panic!("{other}"),
        }
    }
    panic!("no k below 4096 gives an all-zero one-byte t");
}

#[test]
fn encryption_refuses_an_empty_message() {
    let key = Sm2PrivateKey::generate().unwrap();
    assert_eq!(
        sm2::encrypt(&key.public_key(), b"", CiphertextFormat::Der),
        Err(Error::EmptyMessage)
    );
    assert_eq!(
        hazmat::encrypt_with_k(&key.public_key(), b"", &one(), CiphertextFormat::Der),
        Err(Error::EmptyMessage)
    );
}

#[test]
fn kdf_lengths_beyond_its_counter_are_refused() {
    // klen < (2³² − 1)·v (GB/T 32918.4 §5.4.3): refused before any work.
    assert_eq!(kdf::sm3_kdf(b"z", usize::MAX).err(), Some(Error::KdfLength));
    assert_eq!(kdf::sm3_kdf(b"z", 0).err(), Some(Error::KdfLength));
    assert_eq!(kdf::sm3_kdf(b"z", 32).unwrap().len(), 32);
}

#[test]
fn encryption_with_a_nonce_giving_an_all_zero_t_is_refused() {
    let (key, k) = key_and_k_with_zero_t();
    assert_eq!(
        hazmat::encrypt_with_k(&key.public_key(), b"y", &k, CiphertextFormat::Der),
        Err(Error::KdfOutputZero)
    );
    // One-byte messages, where t = 00 happens once in 256 draws, encrypt:
    // encrypt() draws another k.
    for _ in 0..300 {
        let ct = sm2::encrypt(&key.public_key(), b"z", CiphertextFormat::C1C3C2).unwrap();
        assert_eq!(
            sm2::decrypt(&key, &ct, CiphertextFormat::C1C3C2)
                .unwrap()
                .as_slice(),
            b"z"
        );
    }
}

#[test]
fn decryption_with_an_all_zero_t_is_refused() {
    let (key, k) = key_and_k_with_zero_t();
    // C1 = [k]G, whatever C3 and C2: B4 refuses before C3 is looked at.
    let c1 = Sm2PrivateKey::from_scalar_bytes(&k)
        .unwrap()
        .public_key()
        .to_sec1_uncompressed();
    let ct = [c1.as_slice(), &[0u8; 32], b"w"].concat();
    for format in [CiphertextFormat::C1C3C2, CiphertextFormat::C1C2C3] {
        assert_eq!(
            sm2::decrypt(&key, &ct, format).err(),
            Some(Error::KdfOutputZero)
        );
    }
}

fn ciphertext() -> (Sm2PrivateKey, Vec<u8>) {
    let key = Sm2PrivateKey::generate().unwrap();
    let ct = sm2::encrypt(&key.public_key(), b"card", CiphertextFormat::C1C3C2).unwrap();
    (key, ct)
}

#[test]
fn decryption_refuses_c1_off_the_curve() {
    let (key, mut ct) = ciphertext();
    ct[64] ^= 1;
    for format in [CiphertextFormat::C1C3C2, CiphertextFormat::C1C2C3] {
        assert_eq!(
            sm2::decrypt(&key, &ct, format).err(),
            Some(Error::CiphertextPoint(PointFault::NotOnCurve))
        );
    }
    // In DER too.
    let (key, ct) = ciphertext();
    let mut der =
        sm2::convert_ciphertext(&ct, CiphertextFormat::C1C3C2, CiphertextFormat::Der).unwrap();
    // y is the second INTEGER: flip the last byte of its value.
    let y_end = {
        let x_len = der[3] as usize;
        4 + x_len + 2 + der[4 + x_len + 1] as usize
    };
    der[y_end - 1] ^= 1;
    assert_eq!(
        sm2::decrypt(&key, &der, CiphertextFormat::Der).err(),
        Some(Error::CiphertextPoint(PointFault::NotOnCurve))
    );
}

#[test]
fn decryption_refuses_c1_with_a_coordinate_of_p_or_more() {
    let (key, ct) = ciphertext();
    // (p, y) with (0, y) on the curve: only the range of x is wrong.
    let y = y_of_x0();
    let bad = [point(&P, &y, 0x04).as_slice(), &ct[65..]].concat();
    assert_eq!(
        sm2::decrypt(&key, &bad, CiphertextFormat::C1C3C2).err(),
        Some(Error::CiphertextPoint(PointFault::XOutOfField))
    );
    // In DER, y + p as a 33-byte INTEGER: only the range of y is wrong.
    let full = &ct[..65];
    let x: [u8; 32] = full[1..33].try_into().unwrap();
    let y: [u8; 32] = full[33..65].try_into().unwrap();
    let body = [
        int(&x),
        int(&add33(&y, &P)),
        tlv(0x04, &ct[65..97]),
        tlv(0x04, &ct[97..]),
    ]
    .concat();
    assert_eq!(
        sm2::decrypt(&key, &tlv(0x30, &body), CiphertextFormat::Der).err(),
        Some(Error::CiphertextPoint(PointFault::YOutOfField))
    );
}

#[test]
fn decryption_refuses_c1_at_infinity() {
    // [h]C1 = C1 (h = 1) must not be O; O is the one byte 00.
    let (key, ct) = ciphertext();
    let mut bad = ct.clone();
    bad[0] = 0x00;
    assert_eq!(
        sm2::decrypt(&key, &bad, CiphertextFormat::C1C3C2).err(),
        Some(Error::CiphertextPoint(PointFault::Infinity))
    );
}

#[test]
fn decryption_refuses_a_wrong_c3() {
    let (key, mut ct) = ciphertext();
    ct[70] ^= 1;
    assert_eq!(
        sm2::decrypt(&key, &ct, CiphertextFormat::C1C3C2).err(),
        Some(Error::DecryptionFailed)
    );
}

#[test]
fn decryption_refuses_an_empty_c2() {
    let (key, ct) = ciphertext();
    let x = &ct[1..33];
    let y = &ct[33..65];
    let body = [int(x), int(y), tlv(0x04, &ct[65..97]), tlv(0x04, &[])].concat();
    assert_eq!(
        sm2::decrypt(&key, &tlv(0x30, &body), CiphertextFormat::Der).err(),
        Some(Error::CiphertextEncoding("C2 is empty"))
    );
    assert_eq!(
        sm2::decrypt(&key, &ct[..97], CiphertextFormat::C1C3C2).err(),
        Some(Error::CiphertextEncoding(
            "shorter than C1 (65 bytes) + C3 (32 bytes) + at least one byte of C2"
        ))
    );
}
