//! `sscard approval list | approve ID | deny ID`.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{print, Client, Connection};
use crate::error::CliResult;

#[derive(Debug, Subcommand)]
pub enum ApprovalCommand {
    /// Pending requests, one `approval:` line each: its ID, what is asked,
    /// by whom, and what is to be approved (the key's name, algorithm,
    /// usage, level, region, exportability and check value; for a usage
    /// change the usage before and after; for an export where it goes).
    List,
    /// Approve another security administrator's request; it is carried out.
    Approve { id: String },
    /// Deny a pending request.
    Deny { id: String },
    /// One request: its state and what it is about; for its requester,
    /// with `--out`, the file an approved export produced.
    Status {
        id: String,
        /// Where to write the exported key file, once approved.
        #[arg(long, value_name = "F")]
        out: Option<std::path::PathBuf>,
    },
}

/// Arguments of `approval`.
#[derive(Debug, clap::Args)]
pub struct ApprovalArgs {
    #[command(subcommand)]
    command: ApprovalCommand,
    #[command(flatten)]
    connection: Connection,
}

pub fn run(args: ApprovalArgs) -> CliResult {
    let client = Client::new(&args.connection)?;
    match args.command {
        ApprovalCommand::List => {
            let answer: Value = client.get("/v1/approvals")?;
            if crate::io::json_mode() {
                print(&answer, true);
                return Ok(());
            }
            outln!("approvals: {}", answer.as_array().map_or(0, Vec::len));
            for a in answer.as_array().into_iter().flatten() {
                let f = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
                let details: Vec<String> = a
                    .get("details")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.as_str() != "key")
                    .map(|(k, v)| {
                        let v = v.as_str().unwrap_or_default();
                        if v.contains(' ') || v.is_empty() {
                            format!("{k}=\"{v}\"")
                        } else {
                            format!("{k}={v}")
                        }
                    })
                    .collect();
                outln!(
                    "approval: {} action={} target={} requester={} {}",
                    f("id"),
                    f("action"),
                    f("target"),
                    f("requester"),
                    details.join(" ")
                );
            }
        }
        ApprovalCommand::Approve { id } => {
            let answer: Value = client.post(&format!("/v1/approvals/{id}/approve"), &json!({}))?;
            if crate::io::json_mode() {
                print(&answer, true);
            } else {
                let f = |k: &str| {
                    answer
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                        .to_string()
                };
                outln!("approved: {id}");
                outln!("action: {}", f("action"));
                outln!("target: {}", f("target"));
                let key = answer.get("key").cloned().unwrap_or(Value::Null);
                outln!(
                    "state: {}",
                    key.get("state").and_then(Value::as_str).unwrap_or("-")
                );
                if let Some(v) = key
                    .get("versions")
                    .and_then(Value::as_array)
                    .and_then(|v| v.last())
                {
                    outln!(
                        "kcv: {}",
                        v.get("kcv").and_then(Value::as_str).unwrap_or("-")
                    );
                }
            }
        }
        ApprovalCommand::Status { id, out } => {
            let status: Value = client.get(&format!("/v1/approvals/{id}"))?;
            let f = |k: &str| {
                status
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string()
            };
            outln!("approval: {id}");
            outln!("action: {}", f("action"));
            outln!("state: {}", f("state"));
            for (k, v) in status
                .get("details")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                // The key's state, apart from the approval's.
                let k = if k == "state" {
                    "key_state"
                } else {
                    k.as_str()
                };
                outln!("{k}: {}", v.as_str().unwrap_or_default());
            }
            if let Some(out) = out {
                let file = status
                    .get("result")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        crate::error::CliError::Refused(format!(
                            "approval {id} is {} and has no file for you",
                            f("state")
                        ))
                    })?;
                crate::io::write_file(&out, file.as_bytes(), crate::io::FileMode::Public)?;
                outln!("file: {}", out.display());
            }
        }
        ApprovalCommand::Deny { id } => {
            let _: Value = client.post(&format!("/v1/approvals/{id}/deny"), &json!({}))?;
            outln!("denied: {id}");
        }
    }
    Ok(())
}
