//! The bridge to `vpcd`, the virtual reader driver of pcsc-lite (Debian
//! package `vsmartcard-vpcd`): the chip connects to the driver's TCP port
//! (35963 for the first reader, 35964 for the second) and answers it.
//!
//! Each message is a 2-byte big-endian length, then that many bytes. A
//! message of one byte is a control: `00` power off, `01` power on, `02`
//! reset, `04` get the ATR (answered with a message holding it). Any longer
//! message is a command APDU, answered with a message holding the response
//! APDU. Real PC/SC software (pcscd, opensc-tool, pyscard) then sees the
//! chip in a reader.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::{Result, VirtualCard, VirtualPsam};

/// The default port of vpcd's first reader.
pub const DEFAULT_PORT: u16 = 35963;

/// A chip that can sit in a reader.
pub trait Chip {
    /// The answer to reset.
    fn atr(&self) -> Vec<u8>;
    /// Power cycle or reset: the session state goes.
    fn reset(&mut self);
    /// One command APDU in, one response APDU out.
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8>;
}

impl<C: Chip + ?Sized> Chip for Box<C> {
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        (**self).transmit(apdu)
    }
}

impl Chip for VirtualCard {
    fn atr(&self) -> Vec<u8> {
        VirtualCard::atr(self)
    }
    fn reset(&mut self) {
        VirtualCard::reset(self);
    }
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        VirtualCard::transmit(self, apdu)
    }
}

impl Chip for VirtualPsam {
    fn atr(&self) -> Vec<u8> {
        VirtualPsam::atr(self)
    }
    fn reset(&mut self) {
        VirtualPsam::reset(self);
    }
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        VirtualPsam::transmit(self, apdu)
    }
}

/// Handles one message from vpcd; returns the answer to send, if any.
pub fn answer(chip: &mut dyn Chip, message: &[u8]) -> Option<Vec<u8>> {
    match message {
        [0x00] | [0x01] | [0x02] => {
            chip.reset();
            None
        }
        [0x04] => Some(chip.atr()),
        [_] | [] => None,
        apdu => Some(chip.transmit(apdu)),
    }
}

fn write_message(stream: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "answer too long"))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(payload);
    stream.write_all(&framed)
}

/// Serves `chip` to vpcd at `addr` until `stop` is set, reconnecting when
/// the driver is not there yet or goes away (pcscd restarted). `on_connect`
/// is told each time a connection is made.
pub fn serve(
    chip: &mut dyn Chip,
    addr: &str,
    stop: &AtomicBool,
    mut on_connect: impl FnMut(),
) -> Result<()> {
    while !stop.load(Ordering::Relaxed) {
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(300));
                continue;
            }
        };
        stream.set_read_timeout(Some(Duration::from_millis(500)))?;
        stream.set_nodelay(true)?;
        on_connect();
        chip.reset();
        // A connection ends on EOF or error; then connect again.
        let _ = session(chip, &mut stream, stop);
    }
    Ok(())
}

fn session(chip: &mut dyn Chip, stream: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        if !read_exact_or_stop(stream, &mut len, stop)? {
            return Ok(());
        }
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !read_exact_or_stop(stream, &mut message, stop)? {
            return Ok(());
        }
        if let Some(reply) = answer(chip, &message) {
            write_message(stream, &reply)?;
        }
    }
}

/// Reads exactly `buf.len()` bytes, waiting through read timeouts until
/// `stop` is set; `false` when stopped or the peer closed.
fn read_exact_or_stop(
    stream: &mut TcpStream,
    buf: &mut [u8],
    stop: &AtomicBool,
) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let Some(rest) = buf.get_mut(filled..) else {
            return Ok(false);
        };
        match stream.read(rest) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_and_apdus() {
        let mut card =
            VirtualCard::blank(crate::profile::CardAlgorithm::Sm4, "330300", Some([7; 8])).unwrap();
        assert_eq!(answer(&mut card, &[0x04]), Some(card.atr()));
        assert_eq!(answer(&mut card, &[0x01]), None);
        assert_eq!(answer(&mut card, &[0x09]), None);
        let select = [
            &[0x00, 0xA4, 0x04, 0x00, 0x0F][..],
            &crate::profile::SSSE_AID,
        ]
        .concat();
        let reply = answer(&mut card, &select).unwrap();
        assert_eq!(reply.get(reply.len() - 2..), Some(&[0x90, 0x00][..]));
    }
}
