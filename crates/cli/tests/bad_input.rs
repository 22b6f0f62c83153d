//! Bad input gets exit 2 (1 for a signature that parses but does not
//! verify) and one line on stderr saying what was wrong; never a panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;

use common::{arg, fails, ok, openssl, scratch, sscard, sscard_stdin};
use proptest::prelude::*;

/// A directory with a key pair, a message, its signature and ciphertexts.
fn fixture(name: &str) -> std::path::PathBuf {
    let d = scratch(name);
    fs::write(d.join("msg"), b"holder 330302199001011234").unwrap();
    fs::write(
        d.join("garbage.pem"),
        b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    fs::write(d.join("garbage.der"), [0x30, 0x82, 0x01]).unwrap();
    ok(sscard(&[
        "gm",
        "sm2",
        "keygen",
        "--out",
        &arg(&d, "k.pem"),
        "--pub",
        &arg(&d, "p.pem"),
    ]));
    ok(sscard(&[
        "gm",
        "sm2",
        "sign",
        "--key",
        &arg(&d, "k.pem"),
        "--in",
        &arg(&d, "msg"),
        "--out",
        &arg(&d, "sig"),
    ]));
    for format in ["der", "c1c3c2", "c1c2c3"] {
        ok(sscard(&[
            "gm",
            "sm2",
            "encrypt",
            "--pub",
            &arg(&d, "p.pem"),
            "--format",
            format,
            "--in",
            &arg(&d, "msg"),
            "--out",
            &arg(&d, &format!("ct.{format}")),
        ]));
    }
    d
}

#[test]
fn garbage_key_files_give_exit_2() {
    let d = fixture("bad-keys");
    for garbage in ["garbage.pem", "garbage.der", "msg", "p.pem"] {
        let line = fails(
            sscard(&[
                "gm",
                "sm2",
                "sign",
                "--key",
                &arg(&d, garbage),
                "--in",
                &arg(&d, "msg"),
                "--out",
                &arg(&d, "x"),
            ]),
            2,
        );
        assert!(line.contains("private key"), "{line}");
        fails(
            sscard(&[
                "gm",
                "sm2",
                "decrypt",
                "--key",
                &arg(&d, garbage),
                "--in",
                &arg(&d, "ct.der"),
                "--out",
                &arg(&d, "x"),
            ]),
            2,
        );
        fails(
            sscard(&[
                "gm",
                "sm2",
                "pub",
                "--key",
                &arg(&d, garbage),
                "--out",
                &arg(&d, "x"),
            ]),
            2,
        );
    }
    for garbage in ["garbage.pem", "garbage.der", "msg", "k.pem"] {
        let line = fails(
            sscard(&[
                "gm",
                "sm2",
                "verify",
                "--pub",
                &arg(&d, garbage),
                "--in",
                &arg(&d, "msg"),
                "--sig",
                &arg(&d, "sig"),
            ]),
            2,
        );
        assert!(line.contains("public key"), "{line}");
        fails(
            sscard(&[
                "gm",
                "sm2",
                "encrypt",
                "--pub",
                &arg(&d, garbage),
                "--in",
                &arg(&d, "msg"),
                "--out",
                &arg(&d, "x"),
            ]),
            2,
        );
    }
    let line = fails(
        sscard(&[
            "gm",
            "sm2",
            "sign",
            "--key",
            &arg(&d, "missing"),
            "--in",
            &arg(&d, "msg"),
            "--out",
            &arg(&d, "x"),
        ]),
        2,
    );
    assert!(line.contains("cannot read"), "{line}");
    assert!(!d.join("x").exists(), "nothing is written on failure");
}

/// The order n of the SM2 curve (GB/T 32918.5-2017 §2).
const N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x72, 0x03, 0xDF, 0x6B, 0x21, 0xC6, 0x05, 0x2B, 0x53, 0xBB, 0xF4, 0x09, 0x39, 0xD5, 0x41, 0x23,
];

