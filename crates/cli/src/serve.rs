//! `sscard serve [--data DIR | --database URL] [--listen ADDR] [--dev]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sscard_core::operator::OperatorName;
use sscard_core::platform::{InitOptions, NewOperator, Platform};
use sscard_core::Role;

use crate::error::{CliError, CliResult};
use crate::init::open_store;
use crate::io::{read_file, write_file, FileMode};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Data directory: the embedded database, and in --dev the credentials.
    #[arg(long, value_name = "DIR", default_value = "sscard-data")]
    data: PathBuf,
    /// PostgreSQL instead of the embedded database.
    #[arg(long, value_name = "URL", env = "SSCARD_DATABASE")]
    database: Option<String>,
    /// Address to listen on. Plain HTTP is served only on loopback.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8300")]
    listen: SocketAddr,
    /// Development mode: init, unseal and create operators automatically. Not for production.
    #[arg(long)]
    dev: bool,
    /// Seconds between signed audit checkpoints when records are waiting.
    #[arg(long, value_name = "S", default_value_t = 60)]
    checkpoint_seconds: u64,
    /// Seconds between runs of the key schedule (rotation periods,
    /// activation and expiry dates).
    #[arg(long, value_name = "S", default_value_t = 60)]
    schedule_seconds: u64,
    /// TLS certificate chain (PEM). With --tls-key, the API is served over TLS.
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Records between signed audit checkpoints.
    #[arg(long, value_name = "N", default_value_t = Platform::CHECKPOINT_EVERY)]
    checkpoint_records: i64,
}

const DEV_SHARE: &str = "dev-share.json";
const DEV_CREDENTIALS: &str = "dev-credentials.json";

pub async fn run(args: ServeArgs) -> CliResult {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(sscard_server::tls_config(cert, key).await.map_err(|e| {
                CliError::input(format!(
                    "--tls-cert {} / --tls-key {}: {e}",
                    cert.display(),
                    key.display()
                ))
            })?)
        }
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().is_loopback() {
        return Err(CliError::input(format!(
            "{} is not a loopback address: plain HTTP is served only on loopback; give --tls-cert and --tls-key",
            args.listen
        )));
    }
    let store = open_store(&args.data, args.database.as_deref()).await?;
    let platform =
        Arc::new(Platform::new(store.into_dyn()).with_checkpoint_every(args.checkpoint_records));
    if args.dev {
        dev_prepare(&platform, &args.data).await?;
    }
    let listener = std::net::TcpListener::bind(args.listen)
        .map_err(|e| CliError::input(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::input(format!("listener: {e}")))?;
    let url = format!("{}://{addr}", if tls.is_some() { "https" } else { "http" });
    if args.dev {
        dev_credentials(&args.data, &url)?;
        eprintln!("===================================================================");
        eprintln!(" sscard DEVELOPMENT MODE -- NOT FOR PRODUCTION");
        eprintln!(" One unseal share and every operator password are stored in clear in");
        eprintln!(" {}", args.data.display());
        eprintln!("===================================================================");
    }
    outln!("listening: {url}");
    tokio::spawn(sscard_server::checkpoint_timer(
        Arc::clone(&platform),
        Duration::from_secs(args.checkpoint_seconds.max(1)),
    ));
    tokio::spawn(sscard_server::key_schedule_timer(
        Arc::clone(&platform),
        Duration::from_secs(args.schedule_seconds.max(1)),
    ));
    tokio::spawn(sscard_server::refusal_timer(
        Arc::clone(&platform),
        Duration::from_secs(10),
    ));
    let node = Arc::clone(&platform);
    let served = match tls {
        Some(config) => {
            sscard_server::serve_tls(listener, platform, config, shutdown_signal()).await
        }
        None => {
            let listener = listener
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(listener))
                .map_err(|e| CliError::input(format!("listener: {e}")))?;
            sscard_server::serve(listener, platform, shutdown_signal()).await
        }
    };
    // The counts of repeated refusals still held are written before exit.
    if let Err(e) = node.flush_refusals(true).await {
        eprintln!("the counts of repeated refusals were not written: {e}");
    }
    served.map_err(|e| CliError::Unreachable(format!("server: {e}")))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// In dev mode: init with one share on first start, then unseal with it.
async fn dev_prepare(platform: &Platform, dir: &Path) -> CliResult {
    // With --database the data directory holds only the dev files.
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::input(format!("--data {}: {e}", dir.display())))?;
    let share_path = dir.join(DEV_SHARE);
    if !platform.health().await?.initialized {
        let op = |label: &str, name: &str, role| -> CliResult<NewOperator> {
            Ok(NewOperator {
                label: label.into(),
                name: OperatorName::parse(name)?,
                role,
                one_time: false,
            })
        };
        let options = InitOptions {
            shares: 1,
            threshold: 1,
            operators: vec![
                op("system", "sysadmin", Role::System)?,
                op("security", "secadmin", Role::Security)?,
                op("security2", "secadmin2", Role::Security)?,
                op("audit", "auditor", Role::Audit)?,
            ],
            password_iterations: sscard_core::password::ITERATIONS,
        };
        let store = Arc::clone(platform.store());
        let credentials_path = dir.join(DEV_CREDENTIALS);
        let result = Platform::initialize_then(store.as_ref(), &options, |out| {
            let failed = |e: CliError| sscard_core::Error::Storage(e.to_string());
            let share = out
                .shares
                .first()
                .ok_or_else(|| sscard_core::Error::Invalid("no share".into()))?;
            write_file(&share_path, share.to_json()?.as_bytes(), FileMode::Secret)
                .map_err(failed)?;
            let operators: serde_json::Map<String, Value> = out
                .operators
                .iter()
                .map(|(label, c)| {
                    (
                        label.clone(),
                        json!({ "user": c.user, "password": c.password.as_str() }),
                    )
                })
                .collect();
            let credentials = json!({ "addr": "", "operators": operators });
            let text = zeroize::Zeroizing::new(credentials.to_string());
            write_file(&credentials_path, text.as_bytes(), FileMode::Secret).map_err(failed)
        })
        .await;
        if let Err(e) = result {
            // Nothing half-written: the files of a platform that was not
            // made (another node initialized the store first) go.
            let _ = std::fs::remove_file(&share_path);
            let _ = std::fs::remove_file(&credentials_path);
            return Err(match e {
                sscard_core::Error::AlreadyInitialized => CliError::Refused(
                    "another node initialized this store first; its dev files are in its --data directory".into(),
                ),
                other => other.into(),
            });
        }
    }
    let share = zeroize::Zeroizing::new(read_file(&share_path)?);
    platform.unseal(&share).await?;
    Ok(())
}

/// Puts the listening address into the dev credentials file.
fn dev_credentials(dir: &Path, url: &str) -> CliResult {
    let path = dir.join(DEV_CREDENTIALS);
    let text = zeroize::Zeroizing::new(read_file(&path)?);
    let mut value: Value = serde_json::from_slice(&text)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    match value.as_object_mut() {
        Some(map) => {
            map.insert("addr".into(), Value::String(url.to_string()));
        }
        None => {
            return Err(CliError::input(format!(
                "{}: not a JSON object",
                path.display()
            )))
        }
    }
    let text = zeroize::Zeroizing::new(value.to_string());
    let tmp = dir.join(format!(".{DEV_CREDENTIALS}.new"));
    let _ = std::fs::remove_file(&tmp);
    write_file(&tmp, text.as_bytes(), FileMode::Secret)?;
    std::fs::rename(&tmp, &path).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}
