//! `sscard login --user NAME [--password-stdin]`: prints a token.

use std::io::BufRead;

use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::client::{print, Client, Connection};
use crate::error::{CliError, CliResult};

/// Arguments of `login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// User name.
    #[arg(long)]
    user: String,
    /// Read the password from the first line of stdin. If the account is on
    /// a one-time password, the second line is the new password.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    connection: Connection,
}

fn read_line(prompt: bool, what: &str) -> CliResult<Option<Zeroizing<String>>> {
    if prompt {
        eprint!("{what}: ");
    }
    let mut line = Zeroizing::new(String::new());
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::input(format!("cannot read {what}: {e}")))?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_string(),
    )))
}

/// Logs in and prints the token (bare, for `SSCARD_TOKEN=$(sscard login …)`).
pub fn run(args: LoginArgs) -> CliResult {
    let prompt = !args.password_stdin;
    let password =
        read_line(prompt, "password")?.ok_or_else(|| CliError::input("no password on stdin"))?;
    let client = Client::new(&args.connection)?;
    let mut answer: Value = client.post(
        "/v1/auth/login",
        &json!({ "user": args.user, "password": password.as_str() }),
    )?;
    if answer
        .get("password_change_required")
        .and_then(Value::as_bool)
        == Some(true)
    {
        let Some(new) = read_line(
            prompt,
            "new password (the one-time password must be changed)",
        )?
        else {
            return Err(CliError::Refused(
                "the one-time password must be changed: give the new password on the next line of stdin".into(),
            ));
        };
        let token = answer
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let _: Value = client.with_token(&token).post(
            "/v1/auth/password",
            &json!({ "old_password": password.as_str(), "new_password": new.as_str() }),
        )?;
        answer = client.post(
            "/v1/auth/login",
            &json!({ "user": args.user, "password": new.as_str() }),
        )?;
    }
    if crate::io::json_mode() {
        print(&answer, true);
    } else {
        outln!(
            "{}",
            answer
                .get("token")
                .and_then(Value::as_str)
                .unwrap_or_default()
        );
    }
    Ok(())
}
