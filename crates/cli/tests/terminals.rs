//! Terminal security through the commands, against a real `sscard serve`:
//! registration, enrollment with an SM2 certificate OpenSSL reads, sign-in
//! and its refusals (replay, unregistered, suspended, revoked), the signed
//! blacklist from publication to a card refused at read time, a tampered
//! file and a delta for another base refused with the cache unchanged, and
//! five failed card authentications raising an alert that suspends the
//! terminal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::server::{call, Server};
use common::{arg, fails, field, ok, ok_text, scratch};
use serde_json::{json, Value};

struct Platform {
    server: Server,
    system: String,
    security: String,
}

impl Platform {
    /// A `serve --dev` in `dir` with its system and security administrators logged in.
    fn start(dir: &Path) -> Self {
        let server = Server::dev(dir, &[]);
        Self {
            system: server.login("system"),
            security: server.login("security"),
            server,
        }
    }

    /// Region 330300 provisioned, a card personalized (its path is
    /// returned) and a PSAM issued to `dir/file` for each terminal number.
    fn card_and_psams(&self, dir: &Path, psams: &[(&str, &str)]) -> String {
        ok(self.sec(&["key", "provision-region", "--region", "330300"]));
        let card = arg(dir, "card.json");
        ok(self.sec(&[
            "card",
            "personalize",
            "--holder",
            &holder(dir),
            "--out",
            &card,
        ]));
        for (terminal_no, file) in psams {
            ok(self.sec(&[
                "card",
                "issue-psam",
                "--region",
                "330300",
                "--terminal-no",
                terminal_no,
                "--out",
                &arg(dir, file),
            ]));
        }
        card
    }

    fn sys(&self, args: &[&str]) -> std::process::Output {
        self.server.run_as(&self.system, args)
    }
    fn sec(&self, args: &[&str]) -> std::process::Output {
        self.server.run_as(&self.security, args)
    }
}

/// Sign-in's parameters: the platform's clock (to set the terminal's,
/// within a minute of this one) and the session's lifetime.
fn assert_signin_parameters(signed: &str) {
    let clock: i64 = signed
        .lines()
        .find_map(|l| l.strip_prefix("parameter: server_time_ms="))
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now - clock).abs() < 60_000, "{signed}");
    assert!(
        signed.contains("parameter: session_seconds=28800"),
        "{signed}"
    );
}

