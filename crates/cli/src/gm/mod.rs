//! `sscard gm …`: the national-algorithm tools. They need no server.

mod derive;
mod kcv;
mod mac;
mod sm2;
mod sm3;
mod sm4;

use clap::{Subcommand, ValueEnum};
use sscard_gm::BlockAlgorithm;

use crate::error::CliResult;

/// The tools under `sscard gm`.
#[derive(Debug, Subcommand)]
pub enum GmCommand {
    /// SM3 digest (or HMAC-SM3 with --hmac-key) of FILE or stdin, in hex.
    Sm3(sm3::Args),
    /// SM4 encryption and decryption in ECB, CBC, CTR or GCM mode.
    #[command(subcommand)]
    Sm4(sm4::Sm4Command),
    /// SM2 keys, signatures and encryption.
    #[command(subcommand)]
    Sm2(sm2::Sm2Command),
    /// ISO/IEC 9797-1 MAC (CBC-MAC with padding method 2, or the 3DES retail MAC).
    Mac(mac::Args),
    /// Diversify a key, one level per 8-byte factor.
    Derive(derive::Args),
    /// Key check value: encryption of a zero block, leftmost bytes.
    Kcv(kcv::Args),
}

/// Runs one `gm` tool.
pub fn run(command: GmCommand) -> CliResult {
    match command {
        GmCommand::Sm3(args) => sm3::run(args),
        GmCommand::Sm4(command) => sm4::run(command),
        GmCommand::Sm2(command) => sm2::run(command),
        GmCommand::Mac(args) => mac::run(args),
        GmCommand::Derive(args) => derive::run(args),
        GmCommand::Kcv(args) => kcv::run(args),
    }
}

/// `--alg sm4|3des` of the key tools.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyAlg {
    /// SM4 (16-byte key, 16-byte block).
    Sm4,
    /// 3DES (16- or 24-byte key, 8-byte block).
    #[value(name = "3des")]
    Tdes,
}

impl From<KeyAlg> for BlockAlgorithm {
    fn from(alg: KeyAlg) -> Self {
        match alg {
            KeyAlg::Sm4 => BlockAlgorithm::Sm4,
            KeyAlg::Tdes => BlockAlgorithm::Tdes,
        }
    }
}
