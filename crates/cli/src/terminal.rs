//! `sscard terminal …`: the card flows of a terminal, on a card in a PC/SC
//! reader or a card file, with a PSAM in a reader, a PSAM file, or the
//! platform's derivation service (HSM mode).

use std::path::PathBuf;

use serde_json::{json, Value};
use sscard_card::crypto;
use sscard_card::{VirtualCard, VirtualPsam};
use sscard_core::platform::{card_master_usage, master_name};
use sscard_terminal::{
    CardRef, CardSession, Error as TerminalError, Local, NoCheck, PcscReader, Psam, SecureModule,
    Transport,
};
use zeroize::Zeroizing;

use crate::client::{Client, Connection};
use crate::error::{CliError, CliResult};

/// Where the card is.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct CardSource {
    /// A PC/SC reader (its name, or a prefix naming one reader).
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// A card file, in process.
    #[arg(long, value_name = "CARD.json")]
    card: Option<PathBuf>,
}

/// What authenticates the card.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ModuleSource {
    /// A PSAM in a PC/SC reader.
    #[arg(long, value_name = "NAME")]
    psam_reader: Option<String>,
    /// A PSAM file, in process.
    #[arg(long, value_name = "PSAM.json")]
    psam: Option<PathBuf>,
    /// The platform's derivation service (--addr, --token).
    #[arg(long)]
    hsm: bool,
}

/// Terminal commands.
#[derive(Debug, clap::Subcommand)]
pub enum TerminalCommand {
    /// Authenticate the card and print its basic information, one `key: value` per line.
    Read {
        #[command(flatten)]
        card: CardSource,
        #[command(flatten)]
        module: ModuleSource,
        /// Check expiry against this date (YYYYMMDD) instead of today.
        #[arg(long, value_name = "YYYYMMDD")]
        today: Option<String>,
    },
    /// PIN operations: exit 0 done, 1 wrong (prints tries_left) or blocked.
    Pin {
        #[arg(value_parser = ["verify", "change", "unblock", "reload"])]
        action: String,
        #[command(flatten)]
        card: CardSource,
        #[command(flatten)]
        module: ModuleSource,
        /// The PIN (for unblock and reload: the new PIN unless --new-pin is given).
        #[arg(long)]
        pin: Zeroizing<String>,
        /// The new PIN (change; unblock and reload).
        #[arg(long)]
        new_pin: Option<Zeroizing<String>>,
    },
}

/// Arguments of `terminal`.
#[derive(Debug, clap::Args)]
pub struct TerminalArgs {
    #[command(subcommand)]
    command: TerminalCommand,
    #[command(flatten)]
    connection: Connection,
}

/// The platform's derivation service as a secure module.
struct Hsm {
    client: Client,
}

impl Hsm {
    fn compute(&self, id: u8, card: &CardRef, body: Value) -> sscard_terminal::Result<Vec<u8>> {
        let usage = card_master_usage(id)
            .ok_or_else(|| TerminalError::Invalid(format!("no master for key {id:02X}")))?;
        let name = master_name(usage, &card.region);
        let answer: Value = self
            .client
            .post(&format!("/v1/keys/{name}/card"), &body)
            .map_err(|e| match e {
                CliError::Unreachable(why) => TerminalError::Transport(why),
                other => TerminalError::NoPsam(format!("the derivation service: {other}")),
            })?;
        answer
            .get("data")
            .and_then(Value::as_str)
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| TerminalError::NoPsam("the derivation service sent no data".into()))
    }
}

impl SecureModule for Hsm {
    fn terminal_no(&mut self) -> sscard_terminal::Result<String> {
        Ok("hsm".into())
    }

    fn cryptogram(
        &mut self,
        id: u8,
        card: &CardRef,
        rand: &[u8; 8],
        data: &[u8; 8],
    ) -> sscard_terminal::Result<[u8; 8]> {
        let block = crypto::pad8(card.algorithm.block(), data);
        let out = self.compute(
            id,
            card,
            json!({"operation": "encrypt", "factors": [hex::encode(card.card_factor), hex::encode(rand)],
                   "data": hex::encode(block)}),
        )?;
        crypto::fold(&out).map_err(|e| TerminalError::NoPsam(e.to_string()))
    }

