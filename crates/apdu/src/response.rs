//! Response APDUs (ISO/IEC 7816-4 §5.1): data, then SW1 SW2.

use crate::{Error, Result, StatusWord};

/// A response APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data.
    pub data: Vec<u8>,
    /// The status word.
    pub status: StatusWord,
}

impl Response {
    /// A response with data and `90 00`.
    pub fn ok(data: Vec<u8>) -> Self {
        Self {
            data,
            status: StatusWord::Ok,
        }
    }

    /// A response with no data.
    pub fn status(status: StatusWord) -> Self {
        Self {
            data: Vec::new(),
            status,
        }
    }

    /// Parses data ‖ SW1 SW2.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (data, sw) = bytes.split_last_chunk::<2>().ok_or(Error::TooShort {
            what: "response",
            len: bytes.len(),
        })?;
        Ok(Self {
            data: data.to_vec(),
            status: StatusWord::from_u16(u16::from_be_bytes(*sw)),
        })
    }

    /// Encodes data ‖ SW1 SW2.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.status.to_u16().to_be_bytes());
        out
    }

    /// Whether the status is `90 00`.
    pub fn is_ok(&self) -> bool {
        self.status == StatusWord::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_and_encode_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            match Response::parse(&bytes) {
                Ok(r) => prop_assert_eq!(r.encode(), bytes),
                Err(_) => prop_assert!(bytes.len() < 2),
            }
        }
    }
}
