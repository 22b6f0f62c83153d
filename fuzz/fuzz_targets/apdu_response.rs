//! Response APDUs and status words: never a panic, and a response that
//! parses encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_apdu::Response;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = Response::parse(data) {
        assert_eq!(response.encode(), data);
        let _ = response.status.meaning();
    }
});
