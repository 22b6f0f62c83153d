//! The DER structures that hold SM2 keys, read in every form met in
//! practice:
//!
//! - PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey` (RFC 5208, RFC 5958) and
//!   SPKI `SubjectPublicKeyInfo` (RFC 5280), whose AlgorithmIdentifier is
//!   either id-ecPublicKey with the SM2 curve as parameter (RFC 5480, what
//!   OpenSSL 3 writes) or the SM2 OID 1.2.156.10197.1.301 itself (GmSSL, Go
//!   gmsm, OpenSSL 1.1.1 with the SM2 alias, Chinese CA tools), its
//!   parameters absent, NULL, the SM2 OID or explicit;
//! - SEC1 `ECPrivateKey` (RFC 5915), with or without its parameters and
//!   public key;
//! - curve parameters named by OID or explicit (`SpecifiedECDomain`, SEC1
//!   §C.2, as `openssl ec -param_enc explicit` writes), which must be those
//!   of GB/T 32918.5 exactly;
//! - EncryptedPrivateKeyInfo (RFC 5958 §3), recognised to be refused with
//!   [`Error::EncryptedKey`].

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use sm2::PublicKey;
use zeroize::Zeroizing;

use super::{curve, point};
use crate::{Error, Result};

const NOT_PRIVATE: &str = "not an SM2 private key in PKCS#8 or SEC1 DER";
const NOT_PUBLIC: &str = "not an SM2 public key in SPKI DER";

/// The two DER layouts of a private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// PKCS#8.
    Pkcs8,
    /// SEC1 `ECPrivateKey`.
    Sec1,
}

/// A private key as read from its file, before its scalar is checked.
pub(crate) struct PrivateParts {
    /// d, 32 bytes big-endian.
    pub scalar: Zeroizing<[u8; 32]>,
    /// The public key stored beside it, if any.
    pub public: Option<PublicKey>,
    /// The layout it was read from.
    pub layout: Layout,
}

/// Reads a private key in PKCS#8 or SEC1 DER, whichever it is.
pub(crate) fn private_key(der: &[u8]) -> Result<PrivateParts> {
    let items = sequence(der).ok_or(Error::KeyEncoding(NOT_PRIVATE))?;
    match items.as_slice() {
        [algorithm, data] if algorithm.tag() == Tag::Sequence && data.tag() == Tag::OctetString => {
            Err(Error::EncryptedKey)
        }
        [version, algorithm, rest @ ..]
            if version.tag() == Tag::Integer && algorithm.tag() == Tag::Sequence =>
        {
            pkcs8(*version, *algorithm, rest)
        }
        [version, key, rest @ ..]
            if version.tag() == Tag::Integer && key.tag() == Tag::OctetString =>
        {
            sec1(*version, *key, rest)
        }
        _ => Err(Error::KeyEncoding(NOT_PRIVATE)),
    }
}

/// PKCS#8: version 0 (v1) or 1 (v2, with the public key), the algorithm,
/// the SEC1 key inside an OCTET STRING, then optional `[0]` attributes and
/// `[1]` public key.
fn pkcs8(version: AnyRef<'_>, algorithm: AnyRef<'_>, rest: &[AnyRef<'_>]) -> Result<PrivateParts> {
    if !matches!(version.decode_as::<u8>(), Ok(0 | 1)) {
        return Err(Error::KeyEncoding(
            "PKCS#8 private key version is not 0 or 1",
        ));
    }
    algorithm_identifier(algorithm)?;
    let (inner, optional) = rest
        .split_first()
        .filter(|(inner, _)| inner.tag() == Tag::OctetString)
        .ok_or(Error::KeyEncoding(NOT_PRIVATE))?;
    let inner_items = sequence(inner.value()).ok_or(Error::KeyEncoding(
        "the PKCS#8 private key does not hold a SEC1 ECPrivateKey",
    ))?;
    let (sec1_version, key, sec1_rest) = match inner_items.as_slice() {
        [v, k, r @ ..] if v.tag() == Tag::Integer && k.tag() == Tag::OctetString => (*v, *k, r),
        _ => {
            return Err(Error::KeyEncoding(
                "the PKCS#8 private key does not hold a SEC1 ECPrivateKey",
            ))
        }
    };
    let mut parts = sec1(sec1_version, key, sec1_rest)?;
    parts.layout = Layout::Pkcs8;
    let mut last_tag = None;
    for item in optional {
        match item.tag() {
            Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(0),
            } if last_tag.is_none() => {}
            Tag::ContextSpecific {
                constructed: false,
                number: TagNumber(1),
            } if last_tag != Some(1) => {
                let point = bit_string_point(item.value())?;
                if parts.public.is_some_and(|p| p != point) {
                    return Err(Error::KeyMismatch);
                }
                parts.public = Some(point);
            }
            _ => {
                return Err(Error::KeyEncoding(
                    "the PKCS#8 private key has a field after its key that is neither [0] attributes nor [1] public key",
                ))
            }
        }
        last_tag = match item.tag() {
            Tag::ContextSpecific { number, .. } => Some(number.0),
            _ => None,
        };
    }
    Ok(parts)
}

