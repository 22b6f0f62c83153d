//! A virtual PSAM: the terminal's secure module holding the masters of its
//! region. It diversifies a card key (card factor) and a session key
//! (terminal random) with `BF DE`, then encrypts or MACs with `80 FA`, as
//! card-profile.md describes; it refuses a card of another region.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sscard_apdu::{Command, Response, StatusWord};
use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::sm2::{self, CiphertextFormat, Sm2PrivateKey};
use sscard_gm::{diversify, BlockKey};

use crate::image::{self, Lifecycle, PsamImage, PsamKeyEntry, Secret};
use sscard_card::profile::{self, ins, key_type, CardAlgorithm, EF_TERMINAL_NO};
use sscard_card::{Error, Result};

/// The format tag of a PSAM file.
pub const PSAM_FORMAT: &str = "sscard-psam/1";

/// A virtual PSAM.
pub struct VirtualPsam {
    image: PsamImage,
    path: Option<PathBuf>,
    current: Option<BlockKey>,
}

impl core::fmt::Debug for VirtualPsam {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtualPsam")
            .field("terminal_no", &self.image.terminal_no)
            .field("region", &self.image.region)
            .finish_non_exhaustive()
    }
}

type Answer = core::result::Result<Response, StatusWord>;

impl VirtualPsam {
    /// A blank PSAM for `region` and terminal `terminal_no` (12 digits),
    /// with its own SM2 transport key.
    pub fn blank(algorithm: CardAlgorithm, region: &str, terminal_no: &str) -> Result<Self> {
        if !profile::is_region(region) {
            return Err(Error::Invalid(format!(
                "{region:?} is not a 6-digit region code"
            )));
        }
        if terminal_no.len() != 12 || !terminal_no.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Invalid("a terminal number is 12 digits".into()));
        }
        Ok(Self::from_image(
            PsamImage {
                format: PSAM_FORMAT.into(),
                algorithm,
                terminal_no: terminal_no.into(),
                region: region.into(),
                lifecycle: Lifecycle::Blank,
                transport_key: Some(Secret(Sm2PrivateKey::generate()?.to_pkcs8_der()?)),
                keys: BTreeMap::new(),
            },
            None,
        ))
    }

    /// A PSAM from its memory.
    pub fn from_image(image: PsamImage, path: Option<PathBuf>) -> Self {
        Self {
            image,
            path,
            current: None,
        }
    }

    /// Opens a PSAM file; changes are written back to it.
    pub fn open(path: &Path) -> Result<Self> {
        let image: PsamImage = image::load(path, PSAM_FORMAT)?;
        Ok(Self::from_image(image, Some(path.to_path_buf())))
    }

    /// Writes the PSAM to `path` and keeps writing there.
    pub fn save_to(&mut self, path: &Path) -> Result<()> {
        image::save(path, &self.image)?;
        self.path = Some(path.to_path_buf());
        Ok(())
    }

    /// The PSAM's memory.
    pub fn image(&self) -> &PsamImage {
        &self.image
    }

    /// The answer to reset: T=1, historical bytes `PSAM` and the terminal number.
    pub fn atr(&self) -> Vec<u8> {
        let mut atr = vec![0x3B, 0x8A, 0x80, 0x01, b'P', b'S', b'A', b'M'];
        atr.extend(profile::bcd(&self.image.terminal_no).unwrap_or_default());
        let tck = atr.iter().skip(1).fold(0u8, |acc, b| acc ^ b);
        atr.push(tck);
        atr
    }

    /// A reset: the current key goes.
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// Processes one command APDU; never panics.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let response = match Command::parse(apdu) {
            Ok(command) => self.process(&command).unwrap_or_else(Response::status),
            Err(_) => Response::status(StatusWord::WrongLength),
        };
        response.encode()
    }

    fn process(&mut self, command: &Command) -> Answer {
        match (command.cla, command.ins) {
            (0x00, ins::SELECT) => Ok(Response::ok(Vec::new())),
            (0x00, ins::READ_BINARY) => self.read_binary(command),
            (0xBF, ins::PSAM_INIT) => self.init(command),
            (0x80, ins::PSAM_COMPUTE) => self.compute(command),
            (0x80, ins::GET_DATA) => self.get_data(command),
            (0x80, ins::PUT_KEY) => self.put_key(command),
            (0x80, ins::END_PERSONALIZATION) => self.end_personalization(),
            (0x00 | 0x80 | 0xBF, _) => Err(StatusWord::InsNotSupported),
            _ => Err(StatusWord::ClaNotSupported),
        }
    }

    fn read_binary(&mut self, command: &Command) -> Answer {
        if command.p1 != 0x80 | EF_TERMINAL_NO {
            return Err(StatusWord::FileNotFound);
        }
        let number = profile::bcd(&self.image.terminal_no).ok_or(StatusWord::NoPreciseDiagnosis)?;
        Ok(Response::ok(number))
    }

    /// `BF DE <usage> <key id> <Lc> card8 ‖ city8 [‖ rand8] [‖ 00×8]`:
    /// levels = usage >> 5 (1: the card key; 2: a session key of it).
    fn init(&mut self, command: &Command) -> Answer {
        self.current = None;
        if self.image.lifecycle != Lifecycle::Issued {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let usage = command.p1;
        let entry = self
            .image
            .keys
            .get(&command.p2)
            .ok_or(StatusWord::ReferencedDataNotFound)?;
        if usage & 0x1F != entry.usage & 0x1F {
            return Err(StatusWord::ReferencedDataNotFound);
        }
        let levels = usize::from(usage >> 5);
        if !(1..=2).contains(&levels) {
            return Err(StatusWord::IncorrectP1P2);
        }
        let needed = 8 * (levels + 1);
        let data = &command.data;
        if data.len() != needed && data.len() != needed + 8 {
            return Err(StatusWord::WrongLength);
        }
        if data
            .get(needed..)
            .is_some_and(|pad| pad.iter().any(|b| *b != 0))
        {
            return Err(StatusWord::IncorrectData);
        }
        let card8 = data.get(..8).ok_or(StatusWord::WrongLength)?;
        let city8 = data.get(8..16).ok_or(StatusWord::WrongLength)?;
        if city8 != profile::city_factor(&self.image.region) {
            // A card of another region: this PSAM holds no key for it.
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        let master = BlockKey::new(self.image.algorithm.block(), &entry.key.0)
            .map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        let mut key =
            diversify::derive(&master, card8).map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        if levels == 2 {
            let rand8 = data.get(16..24).ok_or(StatusWord::WrongLength)?;
            key = diversify::derive(&key, rand8).map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        }
        self.current = Some(key);
        Ok(Response::ok(Vec::new()))
    }

    /// `80 FA 00 00 <Lc> blocks` encrypts whole blocks (ECB);
    /// `80 FA 05 00 <Lc> IV ‖ data` returns the 4-byte CBC-MAC.
    fn compute(&mut self, command: &Command) -> Answer {
        let key = self
            .current
            .as_ref()
            .ok_or(StatusWord::ConditionsNotSatisfied)?;
        let size = key.algorithm().block_size();
        match command.p1 {
            0x00 => {
                if command.data.is_empty() || !command.data.len().is_multiple_of(size) {
                    return Err(StatusWord::WrongLength);
                }
                let mut out = Vec::with_capacity(command.data.len());
                for block in command.data.chunks(size) {
                    out.extend(
                        diversify::encrypt_block(key, block)
                            .map_err(|_| StatusWord::NoPreciseDiagnosis)?,
                    );
                }
                Ok(Response::ok(out))
            }
            0x05 => {
                let (iv, data) = command
                    .data
                    .split_at_checked(size)
                    .ok_or(StatusWord::WrongLength)?;
                let tag = mac::mac(key, MacAlgorithm::CbcMac, Some(iv), data, Some(4))
                    .map_err(|_| StatusWord::NoPreciseDiagnosis)?;
                Ok(Response::ok(tag))
            }
            _ => Err(StatusWord::IncorrectP1P2),
        }
    }

    fn transport_key(&self) -> core::result::Result<Sm2PrivateKey, StatusWord> {
        image::transport_key(self.image.transport_key.as_ref(), self.image.lifecycle)
    }

    fn get_data(&mut self, command: &Command) -> Answer {
        if (command.p1, command.p2) != (0xDF, 0x01) {
            return Err(StatusWord::ReferencedDataNotFound);
        }
        Ok(Response::ok(
            self.transport_key()?.public_key().to_sec1_uncompressed(),
        ))
    }

    /// `80 D4 <version> <key id> <Lc> envelope`: an SM2 envelope to the
    /// chip's transport key, opening to the region master of that card key.
    fn put_key(&mut self, command: &Command) -> Answer {
        let key = self.transport_key()?;
        let usage = key_type(command.p2).ok_or(StatusWord::ReferencedDataNotFound)?;
        let master = sm2::decrypt(&key, &command.data, CiphertextFormat::Der)
            .map_err(|_| StatusWord::SecureMessagingDataWrong)?;
        BlockKey::new(self.image.algorithm.block(), &master)
            .map_err(|_| StatusWord::IncorrectData)?;
        self.image.keys.insert(
            command.p2,
            PsamKeyEntry {
                usage,
                version: command.p1,
                key: Secret(master),
            },
        );
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }

    fn end_personalization(&mut self) -> Answer {
        self.transport_key()?;
        if self.image.keys.is_empty() {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        self.image.lifecycle = Lifecycle::Issued;
        self.image.transport_key = None;
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }

    fn persist(&mut self) -> core::result::Result<(), StatusWord> {
        image::persist(self.path.as_deref(), &self.image)
    }
}
