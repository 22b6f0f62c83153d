//! `sscard card serve-vpcd`: the card in vpcd's first reader and, with
//! `--psam`, the PSAM in the second (the next port). The chips' files are
//! written after every change, so stopping the process loses nothing.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sscard_card::{VirtualCard, VirtualPsam};

use crate::error::{CliError, CliResult};

/// Arguments of `card serve-vpcd`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The card file.
    #[arg(long, value_name = "CARD.json")]
    card: PathBuf,
    /// A PSAM file, served on the next port (vpcd's second reader).
    #[arg(long, value_name = "PSAM.json")]
    psam: Option<PathBuf>,
    /// Where vpcd listens.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// vpcd's port of the first reader.
    #[arg(long, default_value_t = sscard_card::vpcd::DEFAULT_PORT)]
    port: u16,
}

pub fn serve(args: ServeArgs) -> CliResult {
    let mut card = VirtualCard::open(&args.card)
        .map_err(|e| CliError::input(format!("{}: {e}", args.card.display())))?;
    let psam = args
        .psam
        .as_ref()
        .map(|p| VirtualPsam::open(p).map_err(|e| CliError::input(format!("{}: {e}", p.display()))))
        .transpose()?;
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(mut psam) = psam {
        let addr = format!("{}:{}", args.host, args.port.saturating_add(1));
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let on = addr.clone();
            let _ = sscard_card::vpcd::serve(&mut psam, &addr, &stop, || {
                eprintln!("psam: in the reader at {on}");
            });
        });
    }
    let addr = format!("{}:{}", args.host, args.port);
    outln!("serving: {} at {addr}", args.card.display());
    let on = addr.clone();
    sscard_card::vpcd::serve(&mut card, &addr, &stop, || {
        eprintln!("card: in the reader at {on}");
    })
    .map_err(|e| CliError::Unreachable(format!("vpcd at {addr}: {e}")))
}
