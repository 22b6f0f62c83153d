//! `sscard gm kcv --key HEX [--alg sm4|3des] [--len N]`

use sscard_gm::{kcv, BlockKey};

use super::KeyAlg;
use crate::error::CliResult;
use crate::io::{parse_hex, print_hex};

/// Arguments of `gm kcv`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The key, hex.
    #[arg(long, value_name = "HEX")]
    key: String,
    #[arg(long, default_value = "sm4")]
    alg: KeyAlg,
    /// Bytes of the check value: default 4 for SM4, 3 for 3DES.
    #[arg(long, value_name = "N")]
    len: Option<usize>,
}

pub fn run(args: Args) -> CliResult {
    let key = BlockKey::new(args.alg.into(), &parse_hex("--key", &args.key)?)?;
    let len = args
        .len
        .unwrap_or_else(|| kcv::default_len(key.algorithm()));
    print_hex(&kcv::kcv(&key, len)?);
    Ok(())
}
