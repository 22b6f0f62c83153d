//! One storage suite, run against every backend: embedded SQLite and the
//! PostgreSQL on 127.0.0.1:5432 (database `test`). A PostgreSQL test skips,
//! saying so, only when no server answers there and SSCARD_REQUIRE_POSTGRES
//! is not set (CI sets it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use sscard_card::blacklist::Reason;
use sscard_core::audit::{AuditEntry, ChainVerifier};
use sscard_core::operator::{Operator, OperatorName, TokenRow};
use sscard_core::platform::{InitOptions, Platform};
use sscard_core::seal::{self, SealConfig};
use sscard_core::store::{OperatorField, Write};
use sscard_core::{now_ms, Error, Role};
use sscard_gm::mac::{self, MacAlgorithm};
use sscard_gm::{BlockAlgorithm, BlockKey};
use sscard_store::SqlStore;

mod common;
use common::*;

fn operator(name: &str) -> Operator {
    Operator {
        name: OperatorName::parse(name).unwrap(),
        role: None,
        disabled: false,
        must_change_password: true,
        failed_logins: 0,
        locked_until_ms: 0,
        password: vec![1, 2, 3, 0, 255],
        created_ms: now_ms(),
    }
}

fn entry(n: usize) -> AuditEntry {
    AuditEntry::ok("tester", "test.write", &format!("item-{n}")).with("n", n.to_string())
}

async fn meta_round_trips_and_overwrites(f: Fixture) {
    let s = f.dyn_store();
    assert_eq!(s.get_meta("k").await.unwrap(), None);
    s.commit(
        vec![Write::PutMeta {
            key: "k".into(),
            value: vec![0, 1, 2],
        }],
        entry(1),
    )
    .await
    .unwrap();
    s.commit(
        vec![Write::PutMeta {
            key: "k".into(),
            value: vec![9; 300],
        }],
        entry(2),
    )
    .await
    .unwrap();
    assert_eq!(s.get_meta("k").await.unwrap(), Some(vec![9; 300]));
}

async fn operators_insert_update_list_and_conflict(f: Fixture) {
    let s = f.dyn_store();
    s.commit(
        vec![
            Write::InsertOperator(operator("bob")),
            Write::InsertOperator(operator("alice")),
        ],
        entry(1),
    )
    .await
    .unwrap();
    let mut bob = s
        .get_operator(&OperatorName::parse("bob").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.password, vec![1, 2, 3, 0, 255]);
    assert_eq!(bob.role, None);
    // An update sets only the columns it names, over the values it expects.
    s.commit(
        vec![Write::UpdateOperator {
            name: bob.name.clone(),
            expect: vec![OperatorField::Role(None), OperatorField::FailedLogins(0)],
            set: vec![
                OperatorField::Role(Some(Role::Audit)),
                OperatorField::FailedLogins(3),
                OperatorField::Disabled(true),
            ],
        }],
        entry(2),
    )
    .await
    .unwrap();
    bob.role = Some(Role::Audit);
    bob.failed_logins = 3;
    bob.disabled = true;
    assert_eq!(s.get_operator(&bob.name).await.unwrap().unwrap(), bob);
    // An update whose expectation no longer holds fails as stale, and
    // nothing of its transaction happens.
    let before = s.audit_head().await.unwrap().unwrap().seq;
    let stale = s
        .commit(
            vec![
                Write::PutMeta {
                    key: "y".into(),
                    value: vec![2],
                },
                Write::UpdateOperator {
                    name: bob.name.clone(),
                    expect: vec![OperatorField::FailedLogins(0)],
                    set: vec![OperatorField::FailedLogins(1)],
                },
            ],
            entry(5),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, Error::Stale(ref w) if w == "operator bob"),
        "{stale:?}"
    );
    assert_eq!(s.audit_head().await.unwrap().unwrap().seq, before);
    assert_eq!(s.get_meta("y").await.unwrap(), None);
    assert_eq!(s.get_operator(&bob.name).await.unwrap().unwrap(), bob);
    let names: Vec<String> = s
        .list_operators()
        .await
        .unwrap()
        .iter()
        .map(|o| o.name.to_string())
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    // A duplicate rolls back the whole transaction, its audit record included.
    let head = s.audit_head().await.unwrap().unwrap().seq;
    let err = s
        .commit(
            vec![
                Write::PutMeta {
                    key: "x".into(),
                    value: vec![1],
                },
                Write::InsertOperator(operator("bob")),
            ],
            entry(3),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(s.audit_head().await.unwrap().unwrap().seq, head);
    assert_eq!(s.get_meta("x").await.unwrap(), None);
    // Updating a missing operator fails the same way.
    let missing = s
        .commit(
            vec![Write::UpdateOperator {
                name: OperatorName::parse("carol").unwrap(),
                expect: Vec::new(),
                set: vec![OperatorField::Disabled(true)],
            }],
            entry(4),
        )
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::Stale(_)), "{missing:?}");
    assert_eq!(s.audit_head().await.unwrap().unwrap().seq, head);
}

async fn tokens_are_stored_by_hash_and_removed_per_operator(f: Fixture) {
    let s = f.dyn_store();
    s.commit(vec![Write::InsertOperator(operator("tom"))], entry(1))
        .await
        .unwrap();
    let tom = OperatorName::parse("tom").unwrap();
    let live = TokenRow {
        hash: "aa".repeat(32),
        operator: tom.clone(),
        expires_ms: now_ms() + 60_000,
        password_change_only: true,
    };
    let old = TokenRow {
        hash: "bb".repeat(32),
        operator: tom.clone(),
        expires_ms: now_ms() - 1,
        password_change_only: false,
    };
    s.commit(vec![Write::PutToken(old.clone())], entry(2))
        .await
        .unwrap();
    s.commit(vec![Write::PutToken(live.clone())], entry(3))
        .await
        .unwrap();
    assert_eq!(s.get_token(&live.hash).await.unwrap(), Some(live.clone()));
    assert_eq!(
        s.get_token(&old.hash).await.unwrap(),
        None,
        "expired tokens are swept"
    );
    s.commit(vec![Write::DeleteTokensOf(tom)], entry(4))
        .await
        .unwrap();
    assert_eq!(s.get_token(&live.hash).await.unwrap(), None);
}

async fn the_audit_chain_links_every_record(f: Fixture) {
    let s = f.dyn_store();
    assert!(s.audit_head().await.unwrap().is_none());
    for n in 1..=25 {
        let r = s.commit(Vec::new(), entry(n)).await.unwrap();
        assert_eq!(r.seq, n as i64);
    }
    let records = s.audit_range(1, 100).await.unwrap();
    assert_eq!(records.len(), 25);
    let mut v = ChainVerifier::new(None);
    for r in &records {
        v.push(r, None).unwrap();
    }
    assert_eq!(
        s.audit_range(10, 5)
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>(),
        [10, 11, 12, 13, 14]
    );
    assert_eq!(s.audit_head().await.unwrap().unwrap(), records[24]);
}

async fn concurrent_appends_keep_one_unbroken_chain(f: Fixture) {
    let s = f.dyn_store();
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.commit(Vec::new(), entry(n)).await.unwrap().seq })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<i64>>());
    let mut v = ChainVerifier::new(None);
    for r in s.audit_range(1, 100).await.unwrap() {
        v.push(&r, None).unwrap();
    }
    assert_eq!(v.count(), 40);
}

/// The whole platform on this backend: after init, unseal, a login and a
/// key rotation, no known secret appears anywhere in the database's bytes.
async fn a_dump_holds_no_plaintext_secret(f: Fixture) {
    let store = f.dyn_store();
    let out = Platform::initialize(store.as_ref(), &InitOptions::standard(3, 2).unwrap())
        .await
        .unwrap();
    let platform = Platform::new(Arc::clone(&store));
    for share in &out.shares[..2] {
        platform
            .unseal(share.to_json().unwrap().as_bytes())
            .await
            .unwrap();
    }
    let (_, security) = &out.operators[1];
    let login = platform
        .login(&security.user, &security.password)
        .await
        .unwrap();
    let session = platform.authenticate(&login.token).await.unwrap();
    platform
        .change_password(
            &session,
            &security.password,
            "a new passphrase of the officer",
        )
        .await
        .unwrap();
    let login = platform
        .login(&security.user, "a new passphrase of the officer")
        .await
        .unwrap();
    let session = platform.authenticate(&login.token).await.unwrap();
    assert_eq!(platform.rotate_keyring(&session).await.unwrap(), 2);

    let config: SealConfig =
        serde_json::from_slice(&store.get_meta("seal_config").await.unwrap().unwrap()).unwrap();
    let root = seal::combine(&config, &out.shares[1..]).unwrap();
    let mut secrets: Vec<Vec<u8>> = vec![
        root.expose_secret().to_vec(),
        hex::encode(root.expose_secret()).into_bytes(),
        login.token.as_bytes().to_vec(),
        b"a new passphrase of the officer".to_vec(),
    ];
    for (_, c) in &out.operators {
        secrets.push(c.password.as_bytes().to_vec());
    }
    for share in &out.shares {
        secrets.push(share.share.as_bytes().to_vec());
        secrets.push(hex::decode(&share.share).unwrap());
    }
    let dump = f.dump().await;
    assert!(dump.len() > 1000);
    for secret in &secrets {
        assert!(
            !holds(&dump, secret),
            "a secret of {} bytes is in the dump",
            secret.len()
        );
    }
    // The search can fail: a value stored in clear (the audit public key) is found.
    let public = store.get_meta("audit_public_key").await.unwrap().unwrap();
    let line = public.split(|b| *b == b'\n').nth(1).unwrap().to_vec();
    assert!(holds(&dump, &line));
}

