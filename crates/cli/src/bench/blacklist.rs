//! `sscard bench blacklist [--entries N]…`: the card blacklist at scale.
//! For each size: publishing (sort, encode, sign), the full list's and a
//! 10,000-change delta's sizes, a terminal applying the full list (verify,
//! decode, build the cache), lookups, and peak memory. The SM3 over the
//! full file is timed beside `openssl dgst -sm3` on the same file.

use std::hint::black_box;
use std::io::Write as _;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;
use sscard_card::blacklist::{Blacklist, Cache, Kind, Reason};
use sscard_gm::sm2::{self, Signature, SignatureFormat, Sm2PrivateKey, DEFAULT_USER_ID};

use crate::error::{CliError, CliResult};

/// Arguments of `bench blacklist`.
#[derive(Debug, clap::Args)]
pub struct BlacklistArgs {
    /// List sizes to measure (repeat the flag).
    #[arg(long = "entries", value_name = "N", default_values_t = [1_000_000u64])]
    entries: Vec<u64>,
    /// Changes in the measured delta.
    #[arg(long, default_value_t = 10_000)]
    delta: u64,
    /// Also measure the platform holding the list: `sqlite` (a scratch
    /// embedded store) or a postgres:// URL (a scratch schema in that
    /// database, dropped afterwards).
    #[arg(long, value_name = "sqlite|URL")]
    store: Option<String>,
}

#[derive(Debug, Serialize)]
struct Figures {
    entries: u64,
    publish_ms: f64,
    full_bytes: usize,
    delta_changes: u64,
    delta_bytes: usize,
    apply_full_ms: f64,
    lookup_ns: f64,
    peak_memory_mb: f64,
    sm3_full_ms: f64,
    openssl_sm3_full_ms: Option<f64>,
    sm3_ratio: Option<f64>,
}

/// xorshift64*: fast and reproducible; card ids need no secrecy here.
pub(super) struct Ids(pub(super) u64);

impl Ids {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A 卡识别码 of region 330300: `330300 D156000005` then 8 card bytes.
    pub(super) fn card(&mut self) -> u128 {
        (0x3303_00D1_5600_0005u128 << 64) | u128::from(self.next())
    }
}

/// Starts the peak-memory count again from now (Linux: `clear_refs` 5).
pub(super) fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub(super) fn peak_memory_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(super) fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn openssl_sm3_ms(bytes: &[u8]) -> Option<f64> {
    let path = std::env::temp_dir().join(format!("sscard-bench-{}.bin", std::process::id()));
    std::fs::File::create(&path).ok()?.write_all(bytes).ok()?;
    let start = Instant::now();
    let ok = Command::new("openssl")
        .args(["dgst", "-sm3"])
        .arg(&path)
        .output()
        .ok()
        .is_some_and(|o| o.status.success());
    let took = ms(start);
    let _ = std::fs::remove_file(&path);
    ok.then_some(took)
}

