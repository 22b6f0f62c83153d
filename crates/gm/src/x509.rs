//! X.509 certificates and PKCS#10 requests with SM2 keys and the signature
//! algorithm SM2-with-SM3 (OID 1.2.156.10197.1.501, GM/T 0015), signed with
//! the default user ID `1234567812345678`, readable by `openssl x509`.
//!
//! ```
//! use sscard_gm::sm2::Sm2PrivateKey;
//! use sscard_gm::x509;
//! let ca = Sm2PrivateKey::generate().unwrap();
//! let terminal = Sm2PrivateKey::generate().unwrap();
//! let csr = x509::request(&terminal, "terminal 000000000042").unwrap();
//! let (subject, key) = x509::parse_request(&csr).unwrap();
//! let signer = x509::key_signer(&ca);
//! let cert = x509::issue(&signer, "sscard platform CA", &subject, &key, &[1], 0, 4_000_000_000, false).unwrap();
//! let info = x509::verify(&cert, &ca.public_key()).unwrap();
//! assert_eq!(info.subject, "terminal 000000000042");
//! ```

use core::str::FromStr;
use std::time::{Duration, SystemTime};

use x509_cert::der::asn1::{BitString, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use crate::sm2::{self, Signature, SignatureFormat, Sm2PrivateKey, Sm2PublicKey};
use crate::{Error, Result};

/// SM2-with-SM3 (GM/T 0006).
pub const SM2_WITH_SM3: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

fn bad(what: &'static str) -> Error {
    Error::Encoding(what)
}

/// What could not be encoded: a structure this module built itself.
fn unencodable(what: &'static str) -> Error {
    Error::EncodingFailed(what)
}

fn algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SM2_WITH_SM3,
        parameters: None,
    }
}

fn name(cn: &str) -> Result<Name> {
    if cn.is_empty() || cn.contains([',', '=', '+', '\\', '"']) {
        return Err(bad(
            "a certificate name: letters, digits, spaces and . - _ only",
        ));
    }
    Name::from_str(&format!("CN={cn}")).map_err(|_| bad("a certificate name"))
}

fn common_name(name: &Name) -> String {
    let text = name.to_string();
    text.strip_prefix("CN=").unwrap_or(&text).to_string()
}

fn spki(key: &Sm2PublicKey) -> Result<SubjectPublicKeyInfoOwned> {
    SubjectPublicKeyInfoOwned::from_der(&key.to_spki_der()?)
        .map_err(|_| unencodable("an SM2 public key as SPKI"))
}

fn public_key(spki: &SubjectPublicKeyInfoOwned) -> Result<Sm2PublicKey> {
    let der = spki.to_der().map_err(|_| bad("an SM2 public key"))?;
    Sm2PublicKey::from_pem_or_der(&der)
}

/// What signs a certificate or a list: any function giving the SM2
/// signature (DER, default user ID) of its input, so that the issuer's key
/// may stay in an HSM. [`key_signer`] makes one of a key in memory.
pub type Signer<'a> = &'a dyn Fn(&[u8]) -> Result<Vec<u8>>;

/// A [`Signer`] of a key in memory.
pub fn key_signer(key: &Sm2PrivateKey) -> impl Fn(&[u8]) -> Result<Vec<u8>> + '_ {
    move |data| Ok(sm2::sign(key, sm2::DEFAULT_USER_ID, data)?.encode(SignatureFormat::Der))
}

fn sign(signer: Signer<'_>, tbs: &[u8]) -> Result<BitString> {
    BitString::from_bytes(&signer(tbs)?).map_err(|_| unencodable("a signature as a BIT STRING"))
}

fn check(
    key: &Sm2PublicKey,
    tbs: &[u8],
    alg: &AlgorithmIdentifierOwned,
    sig: &BitString,
) -> Result<()> {
    if alg.oid != SM2_WITH_SM3 {
        return Err(bad("a signature algorithm other than SM2-with-SM3"));
    }
    let bytes = sig.as_bytes().ok_or(bad("a signature"))?;
    let signature = Signature::parse(bytes, SignatureFormat::Der)?;
    sm2::verify(key, sm2::DEFAULT_USER_ID, tbs, &signature)
}