/// Whether `dump` holds `value` as raw bytes or in hex (how pg_dump prints bytea).
fn holds(dump: &[u8], value: &[u8]) -> bool {
    let hex = hex::encode(value).into_bytes();
    [value, hex.as_slice()]
        .iter()
        .any(|v| dump.windows(v.len()).any(|w| w == *v))
}

impl Fixture {
    /// Runs SQL beside the store, as someone with access to the database would.
    async fn raw(&self, sql: &str) {
        match &self.place {
            Place::Dir(dir) => {
                let url = format!("sqlite://{}", dir.join(sscard_store::SQLITE_FILE).display());
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Place::Schema(schema) => {
                let pool = SqlStore::admin_pool(PG_ADMIN).await.unwrap();
                sqlx::query(&format!("SET search_path TO {schema}"))
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }
}

/// If the audit record cannot be written, the action does not happen.
async fn an_action_whose_audit_record_fails_does_not_happen(f: Fixture) {
    let s = f.dyn_store();
    s.commit(Vec::new(), entry(1)).await.unwrap();
    // Occupy the next sequence number behind the store's back.
    f.raw("INSERT INTO audit (seq, time_ms, actor, action, target, outcome, details, prev_hash, hash) \
           VALUES (2, 0, 'x', 'x', 'x', 'x', '{}', 'x', 'x')")
        .await;
    let result = s
        .commit(vec![Write::InsertOperator(operator("ghost"))], entry(2))
        .await;
    assert!(result.is_err());
    assert!(s
        .get_operator(&OperatorName::parse("ghost").unwrap())
        .await
        .unwrap()
        .is_none());
}

/// A keyring rotated on one node is picked up by another on first use.
async fn a_rotation_on_one_node_is_seen_by_another(f: Fixture) {
    let store = f.dyn_store();
    let out = Platform::initialize(store.as_ref(), &InitOptions::standard(1, 1).unwrap())
        .await
        .unwrap();
    let share = out.shares[0].to_json().unwrap();
    let (node_a, node_b) = (
        Platform::new(Arc::clone(&store)),
        Platform::new(Arc::clone(&store)),
    );
    node_a.unseal(share.as_bytes()).await.unwrap();
    node_b.unseal(share.as_bytes()).await.unwrap();
    let (_, security) = &out.operators[1];
    let session = security_officer(&node_a, &out).await;
    assert_eq!(node_a.rotate_keyring(&session).await.unwrap(), 2);
    node_a
        .change_password(&session, "officer passphrase 1", "sealed under term two")
        .await
        .unwrap();
    // Node B has term 1 only in memory; it reloads and opens the new hash.
    node_b
        .login(&security.user, "sealed under term two")
        .await
        .unwrap();
    // Node B rotates from the stored keyring, not its memory: no term is lost.
    let token = node_b
        .login(&security.user, "sealed under term two")
        .await
        .unwrap()
        .token;
    let session_b = node_b.authenticate(&token).await.unwrap();
    assert_eq!(node_b.rotate_keyring(&session_b).await.unwrap(), 3);
}

/// After a keyring rotation, rewrap seals every stored secret under the new
/// term in batches; everything still opens, and a value that changed since
/// it was read is left as it is.
async fn rewrap_reseals_every_stored_secret_under_the_newest_term(f: Fixture) {
    use sscard_core::barrier::Keyring;
    use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyName, KeyUsage};
    use sscard_core::platform::NewKey;
    use sscard_core::store::{SealedSlot, Write};
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let new = |name: &str| NewKey {
        name: name.into(),
        algorithm: KeyAlgorithm::Sm4,
        usage: KeyUsage::Encrypt,
        level: KeyLevel::City,
        region: Some("330300".into()),
        exportable: false,
        rotate_every_ms: 0,
        activate_ms: 0,
        expire_ms: 0,
    };
    for name in ["a", "b", "c"] {
        platform.create_key(&officer, &new(name)).await.unwrap();
    }
    platform.rotate_key(&officer, "a").await.unwrap();
    let sealed = platform.encrypt(&officer, "a", b"before").await.unwrap();
    let pending = platform
        .request_create_exportable(&officer, &new("later"))
        .await
        .unwrap();
    assert_eq!(platform.rotate_keyring(&officer).await.unwrap(), 2);

    let terms = || async {
        let mut terms = Vec::new();
        for key in store.list_keys().await.unwrap() {
            for v in store.key_versions(&key.name).await.unwrap() {
                terms.push(Keyring::term_of(&v.material).unwrap());
            }
        }
        for op in store.list_operators().await.unwrap() {
            terms.push(Keyring::term_of(&op.password).unwrap());
        }
        for a in store.list_approvals("pending").await.unwrap() {
            terms.push(Keyring::term_of(&a.payload).unwrap());
        }
        terms
    };
    assert!(terms().await.iter().all(|t| *t == 1));
    let first = platform.rewrap_stored(&officer, 3).await.unwrap();
    assert_eq!((first.term, first.resealed), (2, 3));
    // 4 key versions, the operators, 1 approval and 2 audit keys.
    let total = 4 + out.operators.len() + 1 + 2;
    assert_eq!(first.remaining, total - 3);
    let rest = platform.rewrap_stored(&officer, 1000).await.unwrap();
    assert_eq!((rest.resealed, rest.remaining), (total - 3, 0));
    assert!(terms().await.iter().all(|t| *t == 2));
    assert_eq!(
        platform
            .rewrap_stored(&officer, 1000)
            .await
            .unwrap()
            .resealed,
        0
    );

    // Everything opens as before, on this node and on a fresh one.
    assert_eq!(
        platform
            .decrypt(&officer, "a", &sealed)
            .await
            .unwrap()
            .as_slice(),
        b"before"
    );
    let fresh = Platform::new(Arc::clone(&store));
    fresh
        .unseal(out.shares[0].to_json().unwrap().as_bytes())
        .await
        .unwrap();
    let (_, security) = &out.operators[1];
    let token = fresh
        .login(&security.user, "officer passphrase 1")
        .await
        .unwrap()
        .token;
    let session = fresh.authenticate(&token).await.unwrap();
    assert_eq!(
        fresh
            .decrypt(&session, "a", &sealed)
            .await
            .unwrap()
            .as_slice(),
        b"before"
    );
    assert_eq!(
        platform
            .approval_status(&officer, &pending.approval)
            .await
            .unwrap()
            .state,
        "pending"
    );

    // A reseal whose value changed since it was read does nothing.
    let name = KeyName::parse("b").unwrap();
    let before = store.key_versions(&name).await.unwrap();
    store
        .commit(
            vec![Write::Reseal {
                slot: SealedSlot::KeyVersion(name.clone(), 1),
                expected: b"not what is stored".to_vec(),
                value: b"would clobber".to_vec(),
            }],
            sscard_core::audit::AuditEntry::ok("test", "sys.rewrap", "b"),
        )
        .await
        .unwrap();
    assert_eq!(store.key_versions(&name).await.unwrap(), before);
}

/// A provider that keeps keys the way an HSM does: each blob is the key
/// under the device's own key (SM4-GCM), and every operation opens it inside
/// the provider. If the platform used a blob as a key anywhere, the results
/// below would not match what the clear keys compute.
struct DeviceProvider {
    device_key: sscard_core::provider::KeyBlob,
}

impl DeviceProvider {
    const IV: [u8; 12] = [0x5a; 12];

    fn new() -> Self {
        Self {
            device_key: sscard_core::provider::KeyBlob::from_bytes(zeroize::Zeroizing::new(
                vec![0x42; 16],
            )),
        }
    }

    fn inner(&self) -> sscard_core::provider::SoftwareProvider {
        sscard_core::provider::SoftwareProvider
    }

    /// The key inside a device blob.
    fn clear(&self, blob: &sscard_core::provider::KeyBlob) -> sscard_core::provider::KeyBlob {
        use sscard_core::provider::CryptoProvider;
        sscard_core::provider::KeyBlob::from_bytes(
            self.inner()
                .open(&self.device_key, &Self::IV, b"device", blob.as_bytes())
                .unwrap(),
        )
    }

    fn to_device(
        &self,
        clear: &sscard_core::provider::KeyBlob,
    ) -> sscard_core::Result<sscard_core::provider::KeyBlob> {
        use sscard_core::provider::CryptoProvider;
        Ok(sscard_core::provider::KeyBlob::from_bytes(
            zeroize::Zeroizing::new(self.inner().seal(
                &self.device_key,
                &Self::IV,
                b"device",
                clear.as_bytes(),
            )?),
        ))
    }
}

impl sscard_core::provider::CryptoProvider for DeviceProvider {
    fn name(&self) -> &'static str {
        "device"
    }
    fn generate(
        &self,
        algorithm: sscard_core::key::KeyAlgorithm,
    ) -> sscard_core::Result<sscard_core::provider::KeyBlob> {
        self.to_device(&self.inner().generate(algorithm)?)
    }
    fn import(
        &self,
        algorithm: sscard_core::key::KeyAlgorithm,
        clear: &[u8],
    ) -> sscard_core::Result<sscard_core::provider::KeyBlob> {
        self.to_device(&self.inner().import(algorithm, clear)?)
    }
    fn check_value(
        &self,
        algorithm: sscard_core::key::KeyAlgorithm,
        key: &sscard_core::provider::KeyBlob,
    ) -> sscard_core::Result<String> {
        self.inner().check_value(algorithm, &self.clear(key))
    }
    fn seal(
        &self,
        key: &sscard_core::provider::KeyBlob,
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> sscard_core::Result<Vec<u8>> {
        self.inner().seal(&self.clear(key), iv, aad, plaintext)
    }
    fn open(
        &self,
        key: &sscard_core::provider::KeyBlob,
        iv: &[u8],
        aad: &[u8],
        sealed: &[u8],
    ) -> sscard_core::Result<zeroize::Zeroizing<Vec<u8>>> {
        self.inner().open(&self.clear(key), iv, aad, sealed)
    }
    fn hmac(
        &self,
        key: &sscard_core::provider::KeyBlob,
        data: &[u8],
    ) -> sscard_core::Result<Vec<u8>> {
        self.inner().hmac(&self.clear(key), data)
    }
    fn sign(
        &self,
        key: &sscard_core::provider::KeyBlob,
        data: &[u8],
    ) -> sscard_core::Result<Vec<u8>> {
        self.inner().sign(&self.clear(key), data)
    }
    fn public_key(
        &self,
        key: &sscard_core::provider::KeyBlob,
    ) -> sscard_core::Result<sscard_gm::sm2::Sm2PublicKey> {
        self.inner().public_key(&self.clear(key))
    }
    fn card_compute(
        &self,
        algorithm: sscard_core::key::KeyAlgorithm,
        master: &sscard_core::provider::KeyBlob,
        factors: &[&[u8]],
        operation: &sscard_core::platform::CardOperation,
        data: &[u8],
    ) -> sscard_core::Result<Vec<u8>> {
        self.inner()
            .card_compute(algorithm, &self.clear(master), factors, operation, data)
    }
    fn derive(
        &self,
        algorithm: sscard_core::key::KeyAlgorithm,
        master: &sscard_core::provider::KeyBlob,
        factors: &[&[u8]],
    ) -> sscard_core::Result<sscard_core::provider::KeyBlob> {
        self.to_device(
            &self
                .inner()
                .derive(algorithm, &self.clear(master), factors)?,
        )
    }
    fn wrap(
        &self,
        kek: &sscard_core::provider::KeyBlob,
        key: &sscard_core::provider::KeyBlob,
        iv: &[u8],
        aad: &[u8],
    ) -> sscard_core::Result<Vec<u8>> {
        self.inner()
            .wrap(&self.clear(kek), &self.clear(key), iv, aad)
    }
    fn unwrap(
        &self,
        kek: &sscard_core::provider::KeyBlob,
        algorithm: sscard_core::key::KeyAlgorithm,
        iv: &[u8],
        aad: &[u8],
        wrapped: &[u8],
    ) -> sscard_core::Result<sscard_core::provider::KeyBlob> {
        self.to_device(
            &self
                .inner()
                .unwrap(&self.clear(kek), algorithm, iv, aad, wrapped)?,
        )
    }
    fn envelope(
        &self,
        key: &sscard_core::provider::KeyBlob,
        to: &sscard_gm::sm2::Sm2PublicKey,
    ) -> sscard_core::Result<Vec<u8>> {
        self.inner().envelope(&self.clear(key), to)
    }
    fn open_envelope(
        &self,
        recipient: &sscard_core::provider::KeyBlob,
        algorithm: sscard_core::key::KeyAlgorithm,
        envelope: &[u8],
    ) -> sscard_core::Result<sscard_core::provider::KeyBlob> {
        self.to_device(
            &self
                .inner()
                .open_envelope(&self.clear(recipient), algorithm, envelope)?,
        )
    }
}

/// Every key operation goes through the provider: with a device provider the
/// platform stores only device blobs, and the answers are those of the clear
/// keys inside them.
async fn a_device_provider_holds_every_key(f: Fixture) {
    use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyName, KeyUsage, KeyVersionRecord};
    use sscard_core::platform::{CardOperation, NewKey};
    let store = f.dyn_store();
    let out = Platform::initialize(store.as_ref(), &InitOptions::standard(1, 1).unwrap())
        .await
        .unwrap();
    let device = Arc::new(DeviceProvider::new());
    let platform = Platform::new(Arc::clone(&store))
        .with_provider(Arc::clone(&device) as Arc<dyn sscard_core::provider::CryptoProvider>);
    platform
        .unseal(out.shares[0].to_json().unwrap().as_bytes())
        .await
        .unwrap();
    assert_eq!(platform.provider().name(), "device");
    let officer = security_officer(&platform, &out).await;
    let key = |name: &str, algorithm, usage| NewKey {
        name: name.into(),
        algorithm,
        usage,
        level: KeyLevel::City,
        region: Some("330300".into()),
        exportable: false,
        rotate_every_ms: 0,
        activate_ms: 0,
        expire_ms: 0,
    };
    for new in [
        key("records", KeyAlgorithm::Sm4, KeyUsage::Encrypt),
        key("tags", KeyAlgorithm::HmacSm3, KeyUsage::EsscIssuing),
        key("publisher", KeyAlgorithm::Sm2, KeyUsage::PlatformSigning),
        key("iauth", KeyAlgorithm::Sm4, KeyUsage::CardIauthMaster),
    ] {
        platform.create_key(&officer, &new).await.unwrap();
    }
    // What storage holds, once the barrier is opened, is the device blob;
    // the test opens the barrier with the share, then the blob with the device.
    let config: sscard_core::seal::SealConfig =
        serde_json::from_slice(&store.get_meta("seal_config").await.unwrap().unwrap()).unwrap();
    let root = seal::combine(&config, &out.shares[..1]).unwrap();
    let keyring = sscard_core::barrier::Keyring::unwrap(
        &root,
        &store.get_meta("keyring").await.unwrap().unwrap(),
    )
    .unwrap();
    let mut clear = std::collections::HashMap::new();
    for name in ["records", "tags", "publisher", "iauth"] {
        let name = KeyName::parse(name).unwrap();
        let v = store.key_versions(&name).await.unwrap().remove(0);
        let blob = sscard_core::provider::KeyBlob::from_bytes(
            keyring
                .open(&KeyVersionRecord::aad(&name, 1), &v.material)
                .unwrap(),
        );
        let inside = device.clear(&blob);
        assert_eq!(
            blob.as_bytes().len(),
            inside.as_bytes().len() + 16,
            "a GCM tag longer"
        );
        assert_ne!(blob.as_bytes().get(..16), inside.as_bytes().get(..16));
        clear.insert(name.to_string(), (inside, v.kcv));
    }
    let sm4 = |name: &str| sscard_gm::Sm4Key::from_slice(clear[name].0.as_bytes()).unwrap();
    let block = |name: &str| {
        sscard_gm::BlockKey::new(sscard_gm::BlockAlgorithm::Sm4, clear[name].0.as_bytes()).unwrap()
    };
    for name in ["records", "iauth"] {
        assert_eq!(
            clear[name].1,
            hex::encode(sscard_gm::kcv::kcv(&block(name), 4).unwrap())
        );
    }

    let sealed = platform.encrypt(&officer, "records", b"row").await.unwrap();
    assert_eq!(
        platform
            .decrypt(&officer, "records", &sealed)
            .await
            .unwrap()
            .as_slice(),
        b"row"
    );
    let body = hex::decode(sealed.strip_prefix("sscard:v1:").unwrap()).unwrap();
    let (iv, rest) = body.split_at(12);
    assert_eq!(
        sscard_gm::sm4::gcm_decrypt(&sm4("records"), iv, b"key/records", rest).unwrap(),
        b"row"
    );
    let signature = platform.sign(&officer, "publisher", b"list").await.unwrap();
    platform
        .verify(
            &officer,
            "publisher",
            b"list",
            &hex::decode(&signature).unwrap(),
        )
        .await
        .unwrap();
    let pem = platform.public_key(&officer, "publisher").await.unwrap();
    let public = sscard_gm::sm2::Sm2PublicKey::from_pem_or_der(pem.as_bytes()).unwrap();
    let parsed = sscard_gm::sm2::Signature::parse(
        &hex::decode(&signature).unwrap(),
        sscard_gm::sm2::SignatureFormat::Der,
    )
    .unwrap();
    sscard_gm::sm2::verify(&public, sscard_gm::sm2::DEFAULT_USER_ID, b"list", &parsed).unwrap();
    let tag = platform.hmac(&officer, "tags", b"qr").await.unwrap();
    assert_eq!(
        tag,
        hex::encode(sscard_gm::sm3::hmac(clear["tags"].0.as_bytes(), b"qr"))
    );
    let answer = platform
        .card_compute(
            &officer,
            "iauth",
            &[vec![1, 2, 3, 4, 5, 6, 7, 8]],
            &CardOperation::EncryptBlocks,
            &[0u8; 16],
        )
        .await
        .unwrap();
    let card =
        sscard_gm::diversify::derive_path(&block("iauth"), &[&[1, 2, 3, 4, 5, 6, 7, 8]]).unwrap();
    assert_eq!(
        answer,
        sscard_gm::diversify::encrypt_block(&card, &[0u8; 16]).unwrap()
    );
}

/// Card issuance on this backend: masters provisioned (a city's derived
/// from its province's), a card prepared once per holder, a job that a
/// blank chip runs, the card genuine for the derivation service and for a
/// PSAM issued from the same masters, and nothing of the holder in the log.
async fn cards_are_prepared_personalized_and_issued(f: Fixture) {
    use sscard_apdu::{Command, Response};
    use sscard_card::crypto;
    use sscard_card::perso;
    use sscard_card::profile::{self, ins, key_id, CardAlgorithm, SSSE_AID};
    use sscard_card_sim::{VirtualCard, VirtualPsam};
    use sscard_core::key::KeyAlgorithm;
    use sscard_core::platform::CardOperation;
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let province = platform
        .provision_region(&officer, "330000", KeyAlgorithm::Sm4)
        .await
        .unwrap();
    assert!(
        province.iter().all(|k| k.outcome == "created"),
        "{province:?}"
    );
    let city = platform
        .provision_region(&officer, "330300", KeyAlgorithm::Sm4)
        .await
        .unwrap();
    assert!(city.iter().all(|k| k.outcome == "derived"), "{city:?}");
    let again = platform
        .provision_region(&officer, "330300", KeyAlgorithm::Sm4)
        .await
        .unwrap();
    assert!(again.iter().all(|k| k.outcome == "exists"));
    // The city master is the province master diversified by the city factor.
    let block = [0x5Au8; 16];
    let through_province = platform
        .card_compute(
            &officer,
            "card-iauth-master-330000",
            &[profile::city_factor("330300").to_vec(), vec![1; 8]],
            &CardOperation::EncryptBlocks,
            &block,
        )
        .await
        .unwrap();
    let through_city = platform
        .card_compute(
            &officer,
            "card-iauth-master-330300",
            &[vec![1; 8]],
            &CardOperation::EncryptBlocks,
            &block,
        )
        .await
        .unwrap();
    assert_eq!(through_province, through_city);

    let holder = sscard_card_sim::testing::holder("330300");
    let card = platform.prepare_card(&officer, &holder).await.unwrap();
    assert_eq!(
        platform.prepare_card(&officer, &holder).await.unwrap(),
        card,
        "same card again"
    );
    let factor: [u8; 8] = hex::decode(&card.card_factor).unwrap().try_into().unwrap();
    let mut chip = VirtualCard::blank(CardAlgorithm::Sm4, "330300", Some(factor)).unwrap();
    let send = |chip: &mut VirtualCard, c: Command| {
        Response::parse(&chip.transmit(&c.encode().unwrap())).unwrap()
    };
    let key = send(
        &mut chip,
        Command::new(0x80, ins::GET_DATA, 0xDF, 0x01, vec![], Some(256)),
    )
    .data;
    let mut other = sscard_card_sim::testing::holder("330300");
    other.name = "李四".into();
    let job = platform
        .card_job(&officer, &card.card_id, &holder, &key, "975310")
        .await
        .unwrap();
    // Every key and the PIN travel as SM2 ciphertexts to the chip only.
    for step in job.steps.iter().filter(|s| s.apdu.starts_with("80D4")) {
        let command = Command::parse(&hex::decode(&step.apdu).unwrap()).unwrap();
        let stranger = sscard_gm::sm2::Sm2PrivateKey::generate().unwrap();
        assert!(sscard_gm::sm2::decrypt(
            &stranger,
            &command.data,
            sscard_gm::sm2::CiphertextFormat::Der
        )
        .is_err());
        assert!(command.data.len() > 96, "an SM2 ciphertext");
    }
    perso::run(&job, |apdu| chip.transmit(apdu)).unwrap();
    chip.reset();
    platform.card_issued(&officer, &card.card_id).await.unwrap();
    assert!(matches!(
        platform.prepare_card(&officer, &holder).await,
        Err(Error::Conflict(_))
    ));

    // Genuine for the derivation service: the answer to internal
    // authentication is the cryptogram of the card key.
    send(
        &mut chip,
        Command::new(0x00, ins::SELECT, 0x04, 0, SSSE_AID.to_vec(), Some(256)),
    );
    let (r1, r2) = ([3u8; 8], [4u8; 8]);
    let answer = send(
        &mut chip,
        Command::new(
            0x00,
            ins::INTERNAL_AUTHENTICATE,
            0,
            0,
            [r1, r2].concat(),
            Some(8),
        ),
    );
    let service = platform
        .card_compute(
            &officer,
            "card-iauth-master-330300",
            &[factor.to_vec(), r1.to_vec()],
            &CardOperation::EncryptBlocks,
            &crypto::pad8(sscard_gm::BlockAlgorithm::Sm4, &r2),
        )
        .await
        .unwrap();
    assert_eq!(answer.data, crypto::fold(&service).unwrap());
    // And for a PSAM issued from the same masters.
    let mut psam = VirtualPsam::blank(CardAlgorithm::Sm4, "330300", "000000000042").unwrap();
    let psam_key = Response::parse(
        &psam.transmit(
            &Command::new(0x80, ins::GET_DATA, 0xDF, 0x01, vec![], Some(256))
                .encode()
                .unwrap(),
        ),
    )
    .unwrap()
    .data;
    let psam_job = platform
        .psam_job(
            &officer,
            "330300",
            "000000000042",
            KeyAlgorithm::Sm4,
            &psam_key,
        )
        .await
        .unwrap();
    for step in &psam_job.steps {
        let r = Response::parse(&psam.transmit(&hex::decode(&step.apdu).unwrap())).unwrap();
        assert!(r.is_ok(), "{}: {}", step.what, r.status);
    }
    let mut init = factor.to_vec();
    init.extend(profile::city_factor("330300"));
    init.extend(r1);
    let usage = (2 << 5) | sscard_card::profile::key_type(key_id::INTERNAL).unwrap();
    assert!(Response::parse(
        &psam.transmit(
            &Command::new(0xBF, ins::PSAM_INIT, usage, key_id::INTERNAL, init, None)
                .encode()
                .unwrap()
        )
    )
    .unwrap()
    .is_ok());
    let by_psam = Response::parse(
        &psam.transmit(
            &Command::new(
                0x80,
                ins::PSAM_COMPUTE,
                0,
                0,
                crypto::pad8(sscard_gm::BlockAlgorithm::Sm4, &r2),
                Some(256),
            )
            .encode()
            .unwrap(),
        ),
    )
    .unwrap();
    assert_eq!(answer.data, crypto::fold(&by_psam.data).unwrap());

    // The job for someone else is refused; the log never names the holder.
    let card2 = platform
        .prepare_card(&officer, &{
            let mut h = sscard_card_sim::testing::holder("330300");
            h.ssn = "11010519491231002X".into();
            h.birth_date = "19491231".into();
            h
        })
        .await
        .unwrap();
    assert!(matches!(
        platform
            .card_job(&officer, &card2.card_id, &other, &key, "123456")
            .await,
        Err(Error::Invalid(_))
    ));
    let records = store.audit_range(1, 10_000).await.unwrap();
    for action in [
        "card.prepare",
        "card.personalize",
        "card.issued",
        "psam.issue",
    ] {
        assert!(records.iter().any(|r| r.action == action), "{action}");
    }
    let log = format!("{records:?}");
    assert!(
        !log.contains(&holder.ssn) && !log.contains("张三"),
        "the holder in the log"
    );
}

/// The blacklist on this backend: full lists and deltas of published
/// versions, signed by the platform key, that a terminal cache applies; and
/// an event rule that raises one alert at its threshold.
async fn blacklist_versions_and_event_rules(f: Fixture) {
    use sscard_card::blacklist::{Cache, Kind};
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let system = operator_session(&platform, &out, 0, "system passphrase 0").await;
    let id = |n: u8| format!("330300D1560000050000000000000{n:03}");
    platform
        .blacklist_add(&officer, &id(1), "lost")
        .await
        .unwrap();
    platform
        .blacklist_add(&officer, &id(2), "replaced")
        .await
        .unwrap();
    assert!(matches!(
        platform.blacklist_add(&officer, &id(2), "lost").await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        platform.blacklist_add(&officer, "12", "lost").await,
        Err(Error::Invalid(_))
    ));
    assert_eq!(platform.blacklist_publish(&officer).await.unwrap(), 1);
    platform.blacklist_remove(&officer, &id(1)).await.unwrap();
    platform
        .blacklist_add(&officer, &id(3), "cancelled")
        .await
        .unwrap();
    assert_eq!(platform.blacklist_publish(&officer).await.unwrap(), 2);
    // Counted without reading them: v1 added two; v2 added one, removed one.
    assert_eq!(store.blacklist_change_counts(0, 1).await.unwrap(), (2, 0));
    assert_eq!(store.blacklist_change_counts(1, 2).await.unwrap(), (1, 1));
    assert_eq!(store.blacklist_change_counts(0, 2).await.unwrap(), (2, 0));
    // The platform key is made with the first export.
    let v1_file = platform
        .blacklist_export(&officer, Some(1), None)
        .await
        .unwrap();
    let open = blacklist_opener(&platform, &officer).await;
    let n = |id: String| u128::from_str_radix(&id, 16).unwrap();
    let v1 = open(v1_file);
    assert_eq!(
        v1.adds.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [n(id(1)), n(id(2))]
    );
    let d12 = open(
        platform
            .blacklist_export(&officer, Some(2), Some(1))
            .await
            .unwrap(),
    );
    assert_eq!((d12.kind, d12.base), (Kind::Delta, 1));
    assert_eq!(
        d12.adds.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [n(id(3))]
    );
    assert_eq!(d12.removes, [n(id(1))]);
    let v2 = open(
        platform
            .blacklist_export(&officer, None, None)
            .await
            .unwrap(),
    );
    let through_delta = Cache::default()
        .applied(&v1)
        .unwrap()
        .applied(&d12)
        .unwrap();
    assert_eq!(through_delta, Cache::default().applied(&v2).unwrap());
    assert!(matches!(
        platform.blacklist_export(&officer, Some(3), None).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        platform.blacklist_export(&system, Some(1), None).await,
        Err(Error::Forbidden { .. })
    ));

    // The full list is read from the store as numbers: v2 holds ids 2 and 3.
    assert_eq!(
        store.blacklist_ids_at(2).await.unwrap(),
        [(n(id(2)), Reason::Replaced), (n(id(3)), Reason::Cancelled)]
    );

    let (terminal, mac_key) = mac_terminal_signed_in(&platform, &system, "000000000042").await;
    let report = |kind: &'static str, card: String, mac_key: &BlockKey| {
        let message =
            sscard_core::platform::event_message("000000000042", kind, &card, "not genuine");
        let tag = mac::mac(mac_key, MacAlgorithm::CbcMac, None, &message, None).unwrap();
        (kind, card, tag)
    };
    for i in 1..=5 {
        let (kind, card, tag) = report("card-auth-failed", id(9), &mac_key);
        let raised = platform
            .report_event(&terminal, kind, &card, "not genuine", &tag)
            .await
            .unwrap();
        assert_eq!(raised.len(), usize::from(i == 5), "event {i}");
    }
    let (kind, card, tag) = report("card-auth-failed", id(9), &mac_key);
    let again = platform
        .report_event(&terminal, kind, &card, "not genuine", &tag)
        .await
        .unwrap();
    assert!(again.is_empty(), "one open alert per rule and subject");
    assert_eq!(platform.list_alerts(&officer).await.unwrap().len(), 1);
    // A report whose MAC is not under the session's MAC key, or is cut
    // short, is refused.
    let (kind, card, mut tag) = report("card-auth-failed", id(9), &mac_key);
    tag[0] ^= 1;
    assert!(matches!(
        platform
            .report_event(&terminal, kind, &card, "not genuine", &tag)
            .await,
        Err(Error::Refused(_))
    ));
    let (kind, card, tag) = report("card-auth-failed", id(9), &mac_key);
    assert!(matches!(
        platform
            .report_event(&terminal, kind, &card, "not genuine", &tag[..8])
            .await,
        Err(Error::Refused(_))
    ));
    let (_, _, tag) = report("made-up", String::new(), &mac_key);
    assert!(matches!(
        platform
            .report_event(&terminal, "made-up", "", "", &tag)
            .await,
        Err(Error::Invalid(_) | Error::Refused(_))
    ));
}

