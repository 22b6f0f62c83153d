//! Holder records (HOLDER.json, CSV rows): never a panic; a holder that
//! passes its checks always lays out into card records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_card::perso::{records, CardData, Holder};

fuzz_target!(|data: &[u8]| {
    if let Ok(holder) = serde_json::from_slice::<Holder>(data) {
        if let Ok(checked) = holder.check() {
            let card = CardData {
                card_id: [0x33; 16],
                card_no: "A00000001".into(),
                issued: "20261127".into(),
                expires: "20361127".into(),
            };
            assert!(records(&checked, &card).is_ok());
        }
    }
});