fn holder(dir: &Path) -> String {
    let path = dir.join("holder.json");
    std::fs::write(
        &path,
        json!({"ssn": "33030219900307001X", "name": "张三", "sex": "1", "ethnicity": "01",
               "birth_date": "1990-03-07", "birth_place": "330302", "region": "330300"})
        .to_string(),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_terminal_from_registration_to_a_blacklisted_card_refused() {
    let d = scratch("terminal-walk");
    let p = Platform::start(&d);
    let terminal = arg(&d, "terminal.json");
    // Enrollment needs a registered terminal.
    assert!(fails(
        p.sys(&[
            "terminal",
            "enroll",
            "--no",
            "000000000042",
            "--out",
            &terminal
        ]),
        2
    )
    .contains("not_found"));
    ok(p.sys(&[
        "terminal",
        "register",
        "--no",
        "000000000042",
        "--serial",
        "SN-42",
        "--institution",
        "City Hospital",
    ]));
    let enrolled = ok_text(p.sys(&[
        "terminal",
        "enroll",
        "--no",
        "000000000042",
        "--out",
        &terminal,
    ]));
    assert!(enrolled.contains("certificate: "), "{enrolled}");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&terminal).unwrap()).unwrap();
    std::fs::write(d.join("cert.pem"), file["certificate"].as_str().unwrap()).unwrap();
    std::fs::write(d.join("ca.pem"), file["ca_certificate"].as_str().unwrap()).unwrap();
    let text = common::openssl(&["x509", "-in", &arg(&d, "cert.pem"), "-noout", "-text"]);
    let text = String::from_utf8(ok(text)).unwrap();
    assert!(text.contains("Signature Algorithm: SM2-with-SM3"), "{text}");
    assert!(
        text.contains("Subject: CN = terminal 000000000042"),
        "{text}"
    );
    // OpenSSL 3.0 takes the GM/T default distinguishing ID only when told.
    let verified = common::openssl(&[
        "verify",
        "-vfyopt",
        "distid:1234567812345678",
        "-CAfile",
        &arg(&d, "ca.pem"),
        &arg(&d, "cert.pem"),
    ]);
    assert!(String::from_utf8(ok(verified)).unwrap().contains("OK"));

    let signed = ok_text(common::sscard(&[
        "terminal",
        "signin",
        "--terminal",
        &terminal,
    ]));
    assert_eq!(
        signed
            .lines()
            .filter(|l| l.starts_with("working_key: "))
            .count(),
        3,
        "{signed}"
    );
    assert_eq!(field(&signed, "blacklist_version"), "0");
    assert_signin_parameters(&signed);
    // Nothing is published yet: the sync says so and changes nothing.
    let synced = ok_text(common::sscard(&[
        "terminal",
        "sync-blacklist",
        "--terminal",
        &terminal,
    ]));
    assert_eq!(field(&synced, "published"), "none yet");
    assert_eq!(field(&synced, "blacklist_version"), "0");

    // A card, read at this terminal.
    let card = p.card_and_psams(&d, &[("000000000042", "psam.json")]);
    let psam = arg(&d, "psam.json");
    let read = [
        "terminal",
        "read",
        "--card",
        &card,
        "--psam",
        &psam,
        "--terminal",
        &terminal,
    ];
    let card_id = field(&ok_text(common::sscard(&read)), "card_id");

    // Reported lost, published, fetched: refused before any other step.
    ok(p.sec(&["blacklist", "add", "--card", &card_id, "--reason", "lost"]));
    assert_eq!(ok_text(p.sec(&["blacklist", "publish"])), "version: 1");
    let synced = ok_text(common::sscard(&[
        "terminal",
        "sync-blacklist",
        "--terminal",
        &terminal,
    ]));
    assert_eq!(field(&synced, "blacklist_version"), "1");
    let line = fails(common::sscard(&read), 1);
    assert!(line.contains("blacklisted"), "{line}");

    // One byte changed anywhere: refused, and the cache stays as it was.
    let full = arg(&d, "v1.bin");
    ok(p.sec(&["blacklist", "export", "--version", "1", "--out", &full]));
    let bytes = std::fs::read(&full).unwrap();
    let cache = std::fs::read(format!("{terminal}.blacklist")).unwrap();
    for i in [0, 9, bytes.len() / 2, bytes.len() - 3] {
        let mut changed = bytes.clone();
        changed[i] ^= 0x01;
        std::fs::write(d.join("changed.bin"), &changed).unwrap();
        let line = fails(
            common::sscard(&[
                "terminal",
                "apply-blacklist",
                "--terminal",
                &terminal,
                "--file",
                &arg(&d, "changed.bin"),
            ]),
            1,
        );
        assert!(line.contains("blacklist refused"), "byte {i}: {line}");
        assert_eq!(
            std::fs::read(format!("{terminal}.blacklist")).unwrap(),
            cache
        );
    }
    // A truncated file too.
    std::fs::write(d.join("short.bin"), &bytes[..bytes.len() / 2]).unwrap();
    fails(
        common::sscard(&[
            "terminal",
            "apply-blacklist",
            "--terminal",
            &terminal,
            "--file",
            &arg(&d, "short.bin"),
        ]),
        1,
    );

    // Off the list in version 2; a delta 1 -> 2 applies, a second time it is
    // for another base and is refused.
    ok(p.sec(&["blacklist", "remove", "--card", &card_id]));
    assert_eq!(ok_text(p.sec(&["blacklist", "publish"])), "version: 2");
    let delta = arg(&d, "d12.bin");
    ok(p.sec(&[
        "blacklist",
        "export",
        "--version",
        "2",
        "--delta-from",
        "1",
        "--out",
        &delta,
    ]));
    let applied = ok_text(common::sscard(&[
        "terminal",
        "apply-blacklist",
        "--terminal",
        &terminal,
        "--file",
        &delta,
    ]));
    assert_eq!(field(&applied, "blacklist_version"), "2");
    let line = fails(
        common::sscard(&[
            "terminal",
            "apply-blacklist",
            "--terminal",
            &terminal,
            "--file",
            &delta,
        ]),
        1,
    );
    assert!(line.contains("applies to version 1"), "{line}");
    ok(common::sscard(&read));

    // A genuine but older full list is refused, and the card taken off the
    // list since stays readable.
    let line = fails(
        common::sscard(&[
            "terminal",
            "apply-blacklist",
            "--terminal",
            &terminal,
            "--file",
            &full,
        ]),
        1,
    );
    assert!(line.contains("older than the version 2"), "{line}");
    ok(common::sscard(&read));

    // The cache keeps the platform's signed files: changed on disk, it is
    // refused (exit 1, a tamper event), and no card is read against it.
    let cache_path = format!("{terminal}.blacklist");
    let saved = std::fs::read(&cache_path).unwrap();
    for at in [9, saved.len() / 2, saved.len() - 1] {
        let mut changed = saved.clone();
        changed[at] ^= 0x01;
        std::fs::write(&cache_path, &changed).unwrap();
        let line = fails(common::sscard(&read), 1);
        assert!(line.contains("blacklist cache"), "byte {at}: {line}");
    }
    // A cache in no signed form (an old unsigned cache, or made up) neither.
    std::fs::write(&cache_path, b"SSCBL\x01 made up").unwrap();
    fails(common::sscard(&read), 1);
    std::fs::write(&cache_path, &saved).unwrap();
    ok(common::sscard(&read));

    // The version learned at sign-in is a floor: with the cache gone, the
    // old full list is still refused; the current one applies.
    ok(common::sscard(&[
        "terminal",
        "signin",
        "--terminal",
        &terminal,
    ]));
    std::fs::remove_file(&cache_path).unwrap();
    let line = fails(
        common::sscard(&[
            "terminal",
            "apply-blacklist",
            "--terminal",
            &terminal,
            "--file",
            &full,
        ]),
        1,
    );
    assert!(line.contains("the platform gave at sign-in"), "{line}");
    // Nor is a card read without the cache (or with one older than the
    // version this terminal knows is published).
    let line = fails(common::sscard(&read), 1);
    assert!(line.contains("sync the blacklist"), "{line}");
    let synced = ok_text(common::sscard(&[
        "terminal",
        "sync-blacklist",
        "--terminal",
        &terminal,
    ]));
    assert_eq!(field(&synced, "blacklist_version"), "2");
    ok(common::sscard(&read));
    let events = ok_text(p.sec(&["events", "list"]));
    assert!(
        events.contains("blacklisted-card") && events.contains("tamper"),
        "{events}"
    );
}