/// An SM2 terminal whose certificate has expired is refused at sign-in,
/// with a `signin-failed` event; in date, the same signature is accepted.
async fn an_expired_certificate_is_refused(f: Fixture) {
    use sscard_core::platform::NewTerminal;
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let system = operator_session(&platform, &out, 0, "system passphrase 0").await;
    let no = "330300000088";
    platform
        .register_terminal(
            &system,
            &NewTerminal {
                terminal_no: no.into(),
                serial: "SN".into(),
                institution: "Clinic".into(),
                location: String::new(),
                kind: "counter".into(),
                psam: String::new(),
                auth: "sm2".into(),
            },
        )
        .await
        .unwrap();
    let key = sscard_gm::sm2::Sm2PrivateKey::generate().unwrap();
    let csr = sscard_gm::x509::request(&key, "terminal").unwrap();
    platform.enroll_terminal(&system, no, &csr).await.unwrap();
    let hash = "ab".repeat(32);
    let sign_in = |nonce: String| {
        let message = sscard_core::platform::signin_message(no, &nonce, &hash);
        let signature = sscard_gm::sm2::sign(&key, sscard_gm::sm2::DEFAULT_USER_ID, &message)
            .unwrap()
            .encode(sscard_gm::sm2::SignatureFormat::Der);
        (nonce, signature)
    };
    let (nonce, signature) = sign_in(platform.signin_challenge(no).await.unwrap());
    let mut t = store.get_terminal(no).await.unwrap().unwrap();
    let read = t.clone();
    let in_date = t.cert_expires_ms;
    t.cert_expires_ms = now_ms() - 1;
    store
        .commit(
            vec![Write::UpdateTerminal {
                expect: Box::new(read),
                set: Box::new(t.clone()),
            }],
            AuditEntry::ok("tester", "test.expire", no),
        )
        .await
        .unwrap();
    let refused = platform.signin(no, &nonce, &signature, &hash).await;
    assert!(
        matches!(refused, Err(Error::Refused(ref m)) if m.contains("certificate expired")),
        "{refused:?}"
    );
    let events = store.list_events(10).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "signin-failed" && e.detail == "certificate expired"),
        "{events:?}"
    );
    let read = t.clone();
    t.cert_expires_ms = in_date;
    store
        .commit(
            vec![Write::UpdateTerminal {
                expect: Box::new(read),
                set: Box::new(t),
            }],
            AuditEntry::ok("tester", "test.restore", no),
        )
        .await
        .unwrap();
    platform
        .signin(no, &nonce, &signature, &hash)
        .await
        .unwrap();
}

