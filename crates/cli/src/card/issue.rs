//! Personalizing one card and issuing a PSAM: a blank chip makes its SM2
//! transport key, the KMS answers with a job enveloped to that key, the
//! chip runs the job, and the file is written atomically.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sscard_apdu::{Command, Response};
use sscard_card::perso::{self, Holder, Job};
use sscard_card::profile::{ins, CardAlgorithm};
use sscard_card_sim::{VirtualCard, VirtualPsam};
use zeroize::Zeroizing;

use crate::client::{Client, Connection};
use crate::error::{CliError, CliResult};

/// Arguments of `card personalize`.
#[derive(Debug, clap::Args)]
pub struct PersonalizeArgs {
    /// The holder: {"ssn", "name", "sex", "ethnicity", "birth_date", "birth_place", "region"}.
    #[arg(
        long,
        value_name = "HOLDER.json",
        required_unless_present = "csv",
        conflicts_with = "csv"
    )]
    holder: Option<PathBuf>,
    /// Where to write the card.
    #[arg(long, value_name = "CARD.json", requires = "holder")]
    out: Option<PathBuf>,
    /// Issue under this region instead of the holder's.
    #[arg(long, value_name = "CODE")]
    region: Option<String>,
    /// The first PIN.
    #[arg(long, default_value = "123456", hide_default_value = true)]
    pin: Zeroizing<String>,
    /// Bulk: a CSV with the header ssn,name,sex,ethnicity,birth_date,birth_place,region.
    #[arg(long, value_name = "HOLDERS.csv", requires = "out_dir")]
    csv: Option<PathBuf>,
    /// Bulk: one card file per holder, named by the social security number.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

fn chip_key(transmit: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> CliResult<String> {
    let get = Command::new(0x80, ins::GET_DATA, 0xDF, 0x01, Vec::new(), Some(256))
        .encode()
        .map_err(|e| CliError::Unreachable(e.to_string()))?;
    let answer = Response::parse(&transmit(&get))
        .map_err(|e| CliError::Unreachable(format!("the chip: {e}")))?;
    if !answer.is_ok() {
        return Err(CliError::Unreachable(format!(
            "the chip: {}",
            answer.status
        )));
    }
    Ok(hex::encode_upper(answer.data))
}

fn field<'a>(value: &'a Value, name: &str) -> CliResult<&'a str> {
    value
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Unreachable(format!("the server's answer has no {name}")))
}

fn algorithm(name: &str) -> CliResult<CardAlgorithm> {
    match name {
        "sm4" => Ok(CardAlgorithm::Sm4),
        "3des" => Ok(CardAlgorithm::Tdes),
        other => Err(CliError::Unreachable(format!(
            "unknown card algorithm {other:?}"
        ))),
    }
}

/// What one personalization produced.
pub struct Personalized {
    pub card_id: String,
    pub card_no: String,
    pub region: String,
}

/// Personalizes one holder's card into `out`: prepare, blank chip, job,
/// run, write, confirm.
pub fn personalize_one(
    client: &Client,
    holder: &Holder,
    pin: &str,
    out: &Path,
) -> CliResult<Personalized> {
    let card: Value = client.post("/v1/cards/prepare", &json!({ "holder": holder }))?;
    let card_id = field(&card, "card_id")?.to_string();
    let factor: [u8; 8] = hex::decode(field(&card, "card_factor")?)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CliError::Unreachable("the server sent a bad card factor".into()))?;
    let mut chip = VirtualCard::blank(
        algorithm(field(&card, "algorithm")?)?,
        &holder.region,
        Some(factor),
    )
    .map_err(|e| CliError::input(e.to_string()))?;
    let key = chip_key(&mut |apdu| chip.transmit(apdu))?;
    let job: Job = client.post(
        &format!("/v1/cards/{card_id}/job"),
        &json!({ "holder": holder, "chip_key": key, "pin": pin }),
    )?;
    perso::run(&job, |apdu| chip.transmit(apdu))
        .map_err(|e| CliError::Unreachable(format!("personalization: {e}")))?;
    chip.reset();
    chip.save_to(out)
        .map_err(|e| CliError::input(format!("{}: {e}", out.display())))?;
    let _: Value = client.post(&format!("/v1/cards/{card_id}/issued"), &json!({}))?;
    Ok(Personalized {
        card_id,
        card_no: field(&card, "card_no")?.to_string(),
        region: holder.region.clone(),
    })
}