#[test]
fn sign_in_refusals_and_the_alert_that_suspends_a_terminal() {
    let d = scratch("terminal-refusals");
    let p = Platform::start(&d);
    let addr = p.server.addr.clone();
    // An unregistered terminal: no challenge, and a sign-in anyway, are
    // refused, each an event.
    let (status, body) = call(
        &addr,
        "POST",
        "/v1/terminals/000000000099/challenge",
        None,
        Some(json!({})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("refused")),
        "{body}"
    );
    let (status, body) = call(
        &addr,
        "POST",
        "/v1/terminals/000000000099/signin",
        None,
        Some(json!({"nonce": "00".repeat(16), "signature": "3000", "software_hash": "00"})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("refused")),
        "{body}"
    );

    ok(p.sys(&[
        "terminal",
        "register",
        "--no",
        "000000000042",
        "--serial",
        "SN-42",
        "--institution",
        "Library",
    ]));
    let terminal = arg(&d, "terminal.json");
    let enrolled = ok_text(p.sys(&[
        "terminal",
        "enroll",
        "--no",
        "000000000042",
        "--out",
        &terminal,
    ]));
    let serial = field(&enrolled, "certificate");
    // Replay: a signed challenge sent twice.
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&terminal).unwrap()).unwrap();
    let key = sscard_gm::sm2::Sm2PrivateKey::from_pkcs8_pem(file["key"].as_str().unwrap()).unwrap();
    let (_, body) = call(
        &addr,
        "POST",
        "/v1/terminals/000000000042/challenge",
        None,
        Some(json!({})),
    );
    let nonce = body["nonce"].as_str().unwrap().to_string();
    let hash = "ab".repeat(32);
    let message = sscard_core::platform::signin_message("000000000042", &nonce, &hash);
    let signature = sscard_gm::sm2::sign(&key, sscard_gm::sm2::DEFAULT_USER_ID, &message).unwrap();
    let request = json!({"nonce": nonce, "signature": hex::encode(signature.encode(sscard_gm::sm2::SignatureFormat::Der)), "software_hash": hash});
    let (status, first) = call(
        &addr,
        "POST",
        "/v1/terminals/000000000042/signin",
        None,
        Some(request.clone()),
    );
    assert_eq!(status, 200, "{first}");
    let (status, again) = call(
        &addr,
        "POST",
        "/v1/terminals/000000000042/signin",
        None,
        Some(request),
    );
    assert_eq!(
        (status, again["code"].as_str()),
        (403, Some("refused")),
        "{again}"
    );
    // Software integrity: once versions are registered, an unknown hash is refused.
    ok(p.sys(&[
        "terminal",
        "allow-software",
        "--version",
        "1.0",
        "--sm3",
        &"cd".repeat(32),
    ]));
    let line = fails(
        common::sscard(&["terminal", "signin", "--terminal", &terminal]),
        1,
    );
    assert!(line.contains("software hash not allowed"), "{line}");
    let exe = env!("CARGO_BIN_EXE_sscard");
    ok(p.sys(&[
        "terminal",
        "allow-software",
        "--version",
        "this-build",
        "--file",
        exe,
    ]));
    ok(common::sscard(&[
        "terminal",
        "signin",
        "--terminal",
        &terminal,
    ]));

    // Five failed card authentications in a minute, with the rule set to
    // suspend: an alert, and the terminal is suspended.
    ok(p.sec(&[
        "events",
        "rule",
        "--kind",
        "card-auth-failed",
        "--count",
        "5",
        "--window",
        "60",
        "--suspend",
    ]));
    let card = p.card_and_psams(&d, &[("000000000042", "psam.json")]);
    let psam = arg(&d, "psam.json");
    let mut forged: Value = serde_json::from_str(&std::fs::read_to_string(&card).unwrap()).unwrap();
    forged["keys"]["1"]["key"] = json!("00112233445566778899AABBCCDDEEFF");
    std::fs::write(d.join("forged.json"), forged.to_string()).unwrap();
    for _ in 0..4 {
        fails(
            common::sscard(&[
                "terminal",
                "read",
                "--card",
                &arg(&d, "forged.json"),
                "--psam",
                &psam,
                "--terminal",
                &terminal,
            ]),
            1,
        );
    }
    assert_eq!(
        ok_text(p.sec(&["events", "alerts"])),
        "alerts: 0",
        "no alert after four"
    );
    fails(
        common::sscard(&[
            "terminal",
            "read",
            "--card",
            &arg(&d, "forged.json"),
            "--psam",
            &psam,
            "--terminal",
            &terminal,
        ]),
        1,
    );
    let alerts = ok_text(p.sec(&["events", "alerts"]));
    assert!(
        alerts.contains("terminal 000000000042 suspended"),
        "{alerts}"
    );
    let listed = ok_text(p.sys(&["terminal", "list"]));
    assert!(listed.contains("state=suspended"), "{listed}");
    let line = fails(
        common::sscard(&["terminal", "signin", "--terminal", &terminal]),
        1,
    );
    assert!(line.contains("terminal suspended"), "{line}");
    // Acknowledged, it leaves the open alerts; revoked, the terminal stays out.
    assert!(alerts.starts_with("alerts: 1\nalert: "), "{alerts}");
    let id = common::field(&alerts, "alert");
    let id = id.split_whitespace().next().unwrap();
    ok(p.sec(&["events", "ack", id]));
    assert_eq!(ok_text(p.sec(&["events", "alerts"])), "alerts: 0");
    ok(p.sys(&["terminal", "revoke", "000000000042"]));
    fails(p.sys(&["terminal", "activate", "000000000042"]), 1);
    let line = fails(
        common::sscard(&["terminal", "signin", "--terminal", &terminal]),
        1,
    );
    assert!(line.contains("revoked"), "{line}");
    // The revocation is published: an X.509 CRL that OpenSSL reads.
    let crl = arg(&d, "terminals.crl");
    ok(common::sscard(&[
        "terminal", "crl", "--out", &crl, "--addr", &addr,
    ]));
    let text = String::from_utf8(ok(common::openssl(&[
        "crl", "-inform", "DER", "-in", &crl, "-noout", "-text",
    ])))
    .unwrap();
    assert!(text.contains("Signature Algorithm: SM2-with-SM3"), "{text}");
    assert!(
        text.contains(&format!("Serial Number: {serial}")),
        "{serial}: {text}"
    );
    // A list with a lower CRL number never replaces the one held: here a
    // platform that has revoked nothing (CRL number 0).
    let held = std::fs::read(&crl).unwrap();
    let other = common::server::Server::dev(&d.join("other-platform"), &[]);
    let line = fails(
        common::sscard(&["terminal", "crl", "--out", &crl, "--addr", &other.addr]),
        1,
    );
    assert!(line.contains("older than the one"), "{line}");
    assert_eq!(std::fs::read(&crl).unwrap(), held);
    // The same list again is taken.
    let again = ok_text(common::sscard(&[
        "terminal", "crl", "--out", &crl, "--addr", &addr,
    ]));
    assert_eq!(field(&again, "revoked"), "1");
}