/// Sign-in by MAC on this backend: a terminal without SM2 is keyed, signs
/// in with the MAC under its terminal master key, and gets working keys
/// under that key whose check values the platform derives again; a wrong
/// or shortened MAC, a replayed challenge, an enrollment of a MAC terminal
/// and a fourth open challenge are refused; sign-out ends the session.
async fn mac_terminals_sign_in_and_out(f: Fixture) {
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let system = operator_session(&platform, &out, 0, "system passphrase 0").await;
    let no = "330300000077";
    let tmk = key_mac_terminal(&platform, &system, no).await;
    let outcome = mac_signin(&platform, no, &tmk).await.unwrap();
    let caller = platform
        .terminal_of_session(&outcome.session)
        .await
        .unwrap();
    assert_eq!(caller.terminal.auth, "mac");
    let derived = platform.working_key_check_values(&caller).await.unwrap();
    let delivered: Vec<(String, String)> = outcome
        .working_keys
        .iter()
        .map(|k| (k.name.clone(), k.kcv.clone()))
        .collect();
    assert_eq!(derived, delivered, "the platform derives the keys it sent");
    // A rotation of the terminal master leaves a live session's keys as
    // delivered; the next sign-in's come from the new version.
    let officer = security_officer(&platform, &out).await;
    platform
        .rotate_key(&officer, sscard_core::platform::TERMINAL_MASTER)
        .await
        .unwrap();
    assert_eq!(
        platform.working_key_check_values(&caller).await.unwrap(),
        delivered,
        "the session's keys across a rotation"
    );
    assert_eq!(delivered.len(), 3);
    for k in &outcome.working_keys {
        open_wrapped(&tmk, k);
    }

    // A wrong MAC, a short one, and a replay are refused, each an event.
    let hash = "ab".repeat(32);
    for cut in [16usize, 8] {
        let nonce = platform.signin_challenge(no).await.unwrap();
        let message = sscard_core::platform::signin_message(no, &nonce, &hash);
        let mut tag = mac::mac(&tmk, MacAlgorithm::CbcMac, None, &message, None).unwrap();
        if cut == 16 {
            tag[15] ^= 0x80;
        }
        let refused = platform.signin(no, &nonce, &tag[..cut], &hash).await;
        assert!(
            matches!(refused, Err(Error::Refused(ref m)) if m.contains("MAC")),
            "{refused:?}"
        );
        // The wrong answer used the challenge up: the right one comes too late.
        let right = mac::mac(&tmk, MacAlgorithm::CbcMac, None, &message, None).unwrap();
        let late = platform.signin(no, &nonce, &right, &hash).await;
        assert!(
            matches!(late, Err(Error::Refused(ref m)) if m.contains("spent")),
            "{late:?}"
        );
    }
    let nonce = platform.signin_challenge(no).await.unwrap();
    let message = sscard_core::platform::signin_message(no, &nonce, &hash);
    let tag = mac::mac(&tmk, MacAlgorithm::CbcMac, None, &message, None).unwrap();
    platform.signin(no, &nonce, &tag, &hash).await.unwrap();
    assert!(matches!(
        platform.signin(no, &nonce, &tag, &hash).await,
        Err(Error::Refused(_))
    ));
    let events = store.list_events(100).await.unwrap();
    assert!(
        events
            .iter()
            .filter(|e| e.kind == "signin-failed" && e.terminal_no == no)
            .count()
            >= 3,
        "{events:?}"
    );
    // The newer sign-in replaced the first session.
    assert!(platform
        .terminal_of_session(&outcome.session)
        .await
        .is_err());

    // A MAC terminal is keyed, not enrolled; an SM2 terminal is not keyed.
    assert!(matches!(
        platform
            .enroll_terminal(&system, no, b"not a request")
            .await,
        Err(Error::Refused(_))
    ));

    // Challenges: three live at most; none for a number not registered.
    let mut live = Vec::new();
    loop {
        match platform.signin_challenge(no).await {
            Ok(nonce) => live.push(nonce),
            Err(Error::TooManyRequests(_)) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(live.len() <= 3, "more than three live challenges");
    }
    assert!(matches!(
        platform.signin_challenge("330300000099").await,
        Err(Error::Refused(_))
    ));

    // Sign-out ends the session; a second sign-out has nothing to end.
    let nonce = live.pop().unwrap();
    let message = sscard_core::platform::signin_message(no, &nonce, &hash);
    let tag = mac::mac(&tmk, MacAlgorithm::CbcMac, None, &message, None).unwrap();
    let outcome = platform.signin(no, &nonce, &tag, &hash).await.unwrap();
    let caller = platform
        .terminal_of_session(&outcome.session)
        .await
        .unwrap();
    platform.signout(&caller).await.unwrap();
    assert!(matches!(
        platform.terminal_of_session(&outcome.session).await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        platform.signout(&caller).await,
        Err(Error::NotFound(_))
    ));
    let records = store.audit_range(1, 10_000).await.unwrap();
    assert!(records.iter().any(|r| r.action == "terminal.signout"));
    assert!(records.iter().any(|r| r.action == "terminal.key"));
    let log = format!("{records:?}");
    assert!(
        !log.contains(&hex::encode_upper(tmk.expose_secret())),
        "the TMK in the log"
    );

    // Keyed again while suspended: it stays suspended; once active, the new
    // key signs in and the old one no longer does.
    platform
        .terminal_state(&system, no, "suspended")
        .await
        .unwrap();
    let keying = platform.key_terminal(&system, no).await.unwrap();
    assert_eq!(keying.key_version, 2);
    let new_tmk = BlockKey::new(
        BlockAlgorithm::Sm4,
        &hex::decode(keying.key.as_str()).unwrap(),
    )
    .unwrap();
    assert_ne!(new_tmk.expose_secret(), tmk.expose_secret());
    assert_eq!(
        store.get_terminal(no).await.unwrap().unwrap().state,
        "suspended"
    );
    platform
        .terminal_state(&system, no, "active")
        .await
        .unwrap();
    assert!(matches!(
        mac_signin(&platform, no, &tmk).await,
        Err(Error::Refused(_))
    ));
    mac_signin(&platform, no, &new_tmk).await.unwrap();

    // Past its key's lifetime (a certificate's), the terminal is refused.
    let mut t = store.get_terminal(no).await.unwrap().unwrap();
    let read = t.clone();
    t.cert_expires_ms = now_ms() - 1;
    store
        .commit(
            vec![Write::UpdateTerminal {
                expect: Box::new(read),
                set: Box::new(t),
            }],
            AuditEntry::ok("tester", "test.expire", no),
        )
        .await
        .unwrap();
    let expired = mac_signin(&platform, no, &new_tmk).await;
    assert!(
        matches!(expired, Err(Error::Refused(ref m)) if m.contains("terminal key expired")),
        "{expired:?}"
    );
}

/// Checkpoints are signed with the platform's audit key, every N records and
/// when records have waited; the chain with its signatures verifies.
async fn checkpoints_are_signed_and_verify(f: Fixture) {
    let store = f.dyn_store();
    let out = Platform::initialize(store.as_ref(), &InitOptions::standard(1, 1).unwrap())
        .await
        .unwrap();
    let platform = Platform::new(Arc::clone(&store)).with_checkpoint_every(4);
    platform
        .unseal(out.shares[0].to_json().unwrap().as_bytes())
        .await
        .unwrap();
    for (_, c) in &out.operators {
        platform
            .login(&c.user, "not the password")
            .await
            .unwrap_err();
    }
    assert!(
        platform.checkpoint_if_stale(0).await.unwrap(),
        "records are waiting"
    );
    assert!(
        !platform.checkpoint_if_stale(0).await.unwrap(),
        "the head is a checkpoint now"
    );
    let records = store.audit_range(1, 100).await.unwrap();
    let checkpoints = records
        .iter()
        .filter(|r| r.action == sscard_core::audit::CHECKPOINT)
        .count();
    assert!(checkpoints >= 2, "{checkpoints}");
    let pem = platform.audit_public_key().await.unwrap();
    let key = sscard_gm::sm2::Sm2PublicKey::from_spki_pem(&pem).unwrap();
    let mut v = ChainVerifier::new(Some(&key));
    for r in &records {
        v.push(r, None).unwrap();
    }
    assert_eq!(v.checkpoints() as usize, checkpoints);
    // Another key does not verify them.
    let other = sscard_gm::sm2::Sm2PrivateKey::generate()
        .unwrap()
        .public_key();
    let mut v = ChainVerifier::new(Some(&other));
    let broken = records
        .iter()
        .try_for_each(|r| v.push(r, None))
        .unwrap_err();
    assert!(broken.reason.contains("signature"), "{broken}");
}

/// Rotation keeps old ciphertexts decryptable until the minimum version
/// passes them; a suspended key neither encrypts nor decrypts.
async fn keys_rotate_retire_and_suspend(f: Fixture) {
    use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyUsage, Transition};
    use sscard_core::platform::NewKey;
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let new = NewKey {
        name: "records".into(),
        algorithm: KeyAlgorithm::Sm4,
        usage: KeyUsage::Encrypt,
        level: KeyLevel::City,
        region: Some("330300".into()),
        exportable: false,
        rotate_every_ms: 0,
        activate_ms: 0,
        expire_ms: 0,
    };
    let created = platform.create_key(&officer, &new).await.unwrap();
    assert_eq!(created.versions.len(), 1);
    assert_eq!(created.versions[0].kcv.len(), 8);
    assert!(matches!(
        platform.create_key(&officer, &new).await,
        Err(Error::Conflict(_))
    ));
    let wrong = NewKey {
        algorithm: KeyAlgorithm::Sm2,
        usage: KeyUsage::CardIauthMaster,
        ..new.clone()
    };
    assert!(matches!(
        platform
            .create_key(
                &officer,
                &NewKey {
                    name: "x".into(),
                    ..wrong
                }
            )
            .await,
        Err(Error::Invalid(_))
    ));

    let c1 = platform
        .encrypt(&officer, "records", b"holder 1")
        .await
        .unwrap();
    assert!(c1.starts_with("sscard:v1:"), "{c1}");
    let rotated = platform.rotate_key(&officer, "records").await.unwrap();
    assert_eq!(rotated.versions.len(), 2);
    assert_ne!(rotated.versions[0].kcv, rotated.versions[1].kcv);
    let c2 = platform
        .encrypt(&officer, "records", b"holder 2")
        .await
        .unwrap();
    assert!(c2.starts_with("sscard:v2:"), "{c2}");
    assert_eq!(
        platform
            .decrypt(&officer, "records", &c1)
            .await
            .unwrap()
            .as_slice(),
        b"holder 1"
    );
    // A ciphertext moved to another version does not authenticate.
    let moved = c1.replacen("sscard:v1:", "sscard:v2:", 1);
    assert!(platform.decrypt(&officer, "records", &moved).await.is_err());

    platform
        .set_min_version(&officer, "records", 2)
        .await
        .unwrap();
    assert!(matches!(
        platform.decrypt(&officer, "records", &c1).await,
        Err(Error::KeyVersionRetired {
            version: 1,
            min: 2,
            ..
        })
    ));
    assert_eq!(
        platform
            .decrypt(&officer, "records", &c2)
            .await
            .unwrap()
            .as_slice(),
        b"holder 2"
    );
    assert!(
        platform
            .set_min_version(&officer, "records", 1)
            .await
            .is_err(),
        "the minimum only rises"
    );

    platform
        .transition_key(&officer, "records", Transition::Suspend)
        .await
        .unwrap();
    assert!(matches!(
        platform.encrypt(&officer, "records", b"x").await,
        Err(Error::KeyState { .. })
    ));
    assert!(matches!(
        platform.decrypt(&officer, "records", &c2).await,
        Err(Error::KeyState { .. })
    ));
    assert!(platform
        .transition_key(&officer, "records", Transition::Destroy)
        .await
        .is_err());
    platform
        .transition_key(&officer, "records", Transition::Activate)
        .await
        .unwrap();
    assert_eq!(
        platform
            .decrypt(&officer, "records", &c2)
            .await
            .unwrap()
            .as_slice(),
        b"holder 2"
    );
    assert_eq!(
        platform.show_key(&officer, "records").await.unwrap().uses,
        5
    );

    // Every step is in the audit log with version and check value, never the key.
    let records = store.audit_range(1, 1000).await.unwrap();
    let rotate = records.iter().find(|r| r.action == "key.rotate").unwrap();
    assert_eq!(rotate.details["version"], "2");
    assert_eq!(rotate.details["kcv"], rotated.versions[1].kcv);
    assert!(records
        .iter()
        .any(|r| r.action == "key.decrypt" && r.outcome == "refused"));
}

