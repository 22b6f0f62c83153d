//! A virtual social security card: a small card OS over a [`CardImage`].
//!
//! It answers the commands of card-profile.md with their status words: the
//! SSSE application with its records and protected files, GET CHALLENGE,
//! internal and external authentication, the PIN with its try counter,
//! PIN reload and unblock under secure messaging, writes under secure
//! messaging, application and card blocking, and the personalization
//! commands of sscard (GET DATA of the chip key, PUT KEY as an SM2
//! envelope, END PERSONALIZATION). The security state is cleared on reset
//! and on every SELECT, and a challenge serves the one command after it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sscard_apdu::tlv::Tlv;
use sscard_apdu::{sm, Command, Response, StatusWord};
use sscard_gm::sm2::{self, CiphertextFormat, Sm2PrivateKey};
use sscard_gm::{ct_eq, random, BlockKey};
use zeroize::Zeroizing;

use crate::image::{self, CardImage, CardKeyEntry, Lifecycle, Secret};
use sscard_card::crypto;
use sscard_card::profile::{self, ins, key_id, CardAlgorithm, PIN_TRIES};
use sscard_card::{Error, Result};

/// The format tag of a card file.
pub const CARD_FORMAT: &str = "sscard-card/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    Nothing,
    Mf,
    Ssse,
    SubDf(u16),
}

/// A virtual card: its memory and its session state.
pub struct VirtualCard {
    image: CardImage,
    path: Option<PathBuf>,
    selected: Selected,
    challenge: Option<Vec<u8>>,
    authenticated: BTreeSet<u8>,
}

impl core::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("card_factor", &self.image.card_factor)
            .field("lifecycle", &self.image.lifecycle)
            .finish_non_exhaustive()
    }
}

type Answer = core::result::Result<Response, StatusWord>;

impl VirtualCard {
    /// A blank card of `region`, as it leaves the factory: a random card
    /// factor (unless given) and its own SM2 transport key, nothing else.
    pub fn blank(
        algorithm: CardAlgorithm,
        region: &str,
        card_factor: Option<[u8; 8]>,
    ) -> Result<Self> {
        if !profile::is_region(region) {
            return Err(Error::Invalid(format!(
                "{region:?} is not a 6-digit region code"
            )));
        }
        let factor = match card_factor {
            Some(f) => f.to_vec(),
            None => random::bytes(8)?.to_vec(),
        };
        let transport = Sm2PrivateKey::generate()?.to_pkcs8_der()?;
        Ok(Self::from_image(
            CardImage {
                format: CARD_FORMAT.into(),
                algorithm,
                generation: 3,
                card_factor: hex::encode_upper(factor),
                region: region.into(),
                lifecycle: Lifecycle::Blank,
                transport_key: Some(Secret(transport)),
                keys: BTreeMap::new(),
                pin: None,
                pin_tries_left: PIN_TRIES,
                records: BTreeMap::new(),
                binaries: BTreeMap::new(),
            },
            None,
        ))
    }

    /// A card from its memory; changes are written to `path` when given.
    pub fn from_image(image: CardImage, path: Option<PathBuf>) -> Self {
        Self {
            image,
            path,
            selected: Selected::Nothing,
            challenge: None,
            authenticated: BTreeSet::new(),
        }
    }

    /// Opens a card file; every change is written back to it.
    pub fn open(path: &Path) -> Result<Self> {
        let image: CardImage = image::load(path, CARD_FORMAT)?;
        if image.card_factor_bytes().is_none() {
            return Err(Error::BadImage("card_factor is not 8 bytes of hex".into()));
        }
        Ok(Self::from_image(image, Some(path.to_path_buf())))
    }

    /// Writes the card to `path` and keeps writing there.
    pub fn save_to(&mut self, path: &Path) -> Result<()> {
        image::save(path, &self.image)?;
        self.path = Some(path.to_path_buf());
        Ok(())
    }

    /// The card's memory.
    pub fn image(&self) -> &CardImage {
        &self.image
    }

    /// The card factor.
    pub fn card_factor(&self) -> [u8; 8] {
        self.image.card_factor_bytes().unwrap_or_default()
    }

    /// The answer to reset.
    pub fn atr(&self) -> Vec<u8> {
        profile::atr(&self.card_factor(), self.image.generation)
    }

    /// A reset (or power-on): the security state and the challenge go.
    pub fn reset(&mut self) {
        self.selected = Selected::Nothing;
        self.challenge = None;
        self.authenticated.clear();
    }

