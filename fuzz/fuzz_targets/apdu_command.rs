//! Command APDUs: never a panic, and a command that parses encodes back to
//! the same bytes; its secure-messaging form unwraps to it again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sscard_apdu::{sm, Command};

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = Command::parse(data) {
        assert_eq!(command.encode().expect("a parsed command encodes"), data);
        let mac = |input: &[u8]| [input.len() as u8, 1, 2, 3];
        if let Ok(plain) = sm::unprotect(&command, |i, m| mac(i) == *m) {
            let again = sm::protect(&plain, mac);
            assert_eq!((again.header(), again.data, again.le), (command.header(), command.data, command.le));
        }
    }
});
