//! How the terminal reaches a card or a PSAM: a reader of the PC/SC stack
//! (pcsc-lite through the `pcsc` crate), or a virtual chip in process.
//!
//! [`Transport::send`] also speaks the conventions of ISO/IEC 7816-3 T=0
//! that a PC/SC reader passes through to the application (ISO/IEC 7816-4
//! §5.3.4, §5.6): `61 XX` is answered with GET RESPONSE until the data is
//! all there, and `6C XX` by sending the command again with Le = XX. Both
//! loops are bounded: [`MAX_RESPONSE`] bytes in at most
//! [`MAX_GET_RESPONSE`] GET RESPONSEs, and one resend.

use sscard_apdu::Chip;
use sscard_apdu::StatusWord::{MoreData, WrongLe};
use sscard_apdu::{Command, Response};

use crate::{Error, Result};

/// A channel to one chip.
pub trait Transport {
    /// The chip's answer to reset.
    fn atr(&mut self) -> Result<Vec<u8>>;
    /// One command APDU in, one response APDU out.
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>>;

    /// The device the chip sits in (the reader's name, or `in-process`).
    fn device(&self) -> String {
        "in-process".into()
    }

    /// Sends a command and returns the card's whole response: after a
    /// `6C XX` the command goes again with Le = XX, and after `61 XX` GET
    /// RESPONSE collects the rest of the data (module documentation).
    fn send(&mut self, command: &Command) -> Result<Response> {
        let first = exchange_with_le(self, command)?;
        let MoreData(mut announced) = first.status else {
            return Ok(first);
        };
        let cla = get_response_class(command.cla);
        let mut data = first.data;
        for _ in 0..MAX_GET_RESPONSE {
            let le = match announced {
                0 => 256,
                n => usize::from(n),
            };
            let get_response = Command::new(cla, GET_RESPONSE, 0, 0, Vec::new(), Some(le));
            let next = exchange_with_le(self, &get_response)?;
            if data.len().saturating_add(next.data.len()) > MAX_RESPONSE {
                return Err(Error::Malformed(format!(
                    "the card announces more than {MAX_RESPONSE} bytes of response"
                )));
            }
            data.extend_from_slice(&next.data);
            match next.status {
                MoreData(n) => announced = n,
                status => return Ok(Response { data, status }),
            }
        }
        Err(Error::Malformed(format!(
            "the card still announces more data after {MAX_GET_RESPONSE} GET RESPONSEs"
        )))
    }
}

/// The most response data [`Transport::send`] collects through GET RESPONSE:
/// the most an extended-length response holds.
pub const MAX_RESPONSE: usize = 65_536;

/// The most GET RESPONSEs [`Transport::send`] sends for one command: enough
/// for [`MAX_RESPONSE`] bytes in chunks of 256.
pub const MAX_GET_RESPONSE: usize = 256;

/// INS of GET RESPONSE.
const GET_RESPONSE: u8 = 0xC0;

/// One command, one response, parsed.
fn exchange<T: Transport + ?Sized>(transport: &mut T, command: &Command) -> Result<Response> {
    let apdu = command
        .encode()
        .map_err(|e| Error::Invalid(format!("command: {e}")))?;
    let raw = transport.transmit_raw(&apdu)?;
    Response::parse(&raw).map_err(|e| Error::Malformed(format!("response: {e}")))
}

/// One command; after `6C XX` the same command once more with Le = XX.
/// The card may only ask for less than the command asked: a second `6C`,
/// or a `6C` naming as many bytes as asked or more, is an error.
fn exchange_with_le<T: Transport + ?Sized>(
    transport: &mut T,
    command: &Command,
) -> Result<Response> {
    let first = exchange(transport, command)?;
    let WrongLe(exact) = first.status else {
        return Ok(first);
    };
    let exact = match exact {
        0 => 256,
        n => usize::from(n),
    };
    let asked = command.le.unwrap_or(0);
    if exact >= asked {
        return Err(Error::Malformed(format!(
            "the card answers 6C {:02X} (Le {exact}) to a command asking for {asked} bytes",
            exact % 256
        )));
    }
    let again = Command {
        le: Some(exact),
        ..command.clone()
    };
    let second = exchange(transport, &again)?;
    match second.status {
        WrongLe(n) => Err(Error::Malformed(format!(
            "the card answers 6C {n:02X} again after the Le it asked for"
        ))),
        _ => Ok(second),
    }
}

