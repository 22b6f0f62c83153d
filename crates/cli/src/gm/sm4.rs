//! `sscard gm sm4 encrypt|decrypt --mode ecb|cbc|ctr|gcm --key HEX [--iv HEX] [--aad HEX] [--no-pad] [--in FILE] [--out FILE]`

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use sscard_gm::sm4::{self, Padding, Sm4Key};

use crate::error::{CliError, CliResult};
use crate::io::{parse_hex, parse_hex_opt, read_input, write_output};

#[derive(Debug, Subcommand)]
pub enum Sm4Command {
    /// Encrypt (ECB/CBC pad with PKCS#7 unless --no-pad; GCM appends the 16-byte tag).
    Encrypt(Args),
    /// Decrypt (GCM checks and strips the trailing tag).
    Decrypt(Args),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Mode {
    Ecb,
    Cbc,
    Ctr,
    Gcm,
}

/// Arguments of `gm sm4 encrypt|decrypt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mode of operation.
    #[arg(long)]
    mode: Mode,
    /// The 16-byte key, hex.
    #[arg(long, value_name = "HEX")]
    key: String,
    /// Initial value: 16 bytes for CBC and CTR, 12 for GCM; not used by ECB.
    #[arg(long, value_name = "HEX")]
    iv: Option<String>,
    /// Additional authenticated data (GCM only), hex.
    #[arg(long, value_name = "HEX")]
    aad: Option<String>,
    /// No padding for ECB and CBC: the data must be whole 16-byte blocks.
    #[arg(long)]
    no_pad: bool,
    /// Input file; stdin when absent or `-`.
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file; stdout when absent or `-`.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(command: Sm4Command) -> CliResult {
    let (encrypt, args) = match command {
        Sm4Command::Encrypt(args) => (true, args),
        Sm4Command::Decrypt(args) => (false, args),
    };
    let key = Sm4Key::from_slice(&parse_hex("--key", &args.key)?)?;
    let iv = parse_hex_opt("--iv", args.iv.as_deref())?;
    let aad = parse_hex_opt("--aad", args.aad.as_deref())?;
    if aad.is_some() && args.mode != Mode::Gcm {
        return Err(CliError::input("--aad is only for --mode gcm"));
    }
    if args.no_pad && !matches!(args.mode, Mode::Ecb | Mode::Cbc) {
        return Err(CliError::input("--no-pad is only for --mode ecb or cbc"));
    }
    let iv = match (args.mode, iv) {
        (Mode::Ecb, Some(_)) => return Err(CliError::input("--mode ecb takes no --iv")),
        (Mode::Ecb, None) => None,
        (_, None) => return Err(CliError::input("--iv is required for this mode")),
        (_, Some(iv)) => Some(iv),
    };
    let iv = iv.as_deref().map(Vec::as_slice).unwrap_or_default();
    let padding = if args.no_pad {
        Padding::None
    } else {
        Padding::Pkcs7
    };
    let data = read_input(args.input.as_deref())?;
    let aad = aad.as_deref().map(Vec::as_slice).unwrap_or_default();
    let out = match (args.mode, encrypt) {
        (Mode::Ecb, true) => sm4::ecb_encrypt(&key, &data, padding)?,
        (Mode::Ecb, false) => sm4::ecb_decrypt(&key, &data, padding)?,
        (Mode::Cbc, true) => sm4::cbc_encrypt(&key, iv, &data, padding)?,
        (Mode::Cbc, false) => sm4::cbc_decrypt(&key, iv, &data, padding)?,
        (Mode::Ctr, _) => sm4::ctr_apply(&key, iv, &data)?,
        (Mode::Gcm, true) => sm4::gcm_encrypt(&key, iv, aad, &data)?,
        (Mode::Gcm, false) => sm4::gcm_decrypt(&key, iv, aad, &data)?,
    };
    write_output(args.output.as_deref(), &out)
}
