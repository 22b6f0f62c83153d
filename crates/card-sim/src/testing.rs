//! Test support (feature `testing`): region masters held in memory, and a
//! card and a PSAM personalized from them exactly as a KMS job does it (SM2
//! envelopes to the chip). Production personalization goes through the
//! platform's KMS; this is for tests of the card and terminal crates.

use sscard_apdu::{Command, Response};
use sscard_gm::sm2::{self, CiphertextFormat, Sm2PublicKey};
use sscard_gm::BlockKey;

use crate::{VirtualCard, VirtualPsam};
use sscard_card::perso::{self, CardData, Holder, Job, JOB_FORMAT};
use sscard_card::profile::{self, ins, key_id, CardAlgorithm};
use sscard_card::{crypto, Error, Result};

/// Region masters, one per card key.
pub struct Masters {
    /// Their cipher.
    pub algorithm: CardAlgorithm,
    /// (key id, master).
    pub keys: Vec<(u8, BlockKey)>,
}

impl Masters {
    /// Masters made from `seed` (different seeds, different masters).
    pub fn new(algorithm: CardAlgorithm, seed: u8) -> Result<Self> {
        let keys = key_id::ALL_KEYS
            .iter()
            .map(|id| Ok((*id, BlockKey::new(algorithm.block(), &[seed ^ id; 16])?)))
            .collect::<Result<_>>()?;
        Ok(Self { algorithm, keys })
    }

    /// The master of card key `id`.
    pub fn master(&self, id: u8) -> Result<&BlockKey> {
        self.keys
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, key)| key)
            .ok_or_else(|| Error::Invalid(format!("no master {id:02X}")))
    }

    /// Card key `id` of the card with `card_factor`.
    pub fn card_key(&self, id: u8, card_factor: &[u8; 8]) -> Result<BlockKey> {
        crypto::derive(self.master(id)?, &[card_factor])
    }
}

fn chip_key(transmit: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> Result<Sm2PublicKey> {
    let get = Command::new(0x80, ins::GET_DATA, 0xDF, 0x01, Vec::new(), Some(256)).encode()?;
    let answer = Response::parse(&transmit(&get))?;
    if !answer.is_ok() {
        return Err(Error::Invalid(format!("GET DATA: {}", answer.status)));
    }
    Ok(Sm2PublicKey::from_sec1_bytes(&answer.data)?)
}

/// A holder of `region` with a valid social security number.
pub fn holder(region: &str) -> Holder {
    let first17 = "33030219900307001";
    Holder {
        ssn: format!("{first17}{}", perso::ssn_check_char(first17).unwrap_or('0')),
        name: "张三".into(),
        sex: "1".into(),
        ethnicity: "01".into(),
        birth_date: "19900307".into(),
        birth_place: "330302".into(),
        region: region.into(),
    }
}

/// A card of `region` personalized from `masters` with PIN `pin`, reset,
/// and the job that personalized it.
pub fn personalized(masters: &Masters, region: &str, pin: &str) -> Result<(VirtualCard, Job)> {
    let mut card = VirtualCard::blank(masters.algorithm, region, None)?;
    let card_factor = card.card_factor();
    let chip = chip_key(&mut |apdu| card.transmit(apdu))?;
    let data = CardData {
        card_id: profile::card_id(region, &card_factor)
            .ok_or_else(|| Error::Invalid("region".into()))?,
        card_no: "A00000001".into(),
        issued: "20261127".into(),
        expires: "20361127".into(),
    };
    let records = perso::records(&holder(region).check()?, &data)?;
    let mut steps = perso::record_steps(&records)?;
    for id in key_id::ALL_KEYS {
        let key = masters.card_key(id, &card_factor)?;
        let envelope = sm2::encrypt(&chip, key.expose_secret(), CiphertextFormat::Der)?;
        steps.push(perso::put_key_step(id, 1, &envelope)?);
    }
    let pin = crypto::pin_bcd(pin)?;
    steps.push(perso::put_key_step(
        key_id::PIN,
        1,
        &sm2::encrypt(&chip, &pin, CiphertextFormat::Der)?,
    )?);
    steps.push(perso::end_step()?);
    let job = Job {
        format: JOB_FORMAT.into(),
        card_id: hex::encode_upper(data.card_id),
        region: region.into(),
        algorithm: masters.algorithm,
        card_factor: hex::encode_upper(card_factor),
        steps,
    };
    perso::run(&job, |apdu| card.transmit(apdu))?;
    card.reset();
    Ok((card, job))
}

/// A PSAM of `region` holding `masters`.
pub fn issued_psam(masters: &Masters, region: &str, terminal_no: &str) -> Result<VirtualPsam> {
    let mut psam = VirtualPsam::blank(masters.algorithm, region, terminal_no)?;
    let chip = chip_key(&mut |apdu| psam.transmit(apdu))?;
    for (id, master) in &masters.keys {
        let envelope = sm2::encrypt(&chip, master.expose_secret(), CiphertextFormat::Der)?;
        let put = Command::new(0x80, ins::PUT_KEY, 1, *id, envelope, None).encode()?;
        let answer = Response::parse(&psam.transmit(&put))?;
        if !answer.is_ok() {
            return Err(Error::Invalid(format!("PUT KEY: {}", answer.status)));
        }
    }
    let end = Command::new(0x80, ins::END_PERSONALIZATION, 0, 0, Vec::new(), None).encode()?;
    let answer = Response::parse(&psam.transmit(&end))?;
    if !answer.is_ok() {
        return Err(Error::Invalid(format!(
            "END PERSONALIZATION: {}",
            answer.status
        )));
    }
    psam.reset();
    Ok(psam)
}
