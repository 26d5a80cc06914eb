//! On PostgreSQL, a person's write and a change of their account made at
//! the same time: the write holds the account as it read it until it
//! commits, and the writes that change accounts take their locks in one
//! order, so none waits for another that waits for it.

use crate::{each_backend, new_account, system_ctx};
use mamori_core::audit::{Action, Actor};
use mamori_core::identity::{OrgKind, Role};
use mamori_store::identity::{AccountChange, Ctx, Standing};
use mamori_store::{Store, StoreError};
use mamori_testkit::{lock_waiters, waiting_for_locks};
use time::OffsetDateTime;

/// `id`'s request, as allowed when it was checked: as `role`, of no
/// organisation.
fn as_person(store_ctx: &Ctx, id: i64, login: &str, role: Role) -> Ctx {
    Ctx {
        actor: Actor { account_id: Some(id), login: login.into() },
        standing: Some(Standing { role, organisation_id: None, generation: None }),
        ..store_ctx.clone()
    }
}

/// The PostgreSQL test database, its address and a system context: these
/// races are PostgreSQL's (SQLite's one writer takes the writes in turn).
async fn on_postgres() -> Option<(crate::TestDb, String, Ctx)> {
    let mut found = None;
    for db in each_backend().await {
        match db.pg_url.clone() {
            Some(url) => found = Some((db, url, system_ctx(OffsetDateTime::now_utc()))),
            None => db.cleanup().await,
        }
    }
    found
}

/// Another connection holding, until it rolls back, what `sql` locks.
async fn holding(url: &str, sql: &str) -> sqlx::PgConnection {
    use sqlx::{Connection, Executor};
    let mut other = sqlx::PgConnection::connect(url).await.unwrap();
    other.execute("BEGIN").await.unwrap();
    other.execute(sql).await.unwrap();
    other
}

/// The sequence number of the newest event of `action` in the audit log.
async fn seq_of(store: &Store, action: Action) -> i64 {
    let events = store.audit_recent(50).await.unwrap();
    events.iter().find(|e| e.record.action == action.as_str()).unwrap_or_else(|| panic!("no {action:?}")).record.seq
}

