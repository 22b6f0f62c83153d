//! Data preparation (制卡数据准备): the holder record, the records of EF05
//! and EF06 as card-profile.md lays them out, and the personalization job,
//! an APDU script that writes the files and loads the keys and the PIN as
//! SM2 envelopes to the chip's own transport key, so that no key or PIN is
//! in clear anywhere in the job.
//!
//! The job is JSON: `{"format": "sscard-perso-job/1", "card_id", "region",
//! "algorithm", "card_factor", "steps": [{"what", "apdu"}]}`.

use serde::{Deserialize, Serialize};

use crate::profile::{self, bcd, ins, CardAlgorithm, EF_CARD, EF_HOLDER, SSSE_AID};
use crate::{Error, Result};
use sscard_apdu::tlv::Tlv;
use sscard_apdu::{Command, Response};

/// The format tag of a personalization job.
pub const JOB_FORMAT: &str = "sscard-perso-job/1";

/// A card holder, as HOLDER.json or a CSV row gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// 社会保障号码: the 18-character citizen ID number (GB 11643).
    pub ssn: String,
    /// Name.
    pub name: String,
    /// `1` male or `2` female (GB/T 2261.1); `male`/`female`/`男`/`女` are read too.
    pub sex: String,
    /// Ethnicity code, `01`–`56` (GB/T 3304).
    pub ethnicity: String,
    /// Birth date, `YYYYMMDD` or `YYYY-MM-DD`.
    pub birth_date: String,
    /// Birthplace region code, 6 digits.
    pub birth_place: String,
    /// The region that issues the card, 6 digits.
    pub region: String,
}

/// A holder record checked and in the card's encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedHolder {
    /// The holder as given.
    pub holder: Holder,
    /// Sex code, `1` or `2`.
    pub sex: u8,
    /// Ethnicity code.
    pub ethnicity: u8,
    /// Birth date, `YYYYMMDD`.
    pub birth_date: String,
    /// The name in GBK.
    pub name_gbk: Vec<u8>,
}

/// The check character of the first 17 digits of a citizen ID number
/// (GB 11643-1999: ISO 7064 MOD 11-2).
pub fn ssn_check_char(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    "10X98765432".chars().nth((sum % 11) as usize)
}

fn invalid(why: String) -> Error {
    Error::Invalid(why)
}

impl Holder {
    /// Checks every field: the social security number's check character and
    /// its birth date, the codes, and that the name fits 30 bytes of GBK.
    pub fn check(&self) -> Result<CheckedHolder> {
        let ssn = self.ssn.to_ascii_uppercase();
        let (first17, last) = ssn.split_at_checked(17).ok_or_else(|| {
            invalid(format!(
                "ssn {:?}: a social security number has 18 characters",
                self.ssn
            ))
        })?;
        if ssn.len() != 18 || !first17.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "ssn {:?}: 17 digits then a digit or X",
                self.ssn
            )));
        }
        if ssn_check_char(first17).map(String::from).as_deref() != Some(last) {
            return Err(invalid(format!(
                "ssn {:?}: the check character (GB 11643) is wrong",
                self.ssn
            )));
        }
        let birth_date: String = self.birth_date.chars().filter(|c| *c != '-').collect();
        if birth_date.len() != 8
            || !birth_date.bytes().all(|b| b.is_ascii_digit())
            || sscard_date_is_valid(&birth_date).is_none()
        {
            return Err(invalid(format!(
                "birth_date {:?} is not a date",
                self.birth_date
            )));
        }
        if first17.get(6..14) != Some(birth_date.as_str()) {
            return Err(invalid(format!(
                "birth_date {} differs from the one in the ssn",
                self.birth_date
            )));
        }
        let sex = match self.sex.as_str() {
            "1" | "male" | "男" => 1,
            "2" | "female" | "女" => 2,
            other => return Err(invalid(format!("sex {other:?}: 1 (male) or 2 (female)"))),
        };
        let ethnicity = self
            .ethnicity
            .parse::<u8>()
            .ok()
            .filter(|e| (1..=56).contains(e))
            .ok_or_else(|| invalid(format!("ethnicity {:?}: a code 01 to 56", self.ethnicity)))?;
        for (what, code) in [("birth_place", &self.birth_place), ("region", &self.region)] {
            if !profile::is_region(code) {
                return Err(invalid(format!(
                    "{what} {code:?} is not a 6-digit region code"
                )));
            }
        }
        let (name_gbk, _, unmappable) = encoding_rs::GBK.encode(self.name.trim());
        if self.name.trim().is_empty() || unmappable || name_gbk.len() > 30 {
            return Err(invalid(format!(
                "name {:?}: 1 to 30 bytes of GBK",
                self.name
            )));
        }
        Ok(CheckedHolder {
            holder: self.clone(),
            sex,
            ethnicity,
            birth_date,
            name_gbk: name_gbk.into_owned(),
        })
    }
}

