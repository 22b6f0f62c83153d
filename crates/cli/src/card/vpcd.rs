//! `sscard card serve-vpcd`: the card in vpcd's first reader and, with
//! `--psam`, the PSAM in the second (the next port). The chips' files are
//! written after every change, so stopping the process loses nothing. With
//! `--t0` the chips answer as T=0 cards do through PC/SC: `61 XX` for GET
//! RESPONSE to fetch the data, `6C XX` when Le is wrong.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sscard_apdu::Chip;
use sscard_card_sim::t0::T0;
use sscard_card_sim::{VirtualCard, VirtualPsam};

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
    #[arg(long, default_value_t = sscard_card_sim::vpcd::DEFAULT_PORT)]
    port: u16,
    /// Answer as T=0 cards do: response data held back behind `61 XX` for
    /// GET RESPONSE, `6C XX` to an Le that does not fit.
    #[arg(long)]
    t0: bool,
    /// With --t0: the most bytes one GET RESPONSE gets (1 to 256).
    #[arg(long, value_name = "BYTES", default_value_t = 256, requires = "t0",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    t0_chunk: u16,
}

impl ServeArgs {
    /// The chip as served: itself, or in the manner of T=0.
    fn chip<C: Chip + Send + 'static>(&self, chip: C) -> Box<dyn Chip + Send> {
        if self.t0 {
            Box::new(T0::new(chip, usize::from(self.t0_chunk)))
        } else {
            Box::new(chip)
        }
    }
}

pub fn serve(args: ServeArgs) -> CliResult {
    let card = VirtualCard::open(&args.card)
        .map_err(|e| CliError::input(format!("{}: {e}", args.card.display())))?;
    let mut card = args.chip(card);
    let psam = args
        .psam
        .as_ref()
        .map(|p| VirtualPsam::open(p).map_err(|e| CliError::input(format!("{}: {e}", p.display()))))
        .transpose()?
        .map(|psam| args.chip(psam));
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(mut psam) = psam {
        let addr = format!("{}:{}", args.host, args.port.saturating_add(1));
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let on = addr.clone();
            let _ = sscard_card_sim::vpcd::serve(&mut psam, &addr, &stop, || {
                eprintln!("psam: in the reader at {on}");
            });
        });
    }
    let addr = format!("{}:{}", args.host, args.port);
    let manner = if args.t0 { " (T=0)" } else { "" };
    outln!("serving: {}{manner} at {addr}", args.card.display());
    // Until vpcd takes the card, say every few seconds what it waits for:
    // without pcscd (and its vpcd driver) nothing would ever happen.
    let connected = Arc::new(AtomicBool::new(false));
    {
        let (connected, stop, addr) = (Arc::clone(&connected), Arc::clone(&stop), addr.clone());
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(2));
            while !connected.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                eprintln!(
                    "card: waiting for the vpcd driver at {addr}: is pcscd running, with \
                     vsmartcard-vpcd installed (Debian: apt-get install pcscd vsmartcard-vpcd)?"
                );
                std::thread::sleep(std::time::Duration::from_secs(10));
            }
        });
    }
    let on = addr.clone();
    sscard_card_sim::vpcd::serve(&mut card, &addr, &stop, || {
        connected.store(true, Ordering::Relaxed);
        eprintln!("card: in the reader at {on}");
    })
    .map_err(|e| CliError::Unreachable(format!("vpcd at {addr}: {e}")))
}
