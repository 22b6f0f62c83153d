//! Every form in which OpenSSL 3 writes an SM2 key is read as the same key.
//!
//! The keys and files come from the `openssl` command of the machine the
//! test runs on (OpenSSL 3 is installed on every machine of the project, so
//! its absence fails the test): `genpkey`, `ecparam -genkey`, `ec`, `pkey`,
//! `pkcs8`, `pkcs12`, with their DER, explicit-parameter, point-form and
//! encryption options. The forms this OpenSSL does not write — the SM2 OID
//! as AlgorithmIdentifier (GmSSL, Go gmsm, OpenSSL 1.1.1, Chinese CA tools),
//! the `EC PRIVATE KEY` / `EC PARAMETERS` labels of other OpenSSL builds,
//! CRLF, text around the blocks, several keys in one file — are built here
//! from OpenSSL's own DER, and `openssl pkey` is asked to read them back
//! where it can. No file is read that this test did not make.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hex_literal::hex;
use sscard_gm::sm2::{Sm2PrivateKey, Sm2PublicKey};
use sscard_gm::Error;

const SM2_OID: [u8; 10] = hex!("06082A811CCF5501822D");
const NULL: [u8; 2] = hex!("0500");
const P: [u8; 32] = hex!("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF");
const B: [u8; 32] = hex!("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
const N: [u8; 32] = hex!("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123");
const GX: [u8; 32] = hex!("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command (OpenSSL 3) must be installed")
}

