//! Card issuance and the terminal's card flows through the commands, with a
//! real `sscard serve` as the KMS: personalization, PSAM issuance, reading a
//! card through a PSAM file, the derivation service (--hsm) and the real
//! PC/SC stack (pcscd with vpcd, opensc-tool), a card answering as T=0
//! cards do, PINs, other regions, forged cards, and a bulk run killed
//! halfway and resumed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::Server;
use common::{arg, fails, field, ok, ok_text, scratch};

/// A valid social security number (GB 11643 check character) from 17 digits.
fn ssn(first17: &str) -> String {
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(weights)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!(
        "{first17}{}",
        "10X98765432".chars().nth((sum % 11) as usize).unwrap()
    )
}

fn write_holder(dir: &Path, name: &str, region: &str) -> String {
    let path = dir.join(format!("{name}.json"));
    let holder = serde_json::json!({
        "ssn": ssn("33030219900307001"), "name": "张三", "sex": "1", "ethnicity": "01",
        "birth_date": "1990-03-07", "birth_place": "330302", "region": region,
    });
    std::fs::write(&path, holder.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

struct Kms {
    server: Server,
    token: String,
}

impl Kms {
    fn start(dir: &Path) -> Self {
        let server = Server::dev(dir, &[]);
        let token = server.login("security");
        Self { server, token }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.server.run_as(&self.token, args)
    }
}

#[test]
fn personalize_issue_and_read_through_a_psam_and_the_derivation_service() {
    let d = scratch("cards");
    let kms = Kms::start(&d);
    for region in ["330300", "440300"] {
        let out = ok_text(kms.run(&["key", "provision-region", "--region", region]));
        assert_eq!(
            out.lines().filter(|l| l.contains(" created kcv=")).count(),
            5,
            "{out}"
        );
    }
    let card = arg(&d, "card.json");
    let made = ok_text(kms.run(&[
        "card",
        "personalize",
        "--holder",
        &write_holder(&d, "holder", "330300"),
        "--out",
        &card,
    ]));
    let card_id = field(&made, "card_id");
    assert!(card_id.starts_with("330300D156000005"), "{made}");
    let psam = arg(&d, "psam.json");
    ok(kms.run(&[
        "card",
        "issue-psam",
        "--region",
        "330300",
        "--terminal-no",
        "000000000042",
        "--out",
        &psam,
    ]));
    let read = ok_text(common::sscard(&[
        "terminal", "read", "--card", &card, "--psam", &psam,
    ]));
    assert_eq!(field(&read, "ssn"), ssn("33030219900307001"));
    assert_eq!(field(&read, "name"), "张三");
    assert_eq!(field(&read, "card_id"), card_id);
    assert_eq!(field(&read, "terminal_no"), "000000000042");
    // HSM mode: the platform's derivation service authenticates the card.
    let read = ok_text(kms.run(&["terminal", "read", "--card", &card, "--hsm"]));
    assert_eq!(field(&read, "card_id"), card_id);

    // A card of another region fails at this terminal's PSAM.
    let other = arg(&d, "other.json");
    let mut holder2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(write_holder(&d, "h2", "440300")).unwrap())
            .unwrap();
    holder2["ssn"] = serde_json::json!(ssn("44030319850101002"));
    holder2["birth_date"] = serde_json::json!("19850101");
    std::fs::write(d.join("h2.json"), holder2.to_string()).unwrap();
    ok(kms.run(&[
        "card",
        "personalize",
        "--holder",
        &arg(&d, "h2.json"),
        "--out",
        &other,
    ]));
    let line = fails(
        common::sscard(&["terminal", "read", "--card", &other, "--psam", &psam]),
        1,
    );
    assert!(line.contains("psam_key_insufficient"), "{line}");
    // A forged card: the same data under keys of its own.
    let mut forged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&card).unwrap()).unwrap();
    forged["keys"]["1"]["key"] = serde_json::json!("00112233445566778899AABBCCDDEEFF");
    std::fs::write(d.join("forged.json"), forged.to_string()).unwrap();
    let line = fails(
        common::sscard(&[
            "terminal",
            "read",
            "--card",
            &arg(&d, "forged.json"),
            "--psam",
            &psam,
        ]),
        1,
    );
    assert!(line.contains("not_genuine"), "{line}");

    // PIN: three wrong tries block it; only the unblock flow frees it.
    let pin = |action: &str, pin: &str| {
        common::sscard(&[
            "terminal", "pin", action, "--card", &card, "--psam", &psam, "--pin", pin,
        ])
    };
    ok(pin("verify", "123456"));
    for left in ["2", "1"] {
        let out = pin("verify", "000000");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            field(&String::from_utf8(out.stdout).unwrap(), "tries_left"),
            left
        );
    }
    let line = fails(pin("verify", "000000"), 1);
    assert!(line.contains("pin_blocked"), "{line}");
    fails(pin("verify", "123456"), 1);
    ok(pin("unblock", "654321"));
    ok(pin("verify", "654321"));
    // The same holder cannot get a second card.
    let line = fails(
        kms.run(&[
            "card",
            "personalize",
            "--holder",
            &arg(&d, "holder.json"),
            "--out",
            &arg(&d, "twice.json"),
        ]),
        1,
    );
    assert!(line.contains("already has the issued card"), "{line}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn through_pcscd_opensc_and_the_terminal_read_the_card() {
    let has_vpcd = Command::new("opensc-tool")
        .arg("-l")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("Virtual PCD"))
        .unwrap_or(false);
    if !has_vpcd {
        assert!(
            std::env::var_os("SSCARD_REQUIRE_PCSCD").is_none(),
            "SSCARD_REQUIRE_PCSCD is set but pcscd with vpcd (or opensc-tool) is missing"
        );
        eprintln!("NOT RUN: pcscd with the vpcd driver is not running; .ci/run starts it");
        return;
    }
    let d = scratch("pcscd");
    let kms = Kms::start(&d);
    ok(kms.run(&["key", "provision-region", "--region", "330300"]));
    let (card, psam) = (arg(&d, "card.json"), arg(&d, "psam.json"));
    let made = ok_text(kms.run(&[
        "card",
        "personalize",
        "--holder",
        &write_holder(&d, "holder", "330300"),
        "--out",
        &card,
    ]));
    ok(kms.run(&[
        "card",
        "issue-psam",
        "--region",
        "330300",
        "--terminal-no",
        "000000000042",
        "--out",
        &psam,
    ]));
    let _bridge = Killed(
        Command::new(env!("CARGO_BIN_EXE_sscard"))
            .args(["card", "serve-vpcd", "--card", &card, "--psam", &psam])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let select = loop {
        let out = Command::new("opensc-tool")
            .args(["-r", "0", "-s", "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("SW1=0x90, SW2=0x00") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(select.contains("SW1=0x90, SW2=0x00"), "{select}");
    let readers = [
        "--reader",
        "Virtual PCD 00 00",
        "--psam-reader",
        "Virtual PCD 00 01",
    ];
    let read = ok_text(common::sscard(
        &[&["terminal", "read"][..], &readers].concat(),
    ));
    assert_eq!(field(&read, "name"), "张三");
    assert_eq!(
        field(&read, "card_id"),
        field(&made, "card_id"),
        "this test's card is in the reader"
    );
    let pin = |action: &str, pin: &str| {
        common::sscard(&[&["terminal", "pin", action][..], &readers, &["--pin", pin]].concat())
    };
    for _ in 0..2 {
        assert_eq!(pin("verify", "111111").status.code(), Some(1));
    }
    assert!(fails(pin("verify", "111111"), 1).contains("pin_blocked"));
    ok(pin("unblock", "202020"));
    ok(pin("verify", "202020"));
}

/// The reader of the T=0 test and its vpcd port: the first of the
/// `sscard vpcd` readers that `.ci/run` sets up, used by no other test.
const T0_READER: &str = "sscard vpcd 00 00";
const T0_PORT: &str = "35965";

/// Connects to `T0_READER` once the card with `atr` is there and answers
/// SELECT SSSE with `sw1` (a card left over from before may still show).
fn t0_reader_client(atr: &[u8], sw1: u8) -> (pcsc::Context, pcsc::Card) {
    let reader = std::ffi::CString::new(T0_READER).unwrap();
    let select = hex::decode("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
        let seen = match ctx.connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(card) => {
                let ours = card.status2_owned().map(|s| s.atr() == atr);
                let mut buf = [0u8; 300];
                let answer = card.transmit(&select, &mut buf).map(<[u8]>::to_vec);
                match (&ours, &answer) {
                    (Ok(true), Ok(a)) if a.len() >= 2 && a[a.len() - 2] == sw1 => {
                        return (ctx, card)
                    }
                    _ => format!("{ours:?} {answer:02X?}"),
                }
            }
            Err(e) => e.to_string(),
        };
        assert!(Instant::now() < deadline, "{T0_READER}: {seen}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until pcscd sees no card in `T0_READER`.
fn t0_reader_empty() {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let reader = std::ffi::CString::new(T0_READER).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut states = [pcsc::ReaderState::new(reader, pcsc::State::UNAWARE)];
    loop {
        ctx.get_status_change(Duration::from_millis(500), &mut states)
            .or_else(|e| match e {
                pcsc::Error::Timeout => Ok(()),
                e => Err(e),
            })
            .unwrap();
        if states[0].event_state().contains(pcsc::State::EMPTY) {
            return;
        }
        assert!(Instant::now() < deadline, "{T0_READER} stays full");
        states[0].sync_current_state();
    }
}

#[test]
fn a_t0_card_reads_through_pcscd_as_the_same_card_does_without_it() {
    let present = pcsc::Context::establish(pcsc::Scope::User)
        .and_then(|ctx| ctx.list_readers_owned())
        .map(|readers| readers.iter().any(|r| r.to_string_lossy() == T0_READER));
    if present != Ok(true) {
        assert!(
            std::env::var_os("SSCARD_REQUIRE_PCSCD").is_none(),
            "SSCARD_REQUIRE_PCSCD is set but pcscd has no reader {T0_READER:?} ({present:?}); \
             .ci/run sets it up"
        );
        eprintln!("NOT RUN: pcscd with the reader {T0_READER:?} is not running; .ci/run starts it");
        return;
    }
    let d = scratch("t0");
    let kms = Kms::start(&d);
    ok(kms.run(&["key", "provision-region", "--region", "330300"]));
    let (card, psam) = (arg(&d, "card.json"), arg(&d, "psam.json"));
    let made = ok_text(kms.run(&[
        "card",
        "personalize",
        "--holder",
        &write_holder(&d, "holder", "330300"),
        "--out",
        &card,
    ]));
    ok(kms.run(&[
        "card",
        "issue-psam",
        "--region",
        "330300",
        "--terminal-no",
        "000000000042",
        "--out",
        &psam,
    ]));
    let image: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&card).unwrap()).unwrap();
    let factor = hex::decode(image["card_factor"].as_str().unwrap()).unwrap();
    let atr = sscard_card::profile::atr(&factor.try_into().unwrap(), 3);
    let read = || common::sscard(&["terminal", "read", "--reader", T0_READER, "--psam", &psam]);
    let mut outputs = Vec::new();
    // The card as it is; as T=0 cards answer, the data in one GET RESPONSE
    // and in chunks of 16 bytes.
    for (manner, sw1) in [
        (&[][..], 0x90),
        (&["--t0"][..], 0x61),
        (&["--t0", "--t0-chunk", "16"][..], 0x61),
    ] {
        let bridge = Killed(
            Command::new(env!("CARGO_BIN_EXE_sscard"))
                .args(["card", "serve-vpcd", "--card", &card, "--port", T0_PORT])
                .args(manner)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // This card, answering in this manner, is in the reader.
        let (ctx, client) = t0_reader_client(&atr, sw1);
        drop((client, ctx));
        let out = read();
        assert!(
            out.status.success(),
            "{manner:?}: exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            field(&text, "card_id"),
            field(&made, "card_id"),
            "{manner:?}"
        );
        outputs.push(text);
        drop(bridge);
        // Out of the reader before the next one goes in: pcscd keeps a
        // stale state for a card replaced between two of its polls.
        t0_reader_empty();
    }
    assert_eq!(outputs[0], outputs[1], "T=0 reads the same");
    assert_eq!(outputs[0], outputs[2], "T=0 in chunks reads the same");
    assert_eq!(field(&outputs[0], "name"), "张三");
}

#[test]
fn bulk_personalization_killed_halfway_resumes_without_duplicates() {
    const N: usize = 120;
    let d = scratch("bulk");
    let kms = Kms::start(&d);
    ok(kms.run(&["key", "provision-region", "--region", "330300"]));
    let mut csv = String::from("ssn,name,sex,ethnicity,birth_date,birth_place,region\n");
    for i in 0..N {
        let first17 = format!("330302199003{:02}{:03}", 1 + i % 28, i);
        let birth = format!("199003{:02}", 1 + i % 28);
        csv.push_str(&format!(
            "{},持卡人{i},1,01,{birth},330302,330300\n",
            ssn(&first17)
        ));
    }
    std::fs::write(d.join("holders.csv"), csv).unwrap();
    let out_dir = d.join("cards");
    let bulk = |kms: &Kms| {
        Command::new(env!("CARGO_BIN_EXE_sscard"))
            .args([
                "card",
                "personalize",
                "--csv",
                &arg(&d, "holders.csv"),
                "--out-dir",
            ])
            .arg(&out_dir)
            .args([
                "--addr",
                kms.server.addr.as_str(),
                "--token",
                kms.token.as_str(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let count = || {
        std::fs::read_dir(&out_dir)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "json")
                })
                .count()
            })
            .unwrap_or(0)
    };
    let mut first = bulk(&kms);
    let deadline = Instant::now() + Duration::from_secs(300);
    while count() < N / 2 {
        assert!(Instant::now() < deadline, "the bulk run is too slow");
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let halfway = count();
    assert!(halfway < N, "killed before the end ({halfway})");
    let second = bulk(&kms).wait_with_output().unwrap();
    assert!(second.status.success());
    let summary = String::from_utf8(second.stdout).unwrap();
    assert_eq!(count(), N);
    let resumed: usize = field(&summary, "resumed").parse().unwrap();
    let made: usize = field(&summary, "cards").parse().unwrap();
    assert_eq!(resumed + made, N, "{summary}");
    assert!(resumed >= halfway, "{summary}");
    // One card per holder in the KMS's audit log: no duplicates.
    let auditor = kms.server.login("audit");
    let export = arg(&d, "audit.jsonl");
    ok(common::sscard(&[
        "audit",
        "export",
        "--out",
        &export,
        "--addr",
        &kms.server.addr,
        "--token",
        &auditor,
    ]));
    let log = std::fs::read_to_string(&export).unwrap();
    let prepared: std::collections::BTreeSet<String> = log
        .lines()
        .filter(|l| l.contains("\"card.prepare\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["target"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(prepared.len(), N, "one card per holder");
    let issued = log
        .lines()
        .filter(|l| l.contains("\"card.issued\""))
        .count();
    assert_eq!(issued, N);
    let _ = ok_text;
}