    fn mac(
        &mut self,
        id: u8,
        card: &CardRef,
        challenge: &[u8],
        input: &[u8],
    ) -> sscard_terminal::Result<[u8; 4]> {
        let iv = crypto::challenge_iv(card.algorithm.block(), challenge);
        let out = self.compute(
            id,
            card,
            json!({"operation": "mac", "factors": [hex::encode(card.card_factor)],
                   "iv": hex::encode(iv), "len": 4, "data": hex::encode(input)}),
        )?;
        out.try_into()
            .map_err(|_| TerminalError::NoPsam("a MAC of the wrong length".into()))
    }

    fn encipher_pin(
        &mut self,
        id: u8,
        card: &CardRef,
        pin: &str,
    ) -> sscard_terminal::Result<Vec<u8>> {
        let block = crypto::pin_block(card.algorithm.block(), pin)
            .map_err(|e| TerminalError::Invalid(e.to_string()))?;
        self.compute(
            id,
            card,
            json!({"operation": "encrypt", "factors": [hex::encode(card.card_factor)],
                   "data": hex::encode(block.as_slice())}),
        )
    }
}

fn terminal_error(e: TerminalError) -> CliError {
    match e {
        TerminalError::Transport(why) | TerminalError::NoPsam(why) => CliError::Unreachable(why),
        TerminalError::Invalid(why) => CliError::input(why),
        other => CliError::Refused(format!("{}: {other}", other.reason())),
    }
}

fn card_transport(source: &CardSource) -> CliResult<Box<dyn Transport>> {
    match (&source.reader, &source.card) {
        (Some(name), _) => Ok(Box::new(PcscReader::connect(name).map_err(terminal_error)?)),
        (None, Some(path)) => {
            Ok(Box::new(Local(VirtualCard::open(path).map_err(|e| {
                CliError::input(format!("{}: {e}", path.display()))
            })?)))
        }
        (None, None) => Err(CliError::input("give --reader NAME or --card CARD.json")),
    }
}

fn module(source: &ModuleSource, connection: &Connection) -> CliResult<Box<dyn SecureModule>> {
    match (&source.psam_reader, &source.psam, source.hsm) {
        (Some(name), _, _) => Ok(Box::new(Psam::new(
            PcscReader::connect(name).map_err(terminal_error)?,
            None,
        ))),
        (None, Some(path), _) => Ok(Box::new(Psam::new(
            Local(
                VirtualPsam::open(path)
                    .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?,
            ),
            None,
        ))),
        (None, None, true) => Ok(Box::new(Hsm {
            client: Client::new(connection)?,
        })),
        _ => Err(CliError::input(
            "give --psam-reader NAME, --psam PSAM.json or --hsm",
        )),
    }
}

fn today() -> String {
    sscard_core::clock::format_time(sscard_core::now_ms())
        .chars()
        .take(10)
        .filter(|c| *c != '-')
        .collect()
}

pub fn run(args: TerminalArgs) -> CliResult {
    match args.command {
        TerminalCommand::Read {
            card,
            module: m,
            today: date,
        } => {
            let mut session = CardSession::open(
                card_transport(&card)?,
                module(&m, &args.connection)?,
                &NoCheck,
            )
            .map_err(terminal_error)?;
            let info = session
                .read_basic_info(&date.unwrap_or_else(today))
                .map_err(terminal_error)?;
            for (key, value) in info.fields() {
                println!("{key}: {value}");
            }
            Ok(())
        }
        TerminalCommand::Pin {
            action,
            card,
            module: m,
            pin,
            new_pin,
        } => {
            let mut session = CardSession::open(
                card_transport(&card)?,
                module(&m, &args.connection)?,
                &NoCheck,
            )
            .map_err(terminal_error)?;
            let new = new_pin.as_deref().map(String::as_str);
            let result = match action.as_str() {
                "verify" => session.verify_pin(&pin),
                "change" => match new {
                    Some(new) => session.change_pin(&pin, new),
                    None => return Err(CliError::input("change needs --new-pin")),
                },
                "unblock" => session.reset_pin(new.unwrap_or(&pin), true),
                _ => session.reset_pin(new.unwrap_or(&pin), false),
            };
            match result {
                Ok(()) => {
                    println!("pin: ok");
                    Ok(())
                }
                Err(TerminalError::PinWrong(n)) => {
                    println!("tries_left: {n}");
                    Err(CliError::Refused(format!(
                        "pin_wrong: PIN wrong, {n} tries left"
                    )))
                }
                Err(e) => Err(terminal_error(e)),
            }
        }
    }
}