#[track_caller]
fn ok(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("key-forms-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).to_str().unwrap().to_string()
}

/// A fresh SM2 key from `openssl genpkey`, its file, and the key as read.
fn openssl_key(dir: &Path) -> (String, Sm2PrivateKey) {
    let file = path(dir, "k.pem");
    ok(openssl(&["genpkey", "-algorithm", "SM2", "-out", &file]));
    let key = Sm2PrivateKey::from_pem_or_der(&fs::read(&file).unwrap()).unwrap();
    // OpenSSL's own public key of that file is the one we derive.
    let spki = ok(openssl(&[
        "pkey", "-in", &file, "-pubout", "-outform", "DER",
    ]));
    assert_eq!(
        Sm2PublicKey::from_spki_der(&spki).unwrap(),
        key.public_key()
    );
    (file, key)
}

#[track_caller]
fn assert_same_private(form: &str, bytes: &[u8], key: &Sm2PrivateKey) {
    let read = Sm2PrivateKey::from_pem_or_der(bytes)
        .unwrap_or_else(|e| panic!("{form}: {e}\n{}", String::from_utf8_lossy(bytes)));
    assert_eq!(read.expose_scalar(), key.expose_scalar(), "{form}");
    assert_eq!(read.public_key(), key.public_key(), "{form}");
}

#[track_caller]
fn assert_same_public(form: &str, bytes: &[u8], key: &Sm2PublicKey) {
    let read = Sm2PublicKey::from_pem_or_der(bytes)
        .unwrap_or_else(|e| panic!("{form}: {e}\n{}", String::from_utf8_lossy(bytes)));
    assert_eq!(&read, key, "{form}");
}

/// The `pub:` point that `openssl pkey -noout -text` prints for a file.
fn openssl_text_point(file: &str, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["pkey", "-in", file, "-noout", "-text"];
    args.extend(extra);
    let text = String::from_utf8(ok(openssl(&args))).unwrap();
    let after = text.split("pub:").nth(1).expect("a pub: section");
    let hex: String = after
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .flat_map(|l| l.split(':'))
        .map(str::trim)
        .collect();
    hex::decode(hex).unwrap()
}

#[test]
fn every_private_key_form_openssl_writes_is_read_as_the_same_key() {
    let d = scratch("private");
    let (k, key) = openssl_key(&d);
    let explicit = path(&d, "explicit.pem");
    ok(openssl(&[
        "ec",
        "-in",
        &k,
        "-param_enc",
        "explicit",
        "-out",
        &explicit,
    ]));
    let forms: &[(&str, &[&str])] = &[
        ("pkey (PKCS#8 PEM)", &["pkey", "-in", &k]),
        (
            "pkey -outform DER (SEC1 DER on OpenSSL 3.0)",
            &["pkey", "-in", &k, "-outform", "DER"],
        ),
        (
            "pkcs8 -topk8 -nocrypt",
            &["pkcs8", "-topk8", "-nocrypt", "-in", &k],
        ),
        (
            "pkcs8 -topk8 -nocrypt -outform DER",
            &["pkcs8", "-topk8", "-nocrypt", "-in", &k, "-outform", "DER"],
        ),
        ("ec (SEC1 PEM)", &["ec", "-in", &k]),
        ("ec -outform DER", &["ec", "-in", &k, "-outform", "DER"]),
        ("ec -no_public", &["ec", "-in", &k, "-no_public"]),
        (
            "ec -no_public -outform DER",
            &["ec", "-in", &k, "-no_public", "-outform", "DER"],
        ),
        (
            "ec -conv_form compressed",
            &["ec", "-in", &k, "-conv_form", "compressed"],
        ),
        (
            "ec -conv_form hybrid",
            &["ec", "-in", &k, "-conv_form", "hybrid"],
        ),
        (
            "ec -param_enc explicit",
            &["ec", "-in", &k, "-param_enc", "explicit"],
        ),
        (
            "ec -param_enc explicit -outform DER",
            &["ec", "-in", &k, "-param_enc", "explicit", "-outform", "DER"],
        ),
        (
            "ec -param_enc explicit -conv_form compressed",
            &[
                "ec",
                "-in",
                &k,
                "-param_enc",
                "explicit",
                "-conv_form",
                "compressed",
            ],
        ),
        (
            "ec -param_enc explicit -no_public",
            &["ec", "-in", &k, "-param_enc", "explicit", "-no_public"],
        ),
        (
            "pkcs8 -topk8 -nocrypt of explicit parameters",
            &["pkcs8", "-topk8", "-nocrypt", "-in", &explicit],
        ),
        (
            "pkcs8 -topk8 -nocrypt -outform DER of explicit parameters",
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", &explicit, "-outform", "DER",
            ],
        ),
        ("pkey of explicit parameters", &["pkey", "-in", &explicit]),
    ];
    for (form, args) in forms {
        assert_same_private(form, &ok(openssl(args)), &key);
    }
    // PKCS#8 forms read through the PKCS#8 constructors too.
    let p8 = ok(openssl(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", &k, "-outform", "DER",
    ]));
    assert_eq!(
        Sm2PrivateKey::from_pkcs8_der(&p8).unwrap().expose_scalar(),
        key.expose_scalar()
    );
    let p8 = String::from_utf8(ok(openssl(&["pkey", "-in", &k]))).unwrap();
    assert_eq!(
        Sm2PrivateKey::from_pkcs8_pem(&p8).unwrap().expose_scalar(),
        key.expose_scalar()
    );
    // SEC1 is not PKCS#8, and says so.
    let sec1 = ok(openssl(&["ec", "-in", &k, "-outform", "DER"]));
    assert_eq!(
        Sm2PrivateKey::from_pkcs8_der(&sec1).err(),
        Some(Error::KeyEncoding(
            "the private key is SEC1 (EC PRIVATE KEY), not PKCS#8"
        ))
    );
    // `pkey -traditional` cannot write SM2 keys on OpenSSL 3.0; where it can,
    // what it writes is read.
    let traditional = openssl(&["pkey", "-in", &k, "-traditional"]);
    if traditional.status.success() {
        assert_same_private("pkey -traditional", &traditional.stdout, &key);
    }
}

#[test]
fn every_ecparam_genkey_output_is_read() {
    let d = scratch("ecparam");
    let variants: &[&[&str]] = &[
        &[],
        &["-noout"],
        &["-param_enc", "explicit"],
        &["-conv_form", "compressed"],
        &["-outform", "DER"],
        &["-param_enc", "explicit", "-outform", "DER"],
    ];
    for (i, extra) in variants.iter().enumerate() {
        let file = path(&d, &format!("ecparam{i}"));
        let mut args = vec!["ecparam", "-name", "SM2", "-genkey", "-out", &file];
        args.extend(*extra);
        ok(openssl(&args));
        let bytes = fs::read(&file).unwrap();
        let key = Sm2PrivateKey::from_pem_or_der(&bytes)
            .unwrap_or_else(|e| panic!("ecparam -genkey {extra:?}: {e}"));
        let inform = if extra.contains(&"DER") { "DER" } else { "PEM" };
        let spki = ok(openssl(&[
            "pkey", "-inform", inform, "-in", &file, "-pubout", "-outform", "DER",
        ]));
        assert_eq!(
            Sm2PublicKey::from_spki_der(&spki).unwrap(),
            key.public_key(),
            "ecparam -genkey {extra:?}"
        );
    }
}

