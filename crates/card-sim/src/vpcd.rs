//! The bridge to `vpcd`, the virtual reader driver of pcsc-lite (Debian
//! package `vsmartcard-vpcd`): the chip connects to the driver's TCP port
//! (35963 for the first reader, 35964 for the second) and answers it.
//!
//! Each message is a 2-byte big-endian length, then that many bytes. A
//! message of one byte `00` (power off), `01` (power on), `02` (reset) or
//! `04` (get the ATR, answered with a message holding it) is a control.
//! Every other message is a command APDU and gets a message holding the
//! response APDU: one that is not a command (empty, 1 to 3 bytes, or with
//! an Lc that does not match) gets `67 00` from the bridge itself, so that
//! the driver, which waits for the answer holding the reader, never hangs.
//! Real PC/SC software (pcscd, opensc-tool, pyscard) then sees the chip in
//! a reader.
//!
//! What the protocol cannot tell apart is bounded instead. A frame that
//! stops arriving halfway ends the connection after [`Timing::frame`]. The
//! driver asks for the ATR every 400 ms while it is idle, so a driver
//! silent for [`Timing::silence`] waits for an answer to something that
//! did not look like a command: a 1-byte APDU equal to a control code, or
//! an empty one, which the driver sends as nothing at all. The bridge then
//! closes the connection, the driver fails that command and frees the
//! reader, and the chip connects again after [`Timing::away`], as a card
//! pulled out and inserted again: long enough for pcscd to see it gone,
//! as pcscd keeps a stale state for a card that leaves and comes back
//! between two of its polls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sscard_apdu::{Command, Response, StatusWord};

use crate::{VirtualCard, VirtualPsam};
use sscard_apdu::Chip;
use sscard_card::Result;

/// The default port of vpcd's first reader.
pub const DEFAULT_PORT: u16 = 35963;

/// vpcd's control codes, each a message of one byte.
pub mod control {
    /// Power off.
    pub const POWER_OFF: u8 = 0x00;
    /// Power on.
    pub const POWER_ON: u8 = 0x01;
    /// Reset.
    pub const RESET: u8 = 0x02;
    /// Get the ATR.
    pub const ATR: u8 = 0x04;
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

/// Handles one message from vpcd; returns the answer to send, if any: none
/// for the power controls, the ATR for its control, and a response APDU for
/// everything else.
pub fn answer(chip: &mut dyn Chip, message: &[u8]) -> Option<Vec<u8>> {
    match message {
        [control::POWER_OFF | control::POWER_ON | control::RESET] => {
            chip.reset();
            None
        }
        [control::ATR] => Some(chip.atr()),
        apdu if Command::parse(apdu).is_err() => {
            Some(Response::status(StatusWord::WrongLength).encode())
        }
        apdu => {
            let reply = chip.transmit(apdu);
            // A response is at least SW1 SW2 and fits in a message.
            if (2..=usize::from(u16::MAX)).contains(&reply.len()) {
                Some(reply)
            } else {
                Some(Response::status(StatusWord::NoPreciseDiagnosis).encode())
            }
        }
    }
}

/// How long the bridge waits on vpcd before it closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// For the rest of a message once its first byte has come.
    pub frame: Duration,
    /// For any message once the driver has talked on the connection: vpcd
    /// polls every 400 ms, so a longer silence means the driver waits for
    /// an answer the bridge cannot give (module documentation).
    pub silence: Duration,
    /// Out of the reader after a connection ends, before connecting again.
    pub away: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            frame: Duration::from_secs(2),
            silence: Duration::from_secs(3),
            away: Duration::from_secs(1),
        }
    }
}

/// How often a blocked read wakes up to look at the stop flag.
const TICK: Duration = Duration::from_millis(100);

fn write_message(stream: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "answer too long"))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(payload);
    stream.write_all(&framed)
}

/// Serves `chip` to vpcd at `addr` until `stop` is set, reconnecting when
/// the driver is not there yet or goes away (pcscd restarted). `on_connect`
/// is told each time the driver starts to talk on a new connection.
pub fn serve(
    chip: &mut dyn Chip,
    addr: &str,
    stop: &AtomicBool,
    on_connect: impl FnMut(),
) -> Result<()> {
    serve_with(chip, addr, stop, Timing::default(), on_connect)
}

