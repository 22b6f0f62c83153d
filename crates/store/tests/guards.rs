//! What no caller may do, on both backends: use or change the platform's own
//! keys, sign with a key that only receives envelopes, bring in a weak key
//! through a wrapped file, take a name the audit log keeps for the platform,
//! guess a password behind a stolen token, rewrite a published blacklist
//! version by adding a card again, or use up another source's challenges.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use sscard_core::audit::AuditEntry;
use sscard_core::key::{KeyAlgorithm, KeyUsage, Transition};
use sscard_core::platform::{ExportTarget, InitOptions, Source};
use sscard_core::store::{KeyField, Write};
use sscard_core::Error;

use common::province_key as key;

/// The refused records appended since `before`.
async fn refused_since(
    store: &std::sync::Arc<dyn sscard_core::store::Store>,
    before: i64,
) -> Vec<sscard_core::audit::AuditRecord> {
    store
        .audit_range(before + 1, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.outcome == "refused")
        .collect()
}

async fn head(store: &std::sync::Arc<dyn sscard_core::store::Store>) -> i64 {
    store.audit_head().await.unwrap().unwrap().seq
}

/// `platform-signing` (the CA, blacklist and CRL key) is neither used,
/// rotated, moved through its lifecycle, destroyed, exported nor given
/// another usage by an operator, and no operator makes a key of its name;
/// `terminal-master` only rotates and moves through its lifecycle. Each
/// refusal is audited under its action. A record of `terminal-master` that
/// the platform did not make (another usage) is not used for keying.
async fn the_platforms_own_keys_are_its_own(f: Fixture) {
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let system = operator_session(&platform, &out, 0, "system passphrase 0").await;
    // The first terminal keyed makes terminal-master; the CRL makes
    // platform-signing.
    key_mac_terminal(&platform, &system, "330300000001").await;
    platform.terminal_crl().await.unwrap();
    let signing = platform
        .show_key(&officer, "platform-signing")
        .await
        .unwrap();
    assert_eq!(signing.usage, KeyUsage::PlatformSigning);

    macro_rules! refused {
        ($action:expr, $call:expr) => {{
            let before = head(&store).await;
            let e = $call.await.map(|_| ()).unwrap_err();
            assert!(
                matches!(e, Error::Refused(ref why) if why.contains("the platform's own")),
                "{}: {e:?}",
                $action
            );
            assert_eq!(e.code_and_status().1, 403, "{}: {e:?}", $action);
            let records = refused_since(&store, before).await;
            assert!(
                records.iter().any(|r| r.action == $action),
                "{}: not audited: {records:?}",
                $action
            );
        }};
    }
    refused!(
        "key.sign",
        platform.sign(&officer, "platform-signing", b"a blacklist of my own")
    );
    refused!(
        "key.rotate",
        platform.rotate_key(&officer, "platform-signing")
    );
    refused!(
        "key.suspend",
        platform.transition_key(&officer, "platform-signing", Transition::Suspend)
    );
    refused!(
        "key.compromise",
        platform.transition_key(&officer, "platform-signing", Transition::Compromise)
    );
    refused!(
        "key.min-version",
        platform.set_min_version(&officer, "platform-signing", 1)
    );
    refused!(
        "key.destroy",
        platform.request_destroy(&officer, "platform-signing")
    );
    refused!(
        "key.export",
        platform.request_export(
            &officer,
            "platform-signing",
            &ExportTarget::Kek("anything".into())
        )
    );
    refused!(
        "key.set-usage",
        platform.request_usage_change(&officer, "platform-signing", KeyUsage::AuditSigning)
    );
    refused!(
        "key.create",
        platform.create_key(
            &officer,
            &key(
                "platform-signing",
                KeyAlgorithm::Sm2,
                KeyUsage::PlatformSigning
            )
        )
    );
    refused!("key.sign", platform.sign(&officer, "terminal-master", b"x"));
    refused!(
        "key.destroy",
        platform.request_destroy(&officer, "terminal-master")
    );
    // Deactivated or compromised, it would end every terminal's sign-in
    // with no way back: a compromise is answered by a rotation.
    refused!(
        "key.deactivate",
        platform.transition_key(&officer, "terminal-master", Transition::Deactivate)
    );
    refused!(
        "key.compromise",
        platform.transition_key(&officer, "terminal-master", Transition::Compromise)
    );
    platform
        .transition_key(&officer, "terminal-master", Transition::Suspend)
        .await
        .unwrap();
    platform
        .transition_key(&officer, "terminal-master", Transition::Activate)
        .await
        .unwrap();
    // The platform's key still serves it, unchanged.
    let after = platform
        .show_key(&officer, "platform-signing")
        .await
        .unwrap();
    assert_eq!((after.state, after.versions.len()), (signing.state, 1));
    platform.terminal_crl().await.unwrap();
    // terminal-master rotates (its terminals are keyed again).
    let rotated = platform
        .rotate_key(&officer, "terminal-master")
        .await
        .unwrap();
    assert_eq!(rotated.versions.len(), 2);

    // A terminal-master record of another usage (a restored store, say) is
    // never used to key a terminal.
    store
        .commit(
            vec![Write::UpdateKey {
                name: sscard_core::key::KeyName::parse("terminal-master").unwrap(),
                expect: Vec::new(),
                set: vec![KeyField::Usage(KeyUsage::Encrypt)],
                count_use: false,
            }],
            AuditEntry::ok("system", "test.restore", "terminal-master"),
        )
        .await
        .unwrap();
    let e = platform
        .key_terminal(&system, "330300000001")
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Integrity(ref why) if why.contains("not the platform's own")),
        "{e:?}"
    );
}

