//! The terminal flows against virtual cards and PSAMs: in process, and over
//! the real PC/SC stack (pcscd with the vpcd driver, the chips served by
//! the vpcd bridge). With SSCARD_REQUIRE_PCSCD set (as `.ci/run` sets it) a
//! missing pcscd fails the test instead of leaving that half out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sscard_card::profile::CardAlgorithm;
use sscard_card_sim::t0::T0;
use sscard_card_sim::testing::{self, Masters};
use sscard_card_sim::{VirtualCard, VirtualPsam};
use sscard_terminal::{CardCheck, CardSession, Error, Local, NoCheck, PcscReader, Psam, Transport};

fn masters(seed: u8) -> Masters {
    Masters::new(CardAlgorithm::Sm4, seed).unwrap()
}

fn card(masters: &Masters, region: &str) -> VirtualCard {
    testing::personalized(masters, region, "123456").unwrap().0
}

fn psam(masters: &Masters) -> VirtualPsam {
    testing::issued_psam(masters, "330300", "000000000042").unwrap()
}

fn open(
    card: VirtualCard,
    psam: VirtualPsam,
    check: &dyn CardCheck,
) -> Result<CardSession<Local<VirtualCard>, Psam<Local<VirtualPsam>>>, Error> {
    CardSession::open(
        Local(card),
        Psam::new(Local(psam), Some(CardAlgorithm::Sm4)),
        check,
    )
}

/// Refuses every card: a blacklist holding them all.
struct RefuseAll;

impl CardCheck for RefuseAll {
    fn check(&self, card_id: &[u8; 16]) -> Result<(), Error> {
        Err(Error::Blacklisted(hex::encode_upper(card_id)))
    }
}

#[test]
fn read_the_basic_information_after_the_card_authenticated() {
    let m = masters(0x30);
    let mut session = open(card(&m, "330300"), psam(&m), &NoCheck).unwrap();
    let info = session.read_basic_info("20261127").unwrap();
    let holder = testing::holder("330300");
    assert_eq!(
        (info.ssn.as_str(), info.name.as_str()),
        (holder.ssn.as_str(), "张三")
    );
    assert_eq!(info.card_id, hex::encode_upper(session.card_id()));
    assert_eq!(
        (info.region.as_str(), info.terminal_no.as_str()),
        ("330300", "000000000042")
    );
    assert_eq!(info.expires, "20361127");
    assert_eq!(info.device_no, "in-process");
    // A write with a MAC from the PSAM changes the card number.
    session.write_record(5, 7, b"B00000002").unwrap();
    let again = session.read_basic_info("20261127").unwrap();
    assert_eq!(again.card_no, "B00000002");
    // Past its expiry the card is refused.
    let mut session = open(card(&m, "330300"), psam(&m), &NoCheck).unwrap();
    assert_eq!(
        session.read_basic_info("20370101").unwrap_err(),
        Error::Expired("20361127".into())
    );
}

#[test]
fn other_regions_forged_cards_and_blacklisted_cards_are_refused() {
    let m = masters(0x30);
    let elsewhere = card(&masters(0x40), "440300");
    assert!(matches!(
        open(elsewhere, psam(&m), &NoCheck).err(),
        Some(Error::PsamKeyInsufficient(_))
    ));
    let forged = card(&masters(0x77), "330300");
    assert_eq!(
        open(forged, psam(&m), &NoCheck).err(),
        Some(Error::NotGenuine)
    );
    // The blacklist comes before authentication: a forged, blacklisted card
    // is refused as blacklisted.
    let forged = card(&masters(0x77), "330300");
    assert!(matches!(
        open(forged, psam(&m), &RefuseAll).err(),
        Some(Error::Blacklisted(_))
    ));
}

#[test]
fn pin_blocks_after_three_wrong_tries_and_the_unblock_flow_frees_it() {
    let m = masters(0x30);
    let mut s = open(card(&m, "330300"), psam(&m), &NoCheck).unwrap();
    assert_eq!(s.verify_pin("111111"), Err(Error::PinWrong(2)));
    assert_eq!(s.verify_pin("111111"), Err(Error::PinWrong(1)));
    assert_eq!(s.verify_pin("111111"), Err(Error::PinBlocked));
    assert_eq!(s.verify_pin("123456"), Err(Error::PinBlocked));
    s.reset_pin("246810", true).unwrap();
    s.verify_pin("246810").unwrap();
    s.change_pin("246810", "135790").unwrap();
    s.verify_pin("135790").unwrap();
    s.reset_pin("555555", false).unwrap();
    s.verify_pin("555555").unwrap();
    assert!(matches!(s.verify_pin("12"), Err(Error::Invalid(_))));
}