/// Rewrap, data keys, HMAC and signatures, and usages kept apart.
async fn transit_operations(f: Fixture) {
    use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyUsage};
    use sscard_core::platform::NewKey;
    let (_, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let key = |name: &str, algorithm, usage| NewKey {
        name: name.into(),
        algorithm,
        usage,
        level: KeyLevel::Province,
        region: Some("330000".into()),
        exportable: false,
        rotate_every_ms: 0,
        activate_ms: 0,
        expire_ms: 0,
    };
    for new in [
        key("records", KeyAlgorithm::Sm4, KeyUsage::Encrypt),
        key("fields", KeyAlgorithm::Sm4, KeyUsage::DataMaster),
        key("qr-mac", KeyAlgorithm::HmacSm3, KeyUsage::EsscIssuing),
        key("publisher", KeyAlgorithm::Sm2, KeyUsage::PlatformSigning),
        key("iauth", KeyAlgorithm::Sm4, KeyUsage::CardIauthMaster),
    ] {
        platform.create_key(&officer, &new).await.unwrap();
    }
    let c1 = platform.encrypt(&officer, "records", b"row").await.unwrap();
    platform.rotate_key(&officer, "records").await.unwrap();
    let c2 = platform.rewrap(&officer, "records", &c1).await.unwrap();
    assert!(c2.starts_with("sscard:v2:"), "{c2}");
    assert_eq!(
        platform
            .decrypt(&officer, "records", &c2)
            .await
            .unwrap()
            .as_slice(),
        b"row"
    );

    let data_key = platform.data_key(&officer, "fields").await.unwrap();
    let unwrapped = platform
        .decrypt(&officer, "fields", &data_key.ciphertext)
        .await
        .unwrap();
    assert_eq!(
        hex::encode(unwrapped.as_slice()),
        data_key.plaintext.as_str()
    );

    let tag = platform
        .hmac(&officer, "qr-mac", b"qr payload")
        .await
        .unwrap();
    assert_eq!(
        tag,
        platform
            .hmac(&officer, "qr-mac", b"qr payload")
            .await
            .unwrap()
    );
    assert_ne!(
        tag,
        platform
            .hmac(&officer, "qr-mac", b"qr payloaD")
            .await
            .unwrap()
    );

    let signature = hex::decode(
        platform
            .sign(&officer, "publisher", b"blacklist v7")
            .await
            .unwrap(),
    )
    .unwrap();
    platform
        .verify(&officer, "publisher", b"blacklist v7", &signature)
        .await
        .unwrap();
    assert!(matches!(
        platform
            .verify(&officer, "publisher", b"blacklist v8", &signature)
            .await,
        Err(Error::Crypto(sscard_gm::Error::SignatureInvalid))
    ));
    // A card master is not a data key, an SM2 key does not HMAC.
    assert!(matches!(
        platform.encrypt(&officer, "iauth", b"x").await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        platform.hmac(&officer, "publisher", b"x").await,
        Err(Error::Invalid(_))
    ));
}