#[test]
fn every_public_key_form_openssl_writes_is_read_as_the_same_key() {
    let d = scratch("public");
    let (k, key) = openssl_key(&d);
    let public = key.public_key();
    let forms: &[(&str, &[&str])] = &[
        ("pkey -pubout", &["pkey", "-in", &k, "-pubout"]),
        (
            "pkey -pubout -outform DER",
            &["pkey", "-in", &k, "-pubout", "-outform", "DER"],
        ),
        ("ec -pubout", &["ec", "-in", &k, "-pubout"]),
        (
            "ec -pubout -outform DER",
            &["ec", "-in", &k, "-pubout", "-outform", "DER"],
        ),
        (
            "ec -pubout -conv_form compressed",
            &["ec", "-in", &k, "-pubout", "-conv_form", "compressed"],
        ),
        (
            "ec -pubout -conv_form hybrid",
            &["ec", "-in", &k, "-pubout", "-conv_form", "hybrid"],
        ),
        (
            "ec -pubout -param_enc explicit",
            &["ec", "-in", &k, "-pubout", "-param_enc", "explicit"],
        ),
        (
            "ec -pubout -param_enc explicit -conv_form compressed -outform DER",
            &[
                "ec",
                "-in",
                &k,
                "-pubout",
                "-param_enc",
                "explicit",
                "-conv_form",
                "compressed",
                "-outform",
                "DER",
            ],
        ),
    ];
    for (form, args) in forms {
        assert_same_public(form, &ok(openssl(args)), &public);
    }
    // What we write is what OpenSSL writes.
    assert_eq!(
        public.to_spki_pem().unwrap().as_bytes(),
        ok(openssl(&["pkey", "-in", &k, "-pubout"]))
    );
}

/// The elements (whole TLVs) of the DER SEQUENCE `der`.
fn children(der: &[u8]) -> Vec<Vec<u8>> {
    fn header(bytes: &[u8]) -> (usize, usize) {
        let first = bytes[1] as usize;
        if first < 0x80 {
            (2, first)
        } else {
            let n = first & 0x7F;
            let len = bytes[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (2 + n, len)
        }
    }
    let (h, len) = header(der);
    let mut body = &der[h..h + len];
    let mut out = Vec::new();
    while !body.is_empty() {
        let (h, len) = header(body);
        out.push(body[..h + len].to_vec());
        body = &body[h + len..];
    }
    out
}

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

#[test]
fn the_sm2_oid_as_algorithm_identifier_is_read() {
    let d = scratch("sm2-oid");
    let (k, key) = openssl_key(&d);
    let public = key.public_key();
    let p8 = ok(openssl(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", &k, "-outform", "DER",
    ]));
    let spki = ok(openssl(&["pkey", "-in", &k, "-pubout", "-outform", "DER"]));
    for (name, params) in [
        ("absent", &[][..]),
        ("NULL", &NULL[..]),
        ("the SM2 OID", &SM2_OID[..]),
    ] {
        let algorithm = tlv(0x30, &[&SM2_OID[..], params].concat());
        let p8_items = children(&p8);
        let p8_sm2 = tlv(
            0x30,
            &[
                p8_items[0].clone(),
                algorithm.clone(),
                p8_items[2..].concat(),
            ]
            .concat(),
        );
        let spki_items = children(&spki);
        let spki_sm2 = tlv(0x30, &[algorithm.clone(), spki_items[1].clone()].concat());

        let form = format!("PKCS#8 with the SM2 OID, parameters {name}");
        assert_same_private(&form, &p8_sm2, &key);
        assert_same_private(&form, pem("PRIVATE KEY", &p8_sm2).as_bytes(), &key);
        assert_eq!(
            Sm2PrivateKey::from_pkcs8_der(&p8_sm2)
                .unwrap()
                .expose_scalar(),
            key.expose_scalar()
        );
        let form = format!("SPKI with the SM2 OID, parameters {name}");
        assert_same_public(&form, &spki_sm2, &public);
        assert_same_public(&form, pem("PUBLIC KEY", &spki_sm2).as_bytes(), &public);

        // OpenSSL 3.0 reads the SM2 OID with the SM2 OID as parameters (the
        // form of OpenSSL 1.1.1), and shows the same key.
        if params == SM2_OID {
            let file = path(&d, "p8-sm2.pem");
            fs::write(&file, pem("PRIVATE KEY", &p8_sm2)).unwrap();
            assert_eq!(
                openssl_text_point(&file, &[]),
                public.to_sec1_uncompressed()
            );
            let file = path(&d, "spki-sm2.pem");
            fs::write(&file, pem("PUBLIC KEY", &spki_sm2)).unwrap();
            assert_eq!(
                openssl_text_point(&file, &["-pubin"]),
                public.to_sec1_uncompressed()
            );
        }
    }
}

