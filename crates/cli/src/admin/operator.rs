//! `sscard operator add|disable|grant|list`.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{print, Client, Connection};
use crate::error::CliResult;

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an account (system administrator); prints its one-time password.
    Add {
        #[arg(long)]
        user: String,
    },
    /// Disable an account (system administrator).
    Disable { name: String },
    /// Grant the one role of an account (security administrator).
    Grant {
        name: String,
        #[arg(long, value_parser = ["system", "security", "audit"])]
        role: String,
    },
    /// List accounts (system and security administrators).
    List,
}

/// Arguments of `operator`.
#[derive(Debug, clap::Args)]
pub struct OperatorArgs {
    #[command(subcommand)]
    command: OperatorCommand,
    #[command(flatten)]
    connection: Connection,
}

pub fn run(args: OperatorArgs) -> CliResult {
    let client = Client::new(&args.connection)?;
    match args.command {
        OperatorCommand::Add { user } => {
            let answer: Value = client.post("/v1/operators", &json!({ "user": user }))?;
            print(&answer, crate::io::json_mode());
        }
        OperatorCommand::Disable { name } => {
            let _: Value = client.post(&format!("/v1/operators/{name}/disable"), &json!({}))?;
            outln!("disabled: {name}");
        }
        OperatorCommand::Grant { name, role } => {
            let _: Value = client.post(
                &format!("/v1/operators/{name}/grant"),
                &json!({ "role": role }),
            )?;
            outln!("granted: {name} {role}");
        }
        OperatorCommand::List => {
            let answer: Value = client.get("/v1/operators")?;
            if crate::io::json_mode() {
                print(&answer, true);
            } else {
                for op in answer.as_array().into_iter().flatten() {
                    let field = |k: &str| match op.get(k) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => "-".to_string(),
                        Some(other) => other.to_string(),
                    };
                    outln!(
                        "operator: {} role={} disabled={} must_change_password={}",
                        field("user"),
                        field("role"),
                        field("disabled"),
                        field("must_change_password")
                    );
                }
            }
        }
    }
    Ok(())
}
