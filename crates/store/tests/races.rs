//! Every read-decide-write of the platform, raced: two (or more) requests
//! that touch the same record run at once, on two nodes sharing one store,
//! [`ROUNDS`] times on each backend, with the start of one side shifted a
//! little each round so that both orders of their commits occur. After each
//! round the outcome must be one that the two requests could have had one
//! after the other: a write commits only if what it was decided on still
//! holds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use sscard_core::audit::AuditRecord;
use sscard_core::key::{KeyAlgorithm, KeyLevel, KeyName, KeyUsage, Transition};
use sscard_core::operator::OperatorName;
use sscard_core::platform::{
    EventRule, ExportTarget, InitOptions, NewKey, NewOperator, NewTerminal, Platform, Session,
};
use sscard_core::store::{CardRecord, Store, Write};
use sscard_core::{now_ms, Error, Role};
use zeroize::Zeroizing;

/// Rounds of each race, per backend.
const ROUNDS: usize = 50;

/// A platform on one store with two nodes (two `Platform`s, as two servers
/// behind a load balancer), and a session of each kind of administrator.
struct World {
    store: Arc<dyn Store>,
    a: Arc<Platform>,
    b: Arc<Platform>,
    system: Session,
    first: Session,
    second: Session,
}

impl World {
    /// Both nodes, each with one of the two security administrators.
    fn two_officers(&self) -> (Arc<Platform>, Arc<Platform>, Session, Session) {
        (
            Arc::clone(&self.a),
            Arc::clone(&self.b),
            self.first.clone(),
            self.second.clone(),
        )
    }

    /// Both nodes, each with the system administrator.
    fn two_systems(&self) -> (Arc<Platform>, Arc<Platform>, Session, Session) {
        (
            Arc::clone(&self.a),
            Arc::clone(&self.b),
            self.system.clone(),
            self.system.clone(),
        )
    }
}

async fn world(f: &Fixture) -> World {
    let mut options = InitOptions::standard(1, 1).unwrap();
    options.operators.push(NewOperator {
        label: "security2".into(),
        name: OperatorName::parse("secadmin2").unwrap(),
        role: Role::Security,
        one_time: true,
    });
    let (store, out, a) = unsealed(f, &options).await;
    let b = node(&store, &out).await;
    let system = operator_session(&a, &out, 0, "system passphrase 0").await;
    let first = operator_session(&a, &out, 1, "officer passphrase 1").await;
    let second = operator_session(&b, &out, 3, "officer passphrase 3").await;
    World {
        store,
        a: Arc::new(a),
        b: Arc::new(b),
        system,
        first,
        second,
    }
}

/// Runs `x` and `y` at once on the runtime's threads. One of them starts
/// later by a delay that changes with `round` (0 to 15 ms in steps of
/// 0.3 ms, `x` late in odd rounds, `y` in even ones), so that over the
/// rounds the other's read, decision and commit fall before, inside and
/// after its own.
async fn at_once<A, B>(
    round: usize,
    x: impl Future<Output = A> + Send + 'static,
    y: impl Future<Output = B> + Send + 'static,
) -> (A, B)
where
    A: Send + 'static,
    B: Send + 'static,
{
    let shift = Duration::from_micros(((round * 7_919) % 15_000) as u64);
    let (dx, dy) = if round % 2 == 1 {
        (shift, Duration::ZERO)
    } else {
        (Duration::ZERO, shift)
    };
    let hx = tokio::spawn(async move {
        tokio::time::sleep(dx).await;
        x.await
    });
    let hy = tokio::spawn(async move {
        tokio::time::sleep(dy).await;
        y.await
    });
    (hx.await.unwrap(), hy.await.unwrap())
}

/// The audit records from `from_seq` on.
async fn records_since(store: &Arc<dyn Store>, from_seq: i64) -> Vec<AuditRecord> {
    store.audit_range(from_seq, 100_000).await.unwrap()
}

async fn head(store: &Arc<dyn Store>) -> i64 {
    store.audit_head().await.unwrap().map_or(0, |r| r.seq) + 1
}

fn new_key(name: &str, usage: KeyUsage, exportable: bool) -> NewKey {
    NewKey {
        name: name.into(),
        algorithm: KeyAlgorithm::Sm4,
        usage,
        level: KeyLevel::City,
        region: Some("330300".into()),
        exportable,
        rotate_every_ms: 0,
        activate_ms: 0,
        expire_ms: 0,
    }
}

