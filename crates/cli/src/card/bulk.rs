//! Bulk personalization from a CSV of holders: one card file per holder,
//! named by the social security number, with a progress bar. A holder whose
//! file exists is not personalized again, and the KMS gives a holder whose
//! card was prepared but not confirmed the same card, so a run killed at any
//! point resumes without duplicating cards.

use std::path::Path;

use serde_json::{json, Value};
use sscard_card::perso::Holder;
use sscard_card_sim::image::Lifecycle;
use sscard_card_sim::VirtualCard;

use super::card_file;
use super::issue::personalize_one;
use crate::client::Client;
use crate::error::{CliError, CliResult};

fn read_holders(csv: &Path) -> CliResult<Vec<Holder>> {
    let mut reader = csv::Reader::from_path(csv)
        .map_err(|e| CliError::input(format!("{}: {e}", csv.display())))?;
    let mut holders = Vec::new();
    for (i, row) in reader.deserialize::<Holder>().enumerate() {
        holders.push(
            row.map_err(|e| CliError::input(format!("{} row {}: {e}", csv.display(), i + 2)))?,
        );
    }
    Ok(holders)
}

pub fn run(client: &Client, csv: &Path, dir: &Path, region: Option<&str>, pin: &str) -> CliResult {
    let mut holders = read_holders(csv)?;
    if let Some(region) = region {
        for h in &mut holders {
            h.region = region.into();
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?;
    let bar = crate::io::Progress::new("personalize", "cards", holders.len() as u64);
    let (mut made, mut resumed, mut failed) = (0usize, 0usize, 0usize);
    for (i, holder) in holders.iter().enumerate() {
        let out = card_file(dir, &holder.ssn);
        if out.exists() {
            // Written before the crash: make sure the KMS knows it is issued.
            let card = VirtualCard::open(&out)
                .map_err(|e| CliError::input(format!("{}: {e}", out.display())))?;
            if card.image().lifecycle != Lifecycle::Blank {
                if let Some(id) = card.image().card_id() {
                    let _: Value = client.post(
                        &format!("/v1/cards/{}/issued", hex::encode_upper(id)),
                        &json!({}),
                    )?;
                }
                resumed += 1;
                bar.inc(1);
                continue;
            }
        }
        match personalize_one(client, holder, pin, &out) {
            Ok(_) => made += 1,
            Err(CliError::Unreachable(e)) => {
                bar.finish();
                return Err(CliError::Unreachable(e));
            }
            Err(e) => {
                failed += 1;
                bar.note(&format!("row {}: {e}", i + 2));
            }
        }
        bar.inc(1);
    }
    bar.finish();
    outln!("cards: {made}");
    outln!("resumed: {resumed}");
    outln!("failed: {failed}");
    if failed > 0 {
        return Err(CliError::Refused(format!(
            "{failed} holders were refused (see above)"
        )));
    }
    Ok(())
}