#[test]
fn labels_and_layouts_of_other_writers_are_read() {
    let d = scratch("labels");
    let (k, key) = openssl_key(&d);
    let public = key.public_key();

    // `openssl ec` writes SM2 PRIVATE KEY here, EC PRIVATE KEY elsewhere.
    let sec1 = String::from_utf8(ok(openssl(&["ec", "-in", &k]))).unwrap();
    assert!(
        sec1.starts_with("-----BEGIN SM2 PRIVATE KEY-----")
            || sec1.starts_with("-----BEGIN EC PRIVATE KEY-----")
    );
    let ec = sec1.replace("SM2 PRIVATE KEY", "EC PRIVATE KEY");
    let sm2 = ec.replace("EC PRIVATE KEY", "SM2 PRIVATE KEY");
    for (form, text) in [("EC PRIVATE KEY", &ec), ("SM2 PRIVATE KEY", &sm2)] {
        assert_same_private(form, text.as_bytes(), &key);
        let file = path(&d, "relabelled.pem");
        fs::write(&file, text).unwrap();
        assert_eq!(
            openssl_text_point(&file, &[]),
            public.to_sec1_uncompressed(),
            "{form}"
        );
    }

    // ecparam -genkey: a parameters block (SM2 or EC PARAMETERS) before the key.
    let file = path(&d, "ecparam.pem");
    ok(openssl(&[
        "ecparam", "-name", "SM2", "-genkey", "-out", &file,
    ]));
    let text = fs::read_to_string(&file).unwrap();
    let other = Sm2PrivateKey::from_pem_or_der(text.as_bytes()).unwrap();
    let relabelled = text.replace("SM2 PARAMETERS", "EC PARAMETERS");
    assert_same_private("EC PARAMETERS then the key", relabelled.as_bytes(), &other);
    fs::write(&file, &relabelled).unwrap();
    assert_eq!(
        openssl_text_point(&file, &[]),
        other.public_key().to_sec1_uncompressed()
    );

    // CRLF line endings.
    let p8 = String::from_utf8(ok(openssl(&["pkey", "-in", &k]))).unwrap();
    let spki = String::from_utf8(ok(openssl(&["pkey", "-in", &k, "-pubout"]))).unwrap();
    assert_same_private(
        "PKCS#8 with CRLF",
        p8.replace('\n', "\r\n").as_bytes(),
        &key,
    );
    assert_same_private("SEC1 with CRLF", ec.replace('\n', "\r\n").as_bytes(), &key);
    assert_same_public(
        "SPKI with CRLF",
        spki.replace('\n', "\r\n").as_bytes(),
        &public,
    );

    // Text before and after the block (RFC 7468 §2: parsers skip it).
    let wrapped = format!(
        "Bag Attributes\n    localKeyID: 01 02 03\n    friendlyName: card key\nKey Attributes: <No Attributes>\n{p8}some text after\n"
    );
    assert_same_private("text around PKCS#8", wrapped.as_bytes(), &key);
    let wrapped = format!("Subject: CN=t\n{spki}\ntrailer\n");
    assert_same_public("text around SPKI", wrapped.as_bytes(), &public);

    // Several keys: the first key block is read.
    let second = Sm2PrivateKey::generate().unwrap();
    let both = format!("{p8}{}", second.to_pkcs8_pem().unwrap().as_str());
    assert_same_private("two private keys", both.as_bytes(), &key);
    let both = format!("{}{spki}", second.public_key().to_spki_pem().unwrap());
    assert_same_public("two public keys", both.as_bytes(), &second.public_key());
    // A public key before the private key is skipped by the private reader,
    // and the reverse.
    let mixed = format!("{spki}{}", second.to_pkcs8_pem().unwrap().as_str());
    assert_same_private("public then private", mixed.as_bytes(), &second);
    assert_same_public("public then private", mixed.as_bytes(), &public);
}

