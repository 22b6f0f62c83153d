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
    #[command(flatten)]
    connection: Connection,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Gives one share; prints `unseal: k/M` and whether the platform is still sealed.
pub fn unseal(args: UnsealArgs) -> CliResult {
    let share = Zeroizing::new(read_file(&args.share_file)?);
    let share = Zeroizing::new(String::from_utf8_lossy(&share).into_owned());
    let answer: Value = Client::new(&args.connection)?
        .post("/v1/sys/unseal", &json!({ "share": share.as_str() }))?;
    if args.json {
        print(&answer, true);
    } else {
        let progress = answer.get("progress").and_then(Value::as_u64).unwrap_or(0);
        let threshold = answer.get("threshold").and_then(Value::as_u64).unwrap_or(0);
        println!("unseal: {progress}/{threshold}");
        println!(
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

/// Seals the server (security administrator).
pub fn seal(args: SealArgs) -> CliResult {
    let answer: Value = Client::new(&args.connection)?.post("/v1/sys/seal", &json!({}))?;
    println!(
        "sealed: {}",
        answer
            .get("sealed")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    );
    Ok(())
}