/// A key with a rotation period gets a new version once its newest is that
/// old, and not before.
async fn scheduled_rotation(f: Fixture) {
    use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyUsage};
    use sscard_core::platform::NewKey;
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let new = |name: &str, rotate_every_ms| NewKey {
        name: name.into(),
        algorithm: KeyAlgorithm::Sm4,
        usage: KeyUsage::Encrypt,
        level: KeyLevel::City,
        region: Some("330300".into()),
        exportable: false,
        rotate_every_ms,
        activate_ms: 0,
        expire_ms: 0,
    };
    platform
        .create_key(&officer, &new("hourly", 3_600_000))
        .await
        .unwrap();
    platform
        .create_key(&officer, &new("fast", 2_000))
        .await
        .unwrap();
    platform
        .create_key(&officer, &new("manual", 0))
        .await
        .unwrap();
    assert!(platform.rotate_due_keys().await.unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(platform.rotate_due_keys().await.unwrap(), ["fast"]);
    assert!(platform.rotate_due_keys().await.unwrap().is_empty());
    assert_eq!(
        platform
            .show_key(&officer, "fast")
            .await
            .unwrap()
            .versions
            .len(),
        2
    );
    let head = store.audit_head().await.unwrap().unwrap();
    assert!(
        store
            .audit_range(1, 1000)
            .await
            .unwrap()
            .iter()
            .any(|r| r.action == "key.rotate"
                && r.actor == "system"
                && r.details["scheduled"] == "true"),
        "{head:?}"
    );
}