pub fn personalize(args: PersonalizeArgs, connection: &Connection) -> CliResult {
    let client = Client::new(connection)?;
    if let (Some(csv), Some(dir)) = (&args.csv, &args.out_dir) {
        return super::bulk::run(&client, csv, dir, args.region.as_deref(), &args.pin);
    }
    let (Some(path), Some(out)) = (&args.holder, &args.out) else {
        return Err(CliError::input(
            "give --holder HOLDER.json --out CARD.json, or --csv F --out-dir DIR",
        ));
    };
    let text = crate::io::read_file(path)?;
    let mut holder: Holder = serde_json::from_slice(&text)
        .map_err(|e| CliError::input(format!("{}: not a holder record: {e}", path.display())))?;
    if let Some(region) = &args.region {
        holder.region = region.clone();
    }
    let done = personalize_one(&client, &holder, &args.pin, out)?;
    outln!("card_id: {}", done.card_id);
    outln!("card_no: {}", done.card_no);
    outln!("region: {}", done.region);
    outln!("file: {}", out.display());
    Ok(())
}

/// Arguments of `card issue-psam`.
#[derive(Debug, clap::Args)]
pub struct PsamArgs {
    /// The region whose card masters the PSAM holds.
    #[arg(long, value_name = "CODE")]
    region: String,
    /// The terminal number, 12 digits.
    #[arg(long, value_name = "NO")]
    terminal_no: String,
    /// The PSAM's cipher (that of the region's masters).
    #[arg(long, value_parser = ["sm4", "3des"], default_value = "sm4")]
    alg: String,
    /// Where to write the PSAM.
    #[arg(long, value_name = "PSAM.json")]
    out: PathBuf,
}

pub fn issue_psam(args: PsamArgs, connection: &Connection) -> CliResult {
    let client = Client::new(connection)?;
    let mut chip = VirtualPsam::blank(algorithm(&args.alg)?, &args.region, &args.terminal_no)
        .map_err(|e| CliError::input(e.to_string()))?;
    let key = chip_key(&mut |apdu| chip.transmit(apdu))?;
    let job: Value = client.post(
        "/v1/psams/job",
        &json!({"region": args.region, "terminal_no": args.terminal_no, "algorithm": args.alg, "chip_key": key}),
    )?;
    let steps: Vec<perso::Step> =
        serde_json::from_value(job.get("steps").cloned().unwrap_or_default())
            .map_err(|e| CliError::Unreachable(format!("the server's job: {e}")))?;
    for (i, step) in steps.iter().enumerate() {
        let apdu = hex::decode(&step.apdu)
            .map_err(|_| CliError::Unreachable(format!("step {} is not hex", i + 1)))?;
        let answer = Response::parse(&chip.transmit(&apdu))
            .map_err(|e| CliError::Unreachable(e.to_string()))?;
        if !answer.is_ok() {
            return Err(CliError::Unreachable(format!(
                "step {} ({}): the PSAM answered {}",
                i + 1,
                step.what,
                answer.status
            )));
        }
    }
    chip.reset();
    chip.save_to(&args.out)
        .map_err(|e| CliError::input(format!("{}: {e}", args.out.display())))?;
    outln!("terminal_no: {}", args.terminal_no);
    outln!("region: {}", args.region);
    outln!("keys: {}", chip.image().keys.len());
    outln!("file: {}", args.out.display());
    Ok(())
}
