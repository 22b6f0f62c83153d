//! `sscard bench gm [--json] [--seconds N]`: sscard's SM3, SM4-CTR, SM4-GCM
//! (MB/s over 8 KiB buffers) and SM2 sign/verify (ops/s), single thread,
//! each beside the same operation through `openssl speed` in the same run;
//! and `sscard bench blacklist` (in `bench/blacklist.rs`).

mod blacklist;
mod blacklist_platform;

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::Serialize;
use sscard_gm::sm2::{self, Sm2PrivateKey, DEFAULT_USER_ID};
use sscard_gm::sm4::{self, Sm4Key};

use crate::error::{CliError, CliResult};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// National algorithms, sscard beside OpenSSL.
    Gm(GmArgs),
    /// The card blacklist at scale: publish, sizes, apply, lookup, memory.
    Blacklist(blacklist::BlacklistArgs),
}

#[derive(Debug, clap::Args)]
pub struct GmArgs {
    /// Seconds to run each operation, on each side.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=60))]
    seconds: u32,
}

/// One line of the comparison.
#[derive(Debug, Serialize)]
struct Row {
    name: &'static str,
    unit: &'static str,
    sscard: f64,
    /// `None` when the installed OpenSSL lacks the operation.
    openssl: Option<f64>,
    /// sscard ÷ OpenSSL: above 1 means sscard is faster.
    ratio: Option<f64>,
}

const BUFFER: usize = 8192;

pub fn run(command: BenchCommand) -> CliResult {
    match command {
        BenchCommand::Gm(args) => gm(&args),
        BenchCommand::Blacklist(args) => blacklist::run(&args),
    }
}

fn gm(args: &GmArgs) -> CliResult {
    let openssl = OpenSsl::find()?;
    let span = Duration::from_secs(u64::from(args.seconds));
    let data = vec![0x5a_u8; BUFFER];
    let key = Sm4Key::from_slice(&[0x11; 16])?;
    let sm2_key = Sm2PrivateKey::generate()?;
    let sm2_public = sm2_key.public_key();
    let message = [0x42_u8; 32];
    let signature = sm2::sign(&sm2_key, DEFAULT_USER_ID, &message)?;

    let mut rows = Vec::new();
    let throughput = |ops: f64| ops * BUFFER as f64 / 1e6;

    let ours = throughput(rate(span, || {
        Ok::<_, sscard_gm::Error>(sscard_gm::sm3::digest(&data))
    })?);
    rows.push(row(
        "sm3",
        "MB/s",
        ours,
        openssl.cipher_speed(args.seconds, "sm3"),
    ));

    let iv = [0u8; 16];
    let ours = throughput(rate(span, || sm4::ctr_apply(&key, &iv, &data))?);
    rows.push(row(
        "sm4-ctr",
        "MB/s",
        ours,
        openssl.cipher_speed(args.seconds, "sm4-ctr"),
    ));

    let nonce = [0u8; 12];
    let ours = throughput(rate(span, || sm4::gcm_encrypt(&key, &nonce, &[], &data))?);
    rows.push(row(
        "sm4-gcm",
        "MB/s",
        ours,
        openssl.cipher_speed(args.seconds, "sm4-gcm"),
    ));

    let (openssl_sign, openssl_verify) = openssl.sm2_speed(args.seconds).unzip();
    let ours = rate(span, || sm2::sign(&sm2_key, DEFAULT_USER_ID, &message))?;
    rows.push(row("sm2-sign", "ops/s", ours, openssl_sign));
    let ours = rate(span, || {
        sm2::verify(&sm2_public, DEFAULT_USER_ID, &message, &signature)
    })?;
    rows.push(row("sm2-verify", "ops/s", ours, openssl_verify));

    if crate::io::json_mode() {
        let json = serde_json::to_value(&rows)
            .map_err(|e| CliError::input(format!("JSON output: {e}")))?;
        crate::io::out_json(&json);
    } else {
        print_table(&openssl.version, &rows);
    }
    Ok(())
}

fn row(name: &'static str, unit: &'static str, sscard: f64, openssl: Option<f64>) -> Row {
    let ratio = openssl.filter(|o| *o > 0.0).map(|o| sscard / o);
    Row {
        name,
        unit,
        sscard,
        openssl,
        ratio,
    }
}

fn print_table(version: &str, rows: &[Row]) {
    outln!("openssl: {version}");
    outln!("threads: 1");
    outln!(
        "{:<12} {:<6} {:>12} {:>12} {:>7}",
        "operation",
        "unit",
        "sscard",
        "openssl",
        "ratio"
    );
    for r in rows {
        let openssl = r.openssl.map_or("n/a".to_string(), |o| format!("{o:.1}"));
        let ratio = r.ratio.map_or("n/a".to_string(), |x| format!("{x:.2}"));
        outln!(
            "{:<12} {:<6} {:>12.1} {:>12} {:>7}",
            r.name,
            r.unit,
            r.sscard,
            openssl,
            ratio
        );
    }
    if rows.iter().any(|r| r.openssl.is_none()) {
        outln!("note: n/a = this OpenSSL build does not offer the operation");
    }
}

/// Operations per second of `op`, run repeatedly for `span` after a short
/// warm-up; results pass through `black_box` so no work is optimized away.
fn rate<T, E>(span: Duration, mut op: impl FnMut() -> Result<T, E>) -> CliResult<f64>
where
    CliError: From<E>,
{
    for _ in 0..3 {
        black_box(op()?);
    }
    let start = Instant::now();
    let mut count: u64 = 0;
    while start.elapsed() < span {
        black_box(op()?);
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// The `openssl` command, measured through `openssl speed -mr`.
struct OpenSsl {
    version: String,
}

impl OpenSsl {
    fn find() -> CliResult<Self> {
        let out = Command::new("openssl")
            .arg("version")
            .output()
            .map_err(|e| CliError::Unreachable(format!("cannot run openssl: {e}")))?;
        if !out.status.success() {
            return Err(CliError::Unreachable("`openssl version` failed".into()));
        }
        Ok(Self {
            version: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        })
    }

    fn speed(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("openssl")
            .arg("speed")
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// MB/s of an EVP cipher or digest on 8 KiB buffers: the `+F:` line's last
    /// field is bytes per second.
    fn cipher_speed(&self, seconds: u32, name: &str) -> Option<f64> {
        let secs = seconds.to_string();
        let bytes = BUFFER.to_string();
        let out = self.speed(&["-mr", "-seconds", &secs, "-bytes", &bytes, "-evp", name])?;
        let line = out.lines().find(|l| l.starts_with("+F:"))?;
        let bytes_per_second: f64 = line.rsplit(':').next()?.trim().parse().ok()?;
        Some(bytes_per_second / 1e6)
    }

    /// (sign/s, verify/s) of SM2: `+F7:0:256:CurveSM2:<sign>:<verify>`.
    fn sm2_speed(&self, seconds: u32) -> Option<(f64, f64)> {
        let secs = seconds.to_string();
        let out = self.speed(&["-mr", "-seconds", &secs, "sm2"])?;
        let line = out.lines().find(|l| l.starts_with("+F7:"))?;
        let mut fields = line.rsplit(':');
        let verify = fields.next()?.trim().parse().ok()?;
        let sign = fields.next()?.trim().parse().ok()?;
        Some((sign, verify))
    }
}