/// Activation and expiry dates: a key waits pre-active until its activation
/// time; past its expiry it only decrypts, and the schedule deactivates it.
async fn activation_and_expiry_dates(f: Fixture) {
    use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyState, KeyUsage};
    use sscard_core::now_ms;
    use sscard_core::platform::NewKey;
    let (store, out, platform) = unsealed(&f, &InitOptions::standard(1, 1).unwrap()).await;
    let officer = security_officer(&platform, &out).await;
    let new = |name: &str, activate_ms, expire_ms| NewKey {
        name: name.into(),
        algorithm: KeyAlgorithm::Sm4,
        usage: KeyUsage::Encrypt,
        level: KeyLevel::City,
        region: Some("330300".into()),
        exportable: false,
        rotate_every_ms: 0,
        activate_ms,
        expire_ms,
    };
    let now = now_ms();
    let later = platform
        .create_key(&officer, &new("later", now + 1_500, 0))
        .await
        .unwrap();
    assert_eq!(later.state, KeyState::PreActive);
    assert!(matches!(
        platform.encrypt(&officer, "later", b"x").await,
        Err(Error::KeyState {
            state: "pre-active",
            ..
        })
    ));
    let brief = platform
        .create_key(&officer, &new("brief", 0, now + 1_500))
        .await
        .unwrap();
    assert_eq!(brief.state, KeyState::Active);
    let sealed = platform.encrypt(&officer, "brief", b"kept").await.unwrap();
    for (activate, expire) in [(0, now - 1), (now + 5_000, now + 4_000)] {
        assert!(matches!(
            platform
                .create_key(&officer, &new("bad-dates", activate, expire))
                .await,
            Err(Error::Invalid(_))
        ));
    }
    assert!(platform.apply_key_dates().await.unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    // Expired before the schedule ran: protection is refused already.
    assert!(matches!(
        platform.encrypt(&officer, "brief", b"x").await,
        Err(Error::KeyState {
            state: "expired",
            ..
        })
    ));
    let mut changed = platform.apply_key_dates().await.unwrap();
    changed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changed,
        [
            ("brief".to_string(), KeyState::Deactivated),
            ("later".to_string(), KeyState::Active)
        ]
    );
    assert!(platform.apply_key_dates().await.unwrap().is_empty());
    assert_eq!(
        platform
            .decrypt(&officer, "brief", &sealed)
            .await
            .unwrap()
            .as_slice(),
        b"kept"
    );
    platform
        .encrypt(&officer, "later", b"now usable")
        .await
        .unwrap();
    let records = store.audit_range(1, 1000).await.unwrap();
    for (action, target) in [("key.deactivate", "brief"), ("key.activate", "later")] {
        assert!(
            records.iter().any(|r| r.action == action
                && r.target == target
                && r.actor == "system"
                && r.details["scheduled"] == "true"),
            "{action} {target}"
        );
    }
}

