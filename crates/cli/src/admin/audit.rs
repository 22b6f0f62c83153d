//! `sscard audit list|export|verify`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::Value;
use sscard_core::audit;
use sscard_gm::sm2::Sm2PublicKey;

use crate::client::{print, Client, Connection};
use crate::error::{CliError, CliResult};
use crate::io::{read_file, write_file, FileMode};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The newest records, one JSON line each.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Export the whole log as JSON lines.
    Export {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify the chain: exit 0 intact; exit 1 and the first bad record otherwise.
    Verify {
        /// Verify an export offline instead of the server's log.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// With --file: the audit public key (SPKI PEM) to check checkpoint
        /// signatures; fetched from the server when a token is given.
        #[arg(long = "pub", value_name = "PUB.pem")]
        public: Option<PathBuf>,
    },
}

/// Arguments of `audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
    #[command(flatten)]
    connection: Connection,
}

pub fn run(args: AuditArgs) -> CliResult {
    let client = Client::new(&args.connection)?;
    match args.command {
        AuditCommand::List { limit } => {
            let answer: Value = client.get(&format!("/v1/audit?limit={limit}"))?;
            if crate::io::json_mode() {
                crate::io::out_json(answer.get("records").unwrap_or(&Value::Null));
                return Ok(());
            }
            for record in answer
                .get("records")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                outln!("{record}");
            }
            Ok(())
        }
        AuditCommand::Export { out } => {
            let text = client.get_text("/v1/audit/export")?;
            write_file(&out, text.as_bytes(), FileMode::Public)?;
            outln!("records: {}", text.lines().count());
            outln!("file: {}", out.display());
            Ok(())
        }
        AuditCommand::Verify { file: None, .. } => {
            let answer: Value = client.get("/v1/audit/verify")?;
            if answer.get("intact").and_then(Value::as_bool) == Some(true) {
                print(&answer, crate::io::json_mode());
                Ok(())
            } else {
                let seq = answer.get("first_bad_seq").cloned().unwrap_or(Value::Null);
                outln!("first_bad_seq: {seq}");
                let reason = answer
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("chain broken");
                Err(CliError::Refused(format!("record {seq}: {reason}")))
            }
        }
        AuditCommand::Verify {
            file: Some(file),
            public,
        } => {
            let key = match public {
                Some(path) => Some(load_key(&read_file(&path)?, &path.display().to_string())?),
                None if args.connection.token.is_some() => {
                    let answer: Value = client.get("/v1/audit/public-key")?;
                    let pem = answer
                        .get("pem")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    Some(load_key(pem.as_bytes(), "the server's audit key")?)
                }
                None => None,
            };
            let text = String::from_utf8(read_file(&file)?)
                .map_err(|_| CliError::input(format!("{}: not UTF-8 text", file.display())))?;
            match audit::verify_export(&text, key.as_ref()) {
                Ok((records, checkpoints)) => {
                    outln!("audit: intact");
                    outln!("records: {records}");
                    let signed = if key.is_some() {
                        checkpoints.to_string()
                    } else {
                        "not checked (no key)".into()
                    };
                    outln!("checkpoints: {signed}");
                    Ok(())
                }
                Err(broken) => {
                    outln!("first_bad_seq: {}", broken.seq);
                    Err(CliError::Refused(broken.to_string()))
                }
            }
        }
    }
}

fn load_key(bytes: &[u8], name: &str) -> CliResult<Sm2PublicKey> {
    Sm2PublicKey::from_pem_or_der(bytes).map_err(|e| CliError::input(format!("{name}: {e}")))
}
