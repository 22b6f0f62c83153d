//! Refusals leave their record under the action name of the success, and
//! sealing ends every session; on both backends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use sscard_core::key::{KeyAlgorithm, KeyUsage, Transition};
use sscard_core::platform::InitOptions;
use sscard_core::Error;

use common::province_key as key;

/// Every refusal of a key's use is audited under the action its success
/// is audited under: a retired version, versions that do not exist, a
/// malformed ciphertext, a wrong usage or algorithm, a suspended key, a
/// key that does not exist, a signature that does not verify.
async fn every_refused_use_is_audited_under_its_action(f: Fixture) {
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    for new in [
        key("records", KeyAlgorithm::Sm4, KeyUsage::Encrypt),
        key("publisher", KeyAlgorithm::Sm2, KeyUsage::PlatformSigning),
        key("qr-mac", KeyAlgorithm::HmacSm3, KeyUsage::EsscIssuing),
        key("iauth", KeyAlgorithm::Sm4, KeyUsage::CardIauthMaster),
    ] {
        platform.create_key(&officer, &new).await.unwrap();
    }
    let c1 = platform.encrypt(&officer, "records", b"row").await.unwrap();
    platform.rotate_key(&officer, "records").await.unwrap();
    platform
        .set_min_version(&officer, "records", 2)
        .await
        .unwrap();
    let signature = platform.sign(&officer, "publisher", b"text").await.unwrap();
    let signature = hex::decode(signature).unwrap();

    let head = || async { store.audit_head().await.unwrap().unwrap().seq };
    // (what, the attempt, the action its refusal must be audited under)
    let mut cases: Vec<(&str, Error, &str)> = Vec::new();
    macro_rules! refused {
        ($what:expr, $action:expr, $call:expr) => {{
            let before = head().await;
            let e = $call.await.map(|_| ()).unwrap_err();
            let records = store.audit_range(before + 1, 100).await.unwrap();
            assert!(
                records
                    .iter()
                    .any(|r| r.action == $action && r.outcome == "refused"),
                "{}: {e:?}: no refused {} record in {records:?}",
                $what,
                $action
            );
            assert!(
                !records
                    .iter()
                    .any(|r| r.outcome == "refused" && r.action != $action),
                "{}: audited under another name: {records:?}",
                $what
            );
            cases.push(($what, e, $action));
        }};
    }
    refused!(
        "retired version",
        "key.decrypt",
        platform.decrypt(&officer, "records", &c1)
    );
    refused!(
        "rewrap of a retired version",
        "key.decrypt",
        platform.rewrap(&officer, "records", &c1)
    );
    let v0 = c1.replacen("sscard:v1:", "sscard:v0:", 1);
    refused!(
        "version 0",
        "key.decrypt",
        platform.decrypt(&officer, "records", &v0)
    );
    let v3 = c1.replacen("sscard:v1:", "sscard:v3:", 1);
    refused!(
        "version 3",
        "key.decrypt",
        platform.decrypt(&officer, "records", &v3)
    );
    refused!(
        "not a ciphertext",
        "key.decrypt",
        platform.decrypt(&officer, "records", "garbage")
    );
    refused!(
        "unknown key",
        "key.encrypt",
        platform.encrypt(&officer, "nothing", b"x")
    );
    refused!(
        "a name that is no key name",
        "key.encrypt",
        platform.encrypt(&officer, "BAD NAME", b"x")
    );
    refused!(
        "a card master as a data key",
        "key.encrypt",
        platform.encrypt(&officer, "iauth", b"x")
    );
    refused!(
        "hmac with an sm4 key",
        "key.hmac",
        platform.hmac(&officer, "records", b"x")
    );
    refused!(
        "sign with an hmac key",
        "key.sign",
        platform.sign(&officer, "qr-mac", b"x")
    );
    refused!(
        "a signature over other data",
        "key.verify",
        platform.verify(&officer, "publisher", b"other", &signature)
    );
    refused!(
        "a signature that does not parse",
        "key.verify",
        platform.verify(&officer, "publisher", b"text", b"\x30\x01")
    );
    platform
        .transition_key(&officer, "records", Transition::Suspend)
        .await
        .unwrap();
    refused!(
        "a suspended key",
        "key.encrypt",
        platform.encrypt(&officer, "records", b"x")
    );
    // The signature that does not verify is a refusal of its own kind.
    let (_, e, _) = cases
        .iter()
        .find(|(what, _, _)| *what == "a signature over other data")
        .unwrap();
    assert_eq!(e.code_and_status(), ("signature_invalid", 403));
    let (_, e, _) = cases
        .iter()
        .find(|(what, _, _)| *what == "retired version")
        .unwrap();
    assert!(matches!(e, Error::KeyVersionRetired { .. }), "{e:?}");
}

/// Sealing ends every operator token and terminal session: after the
/// unseal, both are refused.
async fn sealing_ends_every_token_and_terminal_session(f: Fixture) {
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let system = operator_session(&platform, &out, 0, "system passphrase 0").await;
    let officer = security_officer(&platform, &out).await;
    let (_, credentials) = &out.operators[2];
    let auditor = platform
        .login(&credentials.user, &credentials.password)
        .await
        .unwrap()
        .token;
    platform.authenticate(&auditor).await.unwrap();
    let tmk = key_mac_terminal(&platform, &system, "330300000091").await;
    let session = mac_signin(&platform, "330300000091", &tmk)
        .await
        .unwrap()
        .session;
    platform.terminal_of_session(&session).await.unwrap();

    platform.seal(&officer).await.unwrap();
    platform
        .unseal(out.shares[0].to_json().unwrap().as_bytes())
        .await
        .unwrap();
    assert!(matches!(
        platform.authenticate(&auditor).await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        platform.terminal_of_session(&session).await,
        Err(Error::Unauthenticated(_))
    ));
    // The sealing is audited with what it ended.
    let head = store.audit_head().await.unwrap().unwrap().seq;
    let records = store.audit_range(1, head).await.unwrap();
    assert!(records.iter().any(|r| r.action == "sys.seal"
        && r.details.get("sessions").map(String::as_str) == Some("ended")));
    // The unseal names the shares that opened it.
    let index = out.shares[0].index().unwrap().to_string();
    let unseal = records
        .iter()
        .rev()
        .find(|r| r.action == "sys.unseal" && r.outcome == "ok")
        .unwrap();
    assert_eq!(unseal.details.get("shares"), Some(&index), "{unseal:?}");
}

suite!(
    every_refused_use_is_audited_under_its_action,
    sealing_ends_every_token_and_terminal_session,
);
