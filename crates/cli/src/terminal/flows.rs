//! The card flows of `sscard terminal read` and `terminal pin`: a card in a
//! PC/SC reader or a card file, with a PSAM in a reader, a PSAM file, or the
//! platform's derivation service (HSM mode); with `--terminal`, the
//! terminal's blacklist cache first, and refusals reported as events.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sscard_card::crypto;
use sscard_card_sim::{VirtualCard, VirtualPsam};
use sscard_core::platform::{card_master_usage, master_name};
use sscard_terminal::{
    BlacklistCache, CardCheck, CardRef, CardSession, Error as TerminalError, Local, NoCheck,
    PcscReader, Psam, SecureModule, Transport,
};

use super::file::TerminalFile;
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

pub(super) fn terminal_error(e: TerminalError) -> CliError {
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

/// The terminal's checks before any card step: its blacklist cache, and a
/// note of the card's identifier so that a refusal can name it in an event.
struct TerminalCheck {
    cache: Option<BlacklistCache>,
    seen: std::cell::Cell<Option<[u8; 16]>>,
}

impl CardCheck for TerminalCheck {
    fn check(&self, card_id: &[u8; 16]) -> sscard_terminal::Result<()> {
        self.seen.set(Some(*card_id));
        match &self.cache {
            Some(cache) => cache.check(card_id),
            None => NoCheck.check(card_id),
        }
    }
}

/// The blacklist check and event reporting of a terminal file, when given.
fn checks(terminal: Option<&Path>) -> CliResult<(Option<TerminalFile>, TerminalCheck)> {
    let (file, cache) = match terminal {
        None => (None, None),
        Some(path) => {
            let file = TerminalFile::load(path)?;
            let cache = BlacklistCache::open(&file.cache_path(path), &file.platform_key()?)
                .map_err(|e| {
                    file.report("tamper", "", "blacklist cache refused: it does not check");
                    CliError::Refused(format!("blacklist cache: {e}"))
                })?;
            // A cache older than the version this terminal knows is
            // published (a deleted cache, an older one put back) is no
            // check: no card is read against it.
            if cache.version() < file.blacklist_floor {
                file.report(
                    "tamper",
                    "",
                    "blacklist cache older than the version learned at sign-in",
                );
                return Err(CliError::Refused(format!(
                    "blacklist cache: it holds version {}, older than version {} this terminal knows is published; sync the blacklist (sscard terminal sync-blacklist)",
                    cache.version(),
                    file.blacklist_floor
                )));
            }
            (Some(file), Some(cache))
        }
    };
    let check = TerminalCheck {
        cache,
        seen: std::cell::Cell::new(None),
    };
    Ok((file, check))
}

/// Opens a card session; with a terminal file, a refused card is reported
/// as a security event of that terminal (best effort: the refusal stands
/// whether or not the platform is reached).
fn open_session(
    card: &CardSource,
    m: &ModuleSource,
    connection: &Connection,
    terminal: Option<&Path>,
) -> CliResult<CardSession<Box<dyn Transport>, Box<dyn SecureModule>>> {
    let (file, check) = checks(terminal)?;
    let mut module = module(m, connection)?;
    if let Some(file) = file.as_ref().filter(|f| !f.psam.is_empty()) {
        // The bound PSAM, before the card is touched.
        let refused = match module.terminal_no() {
            Ok(present) if present == file.psam => None,
            Ok(present) => Some(TerminalError::WrongPsam {
                bound: file.psam.clone(),
                present,
            }),
            Err(e) => Some(e),
        };
        if let Some(e) = refused {
            file.report("psam-missing", "", &e.to_string());
            return Err(terminal_error(e));
        }
    }
    match CardSession::open(card_transport(card)?, module, &check) {
        Ok(session) => Ok(session),
        Err(e) => {
            if let Some(file) = file {
                let kind = match &e {
                    TerminalError::Blacklisted(_) => Some("blacklisted-card"),
                    TerminalError::NotGenuine | TerminalError::PsamKeyInsufficient(_) => {
                        Some("card-auth-failed")
                    }
                    TerminalError::NoPsam(_) => Some("psam-missing"),
                    _ => None,
                };
                if let Some(kind) = kind {
                    let card_id = check.seen.get().map(hex::encode_upper).unwrap_or_default();
                    file.report(kind, &card_id, &e.to_string());
                }
            }
            Err(terminal_error(e))
        }
    }
}

/// `terminal read`.
pub fn read(
    card: &CardSource,
    m: &ModuleSource,
    date: Option<String>,
    terminal: Option<&Path>,
    connection: &Connection,
) -> CliResult {
    let mut session = open_session(card, m, connection, terminal)?;
    let info = session
        .read_basic_info(&date.unwrap_or_else(today))
        .map_err(terminal_error)?;
    for (key, value) in info.fields() {
        outln!("{key}: {value}");
    }
    Ok(())
}

/// `terminal pin`.
pub fn pin(
    action: &str,
    card: &CardSource,
    m: &ModuleSource,
    pin: &str,
    new_pin: Option<&str>,
    terminal: Option<&Path>,
    connection: &Connection,
) -> CliResult {
    let mut session = open_session(card, m, connection, terminal)?;
    let result = match action {
        "verify" => session.verify_pin(pin),
        "change" => match new_pin {
            Some(new) => session.change_pin(pin, new),
            None => return Err(CliError::input("change needs --new-pin")),
        },
        "unblock" => session.reset_pin(new_pin.unwrap_or(pin), true),
        _ => session.reset_pin(new_pin.unwrap_or(pin), false),
    };
    match result {
        Ok(()) => {
            outln!("pin: ok");
            Ok(())
        }
        Err(TerminalError::PinWrong(n)) => {
            outln!("tries_left: {n}");
            Err(CliError::Refused(format!(
                "pin_wrong: PIN wrong, {n} tries left"
            )))
        }
        Err(TerminalError::PinBlocked) => {
            if let Some(path) = terminal {
                let file = TerminalFile::load(path)?;
                let card_id = hex::encode_upper(session.card_id());
                file.report("pin-blocked", &card_id, "PIN blocked");
            }
            Err(terminal_error(TerminalError::PinBlocked))
        }
        Err(e) => Err(terminal_error(e)),
    }
}