#[test]
fn pkcs12_output_with_bag_attributes_is_read() {
    let d = scratch("pkcs12");
    let (k, key) = openssl_key(&d);
    let cert = path(&d, "c.pem");
    let p12 = path(&d, "k.p12");
    ok(openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        &k,
        "-subj",
        "/CN=sscard test",
        "-days",
        "1",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-out",
        &cert,
    ]));
    ok(openssl(&[
        "pkcs12", "-export", "-inkey", &k, "-in", &cert, "-passout", "pass:x", "-out", &p12,
    ]));
    let out = ok(openssl(&[
        "pkcs12", "-in", &p12, "-passin", "pass:x", "-nodes",
    ]));
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("Bag Attributes"), "{text}");
    assert!(
        text.find("CERTIFICATE") < text.find("PRIVATE KEY"),
        "{text}"
    );
    assert_same_private("pkcs12 -nodes", &out, &key);
    // It holds no PUBLIC KEY block, and the public reader says what it found.
    assert_eq!(
        Sm2PublicKey::from_pem_or_der(&out).err(),
        Some(Error::KeyEncoding(
            "the PEM holds a private key, not a public key (its public key is written by `openssl pkey -pubout`)"
        ))
    );
}

#[test]
fn encrypted_keys_are_refused_with_a_clear_message() {
    let d = scratch("encrypted");
    let (k, _) = openssl_key(&d);
    let forms: &[(&str, &[&str])] = &[
        (
            "pkcs8 -topk8 (ENCRYPTED PRIVATE KEY)",
            &["pkcs8", "-topk8", "-in", &k, "-passout", "pass:secret"],
        ),
        (
            "pkcs8 -topk8 -outform DER",
            &[
                "pkcs8",
                "-topk8",
                "-in",
                &k,
                "-passout",
                "pass:secret",
                "-outform",
                "DER",
            ],
        ),
        (
            "pkey -aes128",
            &["pkey", "-in", &k, "-aes128", "-passout", "pass:secret"],
        ),
        (
            "ec -aes128 (Proc-Type: 4,ENCRYPTED)",
            &["ec", "-in", &k, "-aes128", "-passout", "pass:secret"],
        ),
    ];
    for (form, args) in forms {
        let bytes = ok(openssl(args));
        let error = Sm2PrivateKey::from_pem_or_der(&bytes).err();
        assert_eq!(error, Some(Error::EncryptedKey), "{form}");
        let message = error.unwrap().to_string();
        assert!(message.contains("encrypted"), "{message}");
        assert!(message.contains("openssl pkey"), "{message}");
    }
}

#[test]
fn keys_of_other_curves_and_algorithms_are_refused_naming_them() {
    let d = scratch("other-curves");
    let p256 = ok(openssl(&["ecparam", "-name", "prime256v1", "-genkey"]));
    let curve = Some(Error::NotSm2 {
        what: "curve",
        found: "1.2.840.10045.3.1.7 prime256v1 (NIST P-256)".into(),
    });
    assert_eq!(Sm2PrivateKey::from_pem_or_der(&p256).err(), curve);
    let p256_file = path(&d, "p256.pem");
    fs::write(&p256_file, &p256).unwrap();
    let p8 = ok(openssl(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", &p256_file, "-outform", "DER",
    ]));
    assert_eq!(Sm2PrivateKey::from_pem_or_der(&p8).err(), curve);
    let spki = ok(openssl(&["pkey", "-in", &p256_file, "-pubout"]));
    assert_eq!(Sm2PublicKey::from_pem_or_der(&spki).err(), curve);
    // Explicit P-256 parameters are not SM2's.
    let explicit = ok(openssl(&[
        "ec",
        "-in",
        &p256_file,
        "-param_enc",
        "explicit",
    ]));
    assert_eq!(
        Sm2PrivateKey::from_pem_or_der(&explicit).err(),
        Some(Error::KeyEncoding(
            "explicit curve parameters: the field prime p is not SM2's (GB/T 32918.5)"
        ))
    );
    let ed = ok(openssl(&["genpkey", "-algorithm", "ED25519"]));
    assert_eq!(
        Sm2PrivateKey::from_pem_or_der(&ed).err(),
        Some(Error::NotSm2 {
            what: "algorithm",
            found: "1.3.101.112 Ed25519".into()
        })
    );
    let rsa = ok(openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
    ]));
    assert_eq!(
        Sm2PrivateKey::from_pem_or_der(&rsa).err(),
        Some(Error::NotSm2 {
            what: "algorithm",
            found: "1.2.840.113549.1.1.1 rsaEncryption (RSA)".into()
        })
    );
}

