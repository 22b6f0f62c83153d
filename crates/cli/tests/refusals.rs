//! Refusals over HTTP against a real `sscard serve`: what unauthenticated
//! callers cost the audit log, how long a login takes whether its name
//! exists or not, and how bodies and query strings that cannot be read are
//! answered.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::scratch;
use common::server::{call, call_raw, Server};
use serde_json::{json, Value};

/// Every record of the audit log.
fn audit_records(server: &Server) -> Vec<Value> {
    let audit = server.login("audit");
    let (status, page) = call(
        &server.addr,
        "GET",
        "/v1/audit?limit=1000",
        Some(&audit),
        None,
    );
    assert_eq!(status, 200, "{page}");
    page["records"].as_array().unwrap().clone()
}

/// 360 refusals of five kinds from one address (one kind on a different
/// route each time) grow the log by one record
/// a kind, not 300; the repeats are written with their count when the
/// server stops (or the minute ends).
#[test]
fn a_flood_of_unauthenticated_refusals_grows_the_log_by_a_bounded_amount() {
    let d = scratch("flood");
    let mut server = Server::dev(&d, &[]);
    let before = audit_records(&server).len();
    const EACH: usize = 60;
    for i in 0..EACH {
        let (status, _) = call(
            &server.addr,
            "GET",
            "/v1/operators",
            Some(&format!("sst_random{i:04}")),
            None,
        );
        assert_eq!(status, 401);
        let (status, _) = call(&server.addr, "GET", "/v1/operators", None, None);
        assert_eq!(status, 401);
        // Another path each time is the same kind of refusal.
        let (status, _) = call(
            &server.addr,
            "POST",
            &format!("/v1/keys/flood{i}/encrypt"),
            None,
            Some(json!({})),
        );
        assert_eq!(status, 401);
        let (status, _) = call(
            &server.addr,
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"user": format!("nobody{i}"), "password": "x"})),
        );
        assert_eq!(status, 401);
        let (status, _) = call_raw(
            &server.addr,
            "POST",
            "/v1/auth/login",
            None,
            Some("{".into()),
        );
        assert_eq!(status, 400);
        let (status, _) = call(
            &server.addr,
            "POST",
            &format!("/v1/terminals/{:012}/challenge", 990_000 + i),
            None,
            None,
        );
        assert_eq!(status, 403);
    }
    let records = audit_records(&server);
    // The auditor's own logins add one record each time.
    let grown = records.len() - before;
    assert!(grown <= 5 + 2, "{grown} records for {} refusals", 6 * EACH);
    let events_token = server.login("security");
    let (_, events) = call(
        &server.addr,
        "GET",
        "/v1/events?limit=1000",
        Some(&events_token),
        None,
    );
    let events = events.as_array().unwrap().len();
    assert!(events <= 1, "{events} events for {EACH} refused challenges");

    // Stopped by a signal, the server writes the counts it holds.
    server.stop();
    let server = Server::dev(&d, &[]);
    let records = audit_records(&server);
    for (action, reason, times) in [
        ("auth.token", "unknown token", EACH),
        ("request.refused", "unauthenticated", 2 * EACH),
        ("auth.login", "no such account", EACH),
        ("request.refused", "malformed_json", EACH),
        ("terminal.signin", "unregistered terminal", EACH),
    ] {
        let of_kind: Vec<_> = records
            .iter()
            .filter(|r| r["action"] == action && r["details"]["reason"] == reason)
            .collect();
        let repeated: u64 = of_kind
            .iter()
            .filter_map(|r| r["details"]["repeated"].as_str())
            .map(|n| n.parse::<u64>().unwrap())
            .sum();
        assert_eq!(
            of_kind.len(),
            2,
            "{action} {reason}: the first, then the count"
        );
        assert_eq!(repeated, times as u64 - 1, "{action} {reason}");
        assert!(of_kind
            .iter()
            .all(|r| r["details"]["source"] == "127.0.0.1"));
    }
}