/// The class byte of GET RESPONSE for a command of class `cla`: the
/// interindustry class on the same logical channel (ISO/IEC 7816-4 §5.4.1),
/// without secure messaging or chaining. A proprietary class whose low bits
/// follow the interindustry coding (`80`–`9F`, `C0`–`FE`) keeps its channel
/// the same way; the rest have no channel number and use the basic channel.
pub fn get_response_class(cla: u8) -> u8 {
    match cla & 0x7F {
        // First interindustry values: the channel in bits 2-1.
        0x00..=0x1F if cla != 0xFF => cla & 0x03,
        // Further interindustry values: channels 4 to 19 in bits 4-1.
        0x40..=0x7F if cla != 0xFF => 0x40 | (cla & 0x0F),
        _ => 0x00,
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn atr(&mut self) -> Result<Vec<u8>> {
        (**self).atr()
    }
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        (**self).transmit_raw(apdu)
    }
    fn device(&self) -> String {
        (**self).device()
    }
}

/// A virtual chip in process (its file is written after every change).
pub struct Local<C: Chip>(pub C);

impl<C: Chip> Transport for Local<C> {
    fn atr(&mut self) -> Result<Vec<u8>> {
        Ok(self.0.atr())
    }
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        Ok(self.0.transmit(apdu))
    }
}

/// A chip in a reader of the PC/SC stack.
pub struct PcscReader {
    card: pcsc::Card,
    name: String,
}

impl PcscReader {
    /// The names of the readers pcscd knows.
    pub fn readers() -> Result<Vec<String>> {
        let ctx = context()?;
        Ok(ctx
            .list_readers_owned()
            .map_err(|e| Error::Transport(format!("PC/SC: {e}")))?
            .iter()
            .map(|name| name.to_string_lossy().into_owned())
            .collect())
    }

    /// Connects to the chip in the reader named `name` (exactly, or the only
    /// reader whose name starts with it).
    pub fn connect(name: &str) -> Result<Self> {
        let ctx = context()?;
        let readers = ctx
            .list_readers_owned()
            .map_err(|e| Error::Transport(format!("PC/SC: {e}")))?;
        let exact = readers.iter().find(|r| r.to_string_lossy() == name);
        let prefixed: Vec<_> = readers
            .iter()
            .filter(|r| r.to_string_lossy().starts_with(name))
            .collect();
        let reader = match (exact, prefixed.as_slice()) {
            (Some(r), _) => r,
            (None, [r]) => *r,
            _ => {
                let known: Vec<_> = readers.iter().map(|r| r.to_string_lossy()).collect();
                return Err(Error::Transport(format!(
                    "no reader {name:?} (readers: {})",
                    known.join(", ")
                )));
            }
        };
        let card = ctx
            .connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(|e| Error::Transport(format!("reader {name:?}: {e}")))?;
        Ok(Self {
            card,
            name: reader.to_string_lossy().into_owned(),
        })
    }
}

fn context() -> Result<pcsc::Context> {
    pcsc::Context::establish(pcsc::Scope::User)
        .map_err(|e| Error::Transport(format!("PC/SC service (pcscd): {e}")))
}

impl Transport for PcscReader {
    fn atr(&mut self) -> Result<Vec<u8>> {
        let status = self
            .card
            .status2_owned()
            .map_err(|e| Error::Transport(format!("PC/SC status: {e}")))?;
        Ok(status.atr().to_vec())
    }

    fn device(&self) -> String {
        self.name.clone()
    }

    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let answer = self
            .card
            .transmit(apdu, &mut buf)
            .map_err(|e| Error::Transport(format!("PC/SC transmit: {e}")))?;
        Ok(answer.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sscard_apdu::StatusWord;

    /// A card that answers each APDU by a script and notes what it was sent.
    struct Scripted<F: FnMut(&[u8]) -> Vec<u8>> {
        answer: F,
        sent: Vec<Vec<u8>>,
    }

    impl<F: FnMut(&[u8]) -> Vec<u8>> Transport for Scripted<F> {
        fn atr(&mut self) -> Result<Vec<u8>> {
            Ok(Vec::new())
        }
        fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
            self.sent.push(apdu.to_vec());
            Ok((self.answer)(apdu))
        }
    }

