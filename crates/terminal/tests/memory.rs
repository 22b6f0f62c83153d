//! The peak memory of opening a card whose SELECT answer is hostile BER-TLV:
//! deep nesting, many siblings, lengths claiming more than is there, 4-byte
//! lengths; each as it is, and held back by a T=0 card for GET RESPONSE to
//! fetch. A counting allocator measures the heap of this test binary, so
//! the measurements run one after another in a single test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use peak_alloc::PeakAlloc;
use sscard_apdu::tlv::Tlv;
use sscard_apdu::Chip;
use sscard_apdu::{Command, Response};
use sscard_card::profile::{ins, CardAlgorithm};
use sscard_card_sim::t0::T0;
use sscard_card_sim::testing::{self, Masters};
use sscard_card_sim::VirtualCard;
use sscard_terminal::{CardSession, Local, NoCheck, Psam};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The largest answer a response APDU carries.
const MAX: usize = 65_536;

/// A genuine card whose SELECT answer is replaced by `fci`.
struct HostileSelect {
    card: VirtualCard,
    fci: Vec<u8>,
}

impl Chip for HostileSelect {
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }
    fn reset(&mut self) {
        self.card.reset();
    }
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let answer = self.card.transmit(apdu);
        match Command::parse(apdu) {
            Ok(c) if c.ins == ins::SELECT => Response::ok(self.fci.clone()).encode(),
            _ => answer,
        }
    }
}

/// A `6F` header for a value of `len` bytes, its length in `len_bytes`
/// bytes (1: the shortest form).
fn header(len: usize, len_bytes: usize) -> Vec<u8> {
    match (len_bytes, len) {
        (1, 0..=0x7F) => vec![0x6F, len as u8],
        (1, 0x80..=0xFF) => vec![0x6F, 0x81, len as u8],
        (1, _) => [&[0x6F, 0x82][..], &(len as u16).to_be_bytes()].concat(),
        (n, _) => [
            &[0x6F, 0x80 | n as u8][..],
            &(len as u32).to_be_bytes()[4 - n..],
        ]
        .concat(),
    }
}

/// Constructed `6F`s around `inner`, nested as deep as fits in `MAX` bytes.
fn nested_around(inner: Vec<u8>, len_bytes: usize) -> Vec<u8> {
    let mut len = inner.len();
    let mut headers = Vec::new();
    loop {
        let h = header(len, len_bytes);
        if len + h.len() > MAX {
            break;
        }
        len += h.len();
        headers.push(h);
    }
    headers.reverse();
    [headers.concat(), inner].concat()
}

fn nested(len_bytes: usize) -> Vec<u8> {
    nested_around(vec![0x80, 0x03, 0xAA, 0xAA, 0xAA], len_bytes)
}

/// `6F` holding as many empty siblings as fit.
fn siblings(tag: u8) -> Vec<u8> {
    let inner: Vec<u8> = std::iter::repeat_n([tag, 0x00], (MAX - 5) / 2)
        .flatten()
        .collect();
    Tlv::new(0x6F, inner).encode()
}

/// Empty siblings as many as fit, inside the deepest nesting allowed.
fn siblings_at_the_deepest_level() -> Vec<u8> {
    let levels = 15;
    let count = (MAX - 4 * levels) / 2;
    let inner: Vec<u8> = std::iter::repeat_n([0xA0, 0x00], count).flatten().collect();
    (0..levels).fold(inner, |bytes, _| Tlv::new(0xA0, bytes).encode())
}

/// Deep nesting whose innermost value claims 2 GiB.
fn nested_claiming_more() -> Vec<u8> {
    nested_around(vec![0x80, 0x84, 0x7F, 0xFF, 0xFF, 0xFF], 2)
}

fn worst_inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("deep nesting, shortest lengths", nested(1)),
        ("deep nesting, 2-byte lengths", nested(2)),
        ("deep nesting, 4-byte lengths", nested(4)),
        ("many primitive siblings", siblings(0x80)),
        ("many constructed siblings", siblings(0xA0)),
        (
            "siblings at the deepest level",
            siblings_at_the_deepest_level(),
        ),
        ("deep nesting claiming more", nested_claiming_more()),
        (
            "a length of 4 GiB",
            [&[0x6F, 0x84, 0xFF, 0xFF, 0xFF, 0xFF][..], &[0xA5; MAX - 6]].concat(),
        ),
        (
            "nested 4-byte lengths claiming more",
            std::iter::repeat_n([0x6F, 0x84, 0x00, 0x00, 0xFF, 0xF0], MAX / 6)
                .flatten()
                .collect(),
        ),
    ]
}

#[test]
fn hostile_select_answers_stay_within_a_few_megabytes() {
    let masters = Masters::new(CardAlgorithm::Sm4, 0x30).unwrap();
    let card = testing::personalized(&masters, "330300", "123456")
        .unwrap()
        .0;
    let psam = testing::issued_psam(&masters, "330300", "000000000042").unwrap();
    let mut worst = 0usize;
    for (name, fci) in worst_inputs() {
        assert!(fci.len() <= MAX, "{name}: {} bytes", fci.len());
        // As it is; through GET RESPONSE in chunks of 256 bytes; and of 1
        // byte, more rounds than the terminal follows.
        for t0 in [None, Some(256), Some(1)] {
            let hostile = HostileSelect {
                card: VirtualCard::from_image(card.image().clone(), None),
                fci: fci.clone(),
            };
            let chip: Box<dyn Chip> = match t0 {
                None => Box::new(hostile),
                Some(chunk) => Box::new(T0::new(hostile, chunk)),
            };
            let module = Psam::new(
                Local(sscard_card_sim::VirtualPsam::from_image(
                    psam.image().clone(),
                    None,
                )),
                None,
            );
            let before = HEAP.current_usage();
            HEAP.reset_peak_usage();
            let outcome = CardSession::open(Local(chip), module, &NoCheck).map(|_| ());
            let peak = HEAP.peak_usage().saturating_sub(before);
            eprintln!(
                "{name} (T=0: {t0:?}): peak {} KiB, {outcome:?}",
                peak / 1024
            );
            assert!(outcome.is_err(), "{name}: a hostile card opened");
            worst = worst.max(peak);
        }
    }
    eprintln!("worst: {} KiB", worst / 1024);
    assert!(
        worst <= 4 << 20,
        "a hostile answer took {} KiB",
        worst / 1024
    );
}
