//! The card flows of card-profile.md, run in process against the virtual
//! card and PSAM: personalization from SM2 envelopes, internal and external
//! authentication through the PSAM, PIN counting, unblock under secure
//! messaging, replay, other regions, persistence and malformed input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sscard_apdu::tlv::{Tlv, Tree};
use sscard_apdu::{sm, Command, Response, StatusWord};
use sscard_card::crypto;
use sscard_card::profile::key_type;
use sscard_card::profile::{self, ins, key_id, CardAlgorithm, SSSE_AID};
use sscard_card_sim::testing::{self, Masters};
use sscard_card_sim::{VirtualCard, VirtualPsam};

fn send(card: &mut VirtualCard, command: &Command) -> Response {
    Response::parse(&card.transmit(&command.encode().unwrap())).unwrap()
}

fn psam_send(psam: &mut VirtualPsam, command: &Command) -> Response {
    Response::parse(&psam.transmit(&command.encode().unwrap())).unwrap()
}

fn masters(algorithm: CardAlgorithm, seed: u8) -> Masters {
    Masters::new(algorithm, seed).unwrap()
}

/// A personalized card; its job holds no card key in clear.
fn personalized(masters: &Masters, region: &str) -> VirtualCard {
    let (card, job) = testing::personalized(masters, region, "123456").unwrap();
    let text = serde_json::to_string(&job).unwrap().to_uppercase();
    for id in key_id::ALL_KEYS {
        let key = masters.card_key(id, &card.card_factor()).unwrap();
        assert!(
            !text.contains(&hex::encode_upper(key.expose_secret())),
            "a card key in clear in the job"
        );
    }
    assert!(!text.contains("123456"), "the PIN in clear in the job");
    card
}

fn issued_psam(masters: &Masters, region: &str) -> VirtualPsam {
    testing::issued_psam(masters, region, "000000000042").unwrap()
}

fn holder() -> sscard_card::perso::Holder {
    testing::holder("330300")
}

fn select_ssse(card: &mut VirtualCard) -> Response {
    send(
        card,
        &Command::new(0x00, ins::SELECT, 0x04, 0x00, SSSE_AID.to_vec(), Some(256)),
    )
}

/// The PSAM computes `data8` under the key of `id` diversified by the card
/// factor and, for two levels, the random: returns the folded cryptogram.
fn psam_cryptogram(
    psam: &mut VirtualPsam,
    id: u8,
    card8: &[u8; 8],
    region: &str,
    rand: &[u8; 8],
    data: &[u8; 8],
) -> Result<[u8; 8], StatusWord> {
    let algorithm = psam.image().algorithm.block();
    let mut init = card8.to_vec();
    init.extend(profile::city_factor(region));
    init.extend(rand);
    let usage = (2 << 5) | key_type(id).unwrap();
    let answer = psam_send(
        psam,
        &Command::new(0xBF, ins::PSAM_INIT, usage, id, init, None),
    );
    if !answer.is_ok() {
        return Err(answer.status);
    }
    let answer = psam_send(
        psam,
        &Command::new(
            0x80,
            ins::PSAM_COMPUTE,
            0,
            0,
            crypto::pad8(algorithm, data),
            Some(256),
        ),
    );
    Ok(crypto::fold(&answer.data).unwrap())
}

/// Internal authentication checked through the PSAM.
fn card_is_genuine(card: &mut VirtualCard, psam: &mut VirtualPsam, region: &str) -> bool {
    let (r1, r2) = ([0x11; 8], [0x22; 8]);
    let mut data = r1.to_vec();
    data.extend(r2);
    let answer = send(
        card,
        &Command::new(0x00, ins::INTERNAL_AUTHENTICATE, 0, 0, data, Some(8)),
    );
    let card8 = card.card_factor();
    match psam_cryptogram(psam, key_id::INTERNAL, &card8, region, &r1, &r2) {
        Ok(expected) => answer.is_ok() && answer.data == expected,
        Err(_) => false,
    }
}