/// A login for a name that is no account takes as long as one for an
/// account with a wrong password (one password derivation each): the
/// answer's time does not tell which names exist.
#[test]
fn a_login_takes_as_long_for_an_unknown_name_as_for_an_account() {
    let d = scratch("timing");
    let server = Server::dev(&d, &[]);
    let time = |user: &str| {
        let started = Instant::now();
        let (status, _) = call(
            &server.addr,
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"user": user, "password": "not the password"})),
        );
        assert_eq!(status, 401);
        started.elapsed()
    };
    // Warm up (the first unknown name makes the stand-in hash once).
    time("nobody-warm");
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    // Four wrong passwords stay under the lock of five.
    for i in 0..4 {
        known.push(time("auditor"));
        unknown.push(time(&format!("nobody{i}")));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    let ratio = u.as_secs_f64() / k.as_secs_f64();
    assert!(
        (0.6..=1.6).contains(&ratio),
        "unknown name {u:?}, account {k:?}: the time tells them apart"
    );
    assert!(
        u > Duration::from_millis(20),
        "{u:?}: no derivation was spent"
    );
}

/// Sends a POST of a JSON body of `length` bytes (from a second thread, as
/// the server reads it) and reads the answer, which a server that stops
/// reading at its limit gives before the body is all sent.
fn raw_post_of_length(addr: &str, path: &str, token: &str, length: usize) -> (u16, Value) {
    use std::io::{Read, Write};
    let host = addr.strip_prefix("http://").unwrap().to_string();
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let mut body = vec![b' '; length];
        body[0] = b'{';
        body[length - 1] = b'}';
        for chunk in body.chunks(64 * 1024) {
            if writer.write_all(chunk).is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                if let Some((_, body)) = text.split_once("\r\n\r\n") {
                    if body.trim_end().ends_with('}') {
                        break;
                    }
                }
            }
        }
    }
    drop(stream);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map_or(body.len(), |e| e + 1);
    (
        status,
        serde_json::from_str(&body[start..end]).unwrap_or(Value::Null),
    )
}

/// A body over the limit is 413 `too_large`; a query string that does not
/// parse is 400 `malformed_query` in the JSON error body; both are audited.
#[test]
fn oversized_bodies_and_bad_query_strings_get_json_errors() {
    let d = scratch("limits");
    let server = Server::dev(&d, &[]);
    let security = server.login("security");
    let (status, body) = raw_post_of_length(
        &server.addr,
        "/v1/keys/none/encrypt",
        &security,
        2 * 1024 * 1024 + 4096,
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );
    let audit = server.login("audit");
    let (status, body) = call(
        &server.addr,
        "GET",
        "/v1/audit?limit=many",
        Some(&audit),
        None,
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed_query")),
        "{body}"
    );
    assert!(!body["message"].as_str().unwrap().is_empty());
    let records = audit_records(&server);
    for (caller, reason) in [("secadmin", "too_large"), ("auditor", "malformed_query")] {
        assert!(
            records.iter().any(|r| r["action"] == "request.refused"
                && r["actor"] == caller
                && r["details"]["reason"] == reason),
            "{reason}"
        );
    }
    // A sealed server says so (423) to a request without a token.
    let (status, _) = call(
        &server.addr,
        "POST",
        "/v1/sys/seal",
        Some(&security),
        Some(json!({})),
    );
    assert_eq!(status, 200);
    let (status, body) = call(&server.addr, "GET", "/v1/operators", None, None);
    assert_eq!(
        (status, body["code"].as_str()),
        (423, Some("sealed")),
        "{body}"
    );
}

