//! A chip that answers as a T=0 card does through PC/SC (ISO/IEC 7816-3
//! §10.3, ISO/IEC 7816-4 §5.3.4): it holds back the data of a response,
//! announcing it with `61 XX` for GET RESPONSE to fetch, in chunks of at
//! most a given size; and it answers `6C XX` (the exact length) to a
//! command that expects data with an Le that does not fit, sending the
//! data once the command comes again with Le = XX.
//!
//! Wrapped around the virtual card or PSAM (`sscard card serve-vpcd --t0`),
//! it shows that a terminal reads such cards as it reads the others.

use sscard_apdu::{Command, Response, StatusWord};

use sscard_apdu::Chip;

/// INS of GET RESPONSE.
const GET_RESPONSE: u8 = 0xC0;

/// A chip answering in the manner of T=0 around `C`.
#[derive(Debug)]
pub struct T0<C> {
    inner: C,
    chunk: usize,
    /// Data announced with `61 XX` and not yet fetched, and the status word
    /// that follows it.
    pending: Option<(Vec<u8>, StatusWord)>,
    /// The command answered with `6C XX` and its response, sent when the
    /// same command comes again with Le = XX.
    held: Option<(Command, Response)>,
}

impl<C: Chip> T0<C> {
    /// `inner` answering in the manner of T=0, giving at most `chunk` bytes
    /// (1 to 256; clamped) to each GET RESPONSE.
    pub fn new(inner: C, chunk: usize) -> Self {
        Self {
            inner,
            chunk: chunk.clamp(1, 256),
            pending: None,
            held: None,
        }
    }

    /// The chip inside.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// `61 XX` for `remaining` bytes, at most one chunk announced.
    fn more(&self, remaining: usize) -> StatusWord {
        StatusWord::MoreData((remaining.min(self.chunk) % 256) as u8)
    }

    /// Holds `data` back behind `61 XX`, with `status` to follow it.
    fn hold_back(&mut self, data: Vec<u8>, status: StatusWord) -> Response {
        let announce = self.more(data.len());
        self.pending = Some((data, status));
        Response::status(announce)
    }

    fn get_response(&mut self, command: &Command) -> Response {
        if command.cla != 0x00 {
            return Response::status(StatusWord::ClaNotSupported);
        }
        if (command.p1, command.p2) != (0, 0) || !command.data.is_empty() {
            return Response::status(StatusWord::IncorrectP1P2);
        }
        let Some((mut data, status)) = self.pending.take() else {
            return Response::status(StatusWord::ConditionsNotSatisfied);
        };
        let le = command.le.unwrap_or(256);
        let give = le.min(self.chunk).min(data.len());
        let rest = data.split_off(give);
        if rest.is_empty() {
            Response { data, status }
        } else {
            let announce = self.more(rest.len());
            self.pending = Some((rest, status));
            Response {
                data,
                status: announce,
            }
        }
    }

    fn process(&mut self, command: Command, apdu: &[u8]) -> Response {
        if command.ins == GET_RESPONSE {
            return self.get_response(&command);
        }
        self.pending = None;
        if let Some((asked, response)) = self.held.take() {
            let again = (asked.header(), &asked.data) == (command.header(), &command.data);
            if again && command.le == Some(response.data.len()) {
                return response;
            }
        }
        let Ok(response) = Response::parse(&self.inner.transmit(apdu)) else {
            return Response::status(StatusWord::NoPreciseDiagnosis);
        };
        if response.data.is_empty() {
            return response;
        }
        match command.le {
            // Case 2: the data goes at once when Le is exact, else `6C XX`.
            Some(le) if command.data.is_empty() => {
                if le == response.data.len() {
                    response
                } else if response.data.len() <= 256 {
                    let exact = (response.data.len() % 256) as u8;
                    self.held = Some((command, response));
                    Response::status(StatusWord::WrongLe(exact))
                } else {
                    self.hold_back(response.data, response.status)
                }
            }
            // Case 4 (and data where none was asked): `61 XX`.
            _ => self.hold_back(response.data, response.status),
        }
    }
}

