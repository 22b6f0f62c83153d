//! The platform over real HTTP: a real `sscard serve` process on SQLite,
//! driven by HTTP requests and by the `sscard` admin commands.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};

use common::server::{call, call_raw, Server};
use common::{arg, fails, ok, ok_text, scratch};
use serde_json::{json, Value};
use sscard_core::audit;
use sscard_core::platform::ops;

/// The HTTP request that performs an operation (on a target that does not
/// exist where the operation would change something).
fn request(op: &str) -> (&'static str, String, Option<Value>) {
    match op {
        "operator.add" => (
            "POST",
            "/v1/operators".into(),
            Some(json!({"user": format!("new-{}", std::process::id())})),
        ),
        "operator.disable" => (
            "POST",
            "/v1/operators/nobody-here/disable".into(),
            Some(json!({})),
        ),
        "operator.list" => ("GET", "/v1/operators".into(), None),
        "operator.grant" => (
            "POST",
            "/v1/operators/nobody-here/grant".into(),
            Some(json!({"role": "audit"})),
        ),
        "sys.seal" => ("POST", "/v1/sys/seal".into(), Some(json!({}))),
        "sys.rotate" => ("POST", "/v1/sys/rotate".into(), Some(json!({}))),
        "audit.read" => ("GET", "/v1/audit?limit=5".into(), None),
        "audit.verify" => ("GET", "/v1/audit/verify".into(), None),
        "key.manage" => ("GET", "/v1/keys".into(), None),
        "approval.decide" => ("GET", "/v1/approvals".into(), None),
        "terminal.manage" => ("GET", "/v1/terminals".into(), None),
        "blacklist.manage" => ("GET", "/v1/blacklist/export?version=999".into(), None),
        "event.manage" => ("GET", "/v1/alerts".into(), None),
        "card.issue" => (
            "POST",
            "/v1/cards/prepare".into(),
            Some(
                json!({"holder": {"ssn": "000000000000000000", "name": "x", "sex": "1",
                "ethnicity": "01", "birth_date": "19900101", "birth_place": "330300",
                "region": "330300"}}),
            ),
        ),
        "key.use" => (
            "POST",
            "/v1/keys/no-such-key/encrypt".into(),
            Some(json!({"plaintext": "00"})),
        ),
        other => panic!("no request for operation {other}: add it to this test"),
    }
}

#[test]
fn every_operation_admits_its_roles_and_refuses_the_others_with_an_audit_record() {
    let d = scratch("roles");
    let server = Server::dev(&d, &[]);
    let tokens = [
        ("system", server.login("system")),
        ("security", server.login("security")),
        ("audit", server.login("audit")),
    ];
    let mut refusals = 0;
    for op in ops::ALL.iter().filter(|op| op.name != "sys.seal") {
        let (method, path, body) = request(op.name);
        for (role, token) in &tokens {
            let (status, answer) = call(&server.addr, method, &path, Some(token), body.clone());
            let admitted = op.roles.iter().any(|r| r.as_str() == *role);
            if admitted {
                assert_ne!(status, 403, "{} as {role}: {answer}", op.name);
                assert!(status < 500, "{} as {role}: {answer}", op.name);
            } else {
                assert_eq!(status, 403, "{} as {role}: {answer}", op.name);
                assert_eq!(answer["code"], "forbidden_role");
                refusals += 1;
            }
        }
    }
    // Every refusal is in the audit log, with who and what.
    let (_, page) = call(
        &server.addr,
        "GET",
        "/v1/audit?limit=1000",
        Some(&tokens[2].1),
        None,
    );
    let refused: Vec<&Value> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["outcome"] == "refused"
                && r["details"]["reason"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("role ")
        })
        .collect();
    assert_eq!(refused.len(), refusals);

    // Seal last: refused to system and audit, done by security.
    for (role, token) in &tokens[..] {
        if *role != "security" {
            let (status, _) = call(
                &server.addr,
                "POST",
                "/v1/sys/seal",
                Some(token),
                Some(json!({})),
            );
            assert_eq!(status, 403, "seal as {role}");
        }
    }
    let (status, _) = call(
        &server.addr,
        "POST",
        "/v1/sys/seal",
        Some(&tokens[1].1),
        Some(json!({})),
    );
    assert_eq!(status, 200);
    let (status, answer) = call(
        &server.addr,
        "GET",
        "/v1/operators",
        Some(&tokens[0].1),
        None,
    );
    assert_eq!((status, answer["code"].as_str()), (423, Some("sealed")));
    let (_, health) = call(&server.addr, "GET", "/v1/sys/health", None, None);
    assert_eq!(health["sealed"], true);
}

#[test]
fn bad_requests_get_a_clear_4xx_with_a_code() {
    let d = scratch("bad-requests");
    let server = Server::dev(&d, &[]);
    let system = server.login("system");
    let cases = [
        (
            call_raw(
                &server.addr,
                "POST",
                "/v1/auth/login",
                None,
                Some("{\"user\": ".into()),
            ),
            400,
            "malformed_json",
        ),
        (
            call_raw(
                &server.addr,
                "POST",
                "/v1/operators",
                Some(&system),
                Some("[1,2]".into()),
            ),
            400,
            "malformed_json",
        ),
        (
            call(&server.addr, "GET", "/v1/operators", None, None),
            401,
            "unauthenticated",
        ),
        (
            call(
                &server.addr,
                "GET",
                "/v1/operators",
                Some("sst_forged"),
                None,
            ),
            401,
            "unauthenticated",
        ),
        (
            call(
                &server.addr,
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"user": "sysadmin", "password": "wrong"})),
            ),
            401,
            "bad_credentials",
        ),
        (
            call(
                &server.addr,
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"user": "no-such", "password": "x"})),
            ),
            401,
            "bad_credentials",
        ),
        (
            call(
                &server.addr,
                "POST",
                "/v1/operators",
                Some(&system),
                Some(json!({"user": "Bad Name!"})),
            ),
            400,
            "invalid",
        ),
        (
            call(
                &server.addr,
                "POST",
                "/v1/operators",
                Some(&system),
                Some(json!({"user": "sysadmin"})),
            ),
            409,
            "conflict",
        ),
        (
            call(
                &server.addr,
                "POST",
                "/v1/operators/sysadmin/disable",
                Some(&system),
                Some(json!({})),
            ),
            403,
            "refused",
        ),
        (
            call(&server.addr, "GET", "/v1/nothing", None, None),
            404,
            "not_found",
        ),
        (
            call(
                &server.addr,
                "POST",
                "/v1/sys/unseal",
                None,
                Some(json!({"share": "{}"})),
            ),
            403,
            "bad_share",
        ),
    ];
    for (i, ((status, body), want_status, want_code)) in cases.into_iter().enumerate() {
        assert_eq!(
            (status, body["code"].as_str()),
            (want_status, Some(want_code)),
            "case {i}: {body}"
        );
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    // A name that is not an account is audited only as its HMAC: it may be a password.
    let audit = server.login("audit");
    let (_, page) = call(
        &server.addr,
        "GET",
        "/v1/audit?limit=1000",
        Some(&audit),
        None,
    );
    let text = page.to_string();
    assert!(
        !text.contains("no-such"),
        "an unknown user name appears in clear"
    );
    assert!(text.contains("hmac-sm3:"));
    assert!(!text.contains("\"wrong\""));
    // Each refusal left its record: malformed bodies, a missing token and a
    // missing route as refused requests (under the caller when a token
    // named one), the forged token as a refused token (by its HMAC).
    let records = page["records"].as_array().unwrap();
    let count = |action: &str| {
        records
            .iter()
            .filter(|r| r["action"] == action && r["outcome"] == "refused")
            .count()
    };
    assert_eq!(count("request.refused"), 4, "{text}");
    assert!(records.iter().any(|r| r["action"] == "request.refused"
        && r["actor"] == "sysadmin"
        && r["target"] == "POST /v1/operators"
        && r["details"]["reason"] == "malformed_json"));
    assert_eq!(count("auth.token"), 1);
    assert!(!text.contains("sst_forged"));
    assert_eq!(count("auth.login"), 2);
    assert_eq!(count("operator.add"), 2);
    assert_eq!(count("operator.disable"), 1);
    assert_eq!(count("sys.unseal"), 1);
}

