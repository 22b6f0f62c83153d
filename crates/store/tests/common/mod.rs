//! What the store's test suites share: a fresh store on each backend, a
//! platform on it, logged-in operators, signed-in MAC terminals, and the
//! macro that runs a test on both backends.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sscard_core::platform::{InitOptions, Platform};
use sscard_core::store::Store;
use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::{diversify, kcv, BlockAlgorithm, BlockKey};
use sscard_store::{Backend, SqlStore};

pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store on a fresh database of one backend, and how to dump it.
pub struct Fixture {
    pub store: SqlStore,
    pub place: Place,
}

pub enum Place {
    Dir(PathBuf),
    Schema(String),
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn sqlite() -> Fixture {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("store"));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqlStore::open_dir(&dir).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    Fixture {
        store,
        place: Place::Dir(dir),
    }
}

pub async fn postgres() -> Option<Fixture> {
    let admin = match SqlStore::admin_pool(PG_ADMIN).await {
        Ok(pool) => pool,
        // CI sets SSCARD_REQUIRE_POSTGRES: there, a missing server fails the suite.
        Err(e) if std::env::var_os("SSCARD_REQUIRE_POSTGRES").is_some() => {
            panic!("SSCARD_REQUIRE_POSTGRES is set and no PostgreSQL answers at {PG_ADMIN}: {e}")
        }
        Err(e) => {
            println!("skipping: no PostgreSQL answers at {PG_ADMIN}: {e}");
            return None;
        }
    };
    let schema = unique("sscard_test");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let url = format!("{PG_ADMIN}?options=-c%20search_path%3D{schema}");
    let store = SqlStore::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    Some(Fixture {
        store,
        place: Place::Schema(schema),
    })
}

impl Fixture {
    /// A fresh store of the same backend as this one.
    pub async fn another(&self) -> Fixture {
        match self.place {
            Place::Dir(_) => sqlite().await,
            Place::Schema(_) => postgres().await.expect("PostgreSQL answered a moment ago"),
        }
    }

    pub fn dyn_store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    /// Every byte the backend holds for this platform: the SQLite files
    /// (with the WAL), or a `pg_dump` of the schema.
    pub async fn dump(&self) -> Vec<u8> {
        match &self.place {
            Place::Dir(dir) => {
                let mut all = Vec::new();
                for entry in std::fs::read_dir(dir).unwrap() {
                    all.extend(std::fs::read(entry.unwrap().path()).unwrap());
                }
                all
            }
            Place::Schema(schema) => {
                let out = std::process::Command::new("pg_dump")
                    .args(["-h", "127.0.0.1", "-U", "postgres", "-n", schema, "test"])
                    .output()
                    .expect("pg_dump must be installed beside PostgreSQL");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(String::from_utf8_lossy(&out.stdout).contains("CREATE TABLE"));
                out.stdout
            }
        }
    }
}

/// Registers and keys a MAC terminal, signs it in with the CBC-MAC under its
/// terminal master key, and returns it as a caller with its session's MAC
/// working key (opened from the sign-in answer, checked against its KCV).
pub async fn mac_terminal_signed_in(
    platform: &Platform,
    system: &sscard_core::platform::Session,
    no: &str,
) -> (sscard_core::platform::SignedInTerminal, BlockKey) {
    let tmk = key_mac_terminal(platform, system, no).await;
    let outcome = mac_signin(platform, no, &tmk).await.unwrap();
    let caller = platform
        .terminal_of_session(&outcome.session)
        .await
        .unwrap();
    let delivered = outcome
        .working_keys
        .iter()
        .find(|k| k.name == "mac")
        .unwrap();
    assert!(delivered.envelope.is_none());
    (caller, open_wrapped(&tmk, delivered))
}

/// A working key delivered under a TMK, checked against its check value.
pub fn open_wrapped(tmk: &BlockKey, delivered: &sscard_core::platform::WorkingKey) -> BlockKey {
    let wrapped = hex::decode(delivered.wrapped.as_ref().unwrap()).unwrap();
    let clear = diversify::decrypt_block(tmk, &wrapped).unwrap();
    let key = BlockKey::new(BlockAlgorithm::Sm4, &clear).unwrap();
    assert_eq!(
        hex::encode(kcv::kcv(&key, 4).unwrap()),
        delivered.kcv,
        "{}",
        delivered.name
    );
    key
}

/// Registers MAC terminal `no` and keys it: its terminal master key.
pub async fn key_mac_terminal(
    platform: &Platform,
    system: &sscard_core::platform::Session,
    no: &str,
) -> BlockKey {
    use sscard_core::platform::NewTerminal;
    platform
        .register_terminal(
            system,
            &NewTerminal {
                terminal_no: no.into(),
                serial: "SN".into(),
                institution: "Library".into(),
                location: String::new(),
                kind: "counter".into(),
                psam: String::new(),
                auth: "mac".into(),
            },
        )
        .await
        .unwrap();
    let keying = platform.key_terminal(system, no).await.unwrap();
    assert_eq!(keying.key_version, 1);
    let tmk = BlockKey::new(
        BlockAlgorithm::Sm4,
        &hex::decode(keying.key.as_str()).unwrap(),
    )
    .unwrap();
    assert_eq!(hex::encode(kcv::kcv(&tmk, 4).unwrap()), keying.kcv);
    tmk
}