/// A PKCS#10 certificate request (DER) for `key`, subject `CN=<cn>`.
pub fn request(key: &Sm2PrivateKey, cn: &str) -> Result<Vec<u8>> {
    let info = CertReqInfo {
        version: x509_cert::request::Version::V1,
        subject: name(cn)?,
        public_key: spki(&key.public_key())?,
        attributes: Default::default(),
    };
    let tbs = info.to_der().map_err(|_| unencodable("a request"))?;
    CertReq {
        info,
        algorithm: algorithm(),
        signature: sign(&key_signer(key), &tbs)?,
    }
    .to_der()
    .map_err(|_| unencodable("a request"))
}

/// The subject name and key of a request whose signature verifies.
pub fn parse_request(der: &[u8]) -> Result<(String, Sm2PublicKey)> {
    let req = CertReq::from_der(der).map_err(|_| bad("a certificate request"))?;
    let key = public_key(&req.info.public_key)?;
    let tbs = req
        .info
        .to_der()
        .map_err(|_| bad("a certificate request"))?;
    check(&key, &tbs, &req.algorithm, &req.signature)?;
    Ok((common_name(&req.info.subject), key))
}

fn time(seconds: u64) -> Result<Time> {
    Time::try_from(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)).map_err(|_| bad("a time"))
}

/// Issues a certificate (DER) for `subject_key`, signed by `issuer`; valid
/// from `not_before` to `not_after` (seconds since the epoch). A CA
/// certificate carries basicConstraints CA:TRUE.
#[allow(clippy::too_many_arguments)]
pub fn issue(
    issuer: Signer<'_>,
    issuer_cn: &str,
    subject_cn: &str,
    subject_key: &Sm2PublicKey,
    serial: &[u8],
    not_before: u64,
    not_after: u64,
    ca: bool,
) -> Result<Vec<u8>> {
    let extensions = if ca {
        let value = BasicConstraints {
            ca: true,
            path_len_constraint: Some(0),
        }
        .to_der()
        .map_err(|_| unencodable("an extension"))?;
        Some(vec![Extension {
            extn_id: BASIC_CONSTRAINTS,
            critical: true,
            extn_value: OctetString::new(value).map_err(|_| unencodable("an extension"))?,
        }])
    } else {
        None
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(serial).map_err(|_| bad("a serial number"))?,
        signature: algorithm(),
        issuer: name(issuer_cn)?,
        validity: Validity {
            not_before: time(not_before)?,
            not_after: time(not_after)?,
        },
        subject: name(subject_cn)?,
        subject_public_key_info: spki(subject_key)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions,
    };
    let der = tbs.to_der().map_err(|_| unencodable("a certificate"))?;
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm(),
        signature: sign(issuer, &der)?,
    }
    .to_der()
    .map_err(|_| unencodable("a certificate"))
}

/// What a certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject CN.
    pub subject: String,
    /// Issuer CN.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Validity, seconds since the epoch.
    pub not_before: u64,
    /// Validity end, seconds since the epoch.
    pub not_after: u64,
    /// The subject's key.
    pub public_key: Sm2PublicKey,
}

/// Parses a certificate and checks its signature against `issuer`.
pub fn verify(der: &[u8], issuer: &Sm2PublicKey) -> Result<CertificateInfo> {
    let cert = Certificate::from_der(der).map_err(|_| bad("a certificate"))?;
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|_| bad("a certificate"))?;
    check(issuer, &tbs, &cert.signature_algorithm, &cert.signature)?;
    let t = &cert.tbs_certificate;
    Ok(CertificateInfo {
        subject: common_name(&t.subject),
        issuer: common_name(&t.issuer),
        serial: hex::encode_upper(t.serial_number.as_bytes()),
        not_before: t.validity.not_before.to_unix_duration().as_secs(),
        not_after: t.validity.not_after.to_unix_duration().as_secs(),
        public_key: public_key(&t.subject_public_key_info)?,
    })
}