/// An officer's request for a scan stops, its account read, at the
/// system's row, which another connection holds; an administrator makes
/// the officer 監査 meanwhile. The change waits for the request to commit
/// (before, it committed first and the request went on to be written as
/// the officer's, after the officer was one no longer).
#[tokio::test]
async fn an_account_changed_while_a_write_made_as_it_runs_is_changed_only_after_that_write_commits() {
    use sqlx::{Connection, Executor};
    if let Some((db, url, ctx)) = on_postgres().await {
        let store = &db.store;
        let admin = store.issue_account(&ctx, &new_account("admin-a", Role::Admin, None), "").await.unwrap();
        let officer =
            store.issue_account(&ctx, &new_account("officer-a", Role::SecurityOfficer, None), "").await.unwrap();
        let catalog = store.ensure_catalog(&ctx).await.unwrap().unwrap();
        let dept = store.create_organisation_audited(&ctx, "情報政策課", OrgKind::Department, "").await.unwrap();
        let input = mamori_store::systems::SystemInput::new("基幹システム", dept);
        let system = store.create_system(&ctx, &input, catalog).await.unwrap();

        let mut other = holding(&url, &format!("SELECT id FROM system WHERE id = {system} FOR UPDATE")).await;
        let (s, as_officer) = (store.clone(), as_person(&ctx, officer, "officer-a", Role::SecurityOfficer));
        let scan = tokio::spawn(async move { s.request_scan(&as_officer, system, None).await });
        waiting_for_locks(&url, 1).await;

        let before = store.account_by_id(officer).await.unwrap().unwrap();
        let (s, as_admin) = (store.clone(), as_person(&ctx, admin, "admin-a", Role::Admin));
        let demote = tokio::spawn(async move {
            let change = AccountChange {
                display_name: &before.display_name,
                email: &before.email,
                role: Role::Auditor,
                organisation: None,
                seen: &before.edit_mark(),
            };
            s.change_account(&as_admin, before.id, &change, "異動").await
        });
        // Until the change has committed, or waits for a lock too.
        let mut waits = sqlx::PgConnection::connect(&url).await.unwrap();
        for _ in 0..200 {
            if demote.is_finished() || lock_waiters(&mut waits).await >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        other.execute("ROLLBACK").await.unwrap();
        scan.await.unwrap().unwrap();
        demote.await.unwrap().unwrap();
        let (asked, changed) =
            (seq_of(store, Action::ScanRequested).await, seq_of(store, Action::AccountUpdated).await);
        assert!(
            asked < changed,
            "the scan asked for as an officer ({asked}) before the officer was made 監査 ({changed})"
        );
        assert_eq!(store.account_by_id(officer).await.unwrap().unwrap().role, Role::Auditor);
        db.cleanup().await;
    }
}

/// Two administrators reset each other's password at once, both stopped
/// at the administrators' lock, which another connection holds: each goes
/// in turn (had each held its own account before that lock, each would
/// wait for the other's to change it: a deadlock, one refused).
#[tokio::test]
async fn two_administrators_resetting_each_other_s_password_at_once_both_succeed_in_turn() {
    use sqlx::Executor;
    if let Some((db, url, ctx)) = on_postgres().await {
        let store = &db.store;
        let a = store.issue_account(&ctx, &new_account("admin-a", Role::Admin, None), "").await.unwrap();
        let b = store.issue_account(&ctx, &new_account("admin-b", Role::Admin, None), "").await.unwrap();

        let mut other = holding(&url, "SELECT pg_advisory_xact_lock(hashtext('mamori.administrators'))").await;
        let reset = |by: i64, login: &'static str, of: i64| {
            let (s, as_admin) = (store.clone(), as_person(&ctx, by, login, Role::Admin));
            tokio::spawn(async move { s.reset_password(&as_admin, of, "new-hash", "依頼").await })
        };
        let (ab, ba) = (reset(a, "admin-a", b), reset(b, "admin-b", a));
        waiting_for_locks(&url, 2).await;
        other.execute("ROLLBACK").await.unwrap();
        ab.await.unwrap().unwrap();
        ba.await.unwrap().unwrap();
        for id in [a, b] {
            let account = store.account_by_id(id).await.unwrap().unwrap();
            assert_eq!((account.password_hash.as_str(), account.must_change_password), ("new-hash", true));
        }
        db.cleanup().await;
    }
}

/// A person's change of their own password sent twice at once (a double
/// click), while another connection holds their account shared, as
/// another write of theirs does: the second waits for the first and is
/// refused as stale, the password changed once. (Had both held the
/// account shared too, each would then wait for the other to change it: a
/// deadlock, one refused with PostgreSQL's error.)
#[tokio::test]
async fn one_s_own_password_changed_twice_at_once_is_changed_once_and_the_second_refused_as_stale() {
    use sqlx::Executor;
    if let Some((db, url, ctx)) = on_postgres().await {
        let store = &db.store;
        let id = store.issue_account(&ctx, &new_account("officer-a", Role::SecurityOfficer, None), "").await.unwrap();
        let seen = store.account_by_id(id).await.unwrap().unwrap().session_generation;

        let mut other = holding(&url, &format!("SELECT id FROM account WHERE id = {id} FOR SHARE")).await;
        let change = |hash: &'static str| {
            let (s, me) = (store.clone(), as_person(&ctx, id, "officer-a", Role::SecurityOfficer));
            tokio::spawn(async move { s.change_own_password(&me, id, hash, seen).await })
        };
        let first = change("first-hash");
        waiting_for_locks(&url, 1).await;
        let second = change("second-hash");
        waiting_for_locks(&url, 2).await;
        other.execute("ROLLBACK").await.unwrap();
        assert_eq!(first.await.unwrap().unwrap(), seen + 1);
        assert!(matches!(second.await.unwrap(), Err(StoreError::Stale)));
        assert_eq!(store.account_by_id(id).await.unwrap().unwrap().password_hash, "first-hash");
        db.cleanup().await;
    }
}