/// A transport that notes every APDU it carries.
struct Noted<T> {
    inner: T,
    sent: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl<T: Transport> Transport for Noted<T> {
    fn atr(&mut self) -> Result<Vec<u8>, Error> {
        self.inner.atr()
    }
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Error> {
        self.sent.borrow_mut().push(apdu.to_vec());
        self.inner.transmit_raw(apdu)
    }
}

#[test]
fn t0_cards_and_psams_read_and_write_as_the_others_do() {
    let m = masters(0x30);
    let (card, psam) = (card(&m, "330300"), psam(&m));
    let copy = || VirtualCard::from_image(card.image().clone(), None);
    let psam_copy = || VirtualPsam::from_image(psam.image().clone(), None);
    let plain = open(copy(), psam_copy(), &NoCheck)
        .unwrap()
        .read_basic_info("20261127")
        .unwrap();
    for chunk in [1, 7, 16, 256] {
        let (card_sent, psam_sent) = (Rc::default(), Rc::default());
        let card_transport = Noted {
            inner: Local(T0::new(copy(), chunk)),
            sent: Rc::clone(&card_sent),
        };
        let psam_transport = Noted {
            inner: Local(T0::new(psam_copy(), chunk)),
            sent: Rc::clone(&psam_sent),
        };
        let mut session = CardSession::open(
            card_transport,
            Psam::new(psam_transport, Some(CardAlgorithm::Sm4)),
            &NoCheck,
        )
        .unwrap();
        assert_eq!(
            session.read_basic_info("20261127").unwrap(),
            plain,
            "chunk {chunk}"
        );
        session.write_record(5, 7, b"B00000002").unwrap();
        assert_eq!(
            session.read_basic_info("20261127").unwrap().card_no,
            "B00000002"
        );
        assert_eq!(session.verify_pin("111111"), Err(Error::PinWrong(2)));
        session.verify_pin("123456").unwrap();
        // The card was read through GET RESPONSE (SELECT, INTERNAL
        // AUTHENTICATE) and through 6C (READ RECORD with Le 256); the PSAM's
        // answers came through GET RESPONSE with the basic class.
        let card_sent = card_sent.borrow();
        let get_responses = card_sent.iter().filter(|a| a[..2] == [0x00, 0xC0]).count();
        assert!(get_responses >= 2, "chunk {chunk}: {get_responses}");
        assert!(card_sent
            .windows(2)
            .any(|w| w[0][1] == 0xB2 && w[0][4] == 0x00 && w[1][..4] == w[0][..4] && w[1][4] != 0));
        assert!(psam_sent.borrow().iter().any(|a| a[..2] == [0x00, 0xC0]));
    }
}

/// Serves a chip to vpcd on `port` in a thread until the flag is set.
fn serve(
    mut chip: impl sscard_apdu::Chip + Send + 'static,
    port: u16,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        sscard_card_sim::vpcd::serve(&mut chip, &format!("127.0.0.1:{port}"), &stop, || {})
            .unwrap();
    })
}

fn connect_when_present(reader: &str) -> PcscReader {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match PcscReader::connect(reader) {
            Ok(r) => return r,
            Err(e) if Instant::now() > deadline => panic!("reader {reader}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn the_same_flows_through_pcscd_and_vpcd() {
    // vpcd's readers of ports 35963 and 35964, by name: pcscd may know
    // other readers (the T=0 tests' `sscard vpcd`), in any order.
    let (card_reader, psam_reader) = ("Virtual PCD 00 00", "Virtual PCD 00 01");
    match PcscReader::readers() {
        Ok(r) if r.iter().any(|n| n == card_reader) && r.iter().any(|n| n == psam_reader) => {}
        other => {
            assert!(
                std::env::var_os("SSCARD_REQUIRE_PCSCD").is_none(),
                "SSCARD_REQUIRE_PCSCD is set but pcscd with vpcd is not running: {other:?}"
            );
            eprintln!(
                "NOT RUN: pcscd with the vpcd driver is not running ({other:?}); .ci/run starts it"
            );
            return;
        }
    }
    let m = masters(0x30);
    let stop = Arc::new(AtomicBool::new(false));
    let threads = [
        serve(card(&m, "330300"), 35963, Arc::clone(&stop)),
        serve(psam(&m), 35964, Arc::clone(&stop)),
    ];
    let mut reader = connect_when_present(card_reader);
    let atr = reader.atr().unwrap();
    assert_eq!(&atr[..4], [0x3B, 0x8C, 0x80, 0x01]);
    let psam_reader = connect_when_present(psam_reader);
    let mut session = CardSession::open(reader, Psam::new(psam_reader, None), &NoCheck).unwrap();
    let info = session.read_basic_info("20261127").unwrap();
    assert_eq!(info.name, "张三");
    assert_eq!(info.device_no, card_reader);
    assert_eq!(session.verify_pin("000000"), Err(Error::PinWrong(2)));
    session.verify_pin("123456").unwrap();
    drop(session);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
}