/// A MAC sign-in: challenge, then the CBC-MAC of the message under `tmk`.
pub async fn mac_signin(
    platform: &Platform,
    no: &str,
    tmk: &BlockKey,
) -> sscard_core::Result<sscard_core::platform::SigninOutcome> {
    let nonce = platform.signin_challenge(no).await?;
    let hash = "ab".repeat(32);
    let message = sscard_core::platform::signin_message(no, &nonce, &hash);
    let tag = mac::mac(tmk, MacAlgorithm::CbcMac, None, &message, None).unwrap();
    platform.signin(no, &nonce, &tag, &hash).await
}

/// PBKDF2 iterations of the test platforms' passwords: the lowest cost
/// allowed, so that suites that log in thousands of times stay fast.
pub const TEST_PASSWORD_ITERATIONS: u32 = sscard_core::password::MIN_ITERATIONS;

/// A platform initialized with `options` on this backend, unsealed, with
/// passwords at [`TEST_PASSWORD_ITERATIONS`].
pub async fn unsealed(
    f: &Fixture,
    options: &InitOptions,
) -> (Arc<dyn Store>, sscard_core::platform::InitOutput, Platform) {
    let store = f.dyn_store();
    let options = InitOptions {
        password_iterations: TEST_PASSWORD_ITERATIONS,
        ..options.clone()
    };
    let out = Platform::initialize(store.as_ref(), &options)
        .await
        .unwrap();
    let platform = node(&store, &out).await;
    (store, out, platform)
}

/// Another node of the platform of `out` on `store`, unsealed.
pub async fn node(store: &Arc<dyn Store>, out: &sscard_core::platform::InitOutput) -> Platform {
    let platform =
        Platform::new(Arc::clone(store)).with_password_iterations(TEST_PASSWORD_ITERATIONS);
    platform
        .unseal(out.shares[0].to_json().unwrap().as_bytes())
        .await
        .unwrap();
    platform
}

/// Logs in the security administrator of a fresh platform (changing the
/// one-time password) and returns the session.
pub async fn security_officer(
    platform: &Platform,
    out: &sscard_core::platform::InitOutput,
) -> sscard_core::platform::Session {
    operator_session(platform, out, 1, "officer passphrase 1").await
}

/// Logs in operator `index` of `out`, replaces its one-time password with
/// `new_password`, and returns a session with the new one.
pub async fn operator_session(
    platform: &Platform,
    out: &sscard_core::platform::InitOutput,
    index: usize,
    new_password: &str,
) -> sscard_core::platform::Session {
    let (_, credentials) = &out.operators[index];
    let token = platform
        .login(&credentials.user, &credentials.password)
        .await
        .unwrap()
        .token;
    let session = platform.authenticate(&token).await.unwrap();
    platform
        .change_password(&session, &credentials.password, new_password)
        .await
        .unwrap();
    let token = platform
        .login(&credentials.user, new_password)
        .await
        .unwrap()
        .token;
    platform.authenticate(&token).await.unwrap()
}

/// Runs each named test (an `async fn(Fixture)`) on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(fixture) = super::postgres().await else { return };
                    super::$test(fixture).await;
                }
            )*
        }
    };
}

/// Runs each named test (an `async fn(Fixture)`) on SQLite and on
/// PostgreSQL, on a runtime with worker threads, so that what a test spawns
/// runs truly at once.
#[macro_export]
macro_rules! suite_threaded {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(fixture) = super::postgres().await else { return };
                    super::$test(fixture).await;
                }
            )*
        }
    };
}

/// A province key of region 330000 to create, not exportable, with no
/// schedule or dates.
pub fn province_key(
    name: &str,
    algorithm: sscard_core::key::KeyAlgorithm,
    usage: sscard_core::key::KeyUsage,
) -> sscard_core::platform::NewKey {
    sscard_core::platform::NewKey {
        name: name.into(),
        algorithm,
        usage,
        level: sscard_core::key::KeyLevel::Province,
        region: Some("330000".into()),
        exportable: false,
        rotate_every_ms: 0,
        activate_ms: 0,
        expire_ms: 0,
    }
}

/// Opens a signed blacklist file of `platform`, checking its signature with
/// the public key of `platform-signing` as a terminal does.
pub async fn blacklist_opener(
    platform: &Platform,
    session: &sscard_core::platform::Session,
) -> impl Fn(Vec<u8>) -> sscard_card::blacklist::Blacklist {
    let key = sscard_gm::sm2::Sm2PublicKey::from_pem_or_der(
        platform
            .public_key(session, "platform-signing")
            .await
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    move |bytes: Vec<u8>| {
        sscard_card::blacklist::Blacklist::parse_signed(&bytes, |c, s| {
            sscard_gm::sm2::Signature::parse(s, sscard_gm::sm2::SignatureFormat::Der)
                .and_then(|s| sscard_gm::sm2::verify(&key, sscard_gm::sm2::DEFAULT_USER_ID, c, &s))
                .is_ok()
        })
        .unwrap()
    }
}
