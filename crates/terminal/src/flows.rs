//! The card flows of a terminal (card-profile.md, "terminal interface"):
//! open the card (ATR, SELECT SSSE, its 卡识别码), refuse a blacklisted card
//! before anything else, authenticate the card through the secure module,
//! authenticate the terminal before protected reads, read the basic
//! information, and the PIN operations.

use sscard_apdu::tlv::{Tlv, Tree};
use sscard_apdu::{sm, Command, Response, StatusWord};
use sscard_card::profile::{self, ins, key_id, CardAlgorithm, SSSE_AID};
use sscard_gm::{ct_eq, random};

use crate::module::{CardRef, SecureModule};
use crate::transport::Transport;
use crate::{Error, Result};

/// Checks a card must pass before any other step (expiry and card status
/// are checked by the flows; the blacklist comes through here).
pub trait CardCheck {
    /// `Err(Error::Blacklisted(..))` (or another error) to refuse the card.
    fn check(&self, card_id: &[u8; 16]) -> Result<()>;
}

/// No check beyond the flows' own.
pub struct NoCheck;

impl CardCheck for NoCheck {
    fn check(&self, _card_id: &[u8; 16]) -> Result<()> {
        Ok(())
    }
}

/// The basic information of a card (the fields of the terminal interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicInfo {
    /// Region code (行政区划).
    pub region: String,
    /// 社会保障号码.
    pub ssn: String,
    /// 卡号.
    pub card_no: String,
    /// 卡识别码, hex.
    pub card_id: String,
    /// Name.
    pub name: String,
    /// Sex code.
    pub sex: String,
    /// Ethnicity code.
    pub ethnicity: String,
    /// Birth date, YYYYMMDD.
    pub birth_date: String,
    /// Birthplace region code.
    pub birth_place: String,
    /// ATR, hex.
    pub atr: String,
    /// Specification version.
    pub version: String,
    /// Issue date, YYYYMMDD.
    pub issued: String,
    /// Expiry, YYYYMMDD.
    pub expires: String,
    /// The card's algorithm.
    pub algorithm: CardAlgorithm,
    /// Terminal number of the PSAM (or HSM mode's).
    pub terminal_no: String,
    /// The device the card was read in (the PC/SC reader).
    pub device_no: String,
}

impl BasicInfo {
    /// `key: value` pairs in the order `sscard terminal read` prints them.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("region", self.region.clone()),
            ("ssn", self.ssn.clone()),
            ("card_no", self.card_no.clone()),
            ("card_id", self.card_id.clone()),
            ("name", self.name.clone()),
            ("sex", self.sex.clone()),
            ("ethnicity", self.ethnicity.clone()),
            ("birth_date", self.birth_date.clone()),
            ("birth_place", self.birth_place.clone()),
            ("atr", self.atr.clone()),
            (
                "algorithm",
                match self.algorithm {
                    CardAlgorithm::Sm4 => "sm4".into(),
                    CardAlgorithm::Tdes => "3des".into(),
                },
            ),
            ("version", self.version.clone()),
            ("issued", self.issued.clone()),
            ("expires", self.expires.clone()),
            ("terminal_no", self.terminal_no.clone()),
            ("device_no", self.device_no.clone()),
        ]
    }
}

fn refused(step: &'static str, response: &Response) -> Error {
    match response.status {
        StatusWord::SelectedFileInvalidated | StatusWord::ApplicationLocked => Error::CardBlocked,
        status => Error::Card { step, status },
    }
}

fn random8() -> Result<[u8; 8]> {
    let bytes = random::bytes(8).map_err(|e| Error::Transport(e.to_string()))?;
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes);
    Ok(out)
}

/// A card in front of a terminal, opened: SSSE selected, identity read, and
/// (after [`Self::open`]) proven genuine by internal authentication.
pub struct CardSession<C: Transport, M: SecureModule> {
    card: C,
    module: M,
    card_ref: CardRef,
    card_id: [u8; 16],
    atr: Vec<u8>,
}

impl<C: Transport, M: SecureModule> CardSession<C, M> {
    /// Opens the card: ATR and card factor, SELECT SSSE and its algorithm,
    /// the 卡识别码 (which must carry the ATR's card factor), the checks of
    /// `check` (the blacklist), then internal authentication through the
    /// secure module.
    pub fn open(mut card: C, module: M, check: &dyn CardCheck) -> Result<Self> {
        let atr = card.atr()?;
        let card_factor = profile::card_factor_of_atr(&atr)
            .ok_or_else(|| Error::Inconsistent("the ATR carries no card factor".into()))?;
        let fci = card.send(&Command::new(
            0x00,
            ins::SELECT,
            0x04,
            0x00,
            SSSE_AID.to_vec(),
            Some(256),
        ))?;
        if !fci.is_ok() {
            return Err(refused("select SSSE", &fci));
        }
        let algorithm = algorithm_of(&fci.data)?;
        let id_record = card.send(&read_record(profile::EF_CARD, 1))?;
        if !id_record.is_ok() {
            return Err(refused("read the card identifier", &id_record));
        }
        let card_id: [u8; 16] = record_value(&id_record.data, 1)?
            .try_into()
            .map_err(|_| Error::Inconsistent("the card identifier is not 16 bytes".into()))?;
        let region = profile::region_of(&card_id)
            .ok_or_else(|| Error::Inconsistent("the card identifier names no region".into()))?;
        if profile::card_factor_of(&card_id) != Some(card_factor) {
            return Err(Error::Inconsistent(
                "the card identifier does not match the ATR".into(),
            ));
        }
        check.check(&card_id)?;
        let mut session = Self {
            card,
            module,
            card_ref: CardRef {
                region,
                card_factor,
                algorithm,
            },
            card_id,
            atr,
        };
        session.internal_authenticate()?;
        Ok(session)
    }

