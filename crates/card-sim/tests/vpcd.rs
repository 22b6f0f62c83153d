//! The vpcd bridge under malformed input: every frame but vpcd's controls
//! gets an answer, and frames cut short, or a driver that falls silent,
//! end the connection within bounded time, after which the chip is back.
//! First against a stand-in for the driver on a free loopback port, then
//! through the real PC/SC stack (pcscd with the vpcd driver) in the reader
//! `sscard vpcd 00 01` (port 35966), which no other test uses. With
//! SSCARD_REQUIRE_PCSCD set (as `.ci/run` sets it) a missing pcscd or
//! reader fails the test instead of leaving that half out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sscard_apdu::Chip;
use sscard_card::profile::{CardAlgorithm, SSSE_AID};
use sscard_card_sim::testing::{self, Masters};
use sscard_card_sim::vpcd::{self, Timing};
use sscard_card_sim::VirtualCard;

const TIMING: Timing = Timing {
    frame: Duration::from_millis(300),
    silence: Duration::from_millis(800),
    away: Duration::from_millis(100),
};

fn select_ssse() -> Vec<u8> {
    [&[0x00, 0xA4, 0x04, 0x00, 0x0F][..], &SSSE_AID, &[0x00]].concat()
}

fn blank_card() -> VirtualCard {
    VirtualCard::blank(CardAlgorithm::Sm4, "330300", Some([7; 8])).unwrap()
}

/// Serves `chip` in a thread until the flag is set.
fn serve(
    mut chip: impl Chip + Send + 'static,
    port: u16,
    timing: Timing,
    stop: &Arc<AtomicBool>,
) -> JoinHandle<()> {
    let stop = Arc::clone(stop);
    std::thread::spawn(move || {
        vpcd::serve_with(
            &mut chip,
            &format!("127.0.0.1:{port}"),
            &stop,
            timing,
            || {},
        )
        .unwrap();
    })
}

/// A stand-in for the vpcd driver: it listens, and speaks vpcd's framing.
struct Driver {
    listener: TcpListener,
}

impl Driver {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Self { listener }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// The chip's next connection.
    fn accept(&self) -> TcpStream {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_millis(50)))
                        .unwrap();
                    return stream;
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("the chip did not connect: {e}"),
            }
        }
    }
}

fn send(stream: &mut TcpStream, payload: &[u8]) {
    let len = u16::try_from(payload.len()).unwrap().to_be_bytes();
    stream.write_all(&[&len[..], payload].concat()).unwrap();
}

/// Reads for up to `wait`: `Some(message)`, or `None` if the chip closed.
fn receive(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let mut bytes = Vec::new();
    loop {
        if let [hi, lo, rest @ ..] = bytes.as_slice() {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            if rest.len() >= len {
                return Some(rest[..len].to_vec());
            }
        }
        assert!(Instant::now() < deadline, "no answer within {wait:?}");
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
}

fn exchange(stream: &mut TcpStream, payload: &[u8]) -> Vec<u8> {
    send(stream, payload);
    receive(stream, Duration::from_secs(2)).expect("an answer")
}

#[test]
fn every_frame_but_the_controls_gets_an_answer() {
    let driver = Driver::new();
    let stop = Arc::new(AtomicBool::new(false));
    let chip = blank_card();
    let atr = chip.atr();
    let thread = serve(chip, driver.port(), TIMING, &stop);
    let mut s = driver.accept();
    assert_eq!(exchange(&mut s, &[0x04]), atr);
    // Power on, off and reset have no answer: the next answer is the ATR's.
    for control in [0x01, 0x00, 0x02] {
        send(&mut s, &[control]);
        assert_eq!(exchange(&mut s, &[0x04]), atr);
    }
    let huge = vec![0u8; usize::from(u16::MAX)];
    for malformed in [
        &[][..],
        &[0x03],
        &[0x80],
        &[0xA4],
        &[0xFF],
        &[0x00, 0xA4],
        &[0x00, 0xA4, 0x04],
        &[0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73],
        &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x0F, 0x73],
        &huge,
    ] {
        assert_eq!(
            exchange(&mut s, malformed),
            [0x67, 0x00],
            "{} bytes",
            malformed.len()
        );
    }
    let fci = exchange(&mut s, &select_ssse());
    assert_eq!(fci[fci.len() - 2..], [0x90, 0x00]);
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
}

