//! `sscard bench blacklist --store sqlite|postgres://…`: the blacklist on
//! the platform itself. A scratch store (a temporary directory, or a
//! schema of its own in the PostgreSQL database, dropped afterwards) is
//! initialized and unsealed, filled with N cards in bulk (setup, timed but
//! not the point), then the platform publishes, builds the signed full list
//! from the store, publishes a version of `delta` changes and builds the
//! delta; peak memory is the process's from the start of the build.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use sscard_card::blacklist::{Blacklist, Reason};
use sscard_core::platform::{InitOptions, Platform, Session};
use sscard_core::store::Store;
use sscard_gm::sm2::{self, Signature, SignatureFormat, DEFAULT_USER_ID};
use sscard_store::SqlStore;

use super::blacklist::{ms, peak_memory_mb, reset_peak_memory, Ids};
use crate::error::{CliError, CliResult};

/// Rows per bulk transaction while filling.
const FILL_BATCH: usize = 1_000_000;

/// What one size measured on the platform.
#[derive(Debug, Serialize)]
pub struct PlatformFigures {
    backend: &'static str,
    entries: u64,
    fill_s: f64,
    publish_ms: f64,
    full_build_ms: f64,
    full_kept_ms: f64,
    full_bytes: usize,
    delta_publish_ms: f64,
    delta_changes: u64,
    delta_build_ms: f64,
    delta_bytes: usize,
    full_rebuild_ms: f64,
    peak_memory_mb: f64,
}

/// A scratch store and how to remove it.
enum Scratch {
    Dir(PathBuf),
    Schema { url: String, schema: String },
}