/// An SM4 component whose byte j is `byte ^ j·step`, and its KCV; two of
/// different steps never combine to a key of one repeated byte.
fn component(byte: u8, step: u8) -> (Zeroizing<Vec<u8>>, Vec<u8>) {
    let key: Zeroizing<Vec<u8>> =
        Zeroizing::new((0..16u8).map(|i| byte ^ i.wrapping_mul(step)).collect());
    let block = sscard_gm::BlockKey::new(sscard_gm::BlockAlgorithm::Sm4, &key).unwrap();
    let check = sscard_gm::kcv::kcv(&block, 4).unwrap();
    (key, check)
}

/// 40 wrong passwords at once lock the account after exactly five: each
/// failure is counted over the count it read.
async fn wrong_passwords_at_once_lock_the_account(f: Fixture) {
    let w = world(&f).await;
    for round in 0..3 {
        let user = format!("crowd{round}");
        w.a.add_operator(&w.system, &user).await.unwrap();
        let from = head(&w.store).await;
        let mut tries = Vec::new();
        for i in 0..40 {
            let node = if i % 2 == 0 { &w.a } else { &w.b };
            let node = Arc::clone(node);
            let user = user.clone();
            tries.push(tokio::spawn(async move {
                node.login(&user, "a wrong password").await
            }));
        }
        for t in tries {
            let refused = t.await.unwrap().unwrap_err();
            assert!(
                matches!(refused, Error::BadCredentials | Error::Locked { .. }),
                "{refused:?}"
            );
        }
        let op = w
            .store
            .get_operator(&OperatorName::parse(&user).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(op.locked_until_ms > now_ms(), "round {round}: not locked");
        let wrong: Vec<_> = records_since(&w.store, from)
            .await
            .into_iter()
            .filter(|r| {
                r.target == user
                    && r.action == "auth.login"
                    && r.details.get("reason").map(String::as_str) == Some("wrong password")
            })
            .collect();
        assert_eq!(
            wrong.len(),
            5,
            "round {round}: five failures, then the lock"
        );
        let counts: Vec<_> = wrong
            .iter()
            .map(|r| r.details["failed_logins"].clone())
            .collect();
        assert_eq!(counts, ["1", "2", "3", "4", "5"], "round {round}");
        assert!(wrong[4].details.contains_key("locked_until_ms"));
    }
}

/// A login racing the disabling of its account never leaves the account
/// enabled, nor a working token.
async fn login_races_disable(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let user = format!("leaver{round}");
        let password = w.a.add_operator(&w.system, &user).await.unwrap();
        let (a, b, system) = (Arc::clone(&w.a), Arc::clone(&w.b), w.system.clone());
        let (u1, u2) = (user.clone(), user.clone());
        let (login, disable) = at_once(
            round,
            async move { a.login(&u1, &password).await },
            async move { b.disable_operator(&system, &u2).await },
        )
        .await;
        disable.unwrap();
        let op = w
            .store
            .get_operator(&OperatorName::parse(&user).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(op.disabled, "round {round}: the account was enabled again");
        match login {
            Ok(outcome) => assert!(
                w.a.authenticate(&outcome.token).await.is_err(),
                "round {round}: the token of a disabled account works"
            ),
            Err(e) => assert!(matches!(e, Error::Disabled), "round {round}: {e:?}"),
        }
    }
}

/// Two disables of the last two enabled holders of a role at once: one is
/// refused, and the role keeps an enabled holder.
async fn disables_never_leave_a_role_to_nobody(f: Fixture) {
    let w = world(&f).await;
    // The one enabled holder of the audit role before each round.
    let mut survivor = "auditor".to_string();
    for round in 0..ROUNDS {
        let (x, y) = (format!("auditor-a{round}"), format!("auditor-b{round}"));
        for user in [&x, &y] {
            w.a.add_operator(&w.system, user).await.unwrap();
            w.a.grant_role(&w.first, user, Role::Audit).await.unwrap();
        }
        // x and y are now the last two.
        w.a.disable_operator(&w.system, &survivor).await.unwrap();
        let (a, b, s1, s2) = w.two_systems();
        let (x1, y1) = (x.clone(), y.clone());
        let (dx, dy) = at_once(
            round,
            async move { a.disable_operator(&s1, &x1).await },
            async move { b.disable_operator(&s2, &y1).await },
        )
        .await;
        assert!(dx.is_ok() != dy.is_ok(), "round {round}: {dx:?} {dy:?}");
        let enabled: Vec<_> = w
            .store
            .list_operators()
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.role == Some(Role::Audit) && !o.disabled)
            .collect();
        assert_eq!(enabled.len(), 1, "round {round}");
        survivor = enabled[0].name.to_string();
    }
}