impl<C: Chip> Chip for T0<C> {
    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn reset(&mut self) {
        self.pending = None;
        self.held = None;
        self.inner.reset();
    }

    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        match Command::parse(apdu) {
            Ok(command) => self.process(command, apdu).encode(),
            // Malformed: the card inside answers it as it does (`67 00`).
            Err(_) => {
                self.pending = None;
                self.held = None;
                self.inner.transmit(apdu)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chip with fixed answers that counts the commands it is sent.
    #[derive(Default)]
    struct Fixed {
        calls: usize,
    }

    impl Chip for Fixed {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x00]
        }
        fn reset(&mut self) {}
        fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.calls += 1;
            let data: Vec<u8> = match apdu.get(1) {
                Some(0xA4) => (0..40).collect(),
                Some(0xB2) => vec![0x11; 20],
                Some(0xB0) => vec![0x22; 300],
                Some(0x20) => Vec::new(),
                _ => return vec![0x6D, 0x00],
            };
            Response::ok(data).encode()
        }
    }

    fn send(chip: &mut T0<Fixed>, apdu: &[u8]) -> Response {
        Response::parse(&chip.transmit(apdu)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn data_waits_behind_61_for_get_response_in_chunks() {
        let mut chip = T0::new(Fixed::default(), 16);
        let select = [0x00, 0xA4, 0x04, 0x00, 0x02, 0xA0, 0x00, 0x00];
        assert_eq!(send(&mut chip, &select).status, StatusWord::MoreData(16));
        let mut data = Vec::new();
        let mut status = StatusWord::MoreData(16);
        while let StatusWord::MoreData(n) = status {
            let answer = send(&mut chip, &[0x00, 0xC0, 0x00, 0x00, n]);
            assert!(answer.data.len() <= 16);
            data.extend(answer.data);
            status = answer.status;
        }
        assert_eq!((data, status), ((0..40).collect(), StatusWord::Ok));
        // Nothing is left to fetch.
        assert_eq!(
            send(&mut chip, &[0x00, 0xC0, 0x00, 0x00, 0x10]).status,
            StatusWord::ConditionsNotSatisfied
        );
        // A smaller Le than announced gets what it asks and the rest waits.
        send(&mut chip, &select);
        let answer = send(&mut chip, &[0x00, 0xC0, 0x00, 0x00, 0x05]);
        assert_eq!(
            (answer.data.len(), answer.status),
            (5, StatusWord::MoreData(16))
        );
        // Another command drops what waited; so does a reset.
        send(&mut chip, &[0x00, 0x20, 0x00, 0x00, 0x02, 0x12, 0x34]);
        assert_eq!(
            send(&mut chip, &[0x00, 0xC0, 0x00, 0x00, 0x10]).status,
            StatusWord::ConditionsNotSatisfied
        );
        send(&mut chip, &select);
        chip.reset();
        assert_eq!(
            send(&mut chip, &[0x00, 0xC0, 0x00, 0x00, 0x10]).status,
            StatusWord::ConditionsNotSatisfied
        );
        // GET RESPONSE is of the basic interindustry class only.
        send(&mut chip, &select);
        assert_eq!(
            send(&mut chip, &[0x80, 0xC0, 0x00, 0x00, 0x10]).status,
            StatusWord::ClaNotSupported
        );
    }

    #[test]
    fn a_wrong_le_gets_6c_and_the_same_command_with_the_exact_le_gets_the_data() {
        let mut chip = T0::new(Fixed::default(), 256);
        let answer = send(&mut chip, &[0x00, 0xB2, 0x01, 0x2C, 0x00]);
        assert_eq!(answer.status, StatusWord::WrongLe(20));
        let answer = send(&mut chip, &[0x00, 0xB2, 0x01, 0x2C, 20]);
        assert_eq!(answer, Response::ok(vec![0x11; 20]));
        // The held answer served the resend: the chip ran the command once.
        assert_eq!(chip.inner().calls, 1);
        // The exact Le at once, and a too small one.
        assert_eq!(
            send(&mut chip, &[0x00, 0xB2, 0x01, 0x2C, 20]).data.len(),
            20
        );
        let answer = send(&mut chip, &[0x00, 0xB2, 0x01, 0x2C, 4]);
        assert_eq!(answer.status, StatusWord::WrongLe(20));
        // More than 256 bytes cannot be named by 6C: 61 instead.
        let answer = send(&mut chip, &[0x00, 0xB0, 0x80, 0x00, 0x00]);
        assert_eq!(answer.status, StatusWord::MoreData(0));
        // Answers without data, and malformed commands, pass as they are.
        assert_eq!(
            send(&mut chip, &[0x00, 0x20, 0x00, 0x00, 0x02, 0x12, 0x34]),
            Response::ok(Vec::new())
        );
        assert_eq!(
            send(&mut chip, &[0x00, 0xCA]).status,
            StatusWord::InsNotSupported
        );
    }
}