/// A sign-in to an account that a long write of its own holds (an import
/// runs): it waited for the write to end, holding its address's lock, and
/// everyone signing in from that address (one NAT) waited behind it. It now
/// gives up after a moment as busy, counting nothing, and the sign-in to
/// another account from the same address goes on while the write still
/// runs; once it has ended, the account's sign-in is checked.
#[tokio::test]
async fn a_sign_in_to_an_account_a_long_write_holds_is_answered_busy_and_keeps_no_one_from_its_address_waiting() {
    use mamori_store::accounts::Gate;
    use sqlx::Executor;
    if let Some((db, url, ctx)) = on_postgres().await {
        let store = &db.store;
        let held = store.issue_account(&ctx, &new_account("held", Role::SecurityOfficer, None), "").await.unwrap();
        let other = store.issue_account(&ctx, &new_account("other", Role::SecurityOfficer, None), "").await.unwrap();
        let policy = mamori_core::policy::LockoutPolicy::default();
        let sign_in = |login: &'static str, id: i64| {
            let (store, policy, now) = (store.clone(), policy, ctx.now);
            tokio::spawn(async move { store.open_signin_attempt(now, "192.0.2.1", login, Some(id), &policy).await })
        };
        let mut write = holding(&url, &format!("SELECT id FROM account WHERE id = {held} FOR SHARE")).await;
        let first = sign_in("held", held);
        waiting_for_locks(&url, 1).await;
        let second = sign_in("other", other);
        let within = |task| tokio::time::timeout(std::time::Duration::from_secs(10), task);
        let gate = within(first).await.expect("given up while the write runs").unwrap().unwrap();
        assert!(matches!(gate, Gate::Busy), "{gate:?}");
        let gate = within(second).await.expect("not kept waiting behind it").unwrap().unwrap();
        assert!(matches!(gate, Gate::Evaluate { reserved: Some(_), .. }), "{gate:?}");
        assert_eq!(store.account_by_id(held).await.unwrap().unwrap().failed_count, 0, "nothing counted");

        write.execute("ROLLBACK").await.unwrap();
        let gate = sign_in("held", held).await.unwrap().unwrap();
        assert!(matches!(gate, Gate::Evaluate { reserved: Some(_), .. }), "{gate:?}");
        db.cleanup().await;
    }
}

/// Two confirmations of one preview at once (two tabs), both stopped at
/// the preview's row, which another connection holds: on PostgreSQL each
/// read the preview without holding it and both took it, the second after
/// the first had deleted it. The row is now held from the read: one takes
/// it, the other finds nothing.
#[tokio::test]
async fn a_preview_confirmed_twice_at_once_is_taken_once() {
    if let Some((db, url, ctx)) = on_postgres().await {
        let store = &db.store;
        let vendor = store.issue_account(&ctx, &new_account("vendor-a", Role::Vendor, None), "").await.unwrap();
        let now = OffsetDateTime::now_utc();
        store.keep_pending_import(vendor, 7, "{}", now).await.unwrap();
        let mark = mamori_store::pending::pending_mark("{}");
        let held = format!("SELECT 1 FROM pending_import WHERE account_id = {vendor} FOR UPDATE");
        let held = mamori_testkit::OpenTx::begin(&url, &held).await;
        let take = || {
            let (s, mark) = (store.clone(), mark.clone());
            tokio::spawn(async move { s.take_pending_import(vendor, 7, now - time::Duration::hours(1), &mark).await })
        };
        let (first, second) = (take(), take());
        waiting_for_locks(&url, 2).await;
        held.roll_back().await;
        let taken = [first.await.unwrap().unwrap(), second.await.unwrap().unwrap()];
        assert_eq!(taken.iter().filter(|t| t.is_some()).count(), 1, "{taken:?}");
        db.cleanup().await;
    }
}
