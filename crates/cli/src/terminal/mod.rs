//! `sscard terminal …`: the card flows of a terminal (read, PIN), the
//! registry (system administrator), enrollment and sign-in, and the
//! terminal's blacklist cache.

mod file;
mod flows;
mod registry;
mod signin;

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::client::Connection;
use crate::error::CliResult;
pub use flows::{CardSource, ModuleSource};

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
        /// This terminal's file: its blacklist cache is checked first, and
        /// refused cards are reported as its security events.
        #[arg(long, value_name = "TERMINAL.json")]
        terminal: Option<PathBuf>,
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
        /// This terminal's file (blacklist first, events).
        #[arg(long, value_name = "TERMINAL.json")]
        terminal: Option<PathBuf>,
    },
    /// Register a terminal (system administrator).
    Register {
        /// Terminal number, 12 digits.
        #[arg(long, value_name = "NO")]
        no: String,
        /// Device serial.
        #[arg(long)]
        serial: String,
        /// Institution.
        #[arg(long)]
        institution: String,
        /// Location.
        #[arg(long, default_value = "")]
        location: String,
        /// Kind of terminal.
        #[arg(long, default_value = "counter")]
        kind: String,
        /// Bind this PSAM.
        #[arg(long, value_name = "PSAM.json")]
        psam: Option<PathBuf>,
        /// How it signs in: `sm2` (it enrolls for a certificate) or `mac`
        /// (a terminal without SM2: it is keyed with a terminal master key).
        #[arg(long, default_value = "sm2", value_parser = ["sm2", "mac"])]
        auth: String,
    },
    /// Every terminal, one line each.
    List,
    /// Suspend a terminal: it cannot sign in.
    Suspend { no: String },
    /// Put a suspended terminal back into service.
    Activate { no: String },
    /// Revoke a terminal for good (its certificate goes on the published CRL).
    Revoke { no: String },
    /// Fetch the published revocation list of terminal certificates (DER CRL).
    Crl {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Allow a terminal software version by its SM3 hash (sign-in checks it).
    #[command(disable_version_flag = true)]
    AllowSoftware {
        #[arg(long)]
        version: String,
        /// SM3 of the software, hex; `--file` computes it.
        #[arg(long, value_name = "HEX", required_unless_present = "file")]
        sm3: Option<String>,
        /// The software's file.
        #[arg(long, value_name = "F")]
        file: Option<PathBuf>,
    },
    /// On the terminal: make its SM2 key pair and certificate request, and
    /// store the certificate the platform issues (system administrator's
    /// token); with `--mac`, store instead the terminal master key the
    /// platform derives for a terminal registered with `--auth mac`.
    Enroll {
        #[arg(long, value_name = "NO")]
        no: String,
        #[arg(long, value_name = "TERMINAL.json")]
        out: PathBuf,
        /// A terminal without SM2: receive its terminal master key.
        #[arg(long)]
        mac: bool,
    },
    /// Sign in: prints the session, the working keys' check values and the blacklist version.
    Signin {
        #[arg(long, value_name = "TERMINAL.json")]
        terminal: PathBuf,
    },
    /// Sign out: the session and its working keys end.
    Signout {
        #[arg(long, value_name = "TERMINAL.json")]
        terminal: PathBuf,
    },
    /// Fetch the blacklist (delta from the cache, or full) and apply it.
    SyncBlacklist {
        #[arg(long, value_name = "TERMINAL.json")]
        terminal: PathBuf,
    },
    /// Apply a blacklist file; refuses one whose signature fails.
    ApplyBlacklist {
        #[arg(long, value_name = "TERMINAL.json")]
        terminal: PathBuf,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
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

pub fn run(args: TerminalArgs) -> CliResult {
    let c = &args.connection;
    match args.command {
        TerminalCommand::Read {
            card,
            module,
            today,
            terminal,
        } => flows::read(&card, &module, today, terminal.as_deref(), c),
        TerminalCommand::Pin {
            action,
            card,
            module,
            pin,
            new_pin,
            terminal,
        } => flows::pin(
            &action,
            &card,
            &module,
            &pin,
            new_pin.as_deref().map(String::as_str),
            terminal.as_deref(),
            c,
        ),
        TerminalCommand::Register {
            no,
            serial,
            institution,
            location,
            kind,
            psam,
            auth,
        } => registry::register(
            c,
            &registry::Registration {
                no: &no,
                serial: &serial,
                institution: &institution,
                location: &location,
                kind: &kind,
                auth: &auth,
            },
            psam.as_deref(),
        ),
        TerminalCommand::List => registry::list(c),
        TerminalCommand::Suspend { no } => registry::set_state(c, &no, "suspended"),
        TerminalCommand::Activate { no } => registry::set_state(c, &no, "active"),
        TerminalCommand::Revoke { no } => registry::set_state(c, &no, "revoked"),
        TerminalCommand::Crl { out } => registry::crl(c, &out),
        TerminalCommand::AllowSoftware { version, sm3, file } => {
            let sm3 = match (sm3, file) {
                (Some(h), _) => h,
                (None, Some(f)) => hex::encode(sscard_gm::sm3::digest(&crate::io::read_file(&f)?)),
                (None, None) => {
                    return Err(crate::error::CliError::input("give --sm3 HEX or --file F"))
                }
            };
            registry::allow_software(c, &version, &sm3)
        }
        TerminalCommand::Enroll { no, out, mac } => registry::enroll(c, &no, &out, mac),
        TerminalCommand::Signin { terminal } => signin::signin(&terminal),
        TerminalCommand::Signout { terminal } => signin::signout(&terminal),
        TerminalCommand::SyncBlacklist { terminal } => signin::sync(&terminal),
        TerminalCommand::ApplyBlacklist { terminal, file } => signin::apply_file(&terminal, &file),
    }
}
