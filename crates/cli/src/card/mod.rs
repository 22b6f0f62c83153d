//! `sscard card …`: personalization of virtual cards and PSAMs from the
//! platform's KMS, and the vpcd bridge that puts them in a PC/SC reader.

mod bulk;
mod issue;
mod vpcd;

use std::path::PathBuf;

use crate::client::Connection;
use crate::error::CliResult;

/// Card commands.
#[derive(Debug, clap::Subcommand)]
pub enum CardCommand {
    /// Personalize a virtual card for a holder (HOLDER.json), or every holder
    /// of a CSV (bulk: one card file per holder, resumable, progress bar).
    Personalize(issue::PersonalizeArgs),
    /// Issue a virtual PSAM holding the card masters of a region.
    IssuePsam(issue::PsamArgs),
    /// Put a virtual card (and a PSAM in the second reader) into pcscd's
    /// vpcd readers, answering as T=0 cards do with --t0; runs until stopped.
    ServeVpcd(vpcd::ServeArgs),
}

/// Arguments of `card`.
#[derive(Debug, clap::Args)]
pub struct CardArgs {
    #[command(subcommand)]
    command: CardCommand,
    #[command(flatten)]
    connection: Connection,
}

/// A card file's path for a holder of a bulk run.
fn card_file(dir: &std::path::Path, ssn: &str) -> PathBuf {
    dir.join(format!("{}.json", ssn.to_ascii_uppercase()))
}

pub fn run(args: CardArgs) -> CliResult {
    match args.command {
        CardCommand::Personalize(p) => issue::personalize(p, &args.connection),
        CardCommand::IssuePsam(p) => issue::issue_psam(p, &args.connection),
        CardCommand::ServeVpcd(s) => vpcd::serve(s),
    }
}
