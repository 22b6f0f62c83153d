//! Blacklist files: never a panic; a file that parses encodes back to the
//! same bytes, and a terminal cache takes it or refuses it cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_card::blacklist::{Blacklist, Cache};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = Blacklist::parse_unsigned(data) {
        assert_eq!(list.encode_unsigned(), data);
        let _ = Cache::default().applied(&list);
    }
    let _ = Cache::decode(data);
});