/// A login racing a grant of the account's role never loses the role.
async fn login_races_grant(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let user = format!("newcomer{round}");
        let password = w.a.add_operator(&w.system, &user).await.unwrap();
        let (a, b, first) = (Arc::clone(&w.a), Arc::clone(&w.b), w.first.clone());
        let (u1, u2) = (user.clone(), user.clone());
        let (login, grant) = at_once(
            round,
            async move { a.login(&u1, &password).await },
            async move { b.grant_role(&first, &u2, Role::Audit).await },
        )
        .await;
        login.unwrap();
        grant.unwrap();
        let op = w
            .store
            .get_operator(&OperatorName::parse(&user).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            op.role,
            Some(Role::Audit),
            "round {round}: the grant was lost"
        );
    }
}

/// A login with the old password racing a password change never undoes
/// the change: afterwards the new password works, the old one does not,
/// and a token the old password got no longer works.
async fn login_races_password_change(f: Fixture) {
    let w = world(&f).await;
    let user = "changer";
    let one_time = w.a.add_operator(&w.system, user).await.unwrap();
    let token = w.a.login(user, &one_time).await.unwrap().token;
    let session = w.a.authenticate(&token).await.unwrap();
    w.a.change_password(&session, &one_time, "password number 0")
        .await
        .unwrap();
    for round in 0..ROUNDS {
        let old = format!("password number {round}");
        let new = format!("password number {}", round + 1);
        let token = w.a.login(user, &old).await.unwrap().token;
        let session = w.a.authenticate(&token).await.unwrap();
        let (a, b) = (Arc::clone(&w.a), Arc::clone(&w.b));
        let (o1, o2, n2) = (old.clone(), old.clone(), new.clone());
        let (login, change) = at_once(round, async move { a.login(user, &o1).await }, async move {
            b.change_password(&session, &o2, &n2).await
        })
        .await;
        change.unwrap();
        if let Ok(outcome) = login {
            assert!(
                w.a.authenticate(&outcome.token).await.is_err(),
                "round {round}: a token of the old password outlived the change"
            );
        }
        assert!(
            matches!(w.b.login(user, &old).await, Err(Error::BadCredentials)),
            "round {round}: the old password works again"
        );
        w.a.login(user, &new).await.unwrap();
    }
}

/// Two grants of different roles at once: one wins, the other is refused,
/// and the account holds the winner's role.
async fn grant_races_grant(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let user = format!("twice{round}");
        w.a.add_operator(&w.system, &user).await.unwrap();
        let (a, b, first, second) = w.two_officers();
        let (u1, u2) = (user.clone(), user.clone());
        let (audit, system) = at_once(
            round,
            async move { a.grant_role(&first, &u1, Role::Audit).await },
            async move { b.grant_role(&second, &u2, Role::System).await },
        )
        .await;
        assert!(
            audit.is_ok() != system.is_ok(),
            "round {round}: {audit:?} {system:?}"
        );
        let role = w
            .store
            .get_operator(&OperatorName::parse(&user).unwrap())
            .await
            .unwrap()
            .unwrap()
            .role;
        let expected = if audit.is_ok() {
            Role::Audit
        } else {
            Role::System
        };
        assert_eq!(role, Some(expected), "round {round}");
    }
}

/// Approve and deny of one request at once: exactly one of them happens,
/// and the key exists exactly when the approval won.
async fn approve_races_deny(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let name = format!("imported{round}");
        let parts = [component(round as u8, 29), component(0xA5, 7)];
        let pending =
            w.a.import_key(&w.first, &new_key(&name, KeyUsage::Encrypt, false), &parts)
                .await
                .unwrap();
        let (a, b, first, second) = w.two_officers();
        let (i1, i2) = (pending.approval.clone(), pending.approval.clone());
        let (approved, denied) = at_once(
            round,
            async move { b.approve(&second, &i1).await },
            // The requester withdraws the request.
            async move { a.deny(&first, &i2).await },
        )
        .await;
        assert!(
            approved.is_ok() != denied.is_ok(),
            "round {round}: {approved:?} {denied:?}"
        );
        let loser = approved.as_ref().err().or(denied.as_ref().err()).unwrap();
        assert!(
            matches!(loser, Error::ApprovalClosed { .. }),
            "round {round}: {loser:?}"
        );
        let exists = w
            .store
            .get_key(&KeyName::parse(&name).unwrap())
            .await
            .unwrap()
            .is_some();
        assert_eq!(exists, approved.is_ok(), "round {round}");
        let state = w
            .store
            .get_approval(&pending.approval)
            .await
            .unwrap()
            .unwrap()
            .state;
        let expected = if approved.is_ok() {
            "approved"
        } else {
            "denied"
        };
        assert_eq!(state, expected, "round {round}");
    }
}