    /// The 卡识别码.
    pub fn card_id(&self) -> [u8; 16] {
        self.card_id
    }

    /// The card as the secure module sees it.
    pub fn card_ref(&self) -> &CardRef {
        &self.card_ref
    }

    fn internal_authenticate(&mut self) -> Result<()> {
        let (r1, r2) = (random8()?, random8()?);
        let answer = self.card.send(&Command::new(
            0x00,
            ins::INTERNAL_AUTHENTICATE,
            0,
            0,
            [r1, r2].concat(),
            Some(8),
        ))?;
        if !answer.is_ok() {
            return Err(refused("internal authenticate", &answer));
        }
        let expected = self
            .module
            .cryptogram(key_id::INTERNAL, &self.card_ref, &r1, &r2)?;
        if ct_eq(&expected, &answer.data) {
            Ok(())
        } else {
            Err(Error::NotGenuine)
        }
    }

    fn challenge(&mut self) -> Result<Vec<u8>> {
        let answer = self.card.send(&Command::new(
            0x00,
            ins::GET_CHALLENGE,
            0,
            0,
            Vec::new(),
            Some(8),
        ))?;
        if answer.is_ok() && answer.data.len() == 8 {
            Ok(answer.data)
        } else {
            Err(refused("get challenge", &answer))
        }
    }

    /// External authentication with key `id` (`0A` before protected reads,
    /// `04` before writes).
    pub fn external_authenticate(&mut self, id: u8) -> Result<()> {
        let challenge: [u8; 8] = self
            .challenge()?
            .try_into()
            .map_err(|_| Error::Inconsistent("a challenge of the wrong length".into()))?;
        let rand = random8()?;
        let cryptogram = self
            .module
            .cryptogram(id, &self.card_ref, &rand, &challenge)?;
        let mut data = cryptogram.to_vec();
        data.extend(rand);
        let answer = self.card.send(&Command::new(
            0x00,
            ins::EXTERNAL_AUTHENTICATE,
            0,
            id,
            data,
            None,
        ))?;
        if answer.is_ok() {
            Ok(())
        } else {
            Err(refused("external authenticate", &answer))
        }
    }

    fn record(&mut self, sfi: u8, rec: u8) -> Result<Vec<u8>> {
        let answer = self.card.send(&read_record(sfi, rec))?;
        if !answer.is_ok() {
            return Err(refused("read record", &answer));
        }
        record_value(&answer.data, rec)
    }

    /// Reads the basic information, after authenticating with the read key.
    /// `today` (YYYYMMDD) is checked against the card's expiry.
    pub fn read_basic_info(&mut self, today: &str) -> Result<BasicInfo> {
        self.external_authenticate(key_id::READ)?;
        let text = |bytes: Vec<u8>| {
            String::from_utf8_lossy(&bytes)
                .trim_end_matches('\0')
                .to_string()
        };
        let date = |bytes: Vec<u8>| profile::unbcd(&bytes).unwrap_or_default();
        let version = text(self.record(profile::EF_CARD, 3)?);
        let issued = date(self.record(profile::EF_CARD, 5)?);
        let expires = date(self.record(profile::EF_CARD, 6)?);
        if !expires.is_empty() && expires.as_str() < today {
            return Err(Error::Expired(expires));
        }
        let card_no = text(self.record(profile::EF_CARD, 7)?);
        let ssn = text(self.record(profile::EF_HOLDER, 0x08)?);
        let name_gbk = self.record(profile::EF_HOLDER, 0x09)?;
        let end = name_gbk.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        let (name, _, _) = encoding_rs::GBK.decode(name_gbk.get(..end).unwrap_or_default());
        let sex = text(self.record(profile::EF_HOLDER, 0x0A)?);
        let ethnicity = self
            .record(profile::EF_HOLDER, 0x0B)?
            .first()
            .map(|e| format!("{e:02}"))
            .unwrap_or_default();
        let birth_place = date(self.record(profile::EF_HOLDER, 0x0C)?);
        let birth_date = date(self.record(profile::EF_HOLDER, 0x0D)?);
        Ok(BasicInfo {
            region: self.card_ref.region.clone(),
            ssn,
            card_no,
            card_id: hex::encode_upper(self.card_id),
            name: name.into_owned(),
            sex,
            ethnicity,
            birth_date,
            birth_place,
            atr: hex::encode_upper(&self.atr),
            version,
            issued,
            expires,
            algorithm: self.card_ref.algorithm,
            terminal_no: self.module.terminal_no()?,
            device_no: self.card.device(),
        })
    }