/// Dual control on this backend: import by components, export and destroy
/// wait for a second security administrator; the requester cannot approve.
async fn dual_control_import_export_destroy(f: Fixture) {
    use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyUsage, Transition};
    use sscard_core::platform::{ExportTarget, NewKey, NewOperator};
    use zeroize::Zeroizing;
    let mut options = InitOptions::standard(1, 1).unwrap();
    options.operators.push(NewOperator {
        label: "security2".into(),
        name: OperatorName::parse("secadmin2").unwrap(),
        role: Role::Security,
        one_time: true,
    });
    let (store, out, platform) = unsealed(&f, &options).await;
    let first = security_officer(&platform, &out).await;
    let second = operator_session(&platform, &out, 3, "second officer phrase").await;

    let new = |name: &str, usage, exportable| NewKey {
        name: name.into(),
        algorithm: KeyAlgorithm::Sm4,
        usage,
        level: KeyLevel::City,
        region: Some("330300".into()),
        exportable,
        rotate_every_ms: 0,
        activate_ms: 0,
        expire_ms: 0,
    };
    // Component i of byte b holds b ^ i at position i: the three combine
    // to 0x77 ^ i.
    let component = |byte: u8| {
        let key = Zeroizing::new((0..16u8).map(|i| byte ^ i).collect::<Vec<_>>());
        let block = sscard_gm::BlockKey::new(sscard_gm::BlockAlgorithm::Sm4, &key).unwrap();
        let check = sscard_gm::kcv::kcv(&block, 4).unwrap();
        (key, check)
    };
    let parts = [component(0x11), component(0x22), component(0x44)];
    let mut wrong = [component(0x11), component(0x22)];
    wrong[1].1 = wrong[0].1.clone();
    assert!(matches!(
        platform
            .import_key(
                &first,
                &new("master", KeyUsage::CardIauthMaster, true),
                &wrong
            )
            .await,
        Err(Error::KcvMismatch { index: 2 })
    ));
    let pending = platform
        .import_key(
            &first,
            &new("master", KeyUsage::CardIauthMaster, true),
            &parts,
        )
        .await
        .unwrap();
    let expected = sscard_gm::BlockKey::new(
        sscard_gm::BlockAlgorithm::Sm4,
        &(0..16u8).map(|i| 0x77 ^ i).collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(
        pending.kcv.as_deref(),
        Some(hex::encode(sscard_gm::kcv::kcv(&expected, 4).unwrap()).as_str())
    );
    assert!(matches!(
        platform.approve(&first, &pending.approval).await,
        Err(Error::SelfApproval)
    ));
    let done = platform.approve(&second, &pending.approval).await.unwrap();
    assert_eq!(done.key.versions[0].kcv, pending.kcv.clone().unwrap());
    assert!(matches!(
        platform.approve(&second, &pending.approval).await,
        Err(Error::ApprovalClosed { .. })
    ));

    // An exportable key and a change of usage wait for the second officer.
    assert!(matches!(
        platform
            .create_key(&first, &new("portable", KeyUsage::Encrypt, true))
            .await,
        Err(Error::Refused(_))
    ));
    let pending = platform
        .request_create_exportable(&first, &new("portable", KeyUsage::Encrypt, true))
        .await
        .unwrap();
    assert!(platform.show_key(&first, "portable").await.is_err());
    let made = platform.approve(&second, &pending.approval).await.unwrap();
    assert!(made.key.exportable);
    assert!(matches!(
        platform
            .request_usage_change(&first, "portable", KeyUsage::AuditSigning)
            .await,
        Err(Error::Invalid(_))
    ));
    let pending = platform
        .request_usage_change(&first, "portable", KeyUsage::DataMaster)
        .await
        .unwrap();
    assert!(matches!(
        platform.approve(&first, &pending.approval).await,
        Err(Error::SelfApproval)
    ));
    let changed = platform.approve(&second, &pending.approval).await.unwrap();
    assert_eq!(changed.key.usage, KeyUsage::DataMaster);
    assert!(store.audit_range(1, 1000).await.unwrap().iter().any(|r| {
        r.action == "approval.approve"
            && r.target == "portable"
            && r.details.get("from").map(String::as_str) == Some("encrypt")
            && r.details.get("to").map(String::as_str) == Some("data-master")
    }));

    // Export waits for approval and only its requester gets the file.
    platform
        .create_key(&first, &new("kek", KeyUsage::Kek, false))
        .await
        .unwrap();
    assert!(matches!(
        platform
            .request_export(&first, "kek", &ExportTarget::Kek("kek".into()))
            .await,
        Err(Error::NotExportable(_))
    ));
    let pending = platform
        .request_export(&first, "master", &ExportTarget::Kek("kek".into()))
        .await
        .unwrap();
    assert_eq!(
        platform
            .approval_status(&first, &pending.approval)
            .await
            .unwrap()
            .state,
        "pending"
    );
    platform.approve(&second, &pending.approval).await.unwrap();
    let status = platform
        .approval_status(&first, &pending.approval)
        .await
        .unwrap();
    assert_eq!(status.state, "approved");
    let file: serde_json::Value = serde_json::from_str(&status.result.unwrap()).unwrap();
    assert_eq!(file["kcv"], done.key.versions[0].kcv.as_str());
    assert!(platform
        .approval_status(&second, &pending.approval)
        .await
        .unwrap()
        .result
        .is_none());
    // Each handover of the file is audited; the other officer's look is not one.
    let handovers = || async {
        store
            .audit_range(1, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| {
                r.action == "approval.result"
                    && r.details.get("approval") == Some(&pending.approval)
            })
            .count()
    };
    assert_eq!(handovers().await, 1);
    platform
        .approval_status(&first, &pending.approval)
        .await
        .unwrap();
    assert_eq!(handovers().await, 2);
    let export_approval = pending.approval.clone();

    // Destroy: out of use first, then approved; afterwards the key does nothing.
    assert!(matches!(
        platform.request_destroy(&first, "master").await,
        Err(Error::KeyState { .. })
    ));
    platform
        .transition_key(&first, "master", Transition::Deactivate)
        .await
        .unwrap();
    let pending = platform.request_destroy(&first, "master").await.unwrap();
    platform.deny(&second, &pending.approval).await.unwrap();
    assert!(
        platform.approve(&second, &pending.approval).await.is_err(),
        "a denied request stays denied"
    );
    let pending = platform.request_destroy(&first, "master").await.unwrap();
    platform.approve(&second, &pending.approval).await.unwrap();
    assert_eq!(
        platform
            .show_key(&first, "master")
            .await
            .unwrap()
            .state
            .as_str(),
        "destroyed"
    );
    let versions = store
        .key_versions(&sscard_core::key::KeyName::parse("master").unwrap())
        .await
        .unwrap();
    assert!(
        versions.iter().all(|v| v.material.is_empty()),
        "the material is erased"
    );
    // So is the wrapped copy the approved export held for its requester,
    // and the approval shows the key's state now.
    let after = platform
        .approval_status(&first, &export_approval)
        .await
        .unwrap();
    assert!(after.result.is_none(), "the export file outlives the key");
    assert_eq!(
        after.details.get("state").map(String::as_str),
        Some("destroyed")
    );
}

suite!(
    meta_round_trips_and_overwrites,
    operators_insert_update_list_and_conflict,
    tokens_are_stored_by_hash_and_removed_per_operator,
    the_audit_chain_links_every_record,
    concurrent_appends_keep_one_unbroken_chain,
    a_dump_holds_no_plaintext_secret,
    an_action_whose_audit_record_fails_does_not_happen,
    a_rotation_on_one_node_is_seen_by_another,
    checkpoints_are_signed_and_verify,
    keys_rotate_retire_and_suspend,
    transit_operations,
    scheduled_rotation,
    activation_and_expiry_dates,
    dual_control_import_export_destroy,
    rewrap_reseals_every_stored_secret_under_the_newest_term,
    a_device_provider_holds_every_key,
    cards_are_prepared_personalized_and_issued,
    blacklist_versions_and_event_rules,
    mac_terminals_sign_in_and_out,
    an_expired_certificate_is_refused,
);