/// Four approvals of one export at once carry it out once.
async fn approvals_of_one_export_at_once(f: Fixture) {
    let w = world(&f).await;
    let pending =
        w.a.request_create_exportable(&w.first, &new_key("portable", KeyUsage::Encrypt, true))
            .await
            .unwrap();
    w.b.approve(&w.second, &pending.approval).await.unwrap();
    w.a.create_key(&w.first, &new_key("kek", KeyUsage::Kek, false))
        .await
        .unwrap();
    let portable = KeyName::parse("portable").unwrap();
    for round in 0..ROUNDS {
        let uses = w.store.get_key(&portable).await.unwrap().unwrap().uses;
        let from = head(&w.store).await;
        let pending =
            w.a.request_export(&w.first, "portable", &ExportTarget::Kek("kek".into()))
                .await
                .unwrap();
        let mut approvals = Vec::new();
        for i in 0..4 {
            let node = Arc::clone(if i % 2 == 0 { &w.a } else { &w.b });
            let second = w.second.clone();
            let id = pending.approval.clone();
            approvals.push(tokio::spawn(
                async move { node.approve(&second, &id).await },
            ));
        }
        let mut done = 0;
        for approval in approvals {
            match approval.await.unwrap() {
                Ok(_) => done += 1,
                Err(e) => assert!(matches!(e, Error::ApprovalClosed { .. }), "{e:?}"),
            }
        }
        assert_eq!(done, 1, "round {round}");
        assert_eq!(
            w.store.get_key(&portable).await.unwrap().unwrap().uses,
            uses + 1,
            "round {round}: one export, one use"
        );
        let approved = records_since(&w.store, from)
            .await
            .into_iter()
            .filter(|r| r.action == "approval.approve" && r.outcome == "ok")
            .count();
        assert_eq!(approved, 1, "round {round}");
    }
}

/// Encryptions at once each count their use.
async fn uses_are_counted_under_concurrent_encrypts(f: Fixture) {
    let w = world(&f).await;
    w.a.create_key(&w.first, &new_key("busy", KeyUsage::Encrypt, false))
        .await
        .unwrap();
    for round in 0..ROUNDS {
        let mut all = Vec::new();
        for i in 0..8 {
            let node = Arc::clone(if i % 2 == 0 { &w.a } else { &w.b });
            let first = w.first.clone();
            all.push(tokio::spawn(async move {
                node.encrypt(&first, "busy", b"payload").await
            }));
        }
        for one in all {
            one.await.unwrap().unwrap();
        }
        let uses = w
            .store
            .get_key(&KeyName::parse("busy").unwrap())
            .await
            .unwrap()
            .unwrap()
            .uses;
        assert_eq!(uses, 8 * (round as i64 + 1), "round {round}");
    }
}

/// An encryption racing the suspension of its key never commits after the
/// suspension: in the audit log, no successful encryption follows it.
async fn encrypt_races_suspend(f: Fixture) {
    let w = world(&f).await;
    w.a.create_key(&w.first, &new_key("fragile", KeyUsage::Encrypt, false))
        .await
        .unwrap();
    for round in 0..ROUNDS {
        let from = head(&w.store).await;
        let (a, b, first, second) = w.two_officers();
        let (encrypted, suspended) = at_once(
            round,
            async move { a.encrypt(&first, "fragile", b"data").await },
            async move {
                b.transition_key(&second, "fragile", Transition::Suspend)
                    .await
            },
        )
        .await;
        suspended.unwrap();
        let records = records_since(&w.store, from).await;
        let suspend_at = records
            .iter()
            .position(|r| r.action == "key.suspend" && r.outcome == "ok")
            .unwrap();
        assert!(
            !records[suspend_at..]
                .iter()
                .any(|r| r.action == "key.encrypt" && r.outcome == "ok"),
            "round {round}: an encryption committed after the suspension"
        );
        if let Err(e) = encrypted {
            assert!(matches!(e, Error::KeyState { .. }), "round {round}: {e:?}");
        }
        w.a.transition_key(&w.first, "fragile", Transition::Activate)
            .await
            .unwrap();
    }
}

