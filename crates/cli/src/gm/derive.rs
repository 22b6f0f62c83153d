//! `sscard gm derive --key HEX --factor HEX [--factor HEX …] [--alg sm4|3des]`

use sscard_gm::{diversify, BlockKey};

use super::KeyAlg;
use crate::error::CliResult;
use crate::io::{parse_hex, print_hex};

/// Arguments of `gm derive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The parent key, hex.
    #[arg(long, value_name = "HEX")]
    key: String,
    /// An 8-byte factor, hex; one level per factor, in order.
    #[arg(long, value_name = "HEX", required = true)]
    factor: Vec<String>,
    #[arg(long, default_value = "sm4")]
    alg: KeyAlg,
}

pub fn run(args: Args) -> CliResult {
    let mut key = BlockKey::new(args.alg.into(), &parse_hex("--key", &args.key)?)?;
    for factor in &args.factor {
        key = diversify::derive(&key, &parse_hex("--factor", factor)?)?;
    }
    print_hex(key.expose_secret());
    Ok(())
}