#[test]
fn a_terminal_without_sm2_signs_in_by_mac_and_signs_out() {
    let d = scratch("terminal-mac");
    let p = Platform::start(&d);
    let addr = p.server.addr.clone();
    let no = "330300000055";
    // Its PSAM, another PSAM, and a card of the region.
    let card = p.card_and_psams(
        &d,
        &[(no, "psam.json"), ("330300000056", "other-psam.json")],
    );
    let (psam, other) = (arg(&d, "psam.json"), arg(&d, "other-psam.json"));
    ok(p.sys(&[
        "terminal",
        "register",
        "--no",
        no,
        "--serial",
        "SN-55",
        "--institution",
        "Bus company",
        "--auth",
        "mac",
        "--psam",
        &psam,
    ]));
    let terminal = arg(&d, "terminal.json");
    // A MAC terminal is not enrolled for a certificate.
    let line = fails(
        p.sys(&["terminal", "enroll", "--no", no, "--out", &terminal]),
        1,
    );
    assert!(line.contains("keyed"), "{line}");
    let keyed = ok_text(p.sys(&[
        "terminal", "enroll", "--no", no, "--out", &terminal, "--mac",
    ]));
    let tmk_kcv = field(&keyed, "terminal_key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&terminal).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a file with a key is private");
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&terminal).unwrap()).unwrap();
    assert_eq!(file["auth"], "mac");
    let tmk = file["tmk"].as_str().unwrap().to_string();
    assert_eq!(tmk.len(), 32);
    assert!(tmk_kcv.starts_with("kcv="), "{keyed}");
    let listed = ok_text(p.sys(&["terminal", "list"]));
    assert!(
        listed.contains("auth=mac") && listed.contains("state=active"),
        "{listed}"
    );

    // Sign-in by MAC: three working keys, each opened under the TMK to its
    // check value (the command refuses otherwise).
    let signed = ok_text(common::sscard(&[
        "terminal",
        "signin",
        "--terminal",
        &terminal,
    ]));
    for name in ["pin", "mac", "data"] {
        assert!(
            signed.contains(&format!("working_key: {name} kcv=")),
            "{signed}"
        );
    }
    assert_eq!(field(&signed, "blacklist_version"), "0");
    assert_signin_parameters(&signed);
    assert_eq!(field(&signed, "psam"), no, "the bound PSAM: {signed}");
    // With its PSAM the card reads; with another, the terminal refuses
    // before touching the card, and reports it.
    let read = |module: &str| {
        common::sscard(&[
            "terminal",
            "read",
            "--card",
            &card,
            "--psam",
            module,
            "--terminal",
            &terminal,
        ])
    };
    let info = ok_text(read(&psam));
    assert!(info.contains("card_id: 330300"), "{info}");
    let line = fails(read(&other), 1);
    assert!(
        line.contains("wrong_psam") && line.contains("330300000056"),
        "{line}"
    );
    let events = ok_text(p.sec(&["events", "list"]));
    assert!(events.contains("psam-missing"), "{events}");
    // The audit has the TMK's check value and never the key.
    let auditor = p.server.login("audit");
    let export = arg(&d, "audit.jsonl");
    ok(p.server
        .run_as(&auditor, &["audit", "export", "--out", &export]));
    let audit = std::fs::read_to_string(&export).unwrap();
    assert!(audit.contains("\"terminal.key\""), "{audit}");
    assert!(
        !audit.to_uppercase().contains(&tmk.to_uppercase()),
        "the TMK in the audit"
    );

    // A MAC'd event report arrives: a tampered blacklist file is reported.
    let bad = d.join("bad.list");
    std::fs::write(&bad, b"SSBL not a list").unwrap();
    fails(
        common::sscard(&[
            "terminal",
            "apply-blacklist",
            "--terminal",
            &terminal,
            "--file",
            bad.to_str().unwrap(),
        ]),
        1,
    );
    let events = ok_text(p.sec(&["events", "list"]));
    assert!(events.contains("tamper") && events.contains(no), "{events}");
    // A report with the session's token but without its MAC key is refused.
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&terminal).unwrap()).unwrap();
    let token = file["session"].as_str().unwrap();
    let (status, body) = call(
        &addr,
        "POST",
        "/v1/terminal/events",
        Some(token),
        Some(json!({"kind": "tamper", "detail": "forged", "mac": "00".repeat(16)})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("refused")),
        "{body}"
    );

    // At most three challenges wait at once.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, _) = call(
            &addr,
            "POST",
            &format!("/v1/terminals/{no}/challenge"),
            None,
            Some(json!({})),
        );
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);

    // Sign-out: the session ends here and on the platform.
    let out = ok_text(common::sscard(&[
        "terminal",
        "signout",
        "--terminal",
        &terminal,
    ]));
    assert_eq!(field(&out, "signed_out"), "yes");
    let (status, _) = call(&addr, "GET", "/v1/terminal/blacklist", Some(token), None);
    assert_eq!(status, 401);
    let line = fails(
        common::sscard(&["terminal", "sync-blacklist", "--terminal", &terminal]),
        1,
    );
    assert!(line.contains("not signed in"), "{line}");
}