/// Flips the last byte of the first occurrence of `what` in `der`.
fn tamper(der: &[u8], what: &[u8]) -> Vec<u8> {
    let at = der
        .windows(what.len())
        .position(|w| w == what)
        .unwrap_or_else(|| panic!("{} not found", hex::encode(what)));
    let mut out = der.to_vec();
    out[at + what.len() - 1] ^= 1;
    out
}

#[test]
fn explicit_parameters_other_than_sm2s_are_refused_naming_which() {
    let d = scratch("explicit");
    let (k, key) = openssl_key(&d);
    let der = ok(openssl(&[
        "ec",
        "-in",
        &k,
        "-param_enc",
        "explicit",
        "-no_public",
        "-outform",
        "DER",
    ]));
    assert_same_private("explicit", &der, &key);
    let cases: [(&[u8], &str); 4] = [
        (
            &P,
            "explicit curve parameters: the field prime p is not SM2's (GB/T 32918.5)",
        ),
        (
            &B,
            "explicit curve parameters: b is not SM2's (GB/T 32918.5)",
        ),
        (
            &GX,
            "explicit curve parameters: the base point G is not SM2's (GB/T 32918.5)",
        ),
        (
            &N,
            "explicit curve parameters: the order n is not SM2's (GB/T 32918.5)",
        ),
    ];
    for (what, message) in cases {
        assert_eq!(
            Sm2PrivateKey::from_pem_or_der(&tamper(&der, what)).err(),
            Some(Error::KeyEncoding(message))
        );
    }
    // The cofactor follows n: INTEGER 1 becomes 2.
    let pattern = [&N[..], &[0x02, 0x01, 0x01]].concat();
    let at = der
        .windows(pattern.len())
        .position(|w| w == pattern.as_slice())
        .unwrap();
    let mut twice = der.clone();
    twice[at + pattern.len() - 1] = 0x02;
    assert_eq!(
        Sm2PrivateKey::from_pem_or_der(&twice).err(),
        Some(Error::KeyEncoding(
            "explicit curve parameters: the cofactor h is not 1 (GB/T 32918.5)"
        ))
    );
    // The public key side reads explicit parameters the same way.
    let spki = ok(openssl(&[
        "ec",
        "-in",
        &k,
        "-pubout",
        "-param_enc",
        "explicit",
        "-outform",
        "DER",
    ]));
    assert_eq!(
        Sm2PublicKey::from_pem_or_der(&tamper(&spki, &B)).err(),
        Some(Error::KeyEncoding(
            "explicit curve parameters: b is not SM2's (GB/T 32918.5)"
        ))
    );
}

#[test]
fn a_public_key_stored_with_a_private_key_must_be_its_own() {
    let d = scratch("mismatch");
    let (k, key) = openssl_key(&d);
    let other = Sm2PrivateKey::generate().unwrap().public_key();
    // SEC1 with [1] the other key's point.
    let sec1 = ok(openssl(&["ec", "-in", &k, "-outform", "DER"]));
    let items = children(&sec1);
    let bits = tlv(0x03, &[&[0u8][..], &other.to_sec1_uncompressed()].concat());
    let swapped = tlv(
        0x30,
        &[
            items[0].clone(),
            items[1].clone(),
            items[2].clone(),
            tlv(0xA1, &bits),
        ]
        .concat(),
    );
    assert_eq!(
        Sm2PrivateKey::from_pem_or_der(&swapped).err(),
        Some(Error::KeyMismatch)
    );
    // PKCS#8 v2 with [1] the other key's point.
    let p8 = ok(openssl(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", &k, "-outform", "DER",
    ]));
    let items = children(&p8);
    let v2 = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            items[1].clone(),
            items[2].clone(),
            tlv(0x81, &bits[2..]),
        ]
        .concat(),
    );
    assert_eq!(
        Sm2PrivateKey::from_pem_or_der(&v2).err(),
        Some(Error::KeyMismatch)
    );
    // With its own point, v2 is read.
    let own = tlv(
        0x03,
        &[&[0u8][..], &key.public_key().to_sec1_uncompressed()].concat(),
    );
    let v2 = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            items[1].clone(),
            items[2].clone(),
            tlv(0x81, &own[2..]),
        ]
        .concat(),
    );
    assert_same_private("PKCS#8 v2 with its public key", &v2, &key);
}