#[test]
fn private_keys_outside_1_to_n_minus_2_are_refused_when_read() {
    let d = fixture("bad-scalar");
    // sscard's own PKCS#8 of a fresh key, its scalar replaced.
    let key = sscard_gm::sm2::Sm2PrivateKey::generate().unwrap();
    let der = key.to_pkcs8_der().unwrap().to_vec();
    let scalar = key.expose_scalar();
    let at = der
        .windows(32)
        .position(|w| w == scalar.as_slice())
        .unwrap();
    let mut n_minus_1 = N;
    n_minus_1[31] -= 1;
    for (d_value, why) in [(n_minus_1, "d = n − 1"), (N, "d ≥ n"), ([0u8; 32], "d = 0")] {
        let mut bad = der.clone();
        bad[at..at + 32].copy_from_slice(&d_value);
        fs::write(d.join("bad.der"), &bad).unwrap();
        let b64 = String::from_utf8(ok(openssl(&["base64", "-in", &arg(&d, "bad.der")]))).unwrap();
        fs::write(
            d.join("bad.pem"),
            format!("-----BEGIN PRIVATE KEY-----\n{b64}-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        for file in ["bad.der", "bad.pem"] {
            let commands: [&[&str]; 3] = [
                &[
                    "gm",
                    "sm2",
                    "pub",
                    "--key",
                    &arg(&d, file),
                    "--out",
                    &arg(&d, "x"),
                ],
                &[
                    "gm",
                    "sm2",
                    "sign",
                    "--key",
                    &arg(&d, file),
                    "--in",
                    &arg(&d, "msg"),
                    "--out",
                    &arg(&d, "x"),
                ],
                &[
                    "gm",
                    "sm2",
                    "decrypt",
                    "--key",
                    &arg(&d, file),
                    "--in",
                    &arg(&d, "ct.der"),
                    "--out",
                    &arg(&d, "x"),
                ],
            ];
            for command in commands {
                let line = fails(sscard(command), 2);
                assert!(line.contains("private key d must be in [1, n−2]"), "{line}");
                assert!(line.contains(why), "{line}");
                assert!(!d.join("x").exists());
            }
        }
    }
}

#[test]
fn truncated_signatures_give_2_and_wrong_ones_give_1() {
    let d = fixture("bad-sigs");
    let sig = fs::read(d.join("sig")).unwrap();
    for cut in [0, 1, sig.len() / 2, sig.len() - 1] {
        fs::write(d.join("cut"), &sig[..cut]).unwrap();
        let line = fails(
            sscard(&[
                "gm",
                "sm2",
                "verify",
                "--pub",
                &arg(&d, "p.pem"),
                "--in",
                &arg(&d, "msg"),
                "--sig",
                &arg(&d, "cut"),
            ]),
            2,
        );
        assert!(line.contains("signature could not be read"), "{line}");
    }
    fs::write(d.join("raw63"), [7u8; 63]).unwrap();
    fails(
        sscard(&[
            "gm",
            "sm2",
            "verify",
            "--pub",
            &arg(&d, "p.pem"),
            "--raw",
            "--in",
            &arg(&d, "msg"),
            "--sig",
            &arg(&d, "raw63"),
        ]),
        2,
    );

    // Parses, but belongs to other data: refused with exit 1.
    fs::write(d.join("other"), b"holder 330302199001011235").unwrap();
    let line = fails(
        sscard(&[
            "gm",
            "sm2",
            "verify",
            "--pub",
            &arg(&d, "p.pem"),
            "--in",
            &arg(&d, "other"),
            "--sig",
            &arg(&d, "sig"),
        ]),
        1,
    );
    assert_eq!(line, "sscard: signature does not verify");
    // Another key's public key: exit 1 too.
    ok(sscard(&[
        "gm",
        "sm2",
        "keygen",
        "--out",
        &arg(&d, "k2.pem"),
        "--pub",
        &arg(&d, "p2.pem"),
    ]));
    fails(
        sscard(&[
            "gm",
            "sm2",
            "verify",
            "--pub",
            &arg(&d, "p2.pem"),
            "--in",
            &arg(&d, "msg"),
            "--sig",
            &arg(&d, "sig"),
        ]),
        1,
    );
}

#[test]
fn truncated_ciphertexts_give_exit_2() {
    let d = fixture("bad-cts");
    for format in ["der", "c1c3c2", "c1c2c3"] {
        let ct = fs::read(d.join(format!("ct.{format}"))).unwrap();
        for cut in [0, 1, 64, 97, ct.len() - 1] {
            fs::write(d.join("cut"), &ct[..cut]).unwrap();
            fails(
                sscard(&[
                    "gm",
                    "sm2",
                    "decrypt",
                    "--key",
                    &arg(&d, "k.pem"),
                    "--format",
                    format,
                    "--in",
                    &arg(&d, "cut"),
                    "--out",
                    &arg(&d, "pt"),
                ]),
                2,
            );
            assert!(!d.join("pt").exists());
        }
    }
    // A DER ciphertext read as raw, and the reverse.
    fails(
        sscard(&[
            "gm",
            "sm2",
            "decrypt",
            "--key",
            &arg(&d, "k.pem"),
            "--format",
            "c1c3c2",
            "--in",
            &arg(&d, "ct.der"),
            "--out",
            &arg(&d, "pt"),
        ]),
        2,
    );
    fails(
        sscard(&[
            "gm",
            "sm2",
            "decrypt",
            "--key",
            &arg(&d, "k.pem"),
            "--in",
            &arg(&d, "ct.c1c3c2"),
            "--out",
            &arg(&d, "pt"),
        ]),
        2,
    );
    // Empty plaintext cannot be SM2-encrypted.
    fs::write(d.join("empty"), b"").unwrap();
    fails(
        sscard(&[
            "gm",
            "sm2",
            "encrypt",
            "--pub",
            &arg(&d, "p.pem"),
            "--in",
            &arg(&d, "empty"),
            "--out",
            &arg(&d, "x"),
        ]),
        2,
    );
}

#[test]
fn keygen_never_overwrites_a_key() {
    let d = fixture("bad-keygen");
    let before = fs::read(d.join("k.pem")).unwrap();
    let line = fails(
        sscard(&["gm", "sm2", "keygen", "--out", &arg(&d, "k.pem")]),
        2,
    );
    assert!(line.contains("refusing to overwrite"), "{line}");
    assert_eq!(fs::read(d.join("k.pem")).unwrap(), before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(d.join("k.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn symmetric_tools_refuse_bad_arguments() {
    let key = "0123456789abcdeffedcba9876543210";
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "gm", "sm4", "encrypt", "--mode", "cbc", "--key", "xyz", "--iv", key,
            ],
            "--key: not hex",
        ),
        (
            &[
                "gm", "sm4", "encrypt", "--mode", "cbc", "--key", "0011", "--iv", key,
            ],
            "SM4 key must be 16 bytes",
        ),
        (
            &["gm", "sm4", "encrypt", "--mode", "cbc", "--key", key],
            "--iv is required",
        ),
        (
            &[
                "gm", "sm4", "encrypt", "--mode", "ecb", "--key", key, "--iv", key,
            ],
            "takes no --iv",
        ),
        (
            &[
                "gm", "sm4", "encrypt", "--mode", "gcm", "--key", key, "--iv", key,
            ],
            "IV must be 12 bytes",
        ),
        (
            &[
                "gm", "sm4", "encrypt", "--mode", "ctr", "--key", key, "--iv", key, "--no-pad",
            ],
            "--no-pad is only",
        ),
        (
            &[
                "gm", "sm4", "encrypt", "--mode", "ecb", "--key", key, "--no-pad",
            ],
            "not a multiple of the 16-byte block",
        ),
        (
            &[
                "gm", "sm4", "encrypt", "--mode", "cbc", "--key", key, "--iv", key, "--aad", "00",
            ],
            "--aad is only",
        ),
        (
            &["gm", "sm4", "encrypt", "--mode", "xts", "--key", key],
            "invalid value",
        ),
        (&["gm", "mac", "--key", key, "--len", "0"], "output length"),
        (&["gm", "mac", "--key", key, "--len", "17"], "output length"),
        (
            &["gm", "mac", "--key", key, "--iv", "00"],
            "IV must be 16 bytes",
        ),
        (
            &[
                "gm",
                "mac",
                "--alg",
                "3des-retail",
                "--key",
                "00112233445566778899aabbccddeeff0011223344556677",
            ],
            "retail MAC",
        ),
        (
            &["gm", "derive", "--key", key, "--factor", "00112233445566"],
            "factor must be 8 bytes",
        ),
        (&["gm", "derive", "--key", key], "--factor"),
        (
            &["gm", "kcv", "--key", key, "--alg", "3des", "--len", "9"],
            "output length",
        ),
        (
            &["gm", "kcv", "--key", "00112233", "--alg", "3des"],
            "3DES key must be 16 or 24 bytes",
        ),
        (&["gm", "bogus"], "unrecognized subcommand"),
        (&["gm", "sm3", "--nope"], "unexpected argument"),
        (&["bench", "gm", "--seconds", "0"], "invalid value"),
    ];
    for (args, expected) in cases {
        let out = sscard_stdin(args, b"sixteen bytes!!?x");
        let line = fails(out, 2);
        assert!(line.contains(expected), "{args:?}: {line}");
    }
}

#[test]
fn a_gcm_ciphertext_with_a_changed_bit_is_refused() {
    let key = "0123456789abcdeffedcba9876543210";
    let iv = "00001234567800000000abcd";
    let sealed = ok(sscard_stdin(
        &[
            "gm", "sm4", "encrypt", "--mode", "gcm", "--key", key, "--iv", iv, "--aad", "feed",
        ],
        b"card data",
    ));
    assert_eq!(sealed.len(), 9 + 16);
    let back = ok(sscard_stdin(
        &[
            "gm", "sm4", "decrypt", "--mode", "gcm", "--key", key, "--iv", iv, "--aad", "FEED",
        ],
        &sealed,
    ));
    assert_eq!(back, b"card data");
    let mut changed = sealed.clone();
    changed[3] ^= 0x01;
    let line = fails(
        sscard_stdin(
            &[
                "gm", "sm4", "decrypt", "--mode", "gcm", "--key", key, "--iv", iv, "--aad", "feed",
            ],
            &changed,
        ),
        2,
    );
    assert!(line.contains("authentication failed"), "{line}");
    fails(
        sscard_stdin(
            &[
                "gm", "sm4", "decrypt", "--mode", "gcm", "--key", key, "--iv", iv,
            ],
            &sealed,
        ),
        2,
    );
    // Wrong key for CBC: the padding check refuses it.
    let ct = ok(sscard_stdin(
        &[
            "gm", "sm4", "encrypt", "--mode", "cbc", "--key", key, "--iv", key,
        ],
        b"x",
    ));
    let wrong = "ffffffffffffffffffffffffffffffff";
    let out = sscard_stdin(
        &[
            "gm", "sm4", "decrypt", "--mode", "cbc", "--key", wrong, "--iv", key,
        ],
        &ct,
    );
    // One wrong key in 256 happens to end in a valid pad byte; this one does not.
    let line = fails(out, 2);
    assert!(line.contains("padding"), "{line}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Whatever bytes a key, signature or ciphertext file holds, the command
    /// answers with exit 1 or 2 and one line, never a panic.
    #[test]
    fn arbitrary_files_never_panic_the_command(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let d = fixture("bad-arbitrary");
        fs::write(d.join("any"), &data).unwrap();
        for args in [
            vec!["gm", "sm2", "pub", "--key", "ANY", "--out", "OUT"],
            vec!["gm", "sm2", "verify", "--pub", "PUB", "--in", "MSG", "--sig", "ANY"],
            vec!["gm", "sm2", "verify", "--pub", "PUB", "--raw", "--in", "MSG", "--sig", "ANY"],
            vec!["gm", "sm2", "decrypt", "--key", "KEY", "--in", "ANY", "--out", "OUT"],
            vec!["gm", "sm2", "decrypt", "--key", "KEY", "--format", "c1c2c3", "--in", "ANY", "--out", "OUT"],
        ] {
            let args: Vec<String> = args.iter().map(|a| match *a {
                "ANY" => arg(&d, "any"),
                "OUT" => arg(&d, "out"),
                "PUB" => arg(&d, "p.pem"),
                "KEY" => arg(&d, "k.pem"),
                "MSG" => arg(&d, "msg"),
                other => other.to_string(),
            }).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = sscard(&args);
            let code = out.status.code();
            prop_assert!(code == Some(1) || code == Some(2), "{args:?}: {code:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            prop_assert_eq!(stderr.lines().count(), 1, "{}", stderr);
        }
    }
}

/// Errors of the command's own side exit 2, not 3: a data directory that
/// cannot be made, an address without a scheme.
#[test]
fn local_errors_are_input_errors() {
    let d = scratch("local-errors");
    fs::write(d.join("a-file"), b"not a directory").unwrap();
    let line = fails(
        sscard(&[
            "init",
            "--data",
            &arg(&d, "a-file/data"),
            "--shares",
            "1",
            "--threshold",
            "1",
            "--share-dir",
            &arg(&d, "shares"),
        ]),
        2,
    );
    assert!(line.contains("--data"), "{line}");
    let line = fails(sscard(&["operator", "list", "--addr", "127.0.0.1:8399"]), 2);
    assert!(line.contains("needs a scheme"), "{line}");
    // Nothing listens there: unreachable.
    fails(
        sscard(&["operator", "list", "--addr", "http://127.0.0.1:9"]),
        3,
    );
}

/// Every command that prints `key: value` lines prints them as one JSON
/// object with `--json`: the same keys, and the values.
#[test]
fn json_output_is_the_same_as_the_lines() {
    let d = scratch("json");
    fs::write(d.join("doc"), b"abc").unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec!["gm", "kcv", "--key", "0123456789abcdeffedcba9876543210"],
        vec!["gm", "sm3", &arg(&d, "doc")],
        vec![
            "init",
            "--data",
            &arg(&d, "data"),
            "--shares",
            "1",
            "--threshold",
            "1",
            "--share-dir",
            &arg(&d, "shares"),
        ],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut with_json = args.clone();
        with_json.push("--json");
        let text = String::from_utf8(ok(sscard(&with_json))).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?} --json: not JSON ({e}): {text}"));
        assert!(value.is_object(), "{args:?}: {value}");
        assert!(!value.as_object().unwrap().is_empty(), "{args:?}: {value}");
    }
}

/// Without pcscd's vpcd driver to take it, `card serve-vpcd` says what it
/// waits for instead of waiting in silence.
#[test]
fn serve_vpcd_says_what_it_waits_for() {
    use std::io::Read;
    let d = scratch("vpcd-waiting");
    let path = d.join("blank.json");
    sscard_card_sim::VirtualCard::blank(sscard_card::profile::CardAlgorithm::Sm4, "330300", None)
        .unwrap()
        .save_to(&path)
        .unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args([
            "card",
            "serve-vpcd",
            "--card",
            path.to_str().unwrap(),
            "--port",
            &port,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    let _ = child.kill();
    let _ = child.wait();
    let mut said = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(
        said.contains("waiting for the vpcd driver") && said.contains("pcscd"),
        "{said}"
    );
}
