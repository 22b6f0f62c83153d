//! `sscard sys rotate` and `sscard sys rewrap`: the barrier's keyring.

use indicatif::{ProgressBar, ProgressStyle};
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
            let bar = ProgressBar::new(done + number(&answer, "remaining")?);
            bar.set_style(
                ProgressStyle::with_template("rewrap {bar:40} {pos}/{len} sealed values")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_position(done);
            while number(&answer, "remaining")? > 0 {
                answer = client.post("/v1/sys/rewrap", &json!({"limit": batch}))?;
                let resealed = number(&answer, "resealed")?;
                if resealed == 0 {
                    break;
                }
                done += resealed;
                bar.set_length(done + number(&answer, "remaining")?);
                bar.set_position(done);
            }
            bar.finish_and_clear();
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
