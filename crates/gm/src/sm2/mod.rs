//! SM2 (GB/T 32918-2016): keys, signatures and public-key encryption, on
//! RustCrypto's `sm2` crate.
//!
//! Keys are read in every form OpenSSL 3 and the other SM2 toolkits write
//! (PKCS#8, SEC1 and SPKI, PEM or DER, see [`Sm2PrivateKey::from_pem_or_der`]
//! and [`Sm2PublicKey::from_pem_or_der`]) and written as OpenSSL 3 writes
//! them. Curve: GB/T 32918.5-2017 §2, p = FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF
//! FFFFFFFF 00000000 FFFFFFFF FFFFFFFF, n = FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF
//! 7203DF6B 21C6052B 53BBF409 39D54123, h = 1.
//!
//! # The checks of GB/T 32918, where each is made, and its test
//!
//! Every check the standard mandates on keys, signatures and ciphertexts is
//! made where the value enters: a key when it is read (every constructor of
//! [`Sm2PrivateKey`] and [`Sm2PublicKey`], so no other crate can hold an
//! unchecked key), a signature when it is parsed, a ciphertext when it is
//! parsed or decrypted. Each failure has its own error. The tests are in
//! `crates/gm/tests/gbt32918_checks.rs` (`checks::`) and
//! `crates/gm/tests/openssl_key_forms.rs` (`forms::`).
//!
//! | check | clause | enforced in | error | test |
//! |---|---|---|---|---|
//! | d ≠ 0 | .1 §6.1 (d ∈ [1, n−2]) | every `Sm2PrivateKey` constructor | [`PrivateKeyRange`](crate::Error::PrivateKeyRange) `"d = 0"` | `checks::private_key_zero_is_refused` |
//! | d ≠ n − 1 ((1 + d)⁻¹ exists, .2 §6.1 A6) | .1 §6.1 | every `Sm2PrivateKey` constructor; [`Sm2PrivateKey::generate`] draws again | `PrivateKeyRange` `"d = n − 1, …"` | `checks::private_key_n_minus_1_is_refused` |
//! | d < n | .1 §6.1 | every `Sm2PrivateKey` constructor | `PrivateKeyRange` `"d ≥ n"` | `checks::private_key_n_or_more_is_refused` |
//! | P ≠ O | .1 §6.2 a) | every `Sm2PublicKey` constructor, points stored with private keys | [`PublicKeyInvalid`](crate::Error::PublicKeyInvalid)`(Infinity)` | `checks::point_at_infinity_is_refused` |
//! | x_P ∈ [0, p − 1] | .1 §6.2 b) | same | `PublicKeyInvalid(XOutOfField)` | `checks::point_with_x_of_p_or_more_is_refused` |
//! | y_P ∈ [0, p − 1] | .1 §6.2 b) | same | `PublicKeyInvalid(YOutOfField)` | `checks::point_with_y_of_p_or_more_is_refused` |
//! | y² = x³ + ax + b | .1 §6.2 c) | same | `PublicKeyInvalid(NotOnCurve)` | `checks::point_off_the_curve_is_refused`, `checks::point_faults_reach_spki_readers_too` |
//! | a compressed x has a point (x³ + ax + b is a square) | .1 §6.2 c), Annex A.5 | same | `PublicKeyInvalid(NoPointWithX)` | `checks::compressed_x_without_a_point_is_refused` |
//! | \[n\]P = O | .1 §6.2 d) | same, as \[n − 1\]P + P | `PublicKeyInvalid(OrderNotN)` | none can fail it: with h = 1 every point that passes a)–c) has order n |
//! | a point is 00, 02/03 ‖ x, 04 ‖ x ‖ y or 06/07 ‖ x ‖ y | .1 §4.2 | same | `PublicKeyInvalid(Encoding)` | `checks::point_encodings_of_wrong_tag_or_length_are_refused` |
//! | a hybrid tag matches the parity of y | .1 §4.2 | same | `PublicKeyInvalid(HybridParity)` | `checks::hybrid_point_with_the_wrong_parity_tag_is_refused` |
//! | explicit curve parameters are SM2's (so .1 §5.2 holds) | .1 §5.2, .5 §2 | key file readers | [`KeyEncoding`](crate::Error::KeyEncoding) naming p, a, b, G, n or h; [`NotSm2`](crate::Error::NotSm2) for a named curve | `forms::explicit_parameters_other_than_sm2s_are_refused_naming_which`, `forms::keys_of_other_curves_and_algorithms_are_refused_naming_them` |
//! | a public key stored with a private key is \[d\]G | (RFC 5915, RFC 5958) | private key readers | [`KeyMismatch`](crate::Error::KeyMismatch) | `forms::a_public_key_stored_with_a_private_key_must_be_its_own` |
//! | r ∈ [1, n − 1] | .2 §7.1 B1 | [`Signature::parse`], [`Signature::from_r_s`] | [`SignatureRange`](crate::Error::SignatureRange) `"r = 0"` / `"r ≥ n"` | `checks::signature_r_outside_1_to_n_minus_1_is_refused` |
//! | s ∈ [1, n − 1] | .2 §7.1 B2 | same | `SignatureRange` `"s = 0"` / `"s ≥ n"` | `checks::signature_s_outside_1_to_n_minus_1_is_refused` |
//! | t = (r + s) mod n ≠ 0 | .2 §7.1 B5 | [`verify`] | [`SignatureSumZero`](crate::Error::SignatureSumZero) | `checks::signature_with_r_plus_s_equal_to_n_is_refused` |
//! | R = (e + x₁) mod n equals r | .2 §7.1 B7 | [`verify`] | [`SignatureInvalid`](crate::Error::SignatureInvalid) | `checks::signature_whose_r_does_not_match_is_refused` |
//! | k ∈ [1, n − 1] | .2 §6.1 A3 | [`sign`] (RFC 6979 gives k in range); `hazmat` refuses a given k | [`NonceRejected`](crate::Error::NonceRejected) | `checks::nonce_outside_1_to_n_minus_1_is_refused` |
//! | r ≠ 0 | .2 §6.1 A5 | [`sign`] draws another k; `hazmat` refuses | `NonceRejected` `"r = 0 …"` | `checks::nonce_giving_r_zero_is_refused` |
//! | r + k ≠ n | .2 §6.1 A5 | [`sign`] draws another k; `hazmat` refuses | `NonceRejected` `"r + k = n …"` | `checks::nonce_giving_r_plus_k_equal_to_n_is_refused` |
//! | s ≠ 0 | .2 §6.1 A6 | [`sign`] draws another k; `hazmat` refuses | `NonceRejected` `"s = 0 …"` | `checks::nonce_giving_s_zero_is_refused` |
//! | the user ID fits ENTL (16 bits: ≤ 8191 bytes) | .2 §5.5 | [`za`], [`sign`], [`verify`] | [`UserIdTooLong`](crate::Error::UserIdTooLong) | `checks::user_ids_longer_than_8191_bytes_are_refused` |
//! | klen > 0 | .4 §6.1, §7.1 | [`encrypt`]; parsing (C2 not empty) | [`EmptyMessage`](crate::Error::EmptyMessage); [`CiphertextEncoding`](crate::Error::CiphertextEncoding) `"C2 is empty"` | `checks::encryption_refuses_an_empty_message`, `checks::decryption_refuses_an_empty_c2` |
//! | klen within the KDF's 32-bit counter | .4 §5.4.3 | [`crate::kdf::sm3_kdf`] (encryption and decryption) | [`KdfLength`](crate::Error::KdfLength) | `checks::kdf_lengths_beyond_its_counter_are_refused` |
//! | S = \[h\]P_B ≠ O | .4 §6.1 A3 | when P_B is read (.1 §6.2; h = 1) | `PublicKeyInvalid` | the point tests above |
//! | t = KDF(x₂ ‖ y₂, klen) not all zero | .4 §6.1 A5 | [`encrypt`] draws another k; `hazmat` refuses | [`KdfOutputZero`](crate::Error::KdfOutputZero) | `checks::encryption_with_a_nonce_giving_an_all_zero_t_is_refused` |
//! | C1 on the curve (coordinates in the field, curve equation) | .4 §7.1 B1 | ciphertext parsing ([`decrypt`], [`convert_ciphertext`]) | [`CiphertextPoint`](crate::Error::CiphertextPoint)`(NotOnCurve / XOutOfField / YOutOfField)` | `checks::decryption_refuses_c1_off_the_curve`, `checks::decryption_refuses_c1_with_a_coordinate_of_p_or_more` |
//! | S = \[h\]C1 ≠ O | .4 §7.1 B2 | same | `CiphertextPoint(Infinity)` | `checks::decryption_refuses_c1_at_infinity` |
//! | t not all zero | .4 §7.1 B4 | [`decrypt`] | `KdfOutputZero` | `checks::decryption_with_an_all_zero_t_is_refused` |
//! | u = SM3(x₂ ‖ M′ ‖ y₂) equals C3 | .4 §7.1 B6 | [`decrypt`] (constant time) | [`DecryptionFailed`](crate::Error::DecryptionFailed) | `checks::decryption_refuses_a_wrong_c3` |
//!
//! GB/T 32918.3 (key exchange) is not implemented here; the checks it shares
//! (public key validation, .1 §6.2) are those above.

mod curve;
mod encrypt;
mod keyfile;
mod keys;
mod pem;
mod point;
mod sign;
mod za;

#[cfg(feature = "hazmat")]
pub(crate) use encrypt::encrypt_with_nonce;
pub use encrypt::{convert_ciphertext, decrypt, encrypt, CiphertextFormat};
pub use keys::{Sm2PrivateKey, Sm2PublicKey};
pub use sign::{sign, verify, Signature, SignatureFormat};
pub use za::{za, DEFAULT_USER_ID};

/// The system random generator, as the `sm2` crate takes it.
pub(crate) fn system_rng() -> sm2::elliptic_curve::common::getrandom::SysRng {
    sm2::elliptic_curve::common::getrandom::SysRng
}