fn external_authenticate(card: &mut VirtualCard, psam: &mut VirtualPsam, id: u8) -> StatusWord {
    let challenge = send(
        card,
        &Command::new(0x00, ins::GET_CHALLENGE, 0, 0, vec![], Some(8)),
    );
    let rand = [0x5A; 8];
    let card8 = card.card_factor();
    let region = card.image().region.clone();
    let challenge: [u8; 8] = challenge.data.try_into().unwrap();
    let Ok(cryptogram) = psam_cryptogram(psam, id, &card8, &region, &rand, &challenge) else {
        return StatusWord::ConditionsNotSatisfied;
    };
    let mut data = cryptogram.to_vec();
    data.extend(rand);
    data.push(1);
    send(
        card,
        &Command::new(0x00, ins::EXTERNAL_AUTHENTICATE, 0, id, data, None),
    )
    .status
}

#[test]
fn a_personalized_card_reads_authenticates_and_protects_holder_data() {
    for algorithm in [CardAlgorithm::Sm4, CardAlgorithm::Tdes] {
        let masters = masters(algorithm, 0x30);
        let mut card = personalized(&masters, "330300");
        let mut psam = issued_psam(&masters, "330300");
        let fci = select_ssse(&mut card);
        assert!(fci.is_ok());
        let tree = Tree::parse(&fci.data).unwrap();
        let inner = Tree::parse(tree.find(0x9F0C).unwrap().value).unwrap();
        assert_eq!(inner.find(0x86).unwrap().value, [algorithm.tag_value()]);
        let id = send(
            &mut card,
            &Command::new(0x00, ins::READ_RECORD, 1, (5 << 3) | 4, vec![], Some(256)),
        );
        assert_eq!(
            id.data[2..],
            profile::card_id("330300", &card.card_factor()).unwrap()
        );
        // Third generation: the holder's data only after the read key.
        let locked = send(
            &mut card,
            &Command::new(0x00, ins::READ_RECORD, 8, (6 << 3) | 4, vec![], Some(256)),
        );
        assert_eq!(locked.status, StatusWord::SecurityStatusNotSatisfied);
        assert!(card_is_genuine(&mut card, &mut psam, "330300"));
        assert_eq!(
            external_authenticate(&mut card, &mut psam, key_id::READ),
            StatusWord::Ok
        );
        let ssn = send(
            &mut card,
            &Command::new(0x00, ins::READ_RECORD, 8, (6 << 3) | 4, vec![], Some(256)),
        );
        assert!(ssn.is_ok());
        assert_eq!(ssn.data[2..], *holder().ssn.as_bytes());
        // Re-selecting clears the security state.
        select_ssse(&mut card);
        let again = send(
            &mut card,
            &Command::new(0x00, ins::READ_RECORD, 8, (6 << 3) | 4, vec![], Some(256)),
        );
        assert_eq!(again.status, StatusWord::SecurityStatusNotSatisfied);
    }
}

#[test]
fn a_card_of_another_region_or_with_forged_keys_fails_authentication() {
    let ours = masters(CardAlgorithm::Sm4, 0x30);
    let mut psam = issued_psam(&ours, "330300");
    // A card of another region: the PSAM holds no key for it.
    let mut elsewhere = personalized(&masters(CardAlgorithm::Sm4, 0x40), "440300");
    select_ssse(&mut elsewhere);
    assert!(!card_is_genuine(&mut elsewhere, &mut psam, "440300"));
    assert!(!card_is_genuine(&mut elsewhere, &mut psam, "330300"));
    // A forged card claiming our region, made with other masters.
    let mut forged = personalized(&masters(CardAlgorithm::Sm4, 0x77), "330300");
    select_ssse(&mut forged);
    assert!(!card_is_genuine(&mut forged, &mut psam, "330300"));
    assert_eq!(
        external_authenticate(&mut forged, &mut psam, key_id::READ),
        StatusWord::Other(0x6300)
    );
}

/// Builds PIN unblock (P2 02, PUK) or reload (P2 01) under secure messaging.
fn pin_reset(card: &mut VirtualCard, masters: &Masters, p2: u8, id: u8, new_pin: &str) -> Command {
    let key = masters.card_key(id, &card.card_factor()).unwrap();
    let challenge = send(
        card,
        &Command::new(0x00, ins::GET_CHALLENGE, 0, 0, vec![], Some(8)),
    )
    .data;
    let plain = Command::new(
        0x80,
        ins::PIN_RESET,
        0,
        p2,
        crypto::encipher_pin(&key, new_pin).unwrap(),
        None,
    );
    sm::protect(&plain, |input| {
        crypto::sm_mac(&key, &challenge, input).unwrap()
    })
}

