//! `sscard sys rotate` and `sscard sys rewrap`: the barrier's keyring.

use serde_json::{json, Value};

use crate::client::{print, Client, Connection};
use crate::error::{CliError, CliResult};

/// Keyring commands (security administrator).
#[derive(Debug, clap::Subcommand)]
pub enum SysCommand {
    /// Add a keyring term: new secrets are sealed under it from now on.
    Rotate,
    /// Seal every stored secret of an older term under the newest term,
    /// in batches, with a progress bar; safe to interrupt and run again.
    Rewrap {
        /// Values per request.
        #[arg(long, value_name = "N", default_value_t = 500)]
        batch: usize,
    },
}

/// Arguments of `sys`.
#[derive(Debug, clap::Args)]
pub struct SysArgs {
    #[command(subcommand)]
    command: SysCommand,
    #[command(flatten)]
    connection: Connection,
}

fn number(answer: &Value, field: &str) -> CliResult<u64> {
    answer
        .get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| CliError::Unreachable(format!("the server's answer has no {field}")))
}

pub fn run(args: SysArgs) -> CliResult {
    let client = Client::new(&args.connection)?;
    match args.command {
        SysCommand::Rotate => {
            let answer: Value = client.post("/v1/sys/rotate", &json!({}))?;
            if crate::io::json_mode() {
                print(&answer, true);
            } else {
                outln!("term: {}", number(&answer, "term")?);
            }
        }
        SysCommand::Rewrap { batch } => {
            let mut answer: Value = client.post("/v1/sys/rewrap", &json!({"limit": batch}))?;
            let mut done = number(&answer, "resealed")?;
            let bar = crate::io::Progress::new(
                "rewrap",
                "sealed values",
                done + number(&answer, "remaining")?,
            );
            bar.set(done, done + number(&answer, "remaining")?);
            while number(&answer, "remaining")? > 0 {
                answer = client.post("/v1/sys/rewrap", &json!({"limit": batch}))?;
                let resealed = number(&answer, "resealed")?;
                if resealed == 0 {
                    break;
                }
                done += resealed;
                bar.set(done, done + number(&answer, "remaining")?);
            }
            bar.finish();
            if crate::io::json_mode() {
                print(&json!({"term": answer.get("term"), "resealed": done}), true);
            } else {
                outln!("term: {}", number(&answer, "term")?);
                outln!("resealed: {done}");
            }
        }
    }
    Ok(())
}