async fn scratch(url: &str) -> CliResult<(SqlStore, Scratch)> {
    if url == "sqlite" {
        let dir = std::env::temp_dir().join(format!("sscard-bench-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqlStore::open_dir(&dir).await?;
        return Ok((store, Scratch::Dir(dir)));
    }
    if !url.starts_with("postgres") {
        return Err(CliError::input(
            "--store: `sqlite` or a postgres:// URL of a database to make a scratch schema in",
        ));
    }
    let schema = format!("sscard_bench_{}", std::process::id());
    let store = SqlStore::connect_new_schema(url, &schema).await?;
    Ok((
        store,
        Scratch::Schema {
            url: url.to_string(),
            schema,
        },
    ))
}

async fn remove(scratch: Scratch) -> CliResult {
    match scratch {
        Scratch::Dir(dir) => std::fs::remove_dir_all(&dir)
            .map_err(|e| CliError::input(format!("{}: {e}", dir.display()))),
        Scratch::Schema { url, schema } => Ok(SqlStore::drop_schema(&url, &schema).await?),
    }
}

/// An unsealed platform on `store` and its security administrator.
async fn officer(store: &SqlStore) -> CliResult<(Platform, Session)> {
    let dynamic: std::sync::Arc<dyn Store> = std::sync::Arc::new(store.clone());
    let out = Platform::initialize(dynamic.as_ref(), &InitOptions::standard(1, 1)?).await?;
    let platform = Platform::new(dynamic);
    let share = out
        .shares
        .first()
        .ok_or_else(|| CliError::input("initialization gave no share"))?
        .to_json()?;
    platform.unseal(share.as_bytes()).await?;
    let (_, credentials) = out
        .operators
        .iter()
        .find(|(label, _)| label == "security")
        .ok_or_else(|| CliError::input("initialization gave no security administrator"))?;
    let first = platform
        .login(&credentials.user, &credentials.password)
        .await?;
    let session = platform.authenticate(&first.token).await?;
    let password = hex::encode(sscard_gm::random::bytes(16)?.as_slice());
    platform
        .change_password(&session, &credentials.password, &password)
        .await?;
    let token = platform.login(&credentials.user, &password).await?.token;
    let session = platform.authenticate(&token).await?;
    Ok((platform, session))
}

async fn fill(store: &SqlStore, cards: &[(u128, Reason)], bar: &crate::io::Progress) -> CliResult {
    for batch in cards.chunks(FILL_BATCH) {
        store.fill_blacklist_unaudited(batch, &[], 1).await?;
        bar.inc(batch.len() as u64);
    }
    Ok(())
}

/// Measures the platform at `entries` cards on a scratch store of `url`.
pub async fn measure(url: &str, entries: u64, delta: u64) -> CliResult<PlatformFigures> {
    let (store, place) = scratch(url).await?;
    let figures = measure_on(&store, entries, delta).await;
    store.close().await;
    remove(place).await?;
    figures
}

async fn measure_on(store: &SqlStore, entries: u64, delta: u64) -> CliResult<PlatformFigures> {
    let backend = match store.backend() {
        sscard_store::Backend::Sqlite => "sqlite",
        sscard_store::Backend::Postgres => "postgres",
    };
    let (platform, officer) = officer(store).await?;
    let mut ids = Ids(0x5DEE_CE66_D1CE_4E5B ^ entries);
    let mut cards: Vec<u128> = (0..entries).map(|_| ids.card()).collect();
    cards.sort_unstable();
    cards.dedup();
    let listed: Vec<(u128, Reason)> = cards.iter().map(|id| (*id, Reason::Lost)).collect();
    let bar = crate::io::Progress::new("load", "cards", listed.len() as u64);
    let start = Instant::now();
    fill(store, &listed, &bar).await?;
    bar.finish();
    let fill_s = start.elapsed().as_secs_f64();
    drop(listed);
    // The next version's changes: half new cards, half removals.
    let half = usize::try_from(delta / 2).unwrap_or(0);
    let mut adds: Vec<(u128, Reason)> =
        (0..half).map(|_| (ids.card(), Reason::Cancelled)).collect();
    adds.sort_unstable();
    adds.dedup_by_key(|(id, _)| *id);
    let step = (cards.len() / half.max(1)).max(1);
    let removes: Vec<u128> = cards.iter().step_by(step).copied().take(half).collect();
    let listed_count = cards.len();
    // Only what the platform holds counts from here.
    drop(cards);

    let start = Instant::now();
    let v1 = platform.blacklist_publish(&officer).await?;
    let publish_ms = ms(start);
    reset_peak_memory();
    let start = Instant::now();
    let full = platform.blacklist_export(&officer, Some(v1), None).await?;
    let full_build_ms = ms(start);
    let start = Instant::now();
    let kept = platform.blacklist_export(&officer, Some(v1), None).await?;
    let full_kept_ms = ms(start);
    if kept != full {
        return Err(CliError::input(
            "the kept full list differs from the built one",
        ));
    }
    drop(kept);

    store
        .fill_blacklist_unaudited(&adds, &removes, v1 + 1)
        .await?;
    let start = Instant::now();
    let v2 = platform.blacklist_publish(&officer).await?;
    let delta_publish_ms = ms(start);
    let start = Instant::now();
    let delta_file = platform
        .blacklist_export(&officer, Some(v2), Some(v1))
        .await?;
    let delta_build_ms = ms(start);
    let start = Instant::now();
    let full_v2 = platform.blacklist_export(&officer, Some(v2), None).await?;
    let full_rebuild_ms = ms(start);
    let peak_memory_mb = peak_memory_mb();
    drop(full_v2);

    // What was built is what was meant: signed by the platform key, with
    // every card of v1, and the delta's changes.
    let pem = platform.public_key(&officer, "platform-signing").await?;
    let key = sm2::Sm2PublicKey::from_pem_or_der(pem.as_bytes())?;
    let verify = |content: &[u8], signature: &[u8]| {
        Signature::parse(signature, SignatureFormat::Der)
            .and_then(|s| sm2::verify(&key, DEFAULT_USER_ID, content, &s))
            .is_ok()
    };
    let parsed_delta = Blacklist::parse_signed(&delta_file, verify)
        .map_err(|e| CliError::input(format!("the platform's delta: {e}")))?;
    if (parsed_delta.adds.len(), parsed_delta.removes.len()) != (adds.len(), removes.len()) {
        return Err(CliError::input("the platform's delta lacks changes"));
    }
    let parsed_full = Blacklist::parse_signed(&full, verify)
        .map_err(|e| CliError::input(format!("the platform's full list: {e}")))?;
    if parsed_full.adds.len() != listed_count {
        return Err(CliError::input("the platform's full list lacks cards"));
    }
    Ok(PlatformFigures {
        backend,
        entries,
        fill_s,
        publish_ms,
        full_build_ms,
        full_kept_ms,
        full_bytes: full.len(),
        delta_publish_ms,
        delta_changes: delta,
        delta_build_ms,
        delta_bytes: delta_file.len(),
        full_rebuild_ms,
        peak_memory_mb,
    })
}

/// Prints one size's figures.
pub fn print(f: &PlatformFigures) {
    outln!("platform ({}), entries: {}", f.backend, f.entries);
    outln!(
        "  load: {:.1} s ({:.0} cards/s; bulk setup, not audited)",
        f.fill_s,
        f.entries as f64 / f.fill_s.max(1e-9)
    );
    outln!("  publish: {:.0} ms", f.publish_ms);
    outln!(
        "  full list from the store: {:.0} ms (read, sort, encode, sign), {:.1} ms kept, {} bytes",
        f.full_build_ms,
        f.full_kept_ms,
        f.full_bytes
    );
    outln!(
        "  publish of {} changes: {:.0} ms; delta: {:.0} ms, {} bytes",
        f.delta_changes,
        f.delta_publish_ms,
        f.delta_build_ms,
        f.delta_bytes
    );
    outln!(
        "  full list of the next version: {:.0} ms",
        f.full_rebuild_ms
    );
    outln!("  peak memory while building: {:.0} MB", f.peak_memory_mb);
}