    fn scripted<F: FnMut(&[u8]) -> Vec<u8>>(answer: F) -> Scripted<F> {
        Scripted {
            answer,
            sent: Vec::new(),
        }
    }

    fn with_sw(data: &[u8], sw: u16) -> Vec<u8> {
        [data, &sw.to_be_bytes()].concat()
    }

    fn select() -> Command {
        Command::new(0x00, 0xA4, 0x04, 0x00, vec![0xA0, 0x00], Some(256))
    }

    fn read_record(le: Option<usize>) -> Command {
        Command::new(0x00, 0xB2, 0x01, 0x2C, Vec::new(), le)
    }

    fn is_malformed(result: Result<Response>) -> bool {
        matches!(result, Err(Error::Malformed(_)))
    }

    #[test]
    fn more_data_is_fetched_with_get_response_in_as_many_rounds_as_it_takes() {
        let data: Vec<u8> = (0..=40).collect();
        let mut at = 0;
        let mut card = scripted(|apdu: &[u8]| match apdu.get(1) {
            Some(0xA4) => with_sw(&[], 0x6110),
            _ => {
                let le = usize::from(*apdu.last().unwrap_or(&0));
                let chunk = data.get(at..(at + le).min(data.len())).unwrap_or_default();
                at += chunk.len();
                match data.len() - at {
                    0 => with_sw(chunk, 0x9000),
                    n => with_sw(chunk, 0x6100 | n.min(16) as u16),
                }
            }
        });
        let answer = card.send(&select()).unwrap();
        assert_eq!(answer, Response::ok((0..=40).collect()));
        assert_eq!(
            card.sent[1..],
            [
                vec![0x00, 0xC0, 0x00, 0x00, 0x10],
                vec![0x00, 0xC0, 0x00, 0x00, 0x10],
                vec![0x00, 0xC0, 0x00, 0x00, 0x09],
            ]
        );
    }

    #[test]
    fn data_before_61_is_kept_and_61_00_asks_for_256_bytes() {
        let mut card = scripted(|apdu: &[u8]| match apdu {
            [0x00, 0xC0, 0x00, 0x00, 0x00] => with_sw(&[0xBB; 256], 0x6283),
            _ => with_sw(&[0xAA; 3], 0x6100),
        });
        let answer = card.send(&select()).unwrap();
        assert_eq!(answer.data.len(), 259);
        assert_eq!(answer.data[..3], [0xAA; 3]);
        // The status after the data is the card's last.
        assert_eq!(answer.status, StatusWord::SelectedFileInvalidated);
    }

    #[test]
    fn get_response_keeps_the_logical_channel_and_drops_the_rest_of_the_class() {
        for (cla, expected) in [
            (0x00, 0x00),
            (0x03, 0x03),
            (0x0D, 0x01),
            (0x1E, 0x02),
            (0x80, 0x00),
            (0x84, 0x00),
            (0x81, 0x01),
            (0xBF, 0x00),
            (0x40, 0x40),
            (0x6F, 0x4F),
            (0xC5, 0x45),
            (0x20, 0x00),
            (0xFF, 0x00),
        ] {
            assert_eq!(get_response_class(cla), expected, "{cla:02X}");
        }
        let mut card = scripted(|apdu: &[u8]| match apdu.get(1) {
            Some(0xC0) => with_sw(&[1, 2], 0x9000),
            _ => with_sw(&[], 0x6102),
        });
        let on_channel_2 = Command::new(0x0E, 0x88, 0, 0, vec![0; 16], Some(2));
        assert_eq!(card.send(&on_channel_2).unwrap(), Response::ok(vec![1, 2]));
        assert_eq!(card.sent[1], [0x02, 0xC0, 0x00, 0x00, 0x02]);
    }