#[test]
fn three_wrong_pins_block_and_only_the_unblock_key_frees_it() {
    let masters = masters(CardAlgorithm::Sm4, 0x30);
    let dir = std::env::temp_dir().join(format!("sscard-card-pin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("card.json");
    let mut card = personalized(&masters, "330300");
    card.save_to(&path).unwrap();
    select_ssse(&mut card);
    let verify = |pin: &str| {
        Command::new(
            0x00,
            ins::VERIFY,
            0,
            0,
            crypto::pin_bcd(pin).unwrap().to_vec(),
            None,
        )
    };
    assert_eq!(send(&mut card, &verify("123456")).status, StatusWord::Ok);
    assert_eq!(
        send(&mut card, &verify("000000")).status,
        StatusWord::PinTriesLeft(2)
    );
    // The counter survives a restart.
    let mut card = VirtualCard::open(&path).unwrap();
    select_ssse(&mut card);
    assert_eq!(
        send(&mut card, &verify("000000")).status,
        StatusWord::PinTriesLeft(1)
    );
    assert_eq!(
        send(&mut card, &verify("000000")).status,
        StatusWord::AuthenticationBlocked
    );
    assert_eq!(
        send(&mut card, &verify("123456")).status,
        StatusWord::AuthenticationBlocked
    );
    // Unblock under the reload key does not open; the PUK does.
    let wrong_key = pin_reset(
        &mut card,
        &masters,
        profile::PIN_UNBLOCK_P2,
        key_id::PIN_RELOAD,
        "654321",
    );
    assert_eq!(
        send(&mut card, &wrong_key).status,
        StatusWord::SecureMessagingDataWrong
    );
    let unblock = pin_reset(
        &mut card,
        &masters,
        profile::PIN_UNBLOCK_P2,
        key_id::PIN_UNBLOCK,
        "654321",
    );
    assert_eq!(send(&mut card, &unblock).status, StatusWord::Ok);
    // The same command again is a replay: its challenge is spent.
    assert_eq!(
        send(&mut card, &unblock).status,
        StatusWord::SecureMessagingDataWrong
    );
    assert_eq!(send(&mut card, &verify("654321")).status, StatusWord::Ok);
    let change = Command::new(
        0x80,
        ins::CHANGE_PIN,
        1,
        0,
        [
            crypto::pin_bcd("654321").unwrap().to_vec(),
            vec![0xFF],
            crypto::pin_bcd("111111").unwrap().to_vec(),
        ]
        .concat(),
        None,
    );
    assert_eq!(send(&mut card, &change).status, StatusWord::Ok);
    let reopened = VirtualCard::open(&path).unwrap();
    assert_eq!(reopened.image().pin_tries_left, 3);
    let mut card = reopened;
    select_ssse(&mut card);
    assert_eq!(send(&mut card, &verify("111111")).status, StatusWord::Ok);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!format!("{:?}", card.image()).contains(&hex::encode(
        masters
            .card_key(key_id::INTERNAL, &card.card_factor())
            .unwrap()
            .expose_secret()
    )));
    assert!(text.contains("\"lifecycle\": \"issued\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writes_need_the_maintenance_key_and_blocking_is_under_its_mac() {
    let masters = masters(CardAlgorithm::Sm4, 0x30);
    let mut card = personalized(&masters, "330300");
    let mut psam = issued_psam(&masters, "330300");
    select_ssse(&mut card);
    let write = Command::new(
        0x00,
        ins::UPDATE_RECORD,
        7,
        (5 << 3) | 4,
        Tlv::new(7, b"B00000002".to_vec()).encode(),
        None,
    );
    assert_eq!(
        send(&mut card, &write).status,
        StatusWord::SecurityStatusNotSatisfied
    );
    let key = masters
        .card_key(key_id::MAINTENANCE, &card.card_factor())
        .unwrap();
    let challenge = send(
        &mut card,
        &Command::new(0x00, ins::GET_CHALLENGE, 0, 0, vec![], Some(8)),
    )
    .data;
    let protected = sm::protect(&write, |input| {
        crypto::sm_mac(&key, &challenge, input).unwrap()
    });
    assert_eq!(send(&mut card, &protected).status, StatusWord::Ok);
    assert_eq!(
        send(&mut card, &protected).status,
        StatusWord::SecureMessagingDataWrong,
        "replay"
    );
    assert_eq!(
        external_authenticate(&mut card, &mut psam, key_id::MAINTENANCE),
        StatusWord::Ok
    );
    assert_eq!(send(&mut card, &write).status, StatusWord::Ok);
    // Application block, then everything but unblock is refused.
    let block = |card: &mut VirtualCard, ins: u8| {
        let challenge = send(
            card,
            &Command::new(0x00, ins::GET_CHALLENGE, 0, 0, vec![], Some(8)),
        )
        .data;
        let plain = Command::new(0x80, ins, 0, 0, vec![], None);
        sm::protect(&plain, |input| {
            crypto::sm_mac(&key, &challenge, input).unwrap()
        })
    };
    let cmd = block(&mut card, ins::APPLICATION_BLOCK);
    assert_eq!(send(&mut card, &cmd).status, StatusWord::Ok);
    assert_eq!(
        select_ssse(&mut card).status,
        StatusWord::SelectedFileInvalidated
    );
    let read = Command::new(0x00, ins::READ_RECORD, 1, (5 << 3) | 4, vec![], Some(256));
    assert_eq!(
        send(&mut card, &read).status,
        StatusWord::ConditionsNotSatisfied
    );
    let cmd = block(&mut card, ins::APPLICATION_UNBLOCK);
    assert_eq!(send(&mut card, &cmd).status, StatusWord::Ok);
    assert!(select_ssse(&mut card).is_ok());
    let cmd = block(&mut card, ins::CARD_BLOCK);
    assert_eq!(send(&mut card, &cmd).status, StatusWord::Ok);
    assert_eq!(select_ssse(&mut card).status, StatusWord::ApplicationLocked);
}

#[test]
fn malformed_and_out_of_place_commands_get_their_status_words() {
    let masters = masters(CardAlgorithm::Sm4, 0x30);
    let mut card = personalized(&masters, "330300");
    let sw = |card: &mut VirtualCard, bytes: &[u8]| {
        Response::parse(&card.transmit(bytes)).unwrap().status
    };
    assert_eq!(sw(&mut card, &[0x00, 0xA4]), StatusWord::WrongLength);
    assert_eq!(
        sw(&mut card, &[0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73]),
        StatusWord::WrongLength
    );
    assert_eq!(
        sw(&mut card, &[0x00, 0x12, 0x00, 0x00]),
        StatusWord::InsNotSupported
    );
    assert_eq!(
        sw(&mut card, &[0x90, 0xA4, 0x00, 0x00]),
        StatusWord::ClaNotSupported
    );
    // Nothing selected yet: records cannot be read.
    assert_eq!(
        sw(&mut card, &[0x00, 0xB2, 0x01, 0x2C, 0x00]),
        StatusWord::CommandNotAllowed
    );
    select_ssse(&mut card);
    assert_eq!(
        sw(&mut card, &[0x00, 0xB2, 0x09, 0x2C, 0x00]),
        StatusWord::RecordNotFound
    );
    assert_eq!(
        sw(&mut card, &[0x00, 0x82, 0x00, 0x0A, 0x03, 1, 2, 3]),
        StatusWord::WrongLength
    );
    // External authentication without a challenge.
    assert_eq!(
        sw(
            &mut card,
            &[[0x00, 0x82, 0x00, 0x0A, 0x10].as_slice(), &[0; 16]].concat()
        ),
        StatusWord::DataInvalid
    );
    // Personalization commands are refused once the card is issued.
    assert_eq!(
        sw(&mut card, &[0x80, 0xCA, 0xDF, 0x01, 0x00]),
        StatusWord::ConditionsNotSatisfied
    );
    // A reset forgets the external authentication.
    let mut psam = issued_psam(&masters, "330300");
    select_ssse(&mut card);
    assert_eq!(
        external_authenticate(&mut card, &mut psam, key_id::READ),
        StatusWord::Ok
    );
    card.reset();
    select_ssse(&mut card);
    assert_eq!(
        sw(&mut card, &[0x00, 0xB2, 0x08, 0x34, 0x00]),
        StatusWord::SecurityStatusNotSatisfied
    );
}