/// SEC1 `ECPrivateKey`: version 1, d, then optional `[0]` parameters and
/// `[1]` public key.
fn sec1(version: AnyRef<'_>, key: AnyRef<'_>, rest: &[AnyRef<'_>]) -> Result<PrivateParts> {
    if !matches!(version.decode_as::<u8>(), Ok(1)) {
        return Err(Error::KeyEncoding("SEC1 private key version is not 1"));
    }
    let scalar = scalar(key.value())?;
    let mut public = None;
    let mut next = 0;
    for item in rest {
        match item.tag() {
            Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(0),
            } if next == 0 => {
                let params = single(item.value()).ok_or(Error::KeyEncoding(
                    "the SEC1 private key's [0] parameters are not one ECParameters",
                ))?;
                curve_of(Some(params))?;
                next = 1;
            }
            Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(1),
            } if next <= 1 => {
                let bits = single(item.value())
                    .filter(|b| b.tag() == Tag::BitString)
                    .ok_or(Error::KeyEncoding(
                        "the SEC1 private key's [1] public key is not a BIT STRING",
                    ))?;
                public = Some(bit_string_point(bits.value())?);
                next = 2;
            }
            _ => {
                return Err(Error::KeyEncoding(
                    "the SEC1 private key has a field that is neither [0] parameters nor [1] public key",
                ))
            }
        }
    }
    Ok(PrivateParts {
        scalar,
        public,
        layout: Layout::Sec1,
    })
}