/// `Some(())` when `YYYYMMDD` is a calendar date.
fn sscard_date_is_valid(date: &str) -> Option<()> {
    let y: u32 = date.get(..4)?.parse().ok()?;
    let m: u32 = date.get(4..6)?.parse().ok()?;
    let d: u32 = date.get(6..8)?.parse().ok()?;
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&d).then_some(())
}

/// What the card's own records say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardData {
    /// The 卡识别码.
    pub card_id: [u8; 16],
    /// 卡号, 9 characters.
    pub card_no: String,
    /// Issue date, `YYYYMMDD`.
    pub issued: String,
    /// Expiry, `YYYYMMDD`.
    pub expires: String,
}

fn padded(value: &[u8], len: usize, pad: u8) -> Vec<u8> {
    let mut out = value.to_vec();
    out.resize(len, pad);
    out
}

/// The records of EF05 and EF06 for a holder: (SFI, record number, TLV).
pub fn records(holder: &CheckedHolder, card: &CardData) -> Result<Vec<(u8, u8, Vec<u8>)>> {
    let date = |d: &str| bcd(d).ok_or_else(|| invalid(format!("date {d:?}")));
    let h = &holder.holder;
    let fields: Vec<(u8, u8, Vec<u8>)> = vec![
        (EF_CARD, 0x01, card.card_id.to_vec()),
        (EF_CARD, 0x02, vec![0x01]),
        (EF_CARD, 0x03, b"3.00".to_vec()),
        (EF_CARD, 0x04, padded(h.region.as_bytes(), 12, 0x00)),
        (EF_CARD, 0x05, date(&card.issued)?),
        (EF_CARD, 0x06, date(&card.expires)?),
        (EF_CARD, 0x07, padded(card.card_no.as_bytes(), 9, 0x00)),
        (EF_HOLDER, 0x08, h.ssn.to_ascii_uppercase().into_bytes()),
        (EF_HOLDER, 0x09, padded(&holder.name_gbk, 30, 0x00)),
        (EF_HOLDER, 0x0A, vec![b'0' + holder.sex]),
        (EF_HOLDER, 0x0B, vec![holder.ethnicity]),
        (
            EF_HOLDER,
            0x0C,
            bcd(&h.birth_place).ok_or_else(|| invalid("birth_place".into()))?,
        ),
        (EF_HOLDER, 0x0D, date(&holder.birth_date)?),
    ];
    Ok(fields
        .into_iter()
        .map(|(sfi, rec, value)| (sfi, rec, Tlv::new(u32::from(rec), value).encode()))
        .collect())
}

/// One step of a job: what it does, and the command APDU (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// For a person reading the job.
    pub what: String,
    /// The command APDU, hex.
    pub apdu: String,
}

