//! `sscard unseal --share-file F` and `sscard seal`.

use std::path::PathBuf;

use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::client::{print, Client, Connection};
use crate::error::CliResult;
use crate::io::read_file;

/// Arguments of `unseal`.
#[derive(Debug, clap::Args)]
pub struct UnsealArgs {
    /// One share file (from `sscard init`).
    #[arg(long, value_name = "F")]
    share_file: PathBuf,
    /// Forget the shares given so far and start again; the share file
    /// proves that a custodian asks, and does not count.
    #[arg(long)]
    reset: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Gives one share (or with `--reset` forgets those given); prints
/// `unseal: k/M` and whether the platform is still sealed. A refused share
/// exits 1 with its reason.
pub fn unseal(args: UnsealArgs) -> CliResult {
    let client = Client::new(&args.connection)?;
    let share = Zeroizing::new(read_file(&args.share_file)?);
    let share = Zeroizing::new(String::from_utf8_lossy(&share).into_owned());
    let answer: Value = client.post(
        "/v1/sys/unseal",
        &json!({ "share": share.as_str(), "reset": args.reset }),
    )?;
    if crate::io::json_mode() {
        print(&answer, true);
    } else {
        let progress = answer.get("progress").and_then(Value::as_u64).unwrap_or(0);
        let threshold = answer.get("threshold").and_then(Value::as_u64).unwrap_or(0);
        outln!("unseal: {progress}/{threshold}");
        outln!(
            "sealed: {}",
            answer
                .get("sealed")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        );
    }
    Ok(())
}

/// Arguments of `seal`.
#[derive(Debug, clap::Args)]
pub struct SealArgs {
    #[command(flatten)]
    connection: Connection,
}

/// Seals the server (security administrator); every token and terminal
/// session ends with it.
pub fn seal(args: SealArgs) -> CliResult {
    let answer: Value = Client::new(&args.connection)?.post("/v1/sys/seal", &json!({}))?;
    print(&answer, crate::io::json_mode());
    Ok(())
}