    /// Processes one command APDU and returns the response APDU. Malformed
    /// input gets its status word; nothing panics.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let response = match Command::parse(apdu) {
            Ok(command) => self.process(&command).unwrap_or_else(Response::status),
            Err(_) => Response::status(StatusWord::WrongLength),
        };
        response.encode()
    }

    fn persist(&mut self) -> core::result::Result<(), StatusWord> {
        image::persist(self.path.as_deref(), &self.image)
    }

    fn process(&mut self, command: &Command) -> Answer {
        // A challenge serves the one command after it, whatever that is.
        let challenge = if command.ins == ins::GET_CHALLENGE {
            None
        } else {
            self.challenge.take()
        };
        if self.image.lifecycle == Lifecycle::CardBlocked {
            return Err(StatusWord::ApplicationLocked);
        }
        if !matches!(command.cla & !sm::SM_BIT, 0x00 | 0x80) {
            return Err(StatusWord::ClaNotSupported);
        }
        if self.image.lifecycle == Lifecycle::ApplicationBlocked
            && !matches!(
                command.ins,
                ins::SELECT | ins::GET_CHALLENGE | ins::APPLICATION_UNBLOCK | ins::CARD_BLOCK
            )
        {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        match command.ins {
            ins::SELECT => self.select(command),
            ins::GET_CHALLENGE => self.get_challenge(command),
            ins::READ_RECORD => self.read_record(command),
            ins::READ_BINARY => self.read_binary(command),
            ins::UPDATE_RECORD => self.update_record(command, challenge.as_deref()),
            ins::UPDATE_BINARY => self.update_binary(command),
            ins::INTERNAL_AUTHENTICATE => self.internal_authenticate(command),
            ins::EXTERNAL_AUTHENTICATE => self.external_authenticate(command, challenge.as_deref()),
            ins::VERIFY => self.verify_pin(command),
            ins::CHANGE_PIN => self.change_pin(command),
            ins::PIN_RESET => self.reset_pin(command, challenge.as_deref()),
            ins::APPLICATION_BLOCK | ins::APPLICATION_UNBLOCK | ins::CARD_BLOCK => {
                self.block(command, challenge.as_deref())
            }
            ins::GET_DATA => self.get_data(command),
            ins::PUT_KEY => self.put_key(command),
            ins::END_PERSONALIZATION => self.end_personalization(),
            _ => Err(StatusWord::InsNotSupported),
        }
    }

    fn key(&self, id: u8) -> core::result::Result<BlockKey, StatusWord> {
        let entry = self
            .image
            .keys
            .get(&id)
            .ok_or(StatusWord::ReferencedDataNotFound)?;
        BlockKey::new(self.image.algorithm.block(), &entry.key.0)
            .map_err(|_| StatusWord::NoPreciseDiagnosis)
    }

    fn require_ssse(&self) -> core::result::Result<(), StatusWord> {
        match self.selected {
            Selected::Ssse | Selected::SubDf(_) => Ok(()),
            _ => Err(StatusWord::CommandNotAllowed),
        }
    }

    fn issued(&self) -> core::result::Result<(), StatusWord> {
        match self.image.lifecycle {
            Lifecycle::Issued => Ok(()),
            _ => Err(StatusWord::ConditionsNotSatisfied),
        }
    }

    /// Checks the MAC of a secure-messaging command under key `id` with the
    /// challenge, and returns the plain command.
    fn unprotect(
        &self,
        command: &Command,
        id: u8,
        challenge: Option<&[u8]>,
    ) -> core::result::Result<Command, StatusWord> {
        let challenge = challenge.ok_or(StatusWord::SecureMessagingDataWrong)?;
        let key = self.key(id)?;
        sm::unprotect(command, |input, mac| {
            crypto::sm_mac(&key, challenge, input).is_ok_and(|m| ct_eq(&m, mac))
        })
        .map_err(|_| StatusWord::SecureMessagingDataWrong)
    }

    fn select(&mut self, command: &Command) -> Answer {
        self.authenticated.clear();
        let target = match (command.p1, command.data.as_slice()) {
            (0x04, aid) if aid == profile::SSSE_AID => Selected::Ssse,
            (0x00..=0x02, [hi, lo]) => match u16::from_be_bytes([*hi, *lo]) {
                profile::MF_FID => Selected::Mf,
                fid if profile::SUB_DFS.contains(&fid) && self.selected != Selected::Nothing => {
                    Selected::SubDf(fid)
                }
                _ => return Err(StatusWord::FileNotFound),
            },
            (0x00..=0x04, _) => return Err(StatusWord::FileNotFound),
            _ => return Err(StatusWord::IncorrectP1P2),
        };
        self.selected = target;
        let data = match target {
            Selected::Ssse => {
                let algorithm = Tlv::new(0x86, vec![self.image.algorithm.tag_value()]).encode();
                let proprietary = Tlv::new(0xA5, Tlv::new(0x9F0C, algorithm).encode()).encode();
                let mut fci = Tlv::new(0x84, profile::SSSE_AID.to_vec()).encode();
                fci.extend(proprietary);
                Tlv::new(0x6F, fci).encode()
            }
            _ => Vec::new(),
        };
        let status = if self.image.lifecycle == Lifecycle::ApplicationBlocked {
            StatusWord::SelectedFileInvalidated
        } else {
            StatusWord::Ok
        };
        Ok(Response { data, status })
    }

    fn get_challenge(&mut self, command: &Command) -> Answer {
        let len = match command.le {
            Some(n @ (4 | 8)) => n,
            _ => return Err(StatusWord::WrongLength),
        };
        let challenge = random::bytes(len)
            .map_err(|_| StatusWord::NoPreciseDiagnosis)?
            .to_vec();
        self.challenge = Some(challenge.clone());
        Ok(Response::ok(challenge))
    }

    /// Whether reading file `sfi` needs the read key first.
    fn read_needs_authentication(&self, sfi: u8) -> bool {
        match sfi {
            profile::EF_HOLDER => self.image.generation >= 3,
            profile::EF_FINGERPRINT | profile::EF_PHOTO => true,
            _ => false,
        }
    }

    fn sfi_of_record_p2(p2: u8) -> core::result::Result<u8, StatusWord> {
        if p2 & 0x07 == 0x04 {
            Ok(p2 >> 3)
        } else {
            Err(StatusWord::IncorrectP1P2)
        }
    }

    fn read_record(&mut self, command: &Command) -> Answer {
        self.require_ssse()?;
        let sfi = Self::sfi_of_record_p2(command.p2)?;
        if self.read_needs_authentication(sfi)
            && self.image.lifecycle == Lifecycle::Issued
            && !self.authenticated.contains(&key_id::READ)
        {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let record = self
            .image
            .records
            .get(&sfi)
            .ok_or(StatusWord::FileNotFound)?
            .get(&command.p1)
            .ok_or(StatusWord::RecordNotFound)?;
        let bytes = hex::decode(record).map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        match command.le {
            Some(le) if le < bytes.len() => {
                Err(StatusWord::WrongLe(u8::try_from(bytes.len()).unwrap_or(0)))
            }
            _ => Ok(Response::ok(bytes)),
        }
    }

    fn read_binary(&mut self, command: &Command) -> Answer {
        self.require_ssse()?;
        if command.p1 & 0x80 == 0 {
            return Err(StatusWord::CommandNotAllowed);
        }
        let sfi = command.p1 & 0x1F;
        if self.read_needs_authentication(sfi) && !self.authenticated.contains(&key_id::READ) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let file = self
            .image
            .binaries
            .get(&sfi)
            .ok_or(StatusWord::FileNotFound)?;
        let bytes = hex::decode(file).map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        let offset = usize::from(command.p2);
        let rest = bytes.get(offset..).ok_or(StatusWord::WrongP1P2)?;
        let len = command.le.unwrap_or(256).min(rest.len());
        Ok(Response::ok(rest.get(..len).unwrap_or_default().to_vec()))
    }

    fn update_record(&mut self, command: &Command, challenge: Option<&[u8]>) -> Answer {
        self.require_ssse()?;
        let plain = if sm::is_protected(command) {
            self.issued()?;
            self.unprotect(command, key_id::MAINTENANCE, challenge)?
        } else {
            if self.image.lifecycle != Lifecycle::Blank
                && !self.authenticated.contains(&key_id::MAINTENANCE)
            {
                return Err(StatusWord::SecurityStatusNotSatisfied);
            }
            command.clone()
        };
        let sfi = Self::sfi_of_record_p2(plain.p2)?;
        let (tlv, rest) = Tlv::parse_one(&plain.data).map_err(|_| StatusWord::IncorrectData)?;
        if !rest.is_empty() || tlv.tag != u32::from(plain.p1) || plain.p1 == 0 {
            return Err(StatusWord::IncorrectData);
        }
        self.image
            .records
            .entry(sfi)
            .or_default()
            .insert(plain.p1, hex::encode_upper(&plain.data));
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }

    fn update_binary(&mut self, command: &Command) -> Answer {
        self.require_ssse()?;
        if self.image.lifecycle != Lifecycle::Blank
            && !self.authenticated.contains(&key_id::MAINTENANCE)
        {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        if command.p1 & 0x80 == 0 {
            return Err(StatusWord::CommandNotAllowed);
        }
        let sfi = command.p1 & 0x1F;
        let offset = usize::from(command.p2);
        let mut bytes = self
            .image
            .binaries
            .get(&sfi)
            .and_then(|h| hex::decode(h).ok())
            .unwrap_or_default();
        if bytes.len() < offset + command.data.len() {
            bytes.resize(offset + command.data.len(), 0);
        }
        if let Some(slot) = bytes.get_mut(offset..offset + command.data.len()) {
            slot.copy_from_slice(&command.data);
        }
        self.image.binaries.insert(sfi, hex::encode_upper(bytes));
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }

    fn check_version(&self, id: u8, version: Option<&u8>) -> core::result::Result<(), StatusWord> {
        match (version, self.image.keys.get(&id)) {
            (_, None) => Err(StatusWord::ReferencedDataNotFound),
            (Some(v), Some(entry)) if *v != entry.version => {
                Err(StatusWord::ReferencedDataNotFound)
            }
            _ => Ok(()),
        }
    }

    fn internal_authenticate(&mut self, command: &Command) -> Answer {
        self.issued()?;
        self.require_ssse()?;
        let (r1, rest) = command
            .data
            .split_first_chunk::<8>()
            .ok_or(StatusWord::WrongLength)?;
        let (r2, version) = rest
            .split_first_chunk::<8>()
            .ok_or(StatusWord::WrongLength)?;
        if version.len() > 1 {
            return Err(StatusWord::WrongLength);
        }
        self.check_version(key_id::INTERNAL, version.first())?;
        let key = self.key(key_id::INTERNAL)?;
        let answer =
            crypto::cryptogram(&key, r1, r2).map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        Ok(Response::ok(answer.to_vec()))
    }

    fn external_authenticate(&mut self, command: &Command, challenge: Option<&[u8]>) -> Answer {
        self.issued()?;
        self.require_ssse()?;
        let id = command.p2;
        if !matches!(id, key_id::MAINTENANCE | key_id::READ) {
            return Err(StatusWord::ReferencedDataNotFound);
        }
        let (cryptogram, rest) = command
            .data
            .split_first_chunk::<8>()
            .ok_or(StatusWord::WrongLength)?;
        let (rand, version) = rest
            .split_first_chunk::<8>()
            .ok_or(StatusWord::WrongLength)?;
        if version.len() > 1 {
            return Err(StatusWord::WrongLength);
        }
        self.check_version(id, version.first())?;
        let challenge = challenge.ok_or(StatusWord::DataInvalid)?;
        let mut padded = [0u8; 8];
        for (slot, b) in padded.iter_mut().zip(challenge) {
            *slot = *b;
        }
        let key = self.key(id)?;
        let expected =
            crypto::cryptogram(&key, rand, &padded).map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        if ct_eq(&expected, cryptogram) {
            self.authenticated.insert(id);
            Ok(Response::ok(Vec::new()))
        } else {
            Err(StatusWord::Other(0x6300))
        }
    }

    /// Counts a try before comparing, so that pulling the card mid-command
    /// never saves a try.
    fn check_pin(&mut self, given: &[u8]) -> core::result::Result<(), StatusWord> {
        if self.image.pin_tries_left == 0 {
            return Err(StatusWord::AuthenticationBlocked);
        }
        self.image.pin_tries_left -= 1;
        self.persist()?;
        let right = self
            .image
            .pin
            .as_ref()
            .is_some_and(|pin| ct_eq(&pin.0, given));
        if !right {
            return Err(match self.image.pin_tries_left {
                0 => StatusWord::AuthenticationBlocked,
                n => StatusWord::PinTriesLeft(n),
            });
        }
        self.image.pin_tries_left = PIN_TRIES;
        self.persist()
    }

    fn verify_pin(&mut self, command: &Command) -> Answer {
        self.issued()?;
        self.require_ssse()?;
        if !(2..=6).contains(&command.data.len()) {
            return Err(StatusWord::WrongLength);
        }
        self.check_pin(&command.data)?;
        Ok(Response::ok(Vec::new()))
    }

    fn change_pin(&mut self, command: &Command) -> Answer {
        self.issued()?;
        self.require_ssse()?;
        if command.cla != 0x80 || command.p1 != 0x01 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let at = command
            .data
            .iter()
            .position(|b| *b == 0xFF)
            .ok_or(StatusWord::IncorrectData)?;
        let (old, new) = (
            command.data.get(..at).unwrap_or_default(),
            command.data.get(at + 1..).unwrap_or_default(),
        );
        if !(2..=6).contains(&old.len()) || !(2..=6).contains(&new.len()) {
            return Err(StatusWord::IncorrectData);
        }
        if profile::unbcd(new).is_none_or(|digits| crypto::check_pin(&digits).is_err()) {
            return Err(StatusWord::IncorrectData);
        }
        self.check_pin(old)?;
        self.image.pin = Some(Secret(Zeroizing::new(new.to_vec())));
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }

    fn reset_pin(&mut self, command: &Command, challenge: Option<&[u8]>) -> Answer {
        self.issued()?;
        self.require_ssse()?;
        let id = match command.p2 {
            profile::PIN_RELOAD_P2 => key_id::PIN_RELOAD,
            profile::PIN_UNBLOCK_P2 => key_id::PIN_UNBLOCK,
            _ => return Err(StatusWord::IncorrectP1P2),
        };
        if !sm::is_protected(command) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let plain = self.unprotect(command, id, challenge)?;
        let key = self.key(id)?;
        if plain.data.len() != self.image.algorithm.block().block_size() {
            return Err(StatusWord::WrongLength);
        }
        let pin = crypto::decipher_pin(&key, &plain.data).ok_or(StatusWord::IncorrectData)?;
        self.image.pin = Some(Secret(pin));
        self.image.pin_tries_left = PIN_TRIES;
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }

    fn block(&mut self, command: &Command, challenge: Option<&[u8]>) -> Answer {
        if !matches!(
            self.image.lifecycle,
            Lifecycle::Issued | Lifecycle::ApplicationBlocked
        ) {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        if !sm::is_protected(command) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        self.unprotect(command, key_id::MAINTENANCE, challenge)?;
        self.image.lifecycle = match command.ins {
            ins::APPLICATION_BLOCK => Lifecycle::ApplicationBlocked,
            ins::APPLICATION_UNBLOCK => Lifecycle::Issued,
            _ => Lifecycle::CardBlocked,
        };
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }

    fn transport_key(&self) -> core::result::Result<Sm2PrivateKey, StatusWord> {
        image::transport_key(self.image.transport_key.as_ref(), self.image.lifecycle)
    }

    fn get_data(&mut self, command: &Command) -> Answer {
        if (command.p1, command.p2) != (0xDF, 0x01) {
            return Err(StatusWord::ReferencedDataNotFound);
        }
        let key = self.transport_key()?;
        Ok(Response::ok(key.public_key().to_sec1_uncompressed()))
    }

    /// `80 D4 <version> <key id> <Lc> envelope`: an SM2 envelope (GM/T 0009
    /// DER) to the chip's transport key, opening to the key, or for id `00`
    /// to the PIN in BCD.
    fn put_key(&mut self, command: &Command) -> Answer {
        let key = self.transport_key()?;
        let opened = sm2::decrypt(&key, &command.data, CiphertextFormat::Der)
            .map_err(|_| StatusWord::SecureMessagingDataWrong)?;
        let id = command.p2;
        if id == key_id::PIN {
            let digits = profile::unbcd(&opened).ok_or(StatusWord::IncorrectData)?;
            crypto::check_pin(&digits).map_err(|_| StatusWord::IncorrectData)?;
            self.image.pin = Some(Secret(opened));
            self.image.pin_tries_left = PIN_TRIES;
        } else {
            if !key_id::ALL_KEYS.contains(&id) {
                return Err(StatusWord::ReferencedDataNotFound);
            }
            BlockKey::new(self.image.algorithm.block(), &opened)
                .map_err(|_| StatusWord::IncorrectData)?;
            self.image.keys.insert(
                id,
                CardKeyEntry {
                    version: command.p1,
                    key: Secret(opened),
                },
            );
        }
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }

    fn end_personalization(&mut self) -> Answer {
        self.transport_key()?;
        let complete = key_id::ALL_KEYS
            .iter()
            .all(|id| self.image.keys.contains_key(id))
            && self.image.pin.is_some()
            && self
                .image
                .records
                .get(&profile::EF_CARD)
                .is_some_and(|r| r.contains_key(&1));
        if !complete {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        self.image.lifecycle = Lifecycle::Issued;
        self.image.transport_key = None;
        self.persist()?;
        Ok(Response::ok(Vec::new()))
    }
}

impl CardImage {
    /// The card factor as bytes.
    pub fn card_factor_bytes(&self) -> Option<[u8; 8]> {
        hex::decode(&self.card_factor).ok()?.try_into().ok()
    }

    /// The 卡识别码.
    pub fn card_id(&self) -> Option<[u8; 16]> {
        profile::card_id(&self.region, &self.card_factor_bytes()?)
    }
}