/// A personalization job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// `sscard-perso-job/1`.
    pub format: String,
    /// The 卡识别码, hex.
    pub card_id: String,
    /// Region code.
    pub region: String,
    /// Block cipher of the card.
    pub algorithm: CardAlgorithm,
    /// The card factor, hex.
    pub card_factor: String,
    /// The commands, in order.
    pub steps: Vec<Step>,
}

/// The steps that write a holder's records: SELECT SSSE, then UPDATE RECORD.
pub fn record_steps(records: &[(u8, u8, Vec<u8>)]) -> Result<Vec<Step>> {
    let mut steps = vec![step(
        "select SSSE",
        &Command::new(0x00, ins::SELECT, 0x04, 0x00, SSSE_AID.to_vec(), None),
    )?];
    for (sfi, rec, tlv) in records {
        steps.push(step(
            &format!("write EF{sfi:02X} record {rec:02X}"),
            &Command::new(
                0x00,
                ins::UPDATE_RECORD,
                *rec,
                (sfi << 3) | 4,
                tlv.clone(),
                None,
            ),
        )?);
    }
    Ok(steps)
}

/// The step that loads key `id` (or the PIN, id `00`) from an SM2 envelope
/// to the chip: `80 D4 <version> <id> <Lc> envelope`.
pub fn put_key_step(id: u8, version: u8, envelope: &[u8]) -> Result<Step> {
    step(
        &format!("load key {id:02X} v{version} (SM2 envelope)"),
        &Command::new(0x80, ins::PUT_KEY, version, id, envelope.to_vec(), None),
    )
}

/// The last step: END PERSONALIZATION.
pub fn end_step() -> Result<Step> {
    step(
        "end personalization",
        &Command::new(0x80, ins::END_PERSONALIZATION, 0, 0, Vec::new(), None),
    )
}

fn step(what: &str, command: &Command) -> Result<Step> {
    Ok(Step {
        what: what.into(),
        apdu: hex::encode_upper(command.encode()?),
    })
}

/// Runs a job's steps through `transmit`; every step must answer `90 00`.
pub fn run(job: &Job, mut transmit: impl FnMut(&[u8]) -> Vec<u8>) -> Result<()> {
    if job.format != JOB_FORMAT {
        return Err(invalid(format!("a job's format is {JOB_FORMAT}")));
    }
    for (i, s) in job.steps.iter().enumerate() {
        let apdu = hex::decode(&s.apdu)
            .map_err(|_| invalid(format!("step {}: the APDU is not hex", i + 1)))?;
        let response = Response::parse(&transmit(&apdu))?;
        if !response.is_ok() {
            return Err(invalid(format!(
                "step {} ({}): the card answered {}",
                i + 1,
                s.what,
                response.status
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(ssn: &str) -> Holder {
        Holder {
            ssn: ssn.into(),
            name: "张三".into(),
            sex: "1".into(),
            ethnicity: "01".into(),
            birth_date: "1990-03-07".into(),
            birth_place: "330302".into(),
            region: "330300".into(),
        }
    }

    #[test]
    fn the_ssn_check_character_of_gb_11643() {
        // 11010519491231002X is the worked example of GB 11643-1999.
        assert_eq!(ssn_check_char("11010519491231002"), Some('X'));
        let first17 = "33030219900307001";
        let ssn = format!("{first17}{}", ssn_check_char(first17).unwrap());
        let checked = holder(&ssn).check().unwrap();
        assert_eq!(checked.name_gbk, [0xD5, 0xC5, 0xC8, 0xFD]);
        let wrong = format!("{first17}{}", if ssn.ends_with('0') { '1' } else { '0' });
        assert!(holder(&wrong)
            .check()
            .unwrap_err()
            .to_string()
            .contains("check character"));
        let mut other_birth = holder(&ssn);
        other_birth.birth_date = "19900308".into();
        assert!(other_birth.check().is_err());
        let mut long_name = holder(&ssn);
        long_name.name = "名".repeat(16);
        assert!(long_name.check().is_err());
    }
}