/// Input refused before its operation is checked against the caller's role
/// first, and audited under the operation's action; free text of a
/// terminal is bounded and holds no control character.
#[test]
fn input_refused_before_its_operation_is_audited_after_the_role_check() {
    let d = scratch("input-refusals");
    let server = Server::dev(&d, &[]);
    let (audit, security, system) = (
        server.login("audit"),
        server.login("security"),
        server.login("system"),
    );
    let body = json!({"plaintext": "not hex"});
    // The auditor has no role for it: forbidden, whatever the body.
    let (status, answer) = call(
        &server.addr,
        "POST",
        "/v1/keys/any/encrypt",
        Some(&audit),
        Some(body.clone()),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("forbidden_role")),
        "{answer}"
    );
    // The security administrator learns what is wrong with the input.
    let (status, answer) = call(
        &server.addr,
        "POST",
        "/v1/keys/any/encrypt",
        Some(&security),
        Some(body),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid")),
        "{answer}"
    );
    let records = audit_records(&server);
    assert!(records.iter().any(|r| r["action"] == "key.encrypt"
        && r["actor"] == "secadmin"
        && r["outcome"] == "refused"
        && r["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("plaintext must be hex")));
    // A terminal's institution of a million characters, or with an escape
    // sequence, is refused (and audited); nothing of it is stored.
    for institution in ["x".repeat(1_000_000), "Clinic\u{1b}[2J".to_string()] {
        let (status, answer) = call(
            &server.addr,
            "POST",
            "/v1/terminals",
            Some(&system),
            Some(json!({"terminal_no": "330300000099", "serial": "S", "institution": institution})),
        );
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("invalid")),
            "{answer}"
        );
        assert!(answer["message"].as_str().unwrap().len() < 300);
    }
    let records = audit_records(&server);
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r["action"] == "terminal.register" && r["outcome"] == "refused")
        .collect();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|r| r.to_string().len() < 2_000));
    let (_, listed) = call(&server.addr, "GET", "/v1/terminals", Some(&system), None);
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
}

/// A route asked with a method it does not take answers 405 in the JSON
/// of every error; the client does not send a token over plain HTTP to a
/// host that is not this machine; and `--json` keeps strings of digits
/// (a region code, a version) as they are printed.
#[test]
fn methods_plain_http_and_json_strings() {
    let d = scratch("methods");
    let server = Server::dev(&d, &[]);
    let security = server.login("security");
    let (status, body) = call(
        &server.addr,
        "GET",
        "/v1/keys/none/encrypt",
        Some(&security),
        None,
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{body}"
    );
    let (status, body) = call(&server.addr, "GET", "/v1/no/such/route", None, None);
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );

    for addr in [
        "http://192.0.2.1:8200",
        "http://sscard.example:8200",
        "http://[2001:db8::1]:8200",
        "http://127.0.0.1.example:8200",
    ] {
        let out = common::sscard(&["key", "list", "--addr", addr, "--token", &security]);
        let err = common::fails(out, 2);
        assert!(err.contains("not sent in clear"), "{addr}: {err}");
    }
    // Loopback in each spelling is this machine: the request is made.
    let port = server.addr.rsplit(':').next().unwrap();
    for addr in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let out = common::sscard(&["key", "list", "--addr", &addr, "--token", &security]);
        assert!(out.status.success(), "{addr}: {out:?}");
    }

    // A version printed as `version: 1` stays the string "1" in JSON, as a
    // card number of digits stays text.
    let card = "330300D1560000050000000000000001";
    let out = server.run_as(
        &security,
        &[
            "blacklist",
            "add",
            "--card",
            card,
            "--reason",
            "lost",
            "--json",
        ],
    );
    let added: Value = serde_json::from_slice(&common::ok(out)).unwrap();
    assert_eq!(
        added["card"],
        json!(format!("{card} reason=lost")),
        "{added}"
    );
    let out = server.run_as(&security, &["blacklist", "publish", "--json"]);
    let published: Value = serde_json::from_slice(&common::ok(out)).unwrap();
    assert_eq!(published, json!({"version": "1"}));
}