/// A certificate revocation list (DER, X.509 v2 CRL) of the serials (hex)
/// `revoked` with their revocation times, signed by the issuer; the next
/// update is due `valid_s` seconds after `now`. `number` is its CRL number
/// (RFC 5280 §5.2.3), which must rise with every change of the list, so
/// that a holder of a newer list can refuse an older one.
pub fn crl(
    issuer: Signer<'_>,
    issuer_cn: &str,
    revoked: &[(String, u64)],
    now: u64,
    valid_s: u64,
    number: u64,
) -> Result<Vec<u8>> {
    let mut entries = Vec::with_capacity(revoked.len());
    for (serial, when) in revoked {
        let bytes = hex::decode(serial).map_err(|_| bad("a serial number"))?;
        entries.push(x509_cert::crl::RevokedCert {
            serial_number: SerialNumber::new(&bytes).map_err(|_| bad("a serial number"))?,
            revocation_date: time(*when)?,
            crl_entry_extensions: None,
        });
    }
    let tbs = x509_cert::crl::TbsCertList {
        version: Version::V2,
        signature: algorithm(),
        issuer: name(issuer_cn)?,
        this_update: time(now)?,
        next_update: Some(time(now + valid_s)?),
        revoked_certificates: (!entries.is_empty()).then_some(entries),
        crl_extensions: Some(vec![Extension {
            extn_id: ObjectIdentifier::new_unwrap("2.5.29.20"),
            critical: false,
            extn_value: OctetString::new(
                x509_cert::der::asn1::Uint::new(&number.to_be_bytes())
                    .and_then(|n| n.to_der())
                    .map_err(|_| unencodable("a CRL number"))?,
            )
            .map_err(|_| unencodable("a CRL number"))?,
        }]),
    };
    let der = tbs.to_der().map_err(|_| unencodable("a revocation list"))?;
    x509_cert::crl::CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm(),
        signature: sign(issuer, &der)?,
    }
    .to_der()
    .map_err(|_| unencodable("a revocation list"))
}

/// What a revocation list says, read without checking its signature: its
/// CRL number (0 if it has none) and its revoked serials (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlInfo {
    /// The CRL number (RFC 5280 §5.2.3).
    pub number: u64,
    /// The revoked serials, hex, as listed.
    pub revoked: Vec<String>,
}

/// Reads a revocation list (DER) without checking its signature.
pub fn read_crl(der: &[u8]) -> Result<CrlInfo> {
    let list =
        x509_cert::crl::CertificateList::from_der(der).map_err(|_| bad("a revocation list"))?;
    let mut number = 0u64;
    for ext in list.tbs_cert_list.crl_extensions.iter().flatten() {
        if ext.extn_id == ObjectIdentifier::new_unwrap("2.5.29.20") {
            let n = x509_cert::der::asn1::Uint::from_der(ext.extn_value.as_bytes())
                .map_err(|_| bad("a CRL number"))?;
            let bytes = n.as_bytes();
            if bytes.len() > 8 {
                return Err(bad("a CRL number of at most 64 bits"));
            }
            number = bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
        }
    }
    Ok(CrlInfo {
        number,
        revoked: list
            .tbs_cert_list
            .revoked_certificates
            .unwrap_or_default()
            .iter()
            .map(|r| hex::encode_upper(r.serial_number.as_bytes()))
            .collect(),
    })
}

/// The revoked serials (hex) of a revocation list whose signature verifies.
pub fn verify_crl(der: &[u8], issuer: &Sm2PublicKey) -> Result<Vec<String>> {
    let list =
        x509_cert::crl::CertificateList::from_der(der).map_err(|_| bad("a revocation list"))?;
    let tbs = list
        .tbs_cert_list
        .to_der()
        .map_err(|_| bad("a revocation list"))?;
    check(issuer, &tbs, &list.signature_algorithm, &list.signature)?;
    Ok(list
        .tbs_cert_list
        .revoked_certificates
        .unwrap_or_default()
        .iter()
        .map(|r| hex::encode_upper(r.serial_number.as_bytes()))
        .collect())
}

/// Parses a self-signed certificate (a CA's) and checks its signature with
/// its own key.
pub fn verify_self_signed(der: &[u8]) -> Result<CertificateInfo> {
    let cert = Certificate::from_der(der).map_err(|_| bad("a certificate"))?;
    let key = public_key(&cert.tbs_certificate.subject_public_key_info)?;
    verify(der, &key)
}

/// PEM of DER with `label` (`CERTIFICATE`, `CERTIFICATE REQUEST`).
pub fn to_pem(label: &'static str, der: &[u8]) -> Result<String> {
    x509_cert::der::pem::encode_string(label, x509_cert::der::pem::LineEnding::LF, der)
        .map_err(|_| unencodable("PEM"))
}

/// DER from PEM, or the bytes themselves when they are not PEM.
pub fn from_pem(bytes: &[u8]) -> Result<Vec<u8>> {
    match x509_cert::der::pem::decode_vec(bytes) {
        Ok((_, der)) => Ok(der),
        Err(_) if bytes.first() == Some(&0x30) => Ok(bytes.to_vec()),
        Err(_) => Err(bad("PEM or DER")),
    }
}