/// [`serve`] with other waits than the defaults.
pub fn serve_with(
    chip: &mut dyn Chip,
    addr: &str,
    stop: &AtomicBool,
    timing: Timing,
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
        stream.set_read_timeout(Some(TICK))?;
        stream.set_nodelay(true)?;
        chip.reset();
        // A connection ends on EOF, error, a broken frame or silence; then,
        // out of the reader for a while, connect again.
        let _ = session(chip, &mut stream, stop, timing, &mut on_connect);
        drop(stream);
        let back = Instant::now() + timing.away;
        while Instant::now() < back && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(TICK.min(timing.away));
        }
    }
    Ok(())
}

fn session(
    chip: &mut dyn Chip,
    stream: &mut TcpStream,
    stop: &AtomicBool,
    timing: Timing,
    on_connect: &mut dyn FnMut(),
) -> std::io::Result<()> {
    // Until the driver accepts the connection (while another chip is in
    // the reader, say) nothing comes, and that is no silence.
    let mut silence = None;
    while let Some(message) = read_message(stream, stop, silence, timing.frame)? {
        if silence.is_none() {
            silence = Some(timing.silence);
            on_connect();
        }
        if let Some(reply) = answer(chip, &message) {
            write_message(stream, &reply)?;
        }
    }
    Ok(())
}

/// Reads one message: its first byte within `silence` (if any), all of it
/// within `frame` after its first byte. `None` when stopped, closed by the
/// peer, silent too long or cut short.
fn read_message(
    stream: &mut TcpStream,
    stop: &AtomicBool,
    silence: Option<Duration>,
    frame: Duration,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut started = None;
    let idle_until = silence.map(|s| Instant::now() + s);
    let mut len = [0u8; 2];
    if !fill(stream, &mut len, stop, &mut started, idle_until, frame)? {
        return Ok(None);
    }
    // At most 65535 bytes, whatever the length says.
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    if !fill(stream, &mut message, stop, &mut started, idle_until, frame)? {
        return Ok(None);
    }
    Ok(Some(message))
}

/// Fills `buf` from the stream. Until the message's first byte has come
/// (`started` is `None`) it waits until `idle_until` (if any), then until
/// `frame` after that byte; `false` when stopped, closed or late.
fn fill(
    stream: &mut TcpStream,
    buf: &mut [u8],
    stop: &AtomicBool,
    started: &mut Option<Instant>,
    idle_until: Option<Instant>,
    frame: Duration,
) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        let late = match *started {
            None => idle_until.is_some_and(|at| Instant::now() > at),
            Some(at) => at.elapsed() > frame,
        };
        if stop.load(Ordering::Relaxed) || late {
            return Ok(false);
        }
        let Some(free) = buf.get_mut(filled..) else {
            return Ok(false);
        };
        match stream.read(free) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                filled += n;
                started.get_or_insert_with(Instant::now);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
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
        let mut card = VirtualCard::blank(
            sscard_card::profile::CardAlgorithm::Sm4,
            "330300",
            Some([7; 8]),
        )
        .unwrap();
        assert_eq!(answer(&mut card, &[0x04]), Some(card.atr()));
        assert_eq!(answer(&mut card, &[0x01]), None);
        // Every other message is a command: malformed ones get 67 00.
        let wrong_length = Some(vec![0x67, 0x00]);
        for malformed in [
            &[][..],
            &[0x09],
            &[0xFF],
            &[0x00, 0xA4],
            &[0x00, 0xA4, 0x04],
            &[0x00, 0xA4, 0x04, 0x00, 0x05, 0x01],
            &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x03, 0x01],
        ] {
            assert_eq!(
                answer(&mut card, malformed),
                wrong_length,
                "{malformed:02X?}"
            );
        }
        let select = [
            &[0x00, 0xA4, 0x04, 0x00, 0x0F][..],
            &sscard_card::profile::SSSE_AID,
        ]
        .concat();
        let reply = answer(&mut card, &select).unwrap();
        assert_eq!(reply.get(reply.len() - 2..), Some(&[0x90, 0x00][..]));
    }
}