/// A decryption racing a rise of the minimum version past its ciphertext
/// never commits after the rise.
async fn decrypt_races_min_version(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let name = format!("aging{round}");
        w.a.create_key(&w.first, &new_key(&name, KeyUsage::Encrypt, false))
            .await
            .unwrap();
        let old = w.a.encrypt(&w.first, &name, b"old").await.unwrap();
        w.a.rotate_key(&w.first, &name).await.unwrap();
        let from = head(&w.store).await;
        let (a, b, first, second) = w.two_officers();
        let (n1, n2) = (name.clone(), name.clone());
        let (decrypted, raised) = at_once(
            round,
            async move { a.decrypt(&first, &n1, &old).await },
            async move { b.set_min_version(&second, &n2, 2).await },
        )
        .await;
        raised.unwrap();
        let records = records_since(&w.store, from).await;
        let raised_at = records
            .iter()
            .position(|r| r.action == "key.min-version" && r.outcome == "ok")
            .unwrap();
        assert!(
            !records[raised_at..]
                .iter()
                .any(|r| r.action == "key.decrypt" && r.outcome == "ok"),
            "round {round}: a decryption committed after the minimum passed it"
        );
        if let Err(e) = decrypted {
            assert!(
                matches!(e, Error::KeyVersionRetired { .. }),
                "round {round}: {e:?}"
            );
        }
    }
}

/// Two rotations at once make two versions.
async fn rotations_at_once_make_two_versions(f: Fixture) {
    let w = world(&f).await;
    w.a.create_key(&w.first, &new_key("spinning", KeyUsage::Encrypt, false))
        .await
        .unwrap();
    for round in 0..ROUNDS {
        let (a, b, first, second) = w.two_officers();
        let (x, y) = at_once(
            round,
            async move { a.rotate_key(&first, "spinning").await },
            async move { b.rotate_key(&second, "spinning").await },
        )
        .await;
        x.unwrap();
        y.unwrap();
        let versions = w
            .store
            .key_versions(&KeyName::parse("spinning").unwrap())
            .await
            .unwrap();
        assert_eq!(versions.len(), 1 + 2 * (round + 1), "round {round}");
    }
}

/// Two lifecycle changes at once (suspend, deactivate from active): one
/// wins and the other is refused or applies to the winner's state; the key
/// never ends in a state neither would reach.
async fn transition_races_transition(f: Fixture) {
    use sscard_core::key::KeyState;
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let name = format!("contested{round}");
        w.a.create_key(&w.first, &new_key(&name, KeyUsage::Encrypt, false))
            .await
            .unwrap();
        let (a, b, first, second) = w.two_officers();
        let (n1, n2) = (name.clone(), name.clone());
        let (suspend, deactivate) = at_once(
            round,
            async move { a.transition_key(&first, &n1, Transition::Suspend).await },
            async move { b.transition_key(&second, &n2, Transition::Deactivate).await },
        )
        .await;
        let state = w
            .store
            .get_key(&KeyName::parse(&name).unwrap())
            .await
            .unwrap()
            .unwrap()
            .state;
        // Each refusal is the other's doing; the last successful one is
        // the state.
        assert!(deactivate.is_ok() || suspend.is_ok(), "round {round}");
        let possible = match (&suspend, &deactivate) {
            (Ok(_), Ok(_)) => vec![KeyState::Suspended, KeyState::Deactivated],
            (Ok(_), Err(_)) => vec![KeyState::Suspended],
            (Err(_), Ok(_)) => vec![KeyState::Deactivated],
            (Err(_), Err(_)) => vec![],
        };
        assert!(possible.contains(&state), "round {round}: {state:?}");
    }
}

async fn register(w: &World, no: &str) {
    w.a.register_terminal(
        &w.system,
        &NewTerminal {
            terminal_no: no.into(),
            serial: "SN".into(),
            institution: "Clinic".into(),
            location: String::new(),
            kind: "counter".into(),
            psam: String::new(),
            auth: "mac".into(),
        },
    )
    .await
    .unwrap();
}

