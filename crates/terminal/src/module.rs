//! The terminal's secure module: a PSAM in a reader (or in process), or the
//! platform's derivation service (HSM mode, in `sscard terminal --hsm`).
//! Either computes under the card's keys without handing them out.

use sscard_apdu::{Command, StatusWord};
use sscard_card::crypto;
use sscard_card::profile::{self, ins, CardAlgorithm};
use sscard_card::profile::{key_type, EF_TERMINAL_NO};

use crate::transport::Transport;
use crate::{Error, Result};

/// The card a computation is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRef {
    /// Region code from its 卡识别码.
    pub region: String,
    /// Its card factor.
    pub card_factor: [u8; 8],
    /// Its block cipher.
    pub algorithm: CardAlgorithm,
}

/// What a terminal asks of its PSAM or HSM.
pub trait SecureModule {
    /// The terminal number (12 digits).
    fn terminal_no(&mut self) -> Result<String>;

    /// The cryptogram of `data` under card key `id`, diversified by the card
    /// factor then `rand`, folded to 8 bytes.
    fn cryptogram(
        &mut self,
        id: u8,
        card: &CardRef,
        rand: &[u8; 8],
        data: &[u8; 8],
    ) -> Result<[u8; 8]>;

    /// The secure-messaging MAC of `input` under card key `id`, with the
    /// card's challenge as initial value.
    fn mac(&mut self, id: u8, card: &CardRef, challenge: &[u8], input: &[u8]) -> Result<[u8; 4]>;

    /// The PIN block of `pin` enciphered under card key `id`.
    fn encipher_pin(&mut self, id: u8, card: &CardRef, pin: &str) -> Result<Vec<u8>>;
}

impl<M: SecureModule + ?Sized> SecureModule for Box<M> {
    fn terminal_no(&mut self) -> Result<String> {
        (**self).terminal_no()
    }
    fn cryptogram(
        &mut self,
        id: u8,
        card: &CardRef,
        rand: &[u8; 8],
        data: &[u8; 8],
    ) -> Result<[u8; 8]> {
        (**self).cryptogram(id, card, rand, data)
    }
    fn mac(&mut self, id: u8, card: &CardRef, challenge: &[u8], input: &[u8]) -> Result<[u8; 4]> {
        (**self).mac(id, card, challenge, input)
    }
    fn encipher_pin(&mut self, id: u8, card: &CardRef, pin: &str) -> Result<Vec<u8>> {
        (**self).encipher_pin(id, card, pin)
    }
}

/// A PSAM behind a transport.
pub struct Psam<T: Transport> {
    transport: T,
    algorithm: Option<CardAlgorithm>,
}

impl<T: Transport> Psam<T> {
    /// A PSAM; `algorithm` is the cipher of its masters when known.
    pub fn new(transport: T, algorithm: Option<CardAlgorithm>) -> Self {
        Self {
            transport,
            algorithm,
        }
    }

    fn init(&mut self, id: u8, levels: u8, card: &CardRef, rand: Option<&[u8; 8]>) -> Result<()> {
        if self.algorithm.is_some_and(|a| a != card.algorithm) {
            return Err(Error::AlgorithmNotSupported(card.algorithm.tag_value()));
        }
        let kind =
            key_type(id).ok_or_else(|| Error::Invalid(format!("no PSAM key for {id:02X}")))?;
        let mut data = card.card_factor.to_vec();
        data.extend(profile::city_factor(&card.region));
        if let Some(rand) = rand {
            data.extend(rand);
        }
        let answer = self.transport.send(&Command::new(
            0xBF,
            ins::PSAM_INIT,
            (levels << 5) | kind,
            id,
            data,
            None,
        ))?;
        match answer.status {
            StatusWord::Ok => Ok(()),
            StatusWord::ConditionsNotSatisfied | StatusWord::ReferencedDataNotFound => {
                Err(Error::PsamKeyInsufficient(answer.status))
            }
            status => Err(Error::Card {
                step: "PSAM init",
                status,
            }),
        }
    }

    fn compute(&mut self, p1: u8, data: Vec<u8>) -> Result<Vec<u8>> {
        let answer = self.transport.send(&Command::new(
            0x80,
            ins::PSAM_COMPUTE,
            p1,
            0,
            data,
            Some(256),
        ))?;
        if answer.is_ok() {
            Ok(answer.data)
        } else {
            Err(Error::Card {
                step: "PSAM compute",
                status: answer.status,
            })
        }
    }
}

impl<T: Transport> SecureModule for Psam<T> {
    fn terminal_no(&mut self) -> Result<String> {
        let answer = self.transport.send(&Command::new(
            0x00,
            ins::READ_BINARY,
            0x80 | EF_TERMINAL_NO,
            0,
            Vec::new(),
            Some(6),
        ))?;
        if !answer.is_ok() {
            return Err(Error::NoPsam(format!(
                "reading the terminal number: {}",
                answer.status
            )));
        }
        profile::unbcd(&answer.data)
            .ok_or_else(|| Error::NoPsam("the terminal number is not BCD".into()))
    }

    fn cryptogram(
        &mut self,
        id: u8,
        card: &CardRef,
        rand: &[u8; 8],
        data: &[u8; 8],
    ) -> Result<[u8; 8]> {
        self.init(id, 2, card, Some(rand))?;
        let out = self.compute(0x00, crypto::pad8(card.algorithm.block(), data))?;
        crypto::fold(&out).map_err(|e| Error::NoPsam(e.to_string()))
    }

    fn mac(&mut self, id: u8, card: &CardRef, challenge: &[u8], input: &[u8]) -> Result<[u8; 4]> {
        self.init(id, 1, card, None)?;
        let mut data = crypto::challenge_iv(card.algorithm.block(), challenge);
        data.extend_from_slice(input);
        let out = self.compute(0x05, data)?;
        out.get(..4)
            .and_then(|m| m.try_into().ok())
            .ok_or_else(|| Error::NoPsam("a MAC of the wrong length".into()))
    }

    fn encipher_pin(&mut self, id: u8, card: &CardRef, pin: &str) -> Result<Vec<u8>> {
        let block = crypto::pin_block(card.algorithm.block(), pin)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        self.init(id, 1, card, None)?;
        self.compute(0x00, block.to_vec())
    }
}
