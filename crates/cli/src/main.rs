//! `sscard`: the one command of the social security card security platform.
//!
//! Exit codes (DESIGN, "Interface conventions"): 0 done; 1 refused or
//! invalid; 2 usage or input error; 3 a server or device unreachable. The
//! reason is one line on stderr.

#![forbid(unsafe_code)]

/// Prints one line on stdout, as `println!` does, with every control
/// character and invisible direction mark but the line breaks written as a
/// visible escape (`\u001b`): what the platform stores came from others
/// (a terminal's institution, an event's detail) and must not drive the
/// terminal it is shown on. Every line the command prints goes through here.
macro_rules! outln {
    () => {
        $crate::io::out_line("")
    };
    ($($arg:tt)*) => {
        $crate::io::out_line(&format!($($arg)*))
    };
}

mod admin;
mod bench;
mod card;
mod client;
mod demo;
mod error;
mod gm;
mod init;
mod io;
mod serve;
mod terminal;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sscard: security platform of the social security card One-Card system.
#[derive(Debug, Parser)]
#[command(name = "sscard", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print the output as one JSON object (or the command's JSON document)
    /// instead of `key: value` lines.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// National-algorithm tools: SM2, SM3, SM4, MACs, diversification, check values.
    #[command(subcommand)]
    Gm(gm::GmCommand),
    /// Benchmarks beside OpenSSL, measured in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// A walk-through of the card-system cryptography, in a scratch directory.
    Demo(demo::Args),
    /// Create the root key, its shares and the first operators.
    Init(init::InitArgs),
    /// Run the platform's HTTP API.
    Serve(serve::ServeArgs),
    /// Give the server one unseal share.
    Unseal(admin::seal::UnsealArgs),
    /// Seal the server (security administrator).
    Seal(admin::seal::SealArgs),
    /// The barrier's keyring: rotate, and rewrap stored secrets to the newest term.
    Sys(admin::sys::SysArgs),
    /// Log in; prints a token for SSCARD_TOKEN.
    Login(admin::login::LoginArgs),
    /// Operator accounts and roles.
    Operator(admin::operator::OperatorArgs),
    /// The audit log: list, export, verify.
    Audit(admin::audit::AuditArgs),
    /// Keys of the KMS: create, import, rotate, retire versions, suspend, destroy, encrypt.
    Key(admin::key::KeyArgs),
    /// Virtual cards and PSAMs: personalize from the KMS, issue, serve to pcscd.
    Card(card::CardArgs),
    /// The terminal's card flows: read, PIN.
    Terminal(terminal::TerminalArgs),
    /// The card blacklist: add, remove, publish, export.
    Blacklist(admin::blacklist::BlacklistArgs),
    /// Security events and alerts.
    Events(admin::events::EventsArgs),
    /// Dual control: pending requests, approve, deny.
    Approval(admin::approval::ApprovalArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    io::set_json(cli.json);
    let result = match cli.command {
        Command::Gm(command) => gm::run(command),
        Command::Bench(command) => bench::run(command),
        Command::Demo(args) => demo::run(args),
        Command::Init(args) => block_on(init::run(args)),
        Command::Serve(args) => {
            init_tracing();
            block_on(serve::run(args))
        }
        Command::Unseal(args) => admin::seal::unseal(args),
        Command::Seal(args) => admin::seal::seal(args),
        Command::Sys(args) => admin::sys::run(args),
        Command::Login(args) => admin::login::run(args),
        Command::Operator(args) => admin::operator::run(args),
        Command::Audit(args) => admin::audit::run(args),
        Command::Key(args) => admin::key::run(args),
        Command::Approval(args) => admin::approval::run(args),
        Command::Card(args) => card::run(args),
        Command::Blacklist(args) => admin::blacklist::run(args),
        Command::Events(args) => admin::events::run(args),
        Command::Terminal(args) => terminal::run(args),
    };
    match result {
        Ok(()) => {
            io::finish();
            ExitCode::SUCCESS
        }
        Err(e) => {
            // What the command printed before it was refused (a broken
            // audit chain's first bad record, say) is printed with --json too.
            io::finish();
            eprintln!("sscard: {e}");
            e.exit_code()
        }
    }
}

/// Runs a future to its value on a multi-threaded runtime.
pub(crate) fn block_on<T>(
    future: impl std::future::Future<Output = error::CliResult<T>>,
) -> error::CliResult<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| error::CliError::Unreachable(format!("runtime: {e}")))?
        .block_on(future)
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Help and version go to stdout with exit 0; a usage error is one line on
/// stderr with exit 2.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!("sscard: a subcommand is required (see --help)");
            ExitCode::from(2)
        }
        _ => {
            // clap's first paragraph, folded onto one line (it lists missing
            // arguments on lines of their own).
            let rendered = e.render().to_string();
            let paragraph: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            let line = paragraph.join(" ");
            let line = line.strip_prefix("error: ").unwrap_or(&line);
            eprintln!("sscard: {line} (see --help)");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap checks the whole command tree (duplicate names, conflicting
    /// flags) only when a subcommand is used; this checks every one.
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
