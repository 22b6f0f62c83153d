//! The README's main job (`sscard demo`) and a short smoke run of
//! `sscard bench gm`: both must work on a fresh machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{arg, fails, ok, ok_text, openssl, scratch, sscard};

#[test]
fn demo_walks_through_and_leaves_artefacts_openssl_accepts() {
    let d = scratch("demo");
    let dir = arg(&d, "run");
    let out = ok_text(sscard(&["demo", "--dir", &dir]));
    for line in [
        "verify: valid",
        "verify_tampered: refused",
        "decrypt: matches",
        "open_as_other_record: refused",
        "result: ok",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing {line:?} in:\n{out}"
        );
    }
    // The signature it wrote verifies with OpenSSL, as the demo says.
    let verified = ok_text(openssl(&[
        "dgst",
        "-sm3",
        "-verify",
        &format!("{dir}/platform.pub.pem"),
        "-sigopt",
        "distid:1234567812345678",
        "-signature",
        &format!("{dir}/record.sig"),
        &format!("{dir}/record.txt"),
    ]));
    assert_eq!(verified, "Verified OK");
    // A second run into the same directory is refused rather than mixing artefacts.
    fails(sscard(&["demo", "--dir", &dir]), 2);
}

#[test]
fn bench_gm_prints_each_operation_beside_openssl() {
    let out = ok(sscard(&["bench", "gm", "--json", "--seconds", "1"]));
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["sm3", "sm4-ctr", "sm4-gcm", "sm2-sign", "sm2-verify"]
    );
    for r in rows {
        let sscard = r["sscard"].as_f64().unwrap();
        assert!(sscard > 0.0, "{r}");
        assert!(["MB/s", "ops/s"].contains(&r["unit"].as_str().unwrap()));
        match r["openssl"].as_f64() {
            Some(o) => {
                assert!(o > 0.0);
                let ratio = r["ratio"].as_f64().unwrap();
                assert!((ratio - sscard / o).abs() < 1e-9 * ratio.max(1.0), "{r}");
            }
            None => {
                // Only an operation the installed OpenSSL lacks may have no baseline.
                assert_eq!(r["name"], "sm4-gcm", "{r}");
                assert!(r["ratio"].is_null());
            }
        }
    }
}