#[test]
fn cut_frames_and_silence_end_the_connection_and_the_chip_comes_back() {
    let driver = Driver::new();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = serve(blank_card(), driver.port(), TIMING, &stop);
    type Broken = (&'static str, &'static [u8], Duration);
    let cases: [Broken; 6] = [
        (
            "a length longer than what comes",
            &[0x00, 0x10, 0x00, 0xA4, 0x04],
            TIMING.frame,
        ),
        (
            "a huge length and nothing after it",
            &[0xFF, 0xFF],
            TIMING.frame,
        ),
        ("half a length", &[0x00], TIMING.frame),
        // A 1-byte APDU equal to a control: the driver waits for an answer.
        (
            "power off, then silence",
            &[0x00, 0x01, 0x00],
            TIMING.silence,
        ),
        ("reset, then silence", &[0x00, 0x01, 0x02], TIMING.silence),
        (
            "an answered ATR, then silence",
            &[0x00, 0x01, 0x04],
            TIMING.silence,
        ),
    ];
    for (what, bytes, wait) in cases {
        let mut s = driver.accept();
        let started = Instant::now();
        s.write_all(bytes).unwrap();
        let mut closed = receive(&mut s, wait + Duration::from_secs(2));
        if bytes == [0x00, 0x01, 0x04] {
            assert!(closed.is_some(), "{what}: no ATR");
            closed = receive(&mut s, wait + Duration::from_secs(2));
        }
        assert_eq!(closed, None, "{what}: still open");
        let took = started.elapsed();
        assert!(took >= wait, "{what}: closed after {took:?}");
        // The chip connects again and answers.
        let mut again = driver.accept();
        let fci = exchange(&mut again, &select_ssse());
        assert_eq!(fci[fci.len() - 2..], [0x90, 0x00], "{what}");
        drop(again);
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
}

/// The reader of this test, and its vpcd port.
const READER: &str = "sscard vpcd 00 01";
const PORT: u16 = 35966;

fn pcsc_context() -> pcsc::Context {
    pcsc::Context::establish(pcsc::Scope::User).unwrap()
}

/// Connects to the card in `READER` as a new client, once it is there: the
/// card with `atr`, answering (not one left over from an earlier run).
fn client(atr: &[u8]) -> (pcsc::Context, pcsc::Card) {
    let reader = CString::new(READER).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ctx = pcsc_context();
        let last = match ctx.connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(card) => {
                let ours = card.status2_owned().map(|s| s.atr() == atr);
                let answers = transmit(&card, &select_ssse()).map(|r| r.ends_with(&[0x90, 0x00]));
                if ours == Ok(true) && answers == Ok(true) {
                    return (ctx, card);
                }
                format!("{ours:?} {answers:?}")
            }
            Err(e) => e.to_string(),
        };
        assert!(Instant::now() < deadline, "{READER}: {last}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn transmit(card: &pcsc::Card, apdu: &[u8]) -> Result<Vec<u8>, pcsc::Error> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    card.transmit(apdu, &mut buf).map(<[u8]>::to_vec)
}

#[test]
fn malformed_apdus_through_pcscd_get_67_00_and_never_wedge_the_reader() {
    let present = pcsc::Context::establish(pcsc::Scope::User)
        .and_then(|ctx| ctx.list_readers_owned())
        .map(|readers| readers.iter().any(|r| r.to_string_lossy() == READER));
    if present != Ok(true) {
        assert!(
            std::env::var_os("SSCARD_REQUIRE_PCSCD").is_none(),
            "SSCARD_REQUIRE_PCSCD is set but pcscd has no reader {READER:?} ({present:?}); \
             .ci/run sets it up"
        );
        eprintln!("NOT RUN: pcscd with the reader {READER:?} is not running; .ci/run starts it");
        return;
    }
    let masters = Masters::new(CardAlgorithm::Sm4, 0x30).unwrap();
    let card = testing::personalized(&masters, "330300", "123456")
        .unwrap()
        .0;
    let atr = card.atr();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = serve(card, PORT, Timing::default(), &stop);
    let (_ctx, first) = client(&atr);
    for malformed in [
        &[0xA4][..],
        &[0x80],
        &[0x00, 0xA4],
        &[0x00, 0xA4, 0x04],
        &[0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78],
        &[0x00, 0xB2, 0x01, 0x2C, 0x00, 0x00, 0x05, 0x01],
    ] {
        assert_eq!(
            transmit(&first, malformed).unwrap(),
            [0x67, 0x00],
            "{malformed:02X?}"
        );
    }
    // Another client finds the reader free and the card answering.
    let (_ctx2, second) = client(&atr);
    let fci = transmit(&second, &select_ssse()).unwrap();
    assert_eq!(fci[fci.len() - 2..], [0x90, 0x00]);
    drop((first, second));
    // What vpcd cannot tell from a control (a 1-byte APDU 00, 01 or 02) or
    // does not send at all (an empty APDU) fails within the silence, and
    // the card is back for the next client.
    for ambiguous in [&[0x00][..], &[0x02], &[]] {
        let (_ctx, card) = client(&atr);
        let started = Instant::now();
        let outcome = transmit(&card, ambiguous);
        let took = started.elapsed();
        eprintln!("{ambiguous:02X?}: {outcome:?} after {took:?}");
        assert!(took < Duration::from_secs(10), "{ambiguous:02X?}: {took:?}");
        drop(card);
        let (_ctx, next) = client(&atr);
        let fci = transmit(&next, &select_ssse()).unwrap();
        assert_eq!(fci[fci.len() - 2..], [0x90, 0x00], "after {ambiguous:02X?}");
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
}
