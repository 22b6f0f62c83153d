//! `sscard gm sm3 [--hmac-key HEX] [FILE]`

use std::path::PathBuf;

use crate::error::CliResult;
use crate::io::{parse_hex_opt, print_hex, read_input};

/// Arguments of `gm sm3`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Compute HMAC-SM3 under this key (hex) instead of a plain digest.
    #[arg(long, value_name = "HEX")]
    hmac_key: Option<String>,
    /// The data; stdin when absent or `-`.
    file: Option<PathBuf>,
}

pub fn run(args: Args) -> CliResult {
    let key = parse_hex_opt("--hmac-key", args.hmac_key.as_deref())?;
    let data = read_input(args.file.as_deref())?;
    match key {
        Some(key) => print_hex(&sscard_gm::sm3::hmac(&key, &data)),
        None => print_hex(&sscard_gm::sm3::digest(&data)),
    }
    Ok(())
}