/// A suspension racing a revocation never revives the terminal.
async fn suspend_races_revoke(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let no = format!("3303000{round:05}");
        register(&w, &no).await;
        w.a.key_terminal(&w.system, &no).await.unwrap();
        let (a, b, s1, s2) = w.two_systems();
        let (n1, n2) = (no.clone(), no.clone());
        let (suspended, revoked) = at_once(
            round,
            async move { a.terminal_state(&s1, &n1, "suspended").await },
            async move { b.terminal_state(&s2, &n2, "revoked").await },
        )
        .await;
        revoked.unwrap();
        let t = w.store.get_terminal(&no).await.unwrap().unwrap();
        assert_eq!(t.state, "revoked", "round {round}: {suspended:?}");
        // And keying it again afterwards stays refused.
        assert!(w.b.key_terminal(&w.system, &no).await.is_err());
    }
}

/// Keying a terminal racing its revocation: the terminal ends revoked.
async fn keying_races_revoke(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let no = format!("3303001{round:05}");
        register(&w, &no).await;
        let (a, b, s1, s2) = w.two_systems();
        let (n1, n2) = (no.clone(), no.clone());
        let (_keyed, revoked) = at_once(
            round,
            async move { a.key_terminal(&s1, &n1).await.map(|_| ()) },
            async move { b.terminal_state(&s2, &n2, "revoked").await },
        )
        .await;
        revoked.unwrap();
        let t = w.store.get_terminal(&no).await.unwrap().unwrap();
        assert_eq!(t.state, "revoked", "round {round}");
    }
}

/// Sign-in challenges asked at once stay within the limit per terminal.
async fn challenges_at_once_stay_within_the_limit(f: Fixture) {
    use sscard_core::platform::MAX_LIVE_CHALLENGES;
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let no = format!("3303002{round:05}");
        register(&w, &no).await;
        let mut asked = Vec::new();
        for i in 0..8 {
            let node = Arc::clone(if i % 2 == 0 { &w.a } else { &w.b });
            let no = no.clone();
            asked.push(tokio::spawn(
                async move { node.signin_challenge(&no).await },
            ));
        }
        let mut given = 0;
        for one in asked {
            match one.await.unwrap() {
                Ok(_) => given += 1,
                Err(e) => assert!(matches!(e, Error::TooManyRequests(_)), "{e:?}"),
            }
        }
        assert_eq!(given, MAX_LIVE_CHALLENGES, "round {round}");
        assert_eq!(
            w.store
                .count_live_nonces(&no, "local", now_ms())
                .await
                .unwrap(),
            MAX_LIVE_CHALLENGES
        );
    }
}

/// Two wrong answers to one challenge at once: both are refused, and only
/// the one that spends the challenge raises a "MAC does not verify" event;
/// the other is refused as spent (a late one as a spent challenge, whose
/// events are counted as unauthenticated refusals are).
async fn wrong_answers_at_once_raise_one_event(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let no = format!("3303003{round:05}");
        register(&w, &no).await;
        w.a.key_terminal(&w.system, &no).await.unwrap();
        let nonce = w.a.signin_challenge(&no).await.unwrap();
        let hash = "ab".repeat(32);
        let (a, b) = (Arc::clone(&w.a), Arc::clone(&w.b));
        let answer = |node: Arc<sscard_core::platform::Platform>| {
            let (no, nonce, hash) = (no.clone(), nonce.clone(), hash.clone());
            async move { node.signin(&no, &nonce, &[0u8; 16], &hash).await }
        };
        let (x, y) = at_once(round, answer(a), answer(b)).await;
        assert!(x.is_err() && y.is_err(), "round {round}");
        let events = w
            .store
            .list_events(10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.terminal_no == no
                    && e.kind == "signin-failed"
                    && e.detail == "MAC does not verify"
            })
            .count();
        assert_eq!(events, 1, "round {round}");
    }
}