fn measure(entries: u64, delta: u64, key: &Sm2PrivateKey) -> CliResult<Figures> {
    let mut ids = Ids(0x9E37_79B9_7F4A_7C15 ^ entries);
    let mut list: Vec<u128> = (0..entries).map(|_| ids.card()).collect();
    let sign = |content: &[u8]| {
        sm2::sign(key, DEFAULT_USER_ID, content)
            .map(|s| s.encode(SignatureFormat::Der))
            .map_err(|e| sscard_card::Error::Invalid(e.to_string()))
    };
    let start = Instant::now();
    list.sort_unstable();
    list.dedup();
    let full = Blacklist {
        kind: Kind::Full,
        version: 1,
        base: 0,
        created_ms: 0,
        adds: list.iter().map(|id| (*id, Reason::Lost)).collect(),
        removes: Vec::new(),
    };
    let full_file = full
        .encode_signed(sign)
        .map_err(|e| CliError::input(e.to_string()))?;
    let publish_ms = ms(start);
    drop(full);

    let mut adds: Vec<(u128, Reason)> = (0..delta / 2)
        .map(|_| (ids.card(), Reason::Cancelled))
        .collect();
    adds.sort_unstable();
    adds.dedup_by_key(|(id, _)| *id);
    let step = (list.len() / usize::try_from((delta / 2).max(1)).unwrap_or(1)).max(1);
    let removes: Vec<u128> = list
        .iter()
        .step_by(step)
        .copied()
        .take(usize::try_from(delta / 2).unwrap_or(0))
        .collect();
    let delta_file = Blacklist {
        kind: Kind::Delta,
        version: 2,
        base: 1,
        created_ms: 0,
        adds,
        removes,
    }
    .encode_signed(sign)
    .map_err(|e| CliError::input(e.to_string()))?;

    let public = key.public_key();
    let start = Instant::now();
    let parsed = Blacklist::parse_signed(&full_file, |content, signature| {
        Signature::parse(signature, SignatureFormat::Der)
            .and_then(|s| sm2::verify(&public, DEFAULT_USER_ID, content, &s))
            .is_ok()
    })
    .map_err(|e| CliError::input(e.to_string()))?;
    let cache = Cache::default()
        .applied(&parsed)
        .map_err(|e| CliError::input(e.to_string()))?;
    let apply_full_ms = ms(start);
    drop(parsed);

    let probes: Vec<u128> = (0..1_000_000usize)
        .map(|i| {
            if i % 2 == 0 {
                list.get(i * 7919 % list.len().max(1)).copied().unwrap_or(0)
            } else {
                ids.card()
            }
        })
        .collect();
    let start = Instant::now();
    let mut hits = 0u64;
    for id in &probes {
        hits += u64::from(black_box(cache.lookup(*id)).is_some());
    }
    let lookup_ns = start.elapsed().as_secs_f64() * 1e9 / probes.len() as f64;
    black_box(hits);

    let start = Instant::now();
    black_box(sscard_gm::sm3::digest(&full_file));
    let sm3_full_ms = ms(start);
    let openssl = openssl_sm3_ms(&full_file);
    Ok(Figures {
        entries,
        publish_ms,
        full_bytes: full_file.len(),
        delta_changes: delta,
        delta_bytes: delta_file.len(),
        apply_full_ms,
        lookup_ns,
        peak_memory_mb: peak_memory_mb(),
        sm3_full_ms,
        openssl_sm3_full_ms: openssl,
        sm3_ratio: openssl.map(|o| o / sm3_full_ms.max(1e-9)),
    })
}

pub fn run(args: &BlacklistArgs) -> CliResult {
    let key = Sm2PrivateKey::generate()?;
    let mut all = Vec::new();
    let mut on_platform = Vec::new();
    for n in &args.entries {
        if let Some(url) = &args.store {
            let figures = crate::block_on(super::blacklist_platform::measure(url, *n, args.delta))?;
            if !crate::io::json_mode() {
                super::blacklist_platform::print(&figures);
            }
            on_platform.push(figures);
        }
        reset_peak_memory();
        let f = measure(*n, args.delta, &key)?;
        if !crate::io::json_mode() {
            outln!("entries: {}", f.entries);
            outln!("  publish: {:.0} ms (sort, encode, sign)", f.publish_ms);
            outln!(
                "  full list: {} bytes ({:.2} bytes per card)",
                f.full_bytes,
                f.full_bytes as f64 / f.entries.max(1) as f64
            );
            outln!(
                "  delta of {} changes: {} bytes",
                f.delta_changes,
                f.delta_bytes
            );
            outln!(
                "  terminal applies the full list: {:.0} ms (verify, decode, cache)",
                f.apply_full_ms
            );
            outln!("  lookup: {:.0} ns", f.lookup_ns);
            outln!("  peak memory: {:.0} MB", f.peak_memory_mb);
            match (f.openssl_sm3_full_ms, f.sm3_ratio) {
                (Some(o), Some(r)) => {
                    outln!(
                    "  SM3 of the full list: {:.1} ms, openssl dgst -sm3 {:.1} ms (ratio {:.2})",
                    f.sm3_full_ms, o, r
                )
                }
                _ => outln!(
                    "  SM3 of the full list: {:.1} ms, openssl dgst -sm3 n/a",
                    f.sm3_full_ms
                ),
            }
        }
        all.push(f);
    }
    if crate::io::json_mode() {
        let value = if args.store.is_some() {
            serde_json::json!({"format": all, "platform": on_platform})
        } else {
            serde_json::to_value(&all).map_err(|e| CliError::input(e.to_string()))?
        };
        crate::io::out_json(&value);
    }
    Ok(())
}