/// Arguments of any text reach the server and are refused there with exit
/// 2 (not a client failure, exit 3); a token pasted with a line ending
/// works, one with other characters is refused before it is sent; a body
/// field the route does not know is refused; a route
/// that does not exist, asked with a valid token, is recorded under the
/// caller; a batch names its bad item whatever refused it.
#[test]
fn odd_arguments_tokens_and_batch_items() {
    let d = scratch("odd-arguments");
    let server = Server::dev(&d, &[]);
    let security = server.login("security");
    for name in ["a b", "\u{1b}[2J", "名字", "a\"<>{}|^`#"] {
        let out = server.run_as(&security, &["key", "show", name]);
        let line = common::fails(out, 2);
        assert!(!line.contains("cannot reach"), "{name:?}: {line}");
    }
    let out = server.run_as(&security, &["approval", "status", "\u{1b}[2J"]);
    assert!(matches!(out.status.code(), Some(1) | Some(2)), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cannot reach"));

    let out = server.run_as(&format!("{security}\r\n"), &["key", "list"]);
    assert!(out.status.success(), "{out:?}");
    let out = server.run_as(&format!("{security}\u{7}x"), &["key", "list"]);
    let line = common::fails(out, 2);
    assert!(line.contains("token"), "{line}");

    let (status, _) = call(
        &server.addr,
        "GET",
        "/v1/no-such-route",
        Some(&security),
        None,
    );
    assert_eq!(status, 404);
    let records = audit_records(&server);
    assert!(
        records.iter().any(|r| r["action"] == "request.refused"
            && r["actor"] == "secadmin"
            && r["target"] == "GET (no route)"),
        "{:?}",
        records.iter().rev().take(5).collect::<Vec<_>>()
    );

    let (status, _) = call(
        &server.addr,
        "POST",
        "/v1/keys",
        Some(&security),
        Some(json!({"name": "rows", "algorithm": "sm4", "usage": "encrypt"})),
    );
    assert_eq!(status, 201);
    // A field the route does not know is refused, named, not ignored.
    let (status, body) = call(
        &server.addr,
        "POST",
        "/v1/keys",
        Some(&security),
        Some(json!({"name": "rows2", "algorithm": "sm4", "usage": "encrypt", "exportible": true})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed_json")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("exportible"),
        "{body}"
    );
    let (status, sealed) = call(
        &server.addr,
        "POST",
        "/v1/keys/rows/encrypt-batch",
        Some(&security),
        Some(json!({"items": ["00", "01"]})),
    );
    assert_eq!(status, 200, "{sealed}");
    let good = sealed["items"][0].as_str().unwrap().to_string();
    // One character in the middle of the ciphertext changed.
    let mut tampered: Vec<char> = sealed["items"][1].as_str().unwrap().chars().collect();
    let middle = tampered.len() - 12;
    // ('0' and '1' differ as hex digits of either case and in base64.)
    tampered[middle] = if tampered[middle] == '0' { '1' } else { '0' };
    let tampered: String = tampered.into_iter().collect();
    for (op, bad) in [
        ("decrypt", "junk".to_string()),
        ("decrypt", tampered.clone()),
        ("rewrap", "junk".to_string()),
        ("encrypt", "zz".to_string()),
    ] {
        let first = if op == "encrypt" {
            "00".to_string()
        } else {
            good.clone()
        };
        let (status, body) = call(
            &server.addr,
            "POST",
            &format!("/v1/keys/rows/{op}-batch"),
            Some(&security),
            Some(json!({"items": [first, bad]})),
        );
        assert!((400..500).contains(&status), "{op}: {status} {body}");
        assert!(
            body["message"].as_str().unwrap().starts_with("item 2: "),
            "{op}: {body}"
        );
    }
}

/// A TLS certificate or key that cannot serve is refused (exit 2) before
/// the server says it listens.
#[test]
fn serve_checks_its_tls_files_before_it_listens() {
    let d = scratch("tls-files");
    let junk = d.join("junk.pem");
    std::fs::write(&junk, "not a pem file\n").unwrap();
    let junk = junk.to_str().unwrap();
    let data = d.join("data");
    let out = common::sscard(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        junk,
        "--tls-key",
        junk,
    ]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "{out:?}"
    );
    let line = common::fails(out, 2);
    assert!(line.contains("--tls-cert"), "{line}");
}