/// d from the SEC1 OCTET STRING: big-endian, 32 bytes as RFC 5915 says, or
/// shorter (leading zeros left out by some writers). Its range is checked
/// by the caller.
fn scalar(octets: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    if octets.is_empty() {
        return Err(Error::KeyEncoding("the private key octet string is empty"));
    }
    let start = octets.iter().position(|b| *b != 0).unwrap_or(octets.len());
    let significant = octets.get(start..).unwrap_or_default();
    let offset = 32usize
        .checked_sub(significant.len())
        .ok_or(Error::PrivateKeyRange("d ≥ n (longer than 32 bytes)"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    if let Some(tail) = out.get_mut(offset..) {
        tail.copy_from_slice(significant);
    }
    Ok(out)
}

/// Reads an SPKI public key.
pub(crate) fn public_key(der: &[u8]) -> Result<PublicKey> {
    let items = sequence(der).ok_or(Error::KeyEncoding(NOT_PUBLIC))?;
    match items.as_slice() {
        [algorithm, bits] if algorithm.tag() == Tag::Sequence && bits.tag() == Tag::BitString => {
            algorithm_identifier(*algorithm)?;
            bit_string_point(bits.value())
        }
        [algorithm, data] if algorithm.tag() == Tag::Sequence && data.tag() == Tag::OctetString => {
            Err(Error::KeyEncoding(
                "this is an encrypted private key, not a public key",
            ))
        }
        [version, ..] if version.tag() == Tag::Integer => Err(Error::KeyEncoding(
            "this is a private key, not a public key (its public key is written by `openssl pkey -pubout`)",
        )),
        _ => Err(Error::KeyEncoding(NOT_PUBLIC)),
    }
}

/// Checks a standalone ECParameters (a PEM `EC PARAMETERS` or `SM2
/// PARAMETERS` block): it must name or give the SM2 curve.
pub(crate) fn parameters(der: &[u8]) -> Result<()> {
    let any = AnyRef::from_der(der)
        .map_err(|_| Error::KeyEncoding("the EC PARAMETERS block is not ECParameters DER"))?;
    curve_of(Some(any))
}

/// An AlgorithmIdentifier of a key: id-ecPublicKey with curve parameters,
/// or the SM2 OID with parameters absent, NULL, the SM2 OID or explicit.
fn algorithm_identifier(algorithm: AnyRef<'_>) -> Result<()> {
    let items = elements(algorithm.value()).ok_or(Error::KeyEncoding(
        "the key's AlgorithmIdentifier is not valid DER",
    ))?;
    let (oid, params) = match items.as_slice() {
        [oid] => (*oid, None),
        [oid, params] => (*oid, Some(*params)),
        _ => {
            return Err(Error::KeyEncoding(
                "the key's AlgorithmIdentifier is not { algorithm, parameters }",
            ))
        }
    };
    let oid = oid
        .decode_as::<ObjectIdentifier>()
        .map_err(|_| Error::KeyEncoding("the key's algorithm is not an OBJECT IDENTIFIER"))?;
    if oid == curve::EC_PUBLIC_KEY || oid == curve::SM2 {
        curve_of(params)
    } else {
        Err(Error::NotSm2 {
            what: "algorithm",
            found: curve::describe(&oid),
        })
    }
}

/// ECParameters: a named curve (OID), implicitlyCA (NULL), or explicit.
/// Absent or NULL parameters state no curve: the key is then taken to be
/// SM2, and a public key stored beside a private one must be [d]G on SM2.
fn curve_of(params: Option<AnyRef<'_>>) -> Result<()> {
    let Some(params) = params else {
        return Ok(());
    };
    match params.tag() {
        Tag::Null => Ok(()),
        Tag::ObjectIdentifier => {
            let oid = params
                .decode_as::<ObjectIdentifier>()
                .map_err(|_| Error::KeyEncoding("the key's curve OID is not valid DER"))?;
            if oid == curve::SM2 {
                Ok(())
            } else {
                Err(Error::NotSm2 {
                    what: "curve",
                    found: curve::describe(&oid),
                })
            }
        }
        Tag::Sequence => explicit(params),
        _ => Err(Error::KeyEncoding(
            "the key's curve parameters are neither a named curve, NULL nor explicit",
        )),
    }
}

/// Explicit parameters (SEC1 §C.2 `SpecifiedECDomain`): each must be that
/// of GB/T 32918.5, whose parameters were validated as GB/T 32918.1 §5.2
/// asks; so a file cannot bring a curve of its own.
fn explicit(params: AnyRef<'_>) -> Result<()> {
    const BAD: &str = "explicit curve parameters are not SpecifiedECDomain DER";
    let items = elements(params.value()).ok_or(Error::KeyEncoding(BAD))?;
    let [version, field, curve_ab, base, order, rest @ ..] = items.as_slice() else {
        return Err(Error::KeyEncoding(BAD));
    };
    if !matches!(version.decode_as::<u8>(), Ok(1..=3)) {
        return Err(Error::KeyEncoding(
            "explicit curve parameters: version is not 1, 2 or 3",
        ));
    }
    let field_items = (field.tag() == Tag::Sequence)
        .then(|| elements(field.value()))
        .flatten()
        .ok_or(Error::KeyEncoding(BAD))?;
    match field_items.as_slice() {
        [field_type, prime]
            if field_type.decode_as::<ObjectIdentifier>().ok() == Some(curve::PRIME_FIELD) =>
        {
            if !uint_is(*prime, &curve::P) {
                return Err(Error::KeyEncoding(
                    "explicit curve parameters: the field prime p is not SM2's (GB/T 32918.5)",
                ));
            }
        }
        _ => {
            return Err(Error::KeyEncoding(
                "explicit curve parameters: the field is not a prime field",
            ))
        }
    }
    let ab = (curve_ab.tag() == Tag::Sequence)
        .then(|| elements(curve_ab.value()))
        .flatten()
        .ok_or(Error::KeyEncoding(BAD))?;
    match ab.as_slice() {
        [a, b, ..] if a.tag() == Tag::OctetString && b.tag() == Tag::OctetString => {
            if !same_integer(a.value(), &curve::A) {
                return Err(Error::KeyEncoding(
                    "explicit curve parameters: a is not SM2's (GB/T 32918.5)",
                ));
            }
            if !same_integer(b.value(), &curve::B) {
                return Err(Error::KeyEncoding(
                    "explicit curve parameters: b is not SM2's (GB/T 32918.5)",
                ));
            }
        }
        _ => return Err(Error::KeyEncoding(BAD)),
    }
    let generator = (base.tag() == Tag::OctetString)
        .then(|| point::decode(base.value()).ok())
        .flatten();
    let mut g = Vec::with_capacity(64);
    g.extend_from_slice(&curve::GX);
    g.extend_from_slice(&curve::GY);
    if generator.map(|p| point::xy(&p)) != Some(g) {
        return Err(Error::KeyEncoding(
            "explicit curve parameters: the base point G is not SM2's (GB/T 32918.5)",
        ));
    }
    if !uint_is(*order, &curve::N) {
        return Err(Error::KeyEncoding(
            "explicit curve parameters: the order n is not SM2's (GB/T 32918.5)",
        ));
    }
    if let Some(cofactor) = rest.first().filter(|c| c.tag() == Tag::Integer) {
        if !uint_is(*cofactor, &[1]) {
            return Err(Error::KeyEncoding(
                "explicit curve parameters: the cofactor h is not 1 (GB/T 32918.5)",
            ));
        }
    }
    Ok(())
}

/// A public key in a BIT STRING's value (first byte: unused bits).
fn bit_string_point(value: &[u8]) -> Result<PublicKey> {
    let (&unused, bytes) = value
        .split_first()
        .ok_or(Error::KeyEncoding("the public key BIT STRING is empty"))?;
    let bits = BitStringRef::new(unused, bytes)
        .ok()
        .and_then(|b| b.as_bytes())
        .ok_or(Error::KeyEncoding(
            "the public key BIT STRING is not a whole number of bytes",
        ))?;
    point::decode(bits).map_err(Error::PublicKeyInvalid)
}

/// Whether an INTEGER is the given big-endian value.
fn uint_is(any: AnyRef<'_>, expected: &[u8]) -> bool {
    any.decode_as::<UintRef<'_>>()
        .is_ok_and(|u| same_integer(u.as_bytes(), expected))
}

/// Whether two big-endian byte strings are the same integer.
fn same_integer(a: &[u8], b: &[u8]) -> bool {
    fn strip(x: &[u8]) -> &[u8] {
        let start = x.iter().position(|b| *b != 0).unwrap_or(x.len());
        x.get(start..).unwrap_or_default()
    }
    strip(a) == strip(b)
}

/// The elements of a DER SEQUENCE that is the whole of `der`.
fn sequence(der: &[u8]) -> Option<Vec<AnyRef<'_>>> {
    let any = AnyRef::from_der(der).ok()?;
    (any.tag() == Tag::Sequence)
        .then(|| elements(any.value()))
        .flatten()
}

/// The DER elements that make up `value`.
fn elements(value: &[u8]) -> Option<Vec<AnyRef<'_>>> {
    let mut reader = SliceReader::new(value).ok()?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(AnyRef::decode(&mut reader).ok()?);
    }
    Some(out)
}

/// The one element that makes up `value`.
fn single(value: &[u8]) -> Option<AnyRef<'_>> {
    match elements(value)?.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}
