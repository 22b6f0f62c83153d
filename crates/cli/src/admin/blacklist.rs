//! `sscard blacklist add|remove|publish|export` (security administrator).

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::client::{Client, Connection};
use crate::error::CliResult;
use crate::io::{write_file, FileMode};

/// Blacklist commands.
#[derive(Debug, clap::Subcommand)]
pub enum BlacklistCommand {
    /// Put a card on the list (from the next published version).
    Add {
        /// The card's 卡识别码, hex (as `terminal read` prints it).
        #[arg(long = "card", value_name = "CARD_ID")]
        card: String,
        #[arg(long, value_parser = ["lost", "suspended", "cancelled", "replaced"])]
        reason: String,
    },
    /// Take a card off the list (from the next published version).
    Remove {
        #[arg(long = "card", value_name = "CARD_ID")]
        card: String,
    },
    /// Publish the changes: prints `version: N`.
    Publish,
    /// Write a signed version: the full list, or the delta from V0.
    #[command(disable_version_flag = true)]
    Export {
        #[arg(long, value_name = "V")]
        version: i64,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, value_name = "V0")]
        delta_from: Option<i64>,
    },
}

/// Arguments of `blacklist`.
#[derive(Debug, clap::Args)]
pub struct BlacklistArgs {
    #[command(subcommand)]
    command: BlacklistCommand,
    #[command(flatten)]
    connection: Connection,
}

pub fn run(args: BlacklistArgs) -> CliResult {
    let client = Client::new(&args.connection)?;
    match args.command {
        BlacklistCommand::Add { card, reason } => {
            let _: Value =
                client.post("/v1/blacklist", &json!({"card_id": card, "reason": reason}))?;
            outln!("card: {card} reason={reason}");
        }
        BlacklistCommand::Remove { card } => {
            let _: Value = client.post(&format!("/v1/blacklist/{card}/remove"), &json!({}))?;
            outln!("card: {card} removed");
        }
        BlacklistCommand::Publish => {
            let answer: Value = client.post("/v1/blacklist/publish", &json!({}))?;
            outln!(
                "version: {}",
                answer.get("version").and_then(Value::as_i64).unwrap_or(0)
            );
        }
        BlacklistCommand::Export {
            version,
            out,
            delta_from,
        } => {
            let mut path = format!("/v1/blacklist/export?version={version}");
            if let Some(from) = delta_from {
                path.push_str(&format!("&delta_from={from}"));
            }
            let bytes = client.get_bytes(&path)?;
            write_file(&out, &bytes, FileMode::Public)?;
            outln!("bytes: {}", bytes.len());
            outln!("file: {}", out.display());
        }
    }
    Ok(())
}