    /// Writes record `rec` of file `sfi` (a TLV whose tag is `rec`) under
    /// secure messaging: the MAC under the card's maintenance key, computed
    /// by the secure module with a fresh challenge.
    pub fn write_record(&mut self, sfi: u8, rec: u8, value: &[u8]) -> Result<()> {
        let tlv = Tlv::new(u32::from(rec), value.to_vec()).encode();
        let plain = Command::new(0x00, ins::UPDATE_RECORD, rec, (sfi << 3) | 4, tlv, None);
        let challenge = self.challenge()?;
        let mac = self.module.mac(
            key_id::MAINTENANCE,
            &self.card_ref,
            &challenge,
            &sm::mac_input(&plain),
        )?;
        let answer = self.card.send(&sm::protect(&plain, |_| mac))?;
        if answer.is_ok() {
            Ok(())
        } else {
            Err(refused("write record", &answer))
        }
    }

    fn pin_answer(answer: &Response) -> Result<()> {
        match answer.status {
            StatusWord::Ok => Ok(()),
            StatusWord::PinTriesLeft(n) => Err(Error::PinWrong(n)),
            StatusWord::AuthenticationBlocked => Err(Error::PinBlocked),
            _ => Err(refused("PIN", answer)),
        }
    }

    /// VERIFY: `Err(PinWrong(n))` or `Err(PinBlocked)` when refused.
    pub fn verify_pin(&mut self, pin: &str) -> Result<()> {
        let bcd = sscard_card::crypto::pin_bcd(pin).map_err(|e| Error::Invalid(e.to_string()))?;
        let answer = self
            .card
            .send(&Command::new(0x00, ins::VERIFY, 0, 0, bcd.to_vec(), None))?;
        Self::pin_answer(&answer)
    }

    /// CHANGE PIN from `old` to `new`.
    pub fn change_pin(&mut self, old: &str, new: &str) -> Result<()> {
        let old = sscard_card::crypto::pin_bcd(old).map_err(|e| Error::Invalid(e.to_string()))?;
        let new = sscard_card::crypto::pin_bcd(new).map_err(|e| Error::Invalid(e.to_string()))?;
        let data = [old.as_slice(), &[0xFF], new.as_slice()].concat();
        let answer =
            self.card
                .send(&Command::new(0x80, ins::CHANGE_PIN, 0x01, 0x00, data, None))?;
        Self::pin_answer(&answer)
    }

    /// PIN unblock (with the unblock key) or reload (with the reload key):
    /// the new PIN enciphered and MACed by the secure module, under secure
    /// messaging with a fresh challenge.
    pub fn reset_pin(&mut self, new: &str, unblock: bool) -> Result<()> {
        let (id, p2) = if unblock {
            (key_id::PIN_UNBLOCK, profile::PIN_UNBLOCK_P2)
        } else {
            (key_id::PIN_RELOAD, profile::PIN_RELOAD_P2)
        };
        let enciphered = self.module.encipher_pin(id, &self.card_ref, new)?;
        let challenge = self.challenge()?;
        let plain = Command::new(0x80, ins::PIN_RESET, 0x00, p2, enciphered, None);
        let mac = self
            .module
            .mac(id, &self.card_ref, &challenge, &sm::mac_input(&plain))?;
        let answer = self.card.send(&sm::protect(&plain, |_| mac))?;
        Self::pin_answer(&answer)
    }
}

fn read_record(sfi: u8, rec: u8) -> Command {
    Command::new(
        0x00,
        ins::READ_RECORD,
        rec,
        (sfi << 3) | 4,
        Vec::new(),
        Some(256),
    )
}

/// The value of a record: one TLV whose tag is the record number (a flat
/// parse: a record's value is not looked into).
fn record_value(record: &[u8], rec: u8) -> Result<Vec<u8>> {
    match Tlv::parse_all(record).as_deref() {
        Ok([tlv]) if tlv.tag == u32::from(rec) => Ok(tlv.value.clone()),
        _ => Err(Error::Inconsistent(format!(
            "record {rec:02X} is not a TLV of its number"
        ))),
    }
}

/// The card's algorithm from its SELECT answer (`9F0C` holding `86`). The
/// answer is parsed once, within the bounds of [`Tree`]: one that is not
/// BER-TLV, or nests deeper, is malformed.
fn algorithm_of(fci: &[u8]) -> Result<CardAlgorithm> {
    let malformed =
        |e: sscard_apdu::Error| Error::Malformed(format!("the SSSE select answer: {e}"));
    let tree = Tree::parse(fci).map_err(malformed)?;
    let tag = match tree.find(0x9F0C) {
        // 9F0C is primitive by its tag; its value holds TLVs all the same.
        Some(proprietary) => Tree::parse(proprietary.value)
            .map_err(malformed)?
            .find(0x86)
            .and_then(|t| t.value.first().copied()),
        None => None,
    };
    CardAlgorithm::from_tag_value(tag).ok_or(Error::AlgorithmNotSupported(tag.unwrap_or(0)))
}
