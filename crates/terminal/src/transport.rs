//! How the terminal reaches a card or a PSAM: a reader of the PC/SC stack
//! (pcsc-lite through the `pcsc` crate), or a virtual chip in process.

use sscard_apdu::{Command, Response};
use sscard_card::vpcd::Chip;

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

    /// Sends a command and parses the response.
    fn send(&mut self, command: &Command) -> Result<Response> {
        let apdu = command
            .encode()
            .map_err(|e| Error::Invalid(format!("command: {e}")))?;
        let raw = self.transmit_raw(&apdu)?;
        Response::parse(&raw).map_err(|e| Error::Transport(format!("response: {e}")))
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
