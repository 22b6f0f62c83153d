//! `sscard gm mac --key HEX [--alg sm4|3des|3des-retail] [--iv HEX] [--len N] [FILE]`

use std::path::PathBuf;

use clap::ValueEnum;
use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::{BlockAlgorithm, BlockKey};

use crate::error::CliResult;
use crate::io::{parse_hex, parse_hex_opt, print_hex, read_input};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Alg {
    /// CBC-MAC over SM4 (ISO/IEC 9797-1 algorithm 1, padding method 2).
    Sm4,
    /// CBC-MAC over 3DES (algorithm 1, padding method 2).
    #[value(name = "3des")]
    Tdes,
    /// The 3DES retail MAC (algorithm 3, padding method 2), 16-byte key.
    #[value(name = "3des-retail")]
    TdesRetail,
}

/// Arguments of `gm mac`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The key, hex.
    #[arg(long, value_name = "HEX")]
    key: String,
    #[arg(long, default_value = "sm4")]
    alg: Alg,
    /// Initial value, one block (e.g. the card's challenge, zero-padded); zeros when absent.
    #[arg(long, value_name = "HEX")]
    iv: Option<String>,
    /// Print only the leftmost N bytes (secure messaging uses 4).
    #[arg(long, value_name = "N")]
    len: Option<usize>,
    /// The data; stdin when absent or `-`.
    file: Option<PathBuf>,
}

pub fn run(args: Args) -> CliResult {
    let (block, algorithm) = match args.alg {
        Alg::Sm4 => (BlockAlgorithm::Sm4, MacAlgorithm::CbcMac),
        Alg::Tdes => (BlockAlgorithm::Tdes, MacAlgorithm::CbcMac),
        Alg::TdesRetail => (BlockAlgorithm::Tdes, MacAlgorithm::Retail),
    };
    let key = BlockKey::new(block, &parse_hex("--key", &args.key)?)?;
    let iv = parse_hex_opt("--iv", args.iv.as_deref())?;
    let data = read_input(args.file.as_deref())?;
    let tag = mac::mac(
        &key,
        algorithm,
        iv.as_deref().map(Vec::as_slice),
        &data,
        args.len,
    )?;
    print_hex(&tag);
    Ok(())
}
