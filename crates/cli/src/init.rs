//! `sscard init --data DIR --shares N --threshold M --share-dir OUT`:
//! the root key in N Shamir shares (OUT/share-1..N) and the first three
//! operators with one-time passwords (OUT/operators.json), every file 0600.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sscard_core::platform::{InitOptions, InitOutput, Platform};
use sscard_store::SqlStore;

use crate::error::{CliError, CliResult};
use crate::io::{write_file, FileMode};

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Data directory of the embedded database.
    #[arg(long, value_name = "DIR", default_value = "sscard-data")]
    pub data: PathBuf,
    /// PostgreSQL instead of the embedded database.
    #[arg(long, value_name = "URL", env = "SSCARD_DATABASE")]
    pub database: Option<String>,
    /// Number of shares.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=32))]
    pub shares: u8,
    /// Shares needed to unseal.
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u8).range(1..=32))]
    pub threshold: u8,
    /// Where the share files and operators.json go (created, 0700).
    #[arg(long, value_name = "OUT")]
    pub share_dir: PathBuf,
}

/// Opens the store named by `--database`, else the SQLite of `--data`.
pub async fn open_store(data: &Path, database: Option<&str>) -> CliResult<SqlStore> {
    match database {
        // A server that does not answer is unreachable (exit 3).
        Some(url) => SqlStore::connect(url).await.map_err(|e| match e {
            sscard_core::Error::Invalid(m) => CliError::input(m),
            other => CliError::Unreachable(format!("database: {other}")),
        }),
        // The embedded database is a local file: what fails there is the
        // directory given (exit 2).
        None => SqlStore::open_dir(data)
            .await
            .map_err(|e| CliError::input(format!("--data {}: {e}", data.display()))),
    }
}

/// Writes the share files and `operators.json` of an init into `dir`.
pub fn write_init_files(dir: &Path, output: &InitOutput) -> sscard_core::Result<Vec<PathBuf>> {
    let failed = |e: CliError| sscard_core::Error::Storage(e.to_string());
    std::fs::create_dir_all(dir)
        .map_err(|e| sscard_core::Error::Storage(format!("{}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let mut written = Vec::new();
    let result = (|| {
        for (i, share) in output.shares.iter().enumerate() {
            let path = dir.join(format!("share-{}", i + 1));
            write_file(&path, share.to_json()?.as_bytes(), FileMode::Secret).map_err(failed)?;
            written.push(path);
        }
        let operators: BTreeMap<&str, _> = output
            .operators
            .iter()
            .map(|(label, c)| (label.as_str(), c))
            .collect();
        let json = zeroize::Zeroizing::new(
            serde_json::to_string_pretty(&operators)
                .map_err(|e| sscard_core::Error::Invalid(e.to_string()))?,
        );
        let path = dir.join("operators.json");
        write_file(&path, json.as_bytes(), FileMode::Secret).map_err(failed)?;
        written.push(path);
        Ok(())
    })();
    if let Err(e) = result {
        // Nothing half-written: the files of a root key that was not kept go.
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    Ok(written)
}

pub async fn run(args: InitArgs) -> CliResult {
    if args.threshold > args.shares {
        return Err(CliError::input(format!(
            "--threshold {} is more than --shares {}",
            args.threshold, args.shares
        )));
    }
    let store = open_store(&args.data, args.database.as_deref()).await?;
    let options = InitOptions::standard(args.shares, args.threshold)?;
    let mut written = Vec::new();
    let result = Platform::initialize_then(&store, &options, |out| {
        written = write_init_files(&args.share_dir, out)?;
        Ok(())
    })
    .await;
    store.close().await;
    if let Err(e) = result {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        return Err(match e {
            sscard_core::Error::AlreadyInitialized => {
                CliError::Refused("the platform is already initialized".into())
            }
            other => CliError::input(other.to_string()),
        });
    }
    for path in &written {
        outln!("file: {}", path.display());
    }
    outln!("shares: {}", args.shares);
    outln!("threshold: {}", args.threshold);
    Ok(())
}