    #[test]
    fn wrong_le_sends_the_command_once_more_with_the_exact_le() {
        let mut card = scripted(|apdu: &[u8]| match apdu.last() {
            Some(0x12) => with_sw(&[0x55; 0x12], 0x9000),
            _ => with_sw(&[], 0x6C12),
        });
        let answer = card.send(&read_record(Some(256))).unwrap();
        assert_eq!(answer, Response::ok(vec![0x55; 0x12]));
        assert_eq!(
            card.sent,
            [
                vec![0x00, 0xB2, 0x01, 0x2C, 0x00],
                vec![0x00, 0xB2, 0x01, 0x2C, 0x12],
            ]
        );
        // GET RESPONSE with a wrong Le is sent again the same way.
        let mut card = scripted(|apdu: &[u8]| match apdu {
            [0x00, 0xC0, 0x00, 0x00, 0x08] => with_sw(&[7; 8], 0x9000),
            [0x00, 0xC0, ..] => with_sw(&[], 0x6C08),
            _ => with_sw(&[], 0x6110),
        });
        assert_eq!(card.send(&select()).unwrap(), Response::ok(vec![7; 8]));
        assert_eq!(card.sent.len(), 3);
    }

    #[test]
    fn hostile_wrong_le_answers_are_refused_after_one_resend_at_most() {
        // A second 6C.
        let mut card = scripted(|apdu: &[u8]| match apdu.last() {
            Some(0x12) => with_sw(&[], 0x6C11),
            _ => with_sw(&[], 0x6C12),
        });
        assert!(is_malformed(card.send(&read_record(Some(256)))));
        assert_eq!(card.sent.len(), 2);
        // 6C 00 (256 bytes) to a command that asked for 256, or for 8.
        for le in [256, 8] {
            let mut card = scripted(|_: &[u8]| with_sw(&[], 0x6C00));
            assert!(is_malformed(card.send(&read_record(Some(le)))));
            assert_eq!(card.sent.len(), 1);
        }
        // More than was asked, as many as were asked, and any to a command
        // that asked for none.
        for (le, sw) in [(Some(8), 0x6C10), (Some(8), 0x6C08), (None, 0x6C04)] {
            let mut card = scripted(|_: &[u8]| with_sw(&[], sw));
            assert!(is_malformed(card.send(&read_record(le))), "{le:?} {sw:04X}");
            assert_eq!(card.sent.len(), 1);
        }
    }

    #[test]
    fn endless_more_data_is_bounded_in_rounds_and_in_bytes() {
        // 61 01 with no data, forever.
        let mut card = scripted(|_: &[u8]| with_sw(&[], 0x6101));
        assert!(is_malformed(card.send(&select())));
        assert_eq!(card.sent.len(), 1 + MAX_GET_RESPONSE);
        // 61 10 with 16 bytes each time.
        let mut card = scripted(|_: &[u8]| with_sw(&[0; 16], 0x6110));
        assert!(is_malformed(card.send(&select())));
        assert_eq!(card.sent.len(), 1 + MAX_GET_RESPONSE);
        // 61 00 with more than it announced each time: the byte cap first.
        let mut card = scripted(|_: &[u8]| with_sw(&[0; 1000], 0x6100));
        assert!(is_malformed(card.send(&select())));
        assert!(card.sent.len() <= 1 + MAX_RESPONSE / 1000);
        // 61 00 with 256 bytes each time: exactly the cap, then too many rounds.
        let mut card = scripted(|_: &[u8]| with_sw(&[0; 256], 0x6100));
        assert!(is_malformed(card.send(&select())));
        assert!(card.sent.len() <= 1 + MAX_GET_RESPONSE);
    }

    #[test]
    fn answers_too_short_to_be_a_response_are_malformed() {
        for short in [&[][..], &[0x90]] {
            let mut card = scripted(|_: &[u8]| short.to_vec());
            assert!(is_malformed(card.send(&select())));
        }
    }

    #[test]
    fn a_get_response_that_fails_ends_with_its_status() {
        let mut card = scripted(|apdu: &[u8]| match apdu.get(1) {
            Some(0xC0) => with_sw(&[], 0x6F00),
            _ => with_sw(&[], 0x6108),
        });
        let answer = card.send(&select()).unwrap();
        assert_eq!(answer, Response::status(StatusWord::NoPreciseDiagnosis));
        assert_eq!(card.sent.len(), 2);
    }
}
