//! The virtual card's OS: any sequence of command APDUs, sent to a
//! personalized card, gets a well-formed response each time and never a
//! panic. The input is split into commands by a leading length byte.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sscard_apdu::Response;
use sscard_card_sim::image::CardImage;
use sscard_card::profile::CardAlgorithm;
use sscard_card_sim::testing::{personalized, Masters};
use sscard_card_sim::VirtualCard;

fn image() -> &'static CardImage {
    static IMAGE: OnceLock<CardImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let masters = Masters::new(CardAlgorithm::Sm4, 0x30).expect("masters");
        personalized(&masters, "330300", "123456").expect("a card").0.image().clone()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut card = VirtualCard::from_image(image().clone(), None);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (apdu, next) = tail.split_at(usize::from(len).min(tail.len()));
        let response = card.transmit(apdu);
        assert!(Response::parse(&response).is_ok(), "a response of {} bytes", response.len());
        rest = next;
    }
});