#[test]
fn five_wrong_passwords_lock_the_account() {
    let d = scratch("lockout");
    let server = Server::dev(&d, &[]);
    let (user, password) = server.operator("security2");
    for _ in 0..5 {
        let (status, _) = call(
            &server.addr,
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"user": user, "password": "guess"})),
        );
        assert_eq!(status, 401);
    }
    let (status, body) = call(
        &server.addr,
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"user": user, "password": password})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (423, Some("locked")),
        "{body}"
    );
    // Until when, as a UTC time a person reads: 15 minutes from now.
    let message = body["message"].as_str().unwrap();
    let until = message
        .split_whitespace()
        .find(|w| w.ends_with('Z') && w.contains('T'))
        .unwrap_or_else(|| panic!("no time in {message:?}"));
    let until_ms = sscard_core::clock::parse_time(until).unwrap();
    let in_15 = sscard_core::now_ms() + 15 * 60 * 1000;
    assert!((until_ms - in_15).abs() < 60_000, "{message}");
}

#[test]
fn init_unseal_one_time_passwords_and_foreign_shares_through_the_commands() {
    let d = scratch("init");
    let data = arg(&d, "data");
    let shares = arg(&d, "shares");
    let out = ok_text(common::sscard(&[
        "init",
        "--data",
        &data,
        "--shares",
        "3",
        "--threshold",
        "2",
        "--share-dir",
        &shares,
    ]));
    assert!(out.contains("share-3"), "{out}");
    #[cfg(unix)]
    for file in ["share-1", "share-2", "share-3", "operators.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("shares").join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    // A second init is refused and changes nothing.
    fails(
        common::sscard(&[
            "init",
            "--data",
            &data,
            "--shares",
            "1",
            "--threshold",
            "1",
            "--share-dir",
            &arg(&d, "other"),
        ]),
        1,
    );

    // Another platform's share is refused by name.
    let other = arg(&d, "other-data");
    ok(common::sscard(&[
        "init",
        "--data",
        &other,
        "--shares",
        "1",
        "--threshold",
        "1",
        "--share-dir",
        &arg(&d, "other-shares"),
    ]));

    let server = Server::sealed(&d.join("data"));
    let addr = server.addr.clone();
    let login_sysadmin = |stdin: String| {
        common::sscard_stdin(
            &[
                "login",
                "--addr",
                &addr,
                "--user",
                "sysadmin",
                "--password-stdin",
            ],
            stdin.as_bytes(),
        )
    };
    let line = fails(
        common::sscard(&[
            "unseal",
            "--addr",
            &addr,
            "--share-file",
            &arg(&d, "other-shares/share-1"),
        ]),
        1,
    );
    assert!(line.contains("another platform"), "{line}");
    let sealed = fails(login_sysadmin("x\n".into()), 1);
    assert!(sealed.contains("sealed"), "{sealed}");

    // A share that is malformed or wrong is refused at once, exit 1, with
    // its reason, and does not count.
    let good: Value =
        serde_json::from_slice(&std::fs::read(d.join("shares/share-1")).unwrap()).unwrap();
    let hex_share = good["share"].as_str().unwrap().to_string();
    let changed = |share: &str, threshold: u64| {
        let mut v = good.clone();
        v["share"] = json!(share);
        v["threshold"] = json!(threshold);
        v
    };
    let flipped = {
        let mut bytes = hex::decode(&hex_share).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        hex::encode(bytes)
    };
    let bad_shares = [
        (
            changed(&format!("00{}", &hex_share[2..]), 2),
            "numbered 1 to 3",
        ),
        (changed(&hex_share[..4], 2), "holds 1 bytes"),
        (changed(&hex_share[..2], 2), "holds 0 bytes"),
        (changed("", 2), "empty"),
        (changed("zz", 2), "not hex"),
        (changed(&hex_share, 3), "needs 2"),
        (changed(&flipped, 2), "its check fails"),
    ];
    for (i, (share, reason)) in bad_shares.iter().enumerate() {
        let path = d.join(format!("bad-share-{i}"));
        std::fs::write(&path, serde_json::to_vec(share).unwrap()).unwrap();
        let line = fails(
            common::sscard(&[
                "unseal",
                "--addr",
                &addr,
                "--share-file",
                path.to_str().unwrap(),
            ]),
            1,
        );
        assert!(line.contains(reason), "share {i}: {line}");
    }

    assert!(ok_text(common::sscard(&[
        "unseal",
        "--addr",
        &addr,
        "--share-file",
        &arg(&d, "shares/share-2")
    ]))
    .contains("unseal: 1/2"));
    // The same share twice is refused as a duplicate, and does not count twice.
    let line = fails(
        common::sscard(&[
            "unseal",
            "--addr",
            &addr,
            "--share-file",
            &arg(&d, "shares/share-2"),
        ]),
        1,
    );
    assert!(line.contains("share 2 was given already"), "{line}");
    // The progress can be reset; then the custodians start again.
    // Only with a share of this platform (a custodian's): one of another
    // platform does not reset.
    fails(
        common::sscard(&[
            "unseal",
            "--addr",
            &addr,
            "--reset",
            "--share-file",
            &arg(&d, "other-shares/share-1"),
        ]),
        1,
    );
    assert!(ok_text(common::sscard(&[
        "unseal",
        "--addr",
        &addr,
        "--reset",
        "--share-file",
        &arg(&d, "shares/share-1")
    ]))
    .contains("unseal: 0/2"));
    assert!(ok_text(common::sscard(&[
        "unseal",
        "--addr",
        &addr,
        "--share-file",
        &arg(&d, "shares/share-2")
    ]))
    .contains("unseal: 1/2"));
    let done = ok_text(common::sscard(&[
        "unseal",
        "--addr",
        &addr,
        "--share-file",
        &arg(&d, "shares/share-3"),
    ]));
    assert!(
        done.contains("unseal: 2/2") && done.contains("sealed: false"),
        "{done}"
    );

    // The one-time password must be changed at first login: the second line of stdin.
    let operators: Value =
        serde_json::from_slice(&std::fs::read(d.join("shares/operators.json")).unwrap()).unwrap();
    let one_time = operators["system"]["password"].as_str().unwrap();
    let line = fails(login_sysadmin(format!("{one_time}\n")), 1);
    assert!(line.contains("must be changed"), "{line}");
    let token = ok_text(login_sysadmin(format!(
        "{one_time}\nthe new system passphrase\n"
    )));
    assert!(token.starts_with("sst_"), "{token}");
    let list = ok_text(common::sscard(&[
        "operator", "list", "--addr", &addr, "--token", &token,
    ]));
    assert!(
        list.contains("operator: sysadmin role=system disabled=false must_change_password=false"),
        "{list}"
    );
    // The one-time password no longer works.
    fails(login_sysadmin(format!("{one_time}\n")), 1);
}

/// Changes one character at many positions of an export: each change is
/// caught at the record whose line was changed. Deleting and reordering too.
#[test]
fn any_changed_deleted_or_moved_record_of_an_export_is_named() {
    let d = scratch("tamper");
    let server = Server::dev(&d, &["--checkpoint-records", "5"]);
    let system = server.login("system");
    for i in 0..8 {
        call(
            &server.addr,
            "POST",
            "/v1/operators",
            Some(&system),
            Some(json!({"user": format!("clerk-{i}")})),
        );
    }
    let audit_token = server.login("audit");
    let file = arg(&d, "audit.jsonl");
    ok(common::sscard(&[
        "audit",
        "export",
        "--addr",
        &server.addr,
        "--token",
        &audit_token,
        "--out",
        &file,
    ]));
    let intact = ok_text(common::sscard(&[
        "audit",
        "verify",
        "--file",
        &file,
        "--addr",
        &server.addr,
        "--token",
        &audit_token,
    ]));
    assert!(intact.contains("audit: intact"), "{intact}");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 10);
    assert!(
        text.contains(audit::CHECKPOINT),
        "the export has signed checkpoints"
    );
    let (_, key) = call(
        &server.addr,
        "GET",
        "/v1/audit/public-key",
        Some(&audit_token),
        None,
    );
    let key = sscard_gm::sm2::Sm2PublicKey::from_spki_pem(key["pem"].as_str().unwrap()).unwrap();
    let (records, checkpoints) = audit::verify_export(&text, Some(&key)).unwrap();
    assert_eq!(records as usize, lines.len());
    assert!(checkpoints >= 2);

    let mut checked = 0;
    for (index, line) in lines.iter().enumerate() {
        for pos in (0..line.len()).step_by(3) {
            let mut bytes = line.as_bytes().to_vec();
            bytes[pos] = if bytes[pos] == b'a' { b'b' } else { b'a' };
            let mut changed = lines.clone();
            let altered = String::from_utf8(bytes).unwrap();
            changed[index] = &altered;
            let broken =
                audit::verify_export(&(changed.join("\n") + "\n"), Some(&key)).unwrap_err();
            assert_eq!(
                broken.seq,
                index as i64 + 1,
                "line {} pos {pos}: {broken}",
                index + 1
            );
            checked += 1;
        }
    }
    assert!(checked > 1000);

    // Through the command: exit 1 and the sequence number of the first bad record.
    let cut: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .map(|(_, l)| *l)
        .collect();
    std::fs::write(d.join("deleted.jsonl"), cut.join("\n") + "\n").unwrap();
    let out = common::sscard(&["audit", "verify", "--file", &arg(&d, "deleted.jsonl")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("first_bad_seq: 5"));
    let mut swapped = lines.clone();
    swapped.swap(6, 7);
    std::fs::write(d.join("swapped.jsonl"), swapped.join("\n") + "\n").unwrap();
    let out = common::sscard(&["audit", "verify", "--file", &arg(&d, "swapped.jsonl")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("first_bad_seq: 7"));
}

/// `kill -9` during a burst of writes loses no acknowledged action and
/// leaves the chain verifiable.
#[test]
fn kill_9_during_a_burst_loses_no_acknowledged_write() {
    let d = scratch("kill9");
    let mut server = Server::dev(&d, &[]);
    let system = server.login("system");
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (addr, token, acked) = (
                server.addr.clone(),
                system.clone(),
                Arc::clone(&acknowledged),
            );
            std::thread::spawn(move || {
                for i in 0.. {
                    let user = format!("burst-{t}-{i}");
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let result = agent
                        .post(&format!("{addr}/v1/operators"))
                        .header("Authorization", &format!("Bearer {token}"))
                        .send_json(json!({"user": user}));
                    match result {
                        Ok(r) if r.status().as_u16() == 201 => acked.lock().unwrap().push(user),
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Kill in the middle of the burst: once enough writes were acknowledged,
    // while the writers are still sending.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while acknowledged.lock().unwrap().len() < 12 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill9();
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 5,
        "the burst wrote too little to mean anything: {}",
        acknowledged.len()
    );

    let server = Server::dev(&d, &[]);
    let system = server.login("system");
    let (_, list) = call(&server.addr, "GET", "/v1/operators", Some(&system), None);
    let present: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["user"].as_str().unwrap())
        .collect();
    for user in &acknowledged {
        assert!(
            present.contains(&user.as_str()),
            "{user} was acknowledged and is lost"
        );
    }
    let audit_token = server.login("audit");
    let (_, report) = call(
        &server.addr,
        "GET",
        "/v1/audit/verify",
        Some(&audit_token),
        None,
    );
    assert_eq!(report["intact"], true, "{report}");
    let out = ok_text(common::sscard(&[
        "audit",
        "verify",
        "--addr",
        &server.addr,
        "--token",
        &audit_token,
    ]));
    assert!(out.contains("intact: true"), "{out}");
}

#[test]
fn health_metrics_and_openapi_are_served() {
    let d = scratch("docs");
    let server = Server::dev(&d, &[]);
    let (status, health) = call(&server.addr, "GET", "/v1/sys/health", None, None);
    assert_eq!(status, 200);
    assert_eq!(
        (health["sealed"].as_bool(), health["initialized"].as_bool()),
        (Some(false), Some(true))
    );
    let (status, doc) = call(&server.addr, "GET", "/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    for path in [
        "/v1/auth/login",
        "/v1/operators",
        "/v1/audit/verify",
        "/v1/sys/unseal",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let (status, metrics) = call(&server.addr, "GET", "/metrics", None, None);
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("sscard_http_requests_total{class=\"2xx\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("sscard_sealed 0"));
}

#[test]
fn tls_from_certificate_files_and_plain_http_only_on_loopback() {
    let d = scratch("tls");
    let line = fails(
        common::sscard(&["serve", "--data", &arg(&d, "data"), "--listen", "0.0.0.0:0"]),
        2,
    );
    assert!(line.contains("loopback"), "{line}");

    // A CA and a server certificate it signs, as an operator would have.
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    let (ca_key, ca_pem) = (arg(&d, "ca.key"), arg(&d, "ca.pem"));
    ca.extend([
        "-keyout",
        &ca_key,
        "-out",
        &ca_pem,
        "-days",
        "1",
        "-subj",
        "/CN=sscard test CA",
    ]);
    ok(common::openssl(&ca));
    let mut csr = vec!["req"];
    csr.extend(ec);
    let (key, req) = (arg(&d, "key.pem"), arg(&d, "server.csr"));
    csr.extend(["-keyout", &key, "-out", &req, "-subj", "/CN=localhost"]);
    ok(common::openssl(&csr));
    std::fs::write(
        d.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    ok(common::openssl(&[
        "x509",
        "-req",
        "-in",
        &req,
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &arg(&d, "cert.pem"),
        "-days",
        "1",
        "-extfile",
        &arg(&d, "ext"),
    ]));
    let server = Server::with_args(
        &d.join("data"),
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &arg(&d, "cert.pem"),
            "--tls-key",
            &arg(&d, "key.pem"),
        ],
    );
    assert!(
        server.addr.starts_with("https://127.0.0.1:"),
        "{}",
        server.addr
    );
    let (user, password) = server.operator("system");
    let token = ok_text(common::sscard_stdin(
        &[
            "login",
            "--addr",
            &server.addr,
            "--cacert",
            &ca_pem,
            "--user",
            &user,
            "--password-stdin",
        ],
        format!("{password}\n").as_bytes(),
    ));
    assert!(token.starts_with("sst_"));
    // Without the CA the certificate is not trusted, and the error says
    // what to do; plain HTTP gets no answer.
    let line = fails(
        common::sscard_stdin(
            &[
                "login",
                "--addr",
                &server.addr,
                "--user",
                &user,
                "--password-stdin",
            ],
            b"x\n",
        ),
        3,
    );
    assert!(line.contains("--cacert"), "{line}");
    // A self-signed certificate (a CA's) as the server's own: the error
    // says so and what the server needs instead.
    let (self_key, self_pem) = (arg(&d, "self.key"), arg(&d, "self.pem"));
    let mut selfsigned = vec!["req", "-x509"];
    selfsigned.extend(ec);
    selfsigned.extend([
        "-keyout",
        &self_key,
        "-out",
        &self_pem,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]);
    ok(common::openssl(&selfsigned));
    let own = Server::with_args(
        &d.join("data-self"),
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &self_pem,
            "--tls-key",
            &self_key,
        ],
    );
    let line = fails(
        common::sscard_stdin(
            &[
                "login",
                "--addr",
                &own.addr,
                "--cacert",
                &self_pem,
                "--user",
                &user,
                "--password-stdin",
            ],
            b"x\n",
        ),
        3,
    );
    assert!(
        line.contains("CA certificate as its own") && line.contains("--cacert"),
        "{line}"
    );
    let plain = server.addr.replace("https://", "http://");
    fails(
        common::sscard_stdin(
            &[
                "login",
                "--addr",
                &plain,
                "--user",
                &user,
                "--password-stdin",
            ],
            b"x\n",
        ),
        3,
    );
}

#[test]
fn key_commands_create_rotate_retire_and_suspend() {
    let d = scratch("keys");
    let server = Server::dev(&d, &[]);
    let token = server.login("security");
    let key = |args: &[&str], stdin: &[u8]| {
        let mut all = vec![
            "key",
            "--addr",
            server.addr.as_str(),
            "--token",
            token.as_str(),
        ];
        all.extend_from_slice(args);
        common::sscard_stdin(&all, stdin)
    };
    let shown = ok_text(key(
        &[
            "create", "--name", "records", "--alg", "sm4", "--usage", "encrypt", "--region",
            "330300",
        ],
        b"",
    ));
    assert!(
        shown.contains("state: active") && shown.contains("version: 1 kcv="),
        "{shown}"
    );
    let c1 = ok_text(key(&["encrypt", "records"], b"holder data"));
    assert!(c1.starts_with("sscard:v1:"), "{c1}");
    // Batch forms: in order, and all or nothing for malformed input.
    let items = json!({"items": ["01", "0202", "030303"]});
    let (status, sealed) = call(
        &server.addr,
        "POST",
        "/v1/keys/records/encrypt-batch",
        Some(&token),
        Some(items),
    );
    assert_eq!(status, 200, "{sealed}");
    let (status, opened) = call(
        &server.addr,
        "POST",
        "/v1/keys/records/decrypt-batch",
        Some(&token),
        Some(sealed.clone()),
    );
    assert_eq!(
        (status, opened["items"].clone()),
        (200, json!(["01", "0202", "030303"]))
    );
    let (status, body) = call(
        &server.addr,
        "POST",
        "/v1/keys/records/encrypt-batch",
        Some(&token),
        Some(json!({"items": []})),
    );
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid")));
    let shown = ok_text(key(&["rotate", "records"], b""));
    assert!(shown.contains("version: 2 kcv="), "{shown}");
    // Rewrap in a batch: every item moves to version 2 and opens as before.
    let (status, rewrapped) = call(
        &server.addr,
        "POST",
        "/v1/keys/records/rewrap-batch",
        Some(&token),
        Some(sealed.clone()),
    );
    assert_eq!(status, 200, "{rewrapped}");
    let moved = rewrapped["items"].as_array().unwrap();
    assert!(moved
        .iter()
        .all(|c| c.as_str().unwrap().starts_with("sscard:v2:")));
    let (_, opened) = call(
        &server.addr,
        "POST",
        "/v1/keys/records/decrypt-batch",
        Some(&token),
        Some(rewrapped.clone()),
    );
    assert_eq!(opened["items"], json!(["01", "0202", "030303"]));
    assert_eq!(
        ok(key(&["decrypt", "records"], c1.as_bytes())),
        b"holder data"
    );
    ok(key(&["set-min-version", "records", "2"], b""));
    let line = fails(key(&["decrypt", "records"], c1.as_bytes()), 1);
    assert!(line.contains("key_version_retired"), "{line}");
    ok(key(&["suspend", "records"], b""));
    let line = fails(key(&["encrypt", "records"], b"x"), 1);
    assert!(line.contains("key_state"), "{line}");
    let line = fails(
        key(
            &[
                "create",
                "--name",
                "m",
                "--alg",
                "sm2",
                "--usage",
                "card-iauth-master",
                "--region",
                "330300",
            ],
            b"",
        ),
        2,
    );
    assert!(line.contains("cannot serve"), "{line}");
    let list = ok_text(key(&["list"], b""));
    assert!(
        list.starts_with("key: records alg=sm4 usage=encrypt state=suspended version=2"),
        "{list}"
    );
    // Dates: shown in UTC; a date that does not exist is refused.
    let shown = ok_text(key(
        &[
            "create",
            "--name",
            "yearly",
            "--alg",
            "sm4",
            "--usage",
            "encrypt",
            "--region",
            "330300",
            "--expire-at",
            "2099-12-31T23:00:00Z",
        ],
        b"",
    ));
    assert!(shown.contains("expires: 2099-12-31T23:00:00Z"), "{shown}");
    let line = fails(
        key(
            &[
                "create",
                "--name",
                "never",
                "--alg",
                "sm4",
                "--usage",
                "encrypt",
                "--region",
                "330300",
                "--activate-at",
                "2027-02-30",
            ],
            b"",
        ),
        2,
    );
    assert!(line.contains("activate_at"), "{line}");
    // HMAC and sign in batches give what the single calls give.
    for (name, alg, op) in [("tags", "hmac-sm3", "hmac"), ("issuer", "sm2", "sign")] {
        ok_text(key(
            &[
                "create",
                "--name",
                name,
                "--alg",
                alg,
                "--usage",
                "essc-issuing",
                "--region",
                "330300",
            ],
            b"",
        ));
        let path = format!("/v1/keys/{name}/{op}-batch");
        let items = json!({"items": ["61", "6262"]});
        let (status, batch) = call(&server.addr, "POST", &path, Some(&token), Some(items));
        assert_eq!(status, 200, "{batch}");
        for (item, result) in ["61", "6262"]
            .iter()
            .zip(batch["items"].as_array().unwrap())
        {
            let result = result.as_str().unwrap();
            if op == "hmac" {
                let (_, single) = call(
                    &server.addr,
                    "POST",
                    "/v1/keys/tags/hmac",
                    Some(&token),
                    Some(json!({"data": item})),
                );
                assert_eq!(single["data"].as_str(), Some(result));
            } else {
                let (status, body) = call(
                    &server.addr,
                    "POST",
                    "/v1/keys/issuer/verify",
                    Some(&token),
                    Some(json!({"data": item, "signature": result})),
                );
                assert_eq!(status, 204, "{body}");
            }
        }
        let (status, body) = call(
            &server.addr,
            "POST",
            &path,
            Some(&token),
            Some(json!({"items": ["61", "zz"]})),
        );
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid")));
        assert!(
            body["message"].as_str().unwrap().contains("item 2"),
            "{body}"
        );
    }
    // The audit administrator may not touch keys.
    let audit = server.login("audit");
    fails(
        common::sscard(&["key", "list", "--addr", &server.addr, "--token", &audit]),
        1,
    );
}

/// The key ceremony of the README: three custodians import a master by
/// components with their check values; a second security administrator
/// approves; the combined KCV is what the custodians compute themselves.
#[test]
fn key_ceremony_dual_control_and_destroy() {
    let d = scratch("ceremony");
    let server = Server::dev(&d, &[]);
    let (first, second) = (server.login("security"), server.login("security2"));
    let run = |token: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--addr", server.addr.as_str(), "--token", token]);
        common::sscard(&all)
    };
    // Each custodian makes a component and its check value with the tools.
    // (Component i holds 0x11·(i+1) ^ 0x5a ^ j at position j: no component
    // nor the key they make is one byte repeated.)
    let components: Vec<String> = (0..3u8)
        .map(|i| {
            let bytes: Vec<u8> = (0..16u8).map(|j| (0x11 * (i + 1)) ^ 0x5a ^ j).collect();
            hex::encode(bytes)
        })
        .collect();
    let kcvs: Vec<String> = components
        .iter()
        .map(|c| ok_text(common::sscard(&["gm", "kcv", "--key", c, "--len", "4"])))
        .collect();
    let mut combined = [0u8; 16];
    for c in &components {
        for (x, y) in combined.iter_mut().zip(hex::decode(c).unwrap()) {
            *x ^= y;
        }
    }
    let expected_kcv = ok_text(common::sscard(&[
        "gm",
        "kcv",
        "--key",
        &hex::encode(combined),
    ]));
    let args: Vec<String> = components
        .iter()
        .zip(&kcvs)
        .map(|(c, k)| format!("{c}:{k}"))
        .collect();

    // A component whose check value is wrong is refused, by position.
    let wrong = format!("{}:{}", components[1], kcvs[0]);
    let line = fails(
        run(
            &first,
            &[
                "key",
                "import",
                "--name",
                "iauth-master",
                "--alg",
                "sm4",
                "--usage",
                "card-iauth-master",
                "--region",
                "330300",
                "--component",
                &args[0],
                "--component",
                &wrong,
                "--component",
                &args[2],
            ],
        ),
        2,
    );
    assert!(
        line.contains("kcv_mismatch") && line.contains("component 2"),
        "{line}"
    );

    let out = ok_text(run(
        &first,
        &[
            "key",
            "import",
            "--name",
            "iauth-master",
            "--alg",
            "sm4",
            "--usage",
            "card-iauth-master",
            "--region",
            "330300",
            "--component",
            &args[0],
            "--component",
            &args[1],
            "--component",
            &args[2],
        ],
    ));
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("approval: "))
        .unwrap()
        .to_string();
    assert!(
        out.lines().any(|l| l == format!("kcv: {expected_kcv}")),
        "{out}"
    );
    // The approver sees what is to be approved.
    let listed = ok_text(run(&second, &["approval", "list"]));
    let line = common::field(&listed, "approval");
    assert!(line.starts_with(&id), "{listed}");
    for fact in [
        "action=key.import".to_string(),
        format!("kcv={expected_kcv}"),
        "algorithm=sm4".into(),
        "exportable=".into(),
        "level=".into(),
        "region=".into(),
        "usage=".into(),
    ] {
        assert!(line.contains(&fact), "{fact}: {line}");
    }
    let line = fails(run(&first, &["approval", "approve", &id]), 1);
    assert!(line.contains("self_approval"), "{line}");
    let approved = ok_text(run(&second, &["approval", "approve", &id]));
    assert!(
        approved.contains(&format!("kcv: {expected_kcv}")),
        "{approved}"
    );
    let shown = ok_text(run(&first, &["key", "show", "iauth-master"]));
    assert!(
        shown.contains(&format!("version: 1 kcv={expected_kcv}")),
        "{shown}"
    );
    fails(run(&second, &["approval", "approve", &id]), 1);
    // Components never reach the audit log.
    let audit = server.login("audit");
    let (_, page) = call(
        &server.addr,
        "GET",
        "/v1/audit?limit=1000",
        Some(&audit),
        None,
    );
    for c in &components {
        assert!(!page.to_string().contains(c.as_str()));
    }

    // Destroy: only a key out of use, only with approval; afterwards nothing decrypts.
    ok(run(
        &first,
        &[
            "key", "create", "--name", "records", "--alg", "sm4", "--usage", "encrypt", "--region",
            "330300",
        ],
    ));
    let c1 = ok_text(common::sscard_stdin(
        &[
            "key",
            "encrypt",
            "records",
            "--addr",
            &server.addr,
            "--token",
            &first,
        ],
        b"data",
    ));
    let line = fails(run(&first, &["key", "destroy", "records"]), 1);
    assert!(line.contains("key_state"), "{line}");
    ok(run(&first, &["key", "deactivate", "records"]));
    assert_eq!(
        ok(common::sscard_stdin(
            &[
                "key",
                "decrypt",
                "records",
                "--addr",
                &server.addr,
                "--token",
                &first
            ],
            c1.as_bytes()
        )),
        b"data"
    );
    let out = ok_text(run(&first, &["key", "destroy", "records"]));
    let id = out.strip_prefix("approval: ").unwrap().trim().to_string();
    ok(run(&second, &["approval", "approve", &id]));
    let line = fails(
        common::sscard_stdin(
            &[
                "key",
                "decrypt",
                "records",
                "--addr",
                &server.addr,
                "--token",
                &first,
            ],
            c1.as_bytes(),
        ),
        1,
    );
    assert!(line.contains("destroyed"), "{line}");
    let (_, page) = call(
        &server.addr,
        "GET",
        "/v1/audit?limit=1000",
        Some(&audit),
        None,
    );
    let records = page["records"].as_array().unwrap();
    assert!(records
        .iter()
        .any(|r| r["action"] == "approval.approve" && r["details"]["action"] == "key.destroy"));
}

/// The derivation service answers what `sscard gm derive` then `gm mac` (or
/// an ECB encryption) answer for the same master, factors and data.
#[test]
fn derivation_service_matches_the_gm_tools() {
    let d = scratch("derivation");
    let server = Server::dev(&d, &[]);
    let (first, second) = (server.login("security"), server.login("security2"));
    let run = |token: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--addr", server.addr.as_str(), "--token", token]);
        common::sscard(&all)
    };
    // Masters the test knows, imported by two components each.
    for (name, alg, usage, a, b) in [
        (
            "iauth",
            "sm4",
            "card-iauth-master",
            "00112233445566778899aabbccddeeff",
            "0f0e0d0c0b0a09080706050403020100",
        ),
        (
            "maint",
            "3des",
            "card-maint-master",
            "0123456789abcdeffedcba9876543210",
            "1111111111111111aaaaaaaaaaaaaaaa",
        ),
    ] {
        let kcv = |k: &str| ok_text(common::sscard(&["gm", "kcv", "--key", k, "--alg", alg]));
        let out = ok_text(run(
            &first,
            &[
                "key",
                "import",
                "--name",
                name,
                "--alg",
                alg,
                "--usage",
                usage,
                "--region",
                "330300",
                "--component",
                &format!("{a}:{}", kcv(a)),
                "--component",
                &format!("{b}:{}", kcv(b)),
            ],
        ));
        let id = out
            .lines()
            .find_map(|l| l.strip_prefix("approval: "))
            .unwrap()
            .to_string();
        ok(run(&second, &["approval", "approve", &id]));
        let master: String = hex::encode(
            hex::decode(a)
                .unwrap()
                .iter()
                .zip(hex::decode(b).unwrap())
                .map(|(x, y)| x ^ y)
                .collect::<Vec<u8>>(),
        );

        let data = d.join(format!("{name}.apdu"));
        std::fs::write(
            &data,
            hex::decode("04DC012C160110330300D1560000050000000000000001").unwrap(),
        )
        .unwrap();
        let data = data.to_str().unwrap().to_string();
        let (block, mac_alg) = if alg == "sm4" {
            (16, "sm4")
        } else {
            (8, "3des")
        };
        let iv = "11".repeat(block);
        for factors in [
            vec!["3333303330307378"],
            vec!["3333303330307378", "8601030000000001"],
        ] {
            let mut derive = vec!["gm", "derive", "--alg", alg, "--key", master.as_str()];
            let mut service = vec!["key", "card-mac", name];
            for f in &factors {
                derive.extend(["--factor", f]);
                service.extend(["--factor", f]);
            }
            let card_key = ok_text(common::sscard(&derive));
            let expected = ok_text(common::sscard(&[
                "gm", "mac", "--alg", mac_alg, "--key", &card_key, "--iv", &iv, "--len", "4", &data,
            ]));
            let mut with = service.clone();
            with.extend(["--iv", iv.as_str(), "--len", "4", data.as_str()]);
            assert_eq!(ok_text(run(&first, &with)), expected, "{name} {factors:?}");

            let mut verify = service.clone();
            verify.extend([
                "--iv",
                iv.as_str(),
                "--verify",
                expected.as_str(),
                data.as_str(),
            ]);
            assert_eq!(ok_text(run(&first, &verify)), "mac: valid");
            let mut wrong = service.clone();
            wrong.extend(["--iv", iv.as_str(), "--verify", "00000000", data.as_str()]);
            assert!(fails(run(&first, &wrong), 1).contains("mac_mismatch"));

            // One block under the card key: the internal-authentication answer.
            let challenge = "a1".repeat(block);
            let mut encrypt = vec!["key", "card-encrypt", name];
            for f in &factors {
                encrypt.extend(["--factor", f]);
            }
            encrypt.extend(["--data", challenge.as_str()]);
            let answer = ok_text(run(&first, &encrypt));
            let cipher = if alg == "sm4" {
                "-sm4-ecb"
            } else {
                "-des-ede-ecb"
            };
            let file = d.join("challenge");
            std::fs::write(&file, hex::decode(&challenge).unwrap()).unwrap();
            let expected = ok(common::openssl(&[
                "enc",
                cipher,
                "-nopad",
                "-K",
                &card_key,
                "-in",
                file.to_str().unwrap(),
            ]));
            assert_eq!(answer, hex::encode(expected), "{name} {factors:?}");
        }
    }
    // Only card masters derive.
    ok(run(
        &first,
        &[
            "key", "create", "--name", "records", "--alg", "sm4", "--usage", "encrypt", "--region",
            "330300",
        ],
    ));
    fails(
        run(
            &first,
            &[
                "key",
                "card-encrypt",
                "records",
                "--factor",
                "3333303330307378",
                "--data",
                &"00".repeat(16),
            ],
        ),
        2,
    );
}

/// Wrapped export: refused for a key that is not exportable; otherwise it
/// waits for a second administrator, and the file opens with the KEK (or
/// the recipient's SM2 key) to the very key that was imported.
#[test]
fn export_needs_exportable_and_approval_and_opens_to_the_key() {
    use std::io::{BufRead, BufReader};
    let d = scratch("export");
    let server = Server::dev(&d, &[]);
    let (first, second) = (server.login("security"), server.login("security2"));
    let run = |token: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--addr", server.addr.as_str(), "--token", token]);
        common::sscard(&all)
    };
    let import = |name: &str, usage: &str, a: &str, b: &str, exportable: bool| {
        let kcv = |k: &str| ok_text(common::sscard(&["gm", "kcv", "--key", k]));
        let (ca, cb) = (format!("{a}:{}", kcv(a)), format!("{b}:{}", kcv(b)));
        let mut args = vec![
            "key",
            "import",
            "--name",
            name,
            "--alg",
            "sm4",
            "--usage",
            usage,
            "--region",
            "330300",
            "--component",
            ca.as_str(),
            "--component",
            cb.as_str(),
        ];
        if exportable {
            args.push("--exportable");
        }
        let out = ok_text(run(&first, &args));
        let id = out
            .lines()
            .find_map(|l| l.strip_prefix("approval: "))
            .unwrap()
            .to_string();
        ok(run(&second, &["approval", "approve", &id]));
        hex::encode(
            hex::decode(a)
                .unwrap()
                .iter()
                .zip(hex::decode(b).unwrap())
                .map(|(x, y)| x ^ y)
                .collect::<Vec<u8>>(),
        )
    };
    let kek = import(
        "transport-kek",
        "kek",
        "000102030405060708090a0b0c0d0e0f",
        "f0e0d0c0b0a090807060504030201000",
        false,
    );
    let master = import(
        "iauth",
        "card-iauth-master",
        "1234567890abcdef1234567890abcdef",
        "0fedcba0987654321fedcba098765432",
        true,
    );

    let line = fails(
        run(
            &first,
            &[
                "key",
                "export",
                "transport-kek",
                "--wrap-with",
                "transport-kek",
                "--out",
                &arg(&d, "x"),
            ],
        ),
        1,
    );
    assert!(line.contains("not_exportable"), "{line}");

    // The export waits for the approval of a second administrator.
    let export = |extra: &[&str], out: &str| {
        let mut args = vec![
            "key",
            "export",
            "iauth",
            "--out",
            out,
            "--addr",
            server.addr.as_str(),
            "--token",
            first.as_str(),
        ];
        args.extend_from_slice(extra);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sscard"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let id = line.trim().strip_prefix("approval: ").unwrap().to_string();
        assert!(fails(run(&first, &["approval", "approve", &id]), 1).contains("self_approval"));
        ok(run(&second, &["approval", "approve", &id]));
        let status = child.wait().unwrap();
        assert!(status.success());
        serde_json::from_slice::<Value>(&std::fs::read(out).unwrap()).unwrap()
    };

    let file = export(
        &["--wrap-with", "transport-kek"],
        &arg(&d, "iauth.kek.json"),
    );
    assert_eq!(file["wrapping"], "kek");
    let aad = format!(
        "{{\"format\":\"sscard-wrapped-key/1\",\"name\":\"iauth\",\"algorithm\":\"sm4\",\"usage\":\"card-iauth-master\",\"level\":\"city\",\"region\":\"330300\",\"version\":1,\"kcv\":\"{}\"}}",
        file["kcv"].as_str().unwrap()
    );
    let sealed = hex::decode(file["ciphertext"].as_str().unwrap()).unwrap();
    let opened = common::sscard_stdin(
        &[
            "gm",
            "sm4",
            "decrypt",
            "--mode",
            "gcm",
            "--key",
            &kek,
            "--iv",
            file["iv"].as_str().unwrap(),
            "--aad",
            &hex::encode(aad),
        ],
        &sealed,
    );
    assert_eq!(hex::encode(ok(opened)), master);
    assert_eq!(
        file["kcv"].as_str().unwrap(),
        ok_text(common::sscard(&["gm", "kcv", "--key", &master]))
    );

    // A second platform that received the same KEK by components imports
    // the file, under dual control; a file whose metadata was changed is refused.
    let d2 = d.join("second");
    let other = Server::dev(&d2, &[]);
    let (o1, o2) = (other.login("security"), other.login("security2"));
    let on_other = |token: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--addr", other.addr.as_str(), "--token", token]);
        common::sscard(&all)
    };
    let (ka, kb) = (
        "000102030405060708090a0b0c0d0e0f",
        "f0e0d0c0b0a090807060504030201000",
    );
    let kcv = |k: &str| ok_text(common::sscard(&["gm", "kcv", "--key", k]));
    let (ca, cb) = (format!("{ka}:{}", kcv(ka)), format!("{kb}:{}", kcv(kb)));
    let out = ok_text(on_other(
        &o1,
        &[
            "key",
            "import",
            "--name",
            "transport-kek",
            "--alg",
            "sm4",
            "--usage",
            "kek",
            "--region",
            "330300",
            "--component",
            &ca,
            "--component",
            &cb,
        ],
    ));
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("approval: "))
        .unwrap()
        .to_string();
    ok(on_other(&o2, &["approval", "approve", &id]));
    let mut altered = file.clone();
    altered["region"] = json!("330400");
    std::fs::write(d.join("altered.json"), altered.to_string()).unwrap();
    fails(
        on_other(
            &o1,
            &["key", "import-wrapped", "--file", &arg(&d, "altered.json")],
        ),
        2,
    );
    let out = ok_text(on_other(
        &o1,
        &[
            "key",
            "import-wrapped",
            "--file",
            &arg(&d, "iauth.kek.json"),
        ],
    ));
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("approval: "))
        .unwrap()
        .to_string();
    ok(on_other(&o2, &["approval", "approve", &id]));
    let shown = ok_text(on_other(&o1, &["key", "show", "iauth"]));
    assert!(
        shown.contains(&format!("version: 1 kcv={}", file["kcv"].as_str().unwrap())),
        "{shown}"
    );
    assert!(
        shown.contains("usage: card-iauth-master") && shown.contains("exportable: false"),
        "{shown}"
    );

    ok(common::sscard(&[
        "gm",
        "sm2",
        "keygen",
        "--out",
        &arg(&d, "hsm.key"),
        "--pub",
        &arg(&d, "hsm.pub"),
    ]));
    let file = export(
        &["--to-pub", &arg(&d, "hsm.pub")],
        &arg(&d, "iauth.sm2.json"),
    );
    assert_eq!(file["wrapping"], "sm2");
    std::fs::write(
        d.join("ct.der"),
        hex::decode(file["ciphertext"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    ok(common::sscard(&[
        "gm",
        "sm2",
        "decrypt",
        "--key",
        &arg(&d, "hsm.key"),
        "--in",
        &arg(&d, "ct.der"),
        "--out",
        &arg(&d, "pt"),
    ]));
    assert_eq!(hex::encode(std::fs::read(d.join("pt")).unwrap()), master);

    // An SM2 envelope to another platform's transport key pair (usage kek)
    // imports there under dual control, with the same check value.
    let d3 = d.join("third");
    let third = Server::dev(&d3, &[]);
    let (t1, t2) = (third.login("security"), third.login("security2"));
    let on_third = |token: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--addr", third.addr.as_str(), "--token", token]);
        common::sscard(&all)
    };
    let pending = |out: Vec<u8>| {
        String::from_utf8(out)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("approval: ").map(str::to_string))
            .unwrap()
    };
    ok(on_third(
        &t1,
        &[
            "key", "create", "--name", "intake", "--alg", "sm2", "--usage", "kek", "--region",
            "330300",
        ],
    ));
    ok(on_third(
        &t1,
        &["key", "public", "intake", "--out", &arg(&d, "intake.pub")],
    ));
    let file = export(
        &["--to-pub", &arg(&d, "intake.pub")],
        &arg(&d, "iauth.intake.json"),
    );
    let id = pending(ok(on_third(
        &t1,
        &[
            "key",
            "import-wrapped",
            "--file",
            &arg(&d, "iauth.intake.json"),
        ],
    )));
    ok(on_third(&t2, &["approval", "approve", &id]));
    let shown = ok_text(on_third(&t1, &["key", "show", "iauth"]));
    assert!(
        shown.contains(&format!("version: 1 kcv={}", file["kcv"].as_str().unwrap())),
        "{shown}"
    );
    // An envelope to a key this platform does not hold is refused.
    let line = fails(
        on_third(
            &t1,
            &[
                "key",
                "import-wrapped",
                "--file",
                &arg(&d, "iauth.sm2.json"),
            ],
        ),
        2,
    );
    assert!(line.contains("addressed to no SM2 key"), "{line}");

    // Creating an exportable key and changing a usage wait for approval.
    let id = pending(ok(on_third(
        &t1,
        &[
            "key",
            "create",
            "--name",
            "portable",
            "--alg",
            "sm4",
            "--usage",
            "encrypt",
            "--region",
            "330300",
            "--exportable",
        ],
    )));
    fails(on_third(&t1, &["key", "show", "portable"]), 2);
    ok(on_third(&t2, &["approval", "approve", &id]));
    let shown = ok_text(on_third(&t1, &["key", "show", "portable"]));
    assert!(shown.contains("exportable: true"), "{shown}");
    let line = fails(
        on_third(&t1, &["key", "set-usage", "portable", "audit-signing"]),
        2,
    );
    assert!(line.contains("cannot serve"), "{line}");
    let id = pending(ok(on_third(
        &t1,
        &["key", "set-usage", "portable", "data-master"],
    )));
    assert!(on_third(&t1, &["key", "show", "portable"])
        .stdout
        .windows(14)
        .any(|w| w == b"usage: encrypt"));
    assert!(fails(on_third(&t1, &["approval", "approve", &id]), 1).contains("self_approval"));
    ok(on_third(&t2, &["approval", "approve", &id]));
    let shown = ok_text(on_third(&t1, &["key", "show", "portable"]));
    assert!(shown.contains("usage: data-master"), "{shown}");
}

