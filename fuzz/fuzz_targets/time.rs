//! Times of `--activate-at` and `--expire-at`: never a panic, and a time
//! that parses formats to a text that parses to the same instant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_core::clock::{format_time, parse_time};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(ms) = parse_time(text) {
            assert_eq!(parse_time(&format_time(ms)), Some(ms));
        }
    }
});
