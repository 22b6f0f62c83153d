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

#[test]
fn bench_blacklist_prints_its_figures_for_each_size() {
    let out = ok(sscard(&[
        "bench",
        "blacklist",
        "--entries",
        "20000",
        "--entries",
        "40000",
        "--delta",
        "1000",
        "--json",
    ]));
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (r, n) in rows.iter().zip([20_000u64, 40_000]) {
        assert_eq!(r["entries"].as_u64(), Some(n), "{r}");
        // Delta coding: well under the 16 bytes of a raw card identifier.
        let per_card = r["full_bytes"].as_f64().unwrap() / n as f64;
        assert!(per_card > 4.0 && per_card < 12.0, "{r}");
        assert!(r["delta_bytes"].as_u64().unwrap() < 20_000, "{r}");
        for f in [
            "publish_ms",
            "apply_full_ms",
            "lookup_ns",
            "peak_memory_mb",
            "sm3_full_ms",
        ] {
            assert!(r[f].as_f64().unwrap() > 0.0, "{f}: {r}");
        }
        let ratio = r["sm3_ratio"].as_f64().unwrap();
        let expected =
            r["openssl_sm3_full_ms"].as_f64().unwrap() / r["sm3_full_ms"].as_f64().unwrap();
        assert!((ratio - expected).abs() < 1e-6 * expected.max(1.0), "{r}");
    }
}

/// The platform holding the list, on both backends: the full list it builds
/// from its store and the delta of the changes have the sizes of the
/// format's own (the bench itself checks both files' signatures and counts).
#[test]
fn bench_blacklist_on_the_platform_on_both_backends() {
    for store in ["sqlite", "postgres://postgres@127.0.0.1:5432/test"] {
        let out = ok(sscard(&[
            "bench",
            "blacklist",
            "--entries",
            "20000",
            "--delta",
            "1000",
            "--store",
            store,
            "--json",
        ]));
        let all: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let format = &all["format"][0];
        let platform = &all["platform"][0];
        assert_eq!(platform["entries"].as_u64(), Some(20_000), "{all}");
        let backend = if store == "sqlite" {
            "sqlite"
        } else {
            "postgres"
        };
        assert_eq!(platform["backend"], backend, "{all}");
        // Same cards, same coding: the sizes differ only by the signature's
        // length (DER, 70 to 72 bytes) and the ids drawn.
        let (p, f) = (
            platform["full_bytes"].as_i64().unwrap(),
            format["full_bytes"].as_i64().unwrap(),
        );
        assert!((p - f).abs() < 2_000, "{all}");
        assert!(platform["delta_bytes"].as_u64().unwrap() < 20_000, "{all}");
        for field in [
            "fill_s",
            "publish_ms",
            "full_build_ms",
            "delta_build_ms",
            "full_rebuild_ms",
            "peak_memory_mb",
        ] {
            assert!(platform[field].as_f64().unwrap() > 0.0, "{field}: {all}");
        }
    }
}