/// An SM2 key of usage `kek` receives envelopes and signs nothing; a key
/// that arrives in a wrapped file is checked for weakness as a key by
/// components is: an all-zero SM4 key and a 3DES key whose halves are equal
/// are refused with `weak_key` before anything is filed.
async fn a_kek_does_not_sign_and_wrapped_weak_keys_are_refused(f: Fixture) {
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    platform
        .create_key(&officer, &key("receiver", KeyAlgorithm::Sm2, KeyUsage::Kek))
        .await
        .unwrap();
    let before = head(&store).await;
    let e = platform.sign(&officer, "receiver", b"x").await.unwrap_err();
    assert!(
        matches!(e, Error::Invalid(ref why) if why.contains("does not sign")),
        "{e:?}"
    );
    assert!(refused_since(&store, before)
        .await
        .iter()
        .any(|r| r.action == "key.sign"));

    let public = sscard_gm::sm2::Sm2PublicKey::from_pem_or_der(
        platform
            .public_key(&officer, "receiver")
            .await
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let recipient = hex::encode(&sscard_gm::sm3::digest(&public.to_spki_der().unwrap())[..8]);
    let mut tdes_equal_halves = vec![0x13u8, 0x57, 0x9b, 0xdf, 0x24, 0x68, 0xac, 0xe0];
    tdes_equal_halves.extend_from_slice(&tdes_equal_halves.clone());
    for (name, algorithm, material) in [
        ("zero-sm4", "sm4", vec![0u8; 16]),
        ("single-des", "3des", tdes_equal_halves),
        ("equal-sm4", "sm4", vec![0x5au8; 16]),
    ] {
        let envelope =
            sscard_gm::sm2::encrypt(&public, &material, sscard_gm::sm2::CiphertextFormat::Der)
                .unwrap();
        let file = serde_json::json!({
            "format": "sscard-wrapped-key/1",
            "name": name,
            "algorithm": algorithm,
            "usage": "encrypt",
            "level": "province",
            "region": "330000",
            "version": 1,
            "kcv": "000000",
            "wrapping": "sm2",
            "recipient": recipient,
            "ciphertext": hex::encode(envelope),
        });
        let before = head(&store).await;
        let e = platform
            .import_wrapped(&officer, file.to_string().as_bytes())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::WeakKey(_)), "{name}: {e:?}");
        assert_eq!(e.code_and_status(), ("weak_key", 403));
        let refused = refused_since(&store, before).await;
        assert!(
            refused.iter().any(|r| r.action == "key.import"),
            "{name}: {refused:?}"
        );
    }
    // Nothing waits for approval.
    assert!(platform.list_approvals(&officer).await.unwrap().is_empty());
}

/// Names the audit log uses for actors that are no operator are not given
/// to operators: `system`, `anonymous`, `terminal-…`, `hmac-sm3…`. A
/// neighbouring name that is an ordinary name is.
async fn the_platforms_actor_names_are_reserved(f: Fixture) {
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let system = operator_session(&platform, &out, 0, "system passphrase 0").await;
    for name in [
        "system",
        "anonymous",
        "terminal-330300000001",
        "hmac-sm3-0a1b",
    ] {
        let before = head(&store).await;
        let e = platform.add_operator(&system, name).await.unwrap_err();
        assert!(
            matches!(e, Error::Invalid(ref why) if why.contains("names the platform itself")),
            "{name}: {e:?}"
        );
        let refused = refused_since(&store, before).await;
        assert!(
            refused.iter().any(|r| r.action == "operator.add"),
            "{name}: {refused:?}"
        );
    }
    for name in ["systems", "terminal", "anon"] {
        platform.add_operator(&system, name).await.unwrap();
    }
}