/// A card added to the blacklist while a version is published: the
/// publication's recorded counts are the counts of the version it made.
async fn blacklist_add_races_publish(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let card = format!("{:032X}", 0x3303_0000_u128 + round as u128);
        let from = head(&w.store).await;
        let (a, b, first, second) = w.two_officers();
        let (added, published) = at_once(
            round,
            async move { a.blacklist_add(&first, &card, "lost").await },
            async move { b.blacklist_publish(&second).await },
        )
        .await;
        added.unwrap();
        let version = published.unwrap();
        let record = records_since(&w.store, from)
            .await
            .into_iter()
            .find(|r| r.action == "blacklist.publish")
            .unwrap();
        let (adds, removes) = w
            .store
            .blacklist_change_counts(version - 1, version)
            .await
            .unwrap();
        assert_eq!(
            record.details["added"],
            adds.to_string(),
            "round {round}: the published version is not what was counted"
        );
        assert_eq!(record.details["removed"], removes.to_string());
    }
}

/// Two removals of one card at once: one happens.
async fn blacklist_remove_races_remove(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let card = format!("{:032X}", 0x3304_0000_u128 + round as u128);
        w.a.blacklist_add(&w.first, &card, "lost").await.unwrap();
        let (a, b, first, second) = w.two_officers();
        let (c1, c2) = (card.clone(), card.clone());
        let (x, y) = at_once(
            round,
            async move { a.blacklist_remove(&first, &c1).await },
            async move { b.blacklist_remove(&second, &c2).await },
        )
        .await;
        assert!(x.is_ok() != y.is_ok(), "round {round}: {x:?} {y:?}");
    }
}

/// Two event rules set at once both stay.
async fn rules_set_at_once_both_stay(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let rule = |kind: &str| EventRule {
            kind: kind.into(),
            per: "terminal".into(),
            count: 2 + round as i64,
            window_s: 60,
            suspend: false,
        };
        let (a, b, first, second) = w.two_officers();
        let (r1, r2) = (rule("tamper"), rule("pin-blocked"));
        let (x, y) = at_once(
            round,
            async move { a.set_event_rule(&first, r1).await },
            async move { b.set_event_rule(&second, r2).await },
        )
        .await;
        x.unwrap();
        y.unwrap();
        let rules = w.a.event_rules().await.unwrap();
        for kind in ["tamper", "pin-blocked"] {
            assert!(
                rules
                    .iter()
                    .any(|r| r.kind == kind && r.count == 2 + round as i64),
                "round {round}: the rule for {kind} was lost"
            );
        }
    }
}

/// Two software versions allowed at once both stay allowed.
async fn software_allowed_at_once_both_stay(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let (a, b, s1, s2) = w.two_systems();
        let (v1, v2) = (format!("1.{round}.a"), format!("1.{round}.b"));
        let (x, y) = at_once(
            round,
            async move { a.allow_software(&s1, &v1, &"ab".repeat(32)).await },
            async move { b.allow_software(&s2, &v2, &"cd".repeat(32)).await },
        )
        .await;
        x.unwrap();
        y.unwrap();
        let stored = w
            .store
            .get_meta("terminal_software")
            .await
            .unwrap()
            .unwrap();
        let allowed: std::collections::BTreeMap<String, String> =
            serde_json::from_slice(&stored).unwrap();
        assert!(
            allowed.contains_key(&format!("1.{round}.a")),
            "round {round}"
        );
        assert!(
            allowed.contains_key(&format!("1.{round}.b")),
            "round {round}"
        );
    }
}

/// Events reported at once that cross a rule's threshold raise one alert;
/// two acknowledgements of it at once: one succeeds.
async fn events_at_once_raise_one_alert(f: Fixture) {
    use sscard_gm::mac::{self, MacAlgorithm};
    let w = world(&f).await;
    let no = "330300000777";
    let (terminal, mac_key) = mac_terminal_signed_in(&w.a, &w.system, no).await;
    for round in 0..ROUNDS {
        // A fresh subject each round: a card, counted once per event.
        let card = format!("{:032X}", 0x3305_0000_u128 + round as u128);
        w.a.set_event_rule(
            &w.first,
            EventRule {
                kind: "blacklisted-card".into(),
                per: "card".into(),
                count: 1,
                window_s: 600,
                suspend: false,
            },
        )
        .await
        .unwrap();
        let report = |node: Arc<Platform>| {
            let message =
                sscard_core::platform::event_message(no, "blacklisted-card", &card, "seen");
            let tag = mac::mac(&mac_key, MacAlgorithm::CbcMac, None, &message, None).unwrap();
            let (terminal, card) = (terminal.clone(), card.clone());
            async move {
                node.report_event(&terminal, "blacklisted-card", &card, "seen", &tag)
                    .await
            }
        };
        let (x, y) = at_once(round, report(Arc::clone(&w.a)), report(Arc::clone(&w.b))).await;
        let raised = x.unwrap().len() + y.unwrap().len();
        assert_eq!(raised, 1, "round {round}");
        let open: Vec<_> = w
            .store
            .list_alerts("open")
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.subject == format!("card {card}"))
            .collect();
        assert_eq!(open.len(), 1, "round {round}");
        let (a, b, first, second) = w.two_officers();
        let (i1, i2) = (open[0].id.clone(), open[0].id.clone());
        let (x, y) = at_once(
            round,
            async move { a.ack_alert(&first, &i1).await },
            async move { b.ack_alert(&second, &i2).await },
        )
        .await;
        assert!(x.is_ok() != y.is_ok(), "round {round}: {x:?} {y:?}");
    }
}

