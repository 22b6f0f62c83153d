//! `sscard approval list | approve ID | deny ID`.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{print, Client, Connection};
use crate::error::CliResult;

#[derive(Debug, Subcommand)]
pub enum ApprovalCommand {
    /// Pending requests, one per line starting with its ID.
    List,
    /// Approve another security administrator's request; it is carried out.
    Approve { id: String },
    /// Deny a pending request.
    Deny { id: String },
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
            for a in answer.as_array().into_iter().flatten() {
                let f = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
                outln!(
                    "{} action={} target={} requester={}",
                    f("id"),
                    f("action"),
                    f("target"),
                    f("requester")
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
        ApprovalCommand::Deny { id } => {
            let _: Value = client.post(&format!("/v1/approvals/{id}/deny"), &json!({}))?;
            outln!("denied: {id}");
        }
    }
    Ok(())
}