/// `sys rotate` adds a keyring term; `sys rewrap` reseals every stored secret
/// under it in batches, and running it again finds nothing left.
#[test]
fn keyring_rotation_and_rewrap_through_the_commands() {
    let d = scratch("rewrap");
    let server = Server::dev(&d, &[]);
    let token = server.login("security");
    let run = |args: &[&str], stdin: &[u8]| {
        let mut all = args.to_vec();
        all.extend(["--addr", server.addr.as_str(), "--token", token.as_str()]);
        common::sscard_stdin(&all, stdin)
    };
    ok(run(
        &[
            "key", "create", "--name", "records", "--alg", "sm4", "--usage", "encrypt", "--region",
            "330300",
        ],
        b"",
    ));
    let sealed = ok_text(run(&["key", "encrypt", "records"], b"kept"));
    assert_eq!(ok_text(run(&["sys", "rotate"], b"")), "term: 2");
    let out = ok_text(run(&["sys", "rewrap", "--batch", "2"], b""));
    let resealed: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("resealed: "))
        .unwrap()
        .parse()
        .unwrap();
    // The key version, the audit keys and the dev operators' passwords.
    assert!(resealed >= 7, "{out}");
    assert!(out.starts_with("term: 2"), "{out}");
    assert_eq!(
        ok_text(run(&["sys", "rewrap"], b"")),
        "term: 2\nresealed: 0"
    );
    assert_eq!(
        ok(run(&["key", "decrypt", "records"], sealed.as_bytes())),
        b"kept"
    );
    let auditor = server.login("audit");
    let log = ok_text(common::sscard(&[
        "audit",
        "list",
        "--addr",
        &server.addr,
        "--token",
        &auditor,
    ]));
    assert!(log.contains("sys.rewrap"), "{log}");
}