/// A card confirmed issued twice at once is issued once.
async fn card_issued_twice_at_once(f: Fixture) {
    let w = world(&f).await;
    for round in 0..ROUNDS {
        let card_id = format!("{:032X}", 0x3306_0000_u128 + round as u128);
        w.store
            .commit(
                vec![Write::InsertCard(CardRecord {
                    card_id: card_id.clone(),
                    ssn_index: format!("index{round}"),
                    region: "330300".into(),
                    card_no: format!("A{round:08}"),
                    card_factor: "00".repeat(8),
                    algorithm: "sm4".into(),
                    state: "prepared".into(),
                    created_ms: now_ms(),
                    issued_ms: 0,
                })],
                sscard_core::audit::AuditEntry::ok("tester", "test.card", &card_id),
            )
            .await
            .unwrap();
        let from = head(&w.store).await;
        let (a, b, first, second) = w.two_officers();
        let (c1, c2) = (card_id.clone(), card_id.clone());
        let (x, y) = at_once(
            round,
            async move { a.card_issued(&first, &c1).await },
            async move { b.card_issued(&second, &c2).await },
        )
        .await;
        assert_eq!(x.unwrap().state, "issued");
        assert_eq!(y.unwrap().state, "issued");
        let issued = records_since(&w.store, from)
            .await
            .into_iter()
            .filter(|r| r.action == "card.issued")
            .count();
        assert_eq!(issued, 1, "round {round}");
    }
}

/// Two initializations of one store at once: one wins, and its root key
/// is the platform's.
async fn init_races_init(f: Fixture) {
    let options = InitOptions {
        password_iterations: TEST_PASSWORD_ITERATIONS,
        ..InitOptions::standard(1, 1).unwrap()
    };
    for round in 0..ROUNDS {
        let fixture = f.another().await;
        let store = fixture.dyn_store();
        let (s1, s2) = (Arc::clone(&store), Arc::clone(&store));
        let (o1, o2) = (options.clone(), options.clone());
        let (x, y) = at_once(
            round,
            async move { Platform::initialize(s1.as_ref(), &o1).await },
            async move { Platform::initialize(s2.as_ref(), &o2).await },
        )
        .await;
        let (won, lost) = match (x, y) {
            (Ok(out), Err(e)) | (Err(e), Ok(out)) => (out, e),
            (x, y) => panic!("round {round}: {:?} {:?}", x.is_ok(), y.is_ok()),
        };
        assert!(
            matches!(lost, Error::AlreadyInitialized),
            "round {round}: {lost:?}"
        );
        // The winner's share opens the platform.
        let platform = Platform::new(store);
        platform
            .unseal(won.shares[0].to_json().unwrap().as_bytes())
            .await
            .unwrap();
        drop(platform);
        fixture.store.close().await;
    }
}

suite_threaded!(
    wrong_passwords_at_once_lock_the_account,
    login_races_disable,
    login_races_grant,
    disables_never_leave_a_role_to_nobody,
    login_races_password_change,
    grant_races_grant,
    approve_races_deny,
    approvals_of_one_export_at_once,
    uses_are_counted_under_concurrent_encrypts,
    encrypt_races_suspend,
    decrypt_races_min_version,
    rotations_at_once_make_two_versions,
    transition_races_transition,
    suspend_races_revoke,
    keying_races_revoke,
    challenges_at_once_stay_within_the_limit,
    wrong_answers_at_once_raise_one_event,
    blacklist_add_races_publish,
    blacklist_remove_races_remove,
    rules_set_at_once_both_stay,
    software_allowed_at_once_both_stay,
    events_at_once_raise_one_alert,
    card_issued_twice_at_once,
    init_races_init,
);
