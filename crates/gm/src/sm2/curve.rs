//! The SM2 curve of GB/T 32918.5-2017 §2 and the object identifiers that
//! name it and its keys.

use der::asn1::ObjectIdentifier;
use hex_literal::hex;

/// The prime p of the base field.
pub(crate) const P: [u8; 32] =
    hex!("fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff");
/// The coefficient a of y² = x³ + ax + b.
pub(crate) const A: [u8; 32] =
    hex!("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc");
/// The coefficient b.
pub(crate) const B: [u8; 32] =
    hex!("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93");
/// x of the base point G.
pub(crate) const GX: [u8; 32] =
    hex!("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7");
/// y of the base point G.
pub(crate) const GY: [u8; 32] =
    hex!("bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0");
/// The order n of G.
pub(crate) const N: [u8; 32] =
    hex!("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123");

/// The SM2 curve, and the SM2 algorithm (GM/T 0006-2012).
pub(crate) const SM2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");
/// id-ecPublicKey (RFC 5480), the algorithm OpenSSL 3 writes for SM2 keys.
pub(crate) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime-field (X9.62), the field type of explicit parameters.
pub(crate) const PRIME_FIELD: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.1.1");

/// An object identifier in words, with its name when it is a common one.
pub(crate) fn describe(oid: &ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.2.840.10045.3.1.7" => "prime256v1 (NIST P-256)",
        "1.3.132.0.34" => "secp384r1 (NIST P-384)",
        "1.3.132.0.35" => "secp521r1 (NIST P-521)",
        "1.3.132.0.10" => "secp256k1",
        "1.2.840.113549.1.1.1" => "rsaEncryption (RSA)",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.101.110" => "X25519",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => "",
    };
    if name.is_empty() {
        oid.to_string()
    } else {
        format!("{oid} {name}")
    }
}