/// A wrong current password counts as a wrong login does: the fifth locks
/// the account and ends its tokens, so a stolen token cannot be used to
/// guess the password behind it; the right password is then refused too
/// until the lock ends.
async fn wrong_current_passwords_lock_and_end_tokens(f: Fixture) {
    let (_store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let user = officer.operator.to_string();
    let token = platform
        .login(&user, "officer passphrase 1")
        .await
        .unwrap()
        .token;
    let stolen = platform.authenticate(&token).await.unwrap();
    for attempt in 1..=4 {
        let e = platform
            .change_password(
                &stolen,
                &format!("guess number {attempt}"),
                "a new passphrase 1",
            )
            .await
            .unwrap_err();
        assert!(matches!(e, Error::BadCredentials), "{attempt}: {e:?}");
        // Four do not lock: the token still works.
        platform.authenticate(&token).await.unwrap();
    }
    let e = platform
        .change_password(&stolen, "guess number 5", "a new passphrase 1")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::BadCredentials), "{e:?}");
    assert!(matches!(
        platform.authenticate(&token).await,
        Err(Error::Unauthenticated(_))
    ));
    let e = platform
        .login(&user, "officer passphrase 1")
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Locked { until_ms } if until_ms > sscard_core::clock::now_ms()),
        "{e:?}"
    );
}

/// Adding a card again after its removal makes a new period of the list: an
/// earlier published version reads as it was published, and a delta across
/// the periods brings a cache from the earlier full list to the later one.
async fn a_card_added_again_leaves_earlier_versions_as_published(f: Fixture) {
    use sscard_card::blacklist::{Cache, Kind, Reason};
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let id = |n: u8| format!("330300D1560000050000000000000{n:03}");
    let n = |id: String| u128::from_str_radix(&id, 16).unwrap();
    platform
        .blacklist_add(&officer, &id(1), "lost")
        .await
        .unwrap();
    platform
        .blacklist_add(&officer, &id(2), "lost")
        .await
        .unwrap();
    assert_eq!(platform.blacklist_publish(&officer).await.unwrap(), 1);
    platform.blacklist_remove(&officer, &id(1)).await.unwrap();
    assert_eq!(platform.blacklist_publish(&officer).await.unwrap(), 2);
    platform
        .blacklist_add(&officer, &id(1), "cancelled")
        .await
        .unwrap();
    assert_eq!(platform.blacklist_publish(&officer).await.unwrap(), 3);

    assert_eq!(
        store.blacklist_ids_at(1).await.unwrap(),
        [(n(id(1)), Reason::Lost), (n(id(2)), Reason::Lost)]
    );
    assert_eq!(
        store.blacklist_ids_at(2).await.unwrap(),
        [(n(id(2)), Reason::Lost)]
    );
    assert_eq!(
        store.blacklist_ids_at(3).await.unwrap(),
        [(n(id(1)), Reason::Cancelled), (n(id(2)), Reason::Lost)]
    );

    let v1_file = platform
        .blacklist_export(&officer, Some(1), None)
        .await
        .unwrap();
    let open = blacklist_opener(&platform, &officer).await;
    let v1 = open(v1_file);
    assert_eq!(
        v1.adds,
        [(n(id(1)), Reason::Lost), (n(id(2)), Reason::Lost)]
    );
    let v3 = open(
        platform
            .blacklist_export(&officer, Some(3), None)
            .await
            .unwrap(),
    );
    let d13 = open(
        platform
            .blacklist_export(&officer, Some(3), Some(1))
            .await
            .unwrap(),
    );
    assert_eq!((d13.kind, d13.base, d13.version), (Kind::Delta, 1, 3));
    let d23 = open(
        platform
            .blacklist_export(&officer, Some(3), Some(2))
            .await
            .unwrap(),
    );
    assert_eq!(d23.adds, [(n(id(1)), Reason::Cancelled)]);
    assert!(d23.removes.is_empty());
    let from_v1 = Cache::default()
        .applied(&v1)
        .unwrap()
        .applied(&d13)
        .unwrap();
    assert_eq!(from_v1, Cache::default().applied(&v3).unwrap());
}

/// Unanswered challenges are limited per terminal and per source: one
/// source that uses up its challenges does not keep another from signing
/// in; a malformed terminal number is refused before any lookup.
async fn challenges_are_limited_per_source(f: Fixture) {
    let (_store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let system = operator_session(&platform, &out, 0, "system passphrase 0").await;
    key_mac_terminal(&platform, &system, "330300000007").await;
    let flooder = Source::address("203.0.113.7");
    let limit = sscard_core::platform::MAX_LIVE_CHALLENGES;
    for _ in 0..limit {
        platform
            .signin_challenge_from("330300000007", &flooder)
            .await
            .unwrap();
    }
    let e = platform
        .signin_challenge_from("330300000007", &flooder)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TooManyRequests(_)), "{e:?}");
    assert_eq!(e.code_and_status().1, 429);
    platform
        .signin_challenge_from("330300000007", &Source::address("203.0.113.8"))
        .await
        .unwrap();
    for malformed in ["12", "33030000000X", "3303000000071", ""] {
        let e = platform
            .signin_challenge_from(malformed, &flooder)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{malformed:?}: {e:?}");
    }
}

suite!(
    the_platforms_own_keys_are_its_own,
    a_kek_does_not_sign_and_wrapped_weak_keys_are_refused,
    the_platforms_actor_names_are_reserved,
    wrong_current_passwords_lock_and_end_tokens,
    a_card_added_again_leaves_earlier_versions_as_published,
    challenges_are_limited_per_source,
);
