//! Command APDUs (ISO/IEC 7816-4 §5.1, ISO/IEC 7816-3 §12.1.3): the four
//! cases, each in short or extended length.

use crate::{Error, Result};

/// How the lengths of a command are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthForm {
    /// One-byte Lc and Le: up to 255 data bytes and 256 expected.
    Short,
    /// `00` then two-byte Lc and Le: up to 65535 data bytes and 65536 expected.
    Extended,
}

/// A command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte; bit 3 (`0x04`) marks secure messaging.
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (Lc is its length).
    pub data: Vec<u8>,
    /// Bytes expected in the response, 1 to 256 (short) or 65536
    /// (extended); `None` when no data is expected.
    pub le: Option<usize>,
    /// The length encoding.
    pub form: LengthForm,
}

const SHORT_DATA: usize = 255;
const SHORT_LE: usize = 256;
const EXTENDED_DATA: usize = 65_535;
const EXTENDED_LE: usize = 65_536;

impl Command {
    /// A command in the shortest form that holds `data` and `le`.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<usize>) -> Self {
        let form = if data.len() <= SHORT_DATA && le.is_none_or(|n| n <= SHORT_LE) {
            LengthForm::Short
        } else {
            LengthForm::Extended
        };
        Self {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
            form,
        }
    }

    /// The header: CLA INS P1 P2.
    pub fn header(&self) -> [u8; 4] {
        [self.cla, self.ins, self.p1, self.p2]
    }

    /// Parses a command of any case and form.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (header, body) = bytes.split_first_chunk::<4>().ok_or(Error::TooShort {
            what: "command",
            len: bytes.len(),
        })?;
        let [cla, ins, p1, p2] = *header;
        let mismatch = Error::LengthMismatch { len: bytes.len() };
        let make = |data: &[u8], le: Option<usize>, form| Self {
            cla,
            ins,
            p1,
            p2,
            data: data.to_vec(),
            le,
            form,
        };
        let short_le = |b: u8| if b == 0 { SHORT_LE } else { usize::from(b) };
        let extended_le = |hi: u8, lo: u8| match u16::from_be_bytes([hi, lo]) {
            0 => EXTENDED_LE,
            n => usize::from(n),
        };
        match body {
            // Case 1.
            [] => Ok(make(&[], None, LengthForm::Short)),
            // Case 2S.
            [le] => Ok(make(&[], Some(short_le(*le)), LengthForm::Short)),
            // Case 2E.
            [0, hi, lo] => Ok(make(&[], Some(extended_le(*hi, *lo)), LengthForm::Extended)),
            // Cases 3E and 4E.
            [0, hi, lo, rest @ ..] => {
                let lc = usize::from(u16::from_be_bytes([*hi, *lo]));
                match (lc, rest.split_at_checked(lc)) {
                    (0, _) | (_, None) => Err(mismatch),
                    (_, Some((data, []))) => Ok(make(data, None, LengthForm::Extended)),
                    (_, Some((data, [hi, lo]))) => Ok(make(
                        data,
                        Some(extended_le(*hi, *lo)),
                        LengthForm::Extended,
                    )),
                    _ => Err(mismatch),
                }
            }
            // Cases 3S and 4S.
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match (lc, rest.split_at_checked(lc)) {
                    (0, _) | (_, None) => Err(mismatch),
                    (_, Some((data, []))) => Ok(make(data, None, LengthForm::Short)),
                    (_, Some((data, [le]))) => {
                        Ok(make(data, Some(short_le(*le)), LengthForm::Short))
                    }
                    _ => Err(mismatch),
                }
            }
        }
    }

    /// Encodes the command in its length form.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(9 + self.data.len());
        out.extend_from_slice(&self.header());
        if let Some(le) = self.le {
            if le == 0 || le > EXTENDED_LE {
                return Err(Error::TooLong {
                    field: "Le",
                    len: le,
                });
            }
        }
        match self.form {
            LengthForm::Short => {
                if self.data.len() > SHORT_DATA {
                    return Err(Error::TooLong {
                        field: "short command data",
                        len: self.data.len(),
                    });
                }
                if !self.data.is_empty() {
                    out.push(self.data.len() as u8);
                    out.extend_from_slice(&self.data);
                }
                if let Some(le) = self.le {
                    if le > SHORT_LE {
                        return Err(Error::TooLong {
                            field: "short Le",
                            len: le,
                        });
                    }
                    out.push((le % SHORT_LE) as u8);
                }
            }
            LengthForm::Extended => {
                if self.data.len() > EXTENDED_DATA {
                    return Err(Error::TooLong {
                        field: "command data",
                        len: self.data.len(),
                    });
                }
                if self.data.is_empty() && self.le.is_none() {
                    // Case 1 has one form only.
                    return Ok(out);
                }
                out.push(0);
                if !self.data.is_empty() {
                    out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
                    out.extend_from_slice(&self.data);
                }
                if let Some(le) = self.le {
                    out.extend_from_slice(&((le % EXTENDED_LE) as u16).to_be_bytes());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_four_cases_in_both_forms() {
        use LengthForm::{Extended, Short};
        type Case = (&'static [u8], &'static [u8], Option<usize>, LengthForm);
        let cases: [Case; 8] = [
            (&[0, 0x84, 0, 0], &[], None, Short),
            (&[0, 0x84, 0, 0, 8], &[], Some(8), Short),
            (&[0, 0xB0, 0, 0, 0], &[], Some(256), Short),
            (&[0, 0x20, 0, 0, 2, 0x12, 0x34], &[0x12, 0x34], None, Short),
            (&[0, 0x88, 0, 0, 1, 7, 8], &[7], Some(8), Short),
            (&[0, 0xB0, 0, 0, 0, 1, 0], &[], Some(256), Extended),
            (&[0, 0xB0, 0, 0, 0, 0, 0], &[], Some(65_536), Extended),
            (&[0, 0xD6, 0, 0, 0, 0, 1, 9, 0, 4], &[9], Some(4), Extended),
        ];
        for (bytes, data, le, form) in cases {
            let parsed = Command::parse(bytes).unwrap();
            assert_eq!(
                (parsed.data.as_slice(), parsed.le, parsed.form),
                (data, le, form)
            );
            assert_eq!(parsed.encode().unwrap(), bytes);
        }
        let big = Command::new(0, 0xD6, 0, 0, vec![0xAB; 300], None);
        assert_eq!(big.form, LengthForm::Extended);
        assert_eq!(Command::parse(&big.encode().unwrap()).unwrap(), big);
    }

    #[test]
    fn malformed_commands_are_refused() {
        for bad in [
            &[0u8, 0xA4, 4][..],
            &[0, 0xA4, 4, 0, 3, 1, 2],
            &[0, 0xA4, 4, 0, 1, 1, 2, 3],
            &[0, 0xA4, 4, 0, 0, 0],
            &[0, 0xA4, 4, 0, 0, 0, 0, 1],
            &[0, 0xA4, 4, 0, 0, 0, 2, 1, 2, 3],
            &[0, 0xA4, 4, 0, 0, 5],
        ] {
            assert!(Command::parse(bad).is_err(), "{bad:02x?}");
        }
    }

    fn command() -> impl Strategy<Value = Command> {
        (
            any::<[u8; 4]>(),
            proptest::collection::vec(any::<u8>(), 0..400),
            proptest::option::of(1usize..=65_536),
            any::<bool>(),
        )
            .prop_map(|(h, data, le, extended)| {
                let mut c = Command::new(h[0], h[1], h[2], h[3], data, le);
                if extended && !(c.data.is_empty() && c.le.is_none()) {
                    c.form = LengthForm::Extended;
                }
                c
            })
    }

    proptest! {
        #[test]
        fn encode_then_parse_is_the_identity(c in command()) {
            prop_assert_eq!(Command::parse(&c.encode().unwrap()).unwrap(), c);
        }

        #[test]
        fn any_bytes_parse_or_are_refused_and_what_parses_encodes_back(
            bytes in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            if let Ok(c) = Command::parse(&bytes) {
                prop_assert_eq!(c.encode().unwrap(), bytes);
            }
        }
    }
}
