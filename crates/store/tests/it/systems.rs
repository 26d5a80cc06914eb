use crate::each_backend;
use mamori_core::catalog::SystemAttributes;
use mamori_core::checklist::{AnswerInput, Review, SystemStatus, WorkflowError};
use mamori_core::identity::OrgKind;
use mamori_core::scope::Scope;
use mamori_store::systems::{SystemFilter, SystemInput};
use mamori_store::StoreError;
use mamori_store::{Seen, Store};
use time::OffsetDateTime;

/// Answer `number` of round 1 as a review form shows it now, but at
/// `revision`.
async fn seen_at(store: &Store, id: i64, number: u32, revision: i64) -> Seen {
    let a = store.answer(id, 1, number).await.unwrap().unwrap();
    Seen { revision, ..a.seen() }
}

/// 文書管理システム, a web system of 総務課 built by ベンダーA, on the shipped
/// catalog: (catalog version, vendor, its registration, system id).
async fn vendors_web_system(db: &crate::TestDb, ctx: &mamori_store::identity::Ctx) -> (i64, i64, SystemInput, i64) {
    let catalog = db.store.ensure_catalog(ctx).await.unwrap().unwrap();
    let dept = db.store.create_organisation_audited(ctx, "総務課", OrgKind::Department, "").await.unwrap();
    let vendor = db.store.create_organisation_audited(ctx, "ベンダーA", OrgKind::Vendor, "").await.unwrap();
    let input = SystemInput {
        vendor_id: Some(vendor),
        attrs: SystemAttributes { web_system: true, ..Default::default() },
        urls: vec!["https://docs.example.lg.jp/".into()],
        ..SystemInput::new("文書管理システム", dept)
    };
    let id = db.store.create_system(ctx, &input, catalog).await.unwrap();
    (catalog, vendor, input, id)
}

#[tokio::test]
async fn systems_answers_and_decisions_keep_their_history() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let (catalog, vendor, input, id) = vendors_web_system(&db, &ctx).await;
        assert!(matches!(db.store.create_system(&ctx, &input, catalog).await, Err(StoreError::Taken)), "{}", db.name);
        let s = db.store.system(id).await.unwrap().unwrap();
        assert_eq!(
            (s.status, s.vendor_name.as_deref(), s.input.urls.len()),
            (SystemStatus::NotStarted, Some("ベンダーA"), 1)
        );
        let all = SystemFilter::default();
        let mine = db.store.systems(Scope::Vendor(vendor), &all).await.unwrap();
        assert_eq!(mine.len(), 1);
        let others = db.store.systems(Scope::Vendor(vendor + 100), &all).await.unwrap();
        assert!(others.is_empty());
        // A filter narrows within the scope, never widens it.
        let widened = SystemFilter { vendor_id: Some(vendor), ..Default::default() };
        assert!(db.store.systems(Scope::Vendor(vendor + 100), &widened).await.unwrap().is_empty());
        assert!(db.store.systems(Scope::Nothing, &all).await.unwrap().is_empty());
        let found = db
            .store
            .systems(Scope::All, &SystemFilter { name_contains: Some("文書".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{}", db.name);

        let answer = AnswerInput::done("TLS1.2以上");
        db.store.save_answer(&ctx, id, 57, &answer).await.unwrap();
        assert_eq!(db.store.system(id).await.unwrap().unwrap().status, SystemStatus::Answering);
        // A requirement that does not apply to this system cannot be answered.
        assert!(matches!(db.store.save_answer(&ctx, id, 999, &answer).await, Err(StoreError::Missing)));
        db.store.save_answer(&ctx, id, 57, &AnswerInput { measures: "TLS1.3".into(), ..answer.clone() }).await.unwrap();
        // Submission needs every applicable item answered.
        assert!(matches!(db.store.submit_system(&ctx, id).await, Err(StoreError::Refused(_))));
        let reqs = db.store.catalog(catalog).await.unwrap();
        let others: Vec<u32> = mamori_core::checklist::applicable(&reqs.requirements, &input.attrs, &[])
            .iter()
            .map(|r| r.number)
            .filter(|n| *n != 57)
            .collect();
        for n in &others {
            db.store.save_answer(&ctx, id, *n, &answer).await.unwrap();
        }
        db.store.submit_system(&ctx, id).await.unwrap();
        // Submitted: the vendor can no longer change anything.
        assert!(matches!(db.store.save_answer(&ctx, id, 57, &answer).await, Err(StoreError::Refused(_))));
        // A decision on a revision that is not the current one is stale.
        assert!(matches!(
            db.store.decide(&ctx, id, 57, &seen_at(&db.store, id, 57, 1).await, Review::Returned, "古い版").await,
            Err(StoreError::Stale)
        ));
        db.store
            .decide(&ctx, id, 57, &seen_at(&db.store, id, 57, 2).await, Review::Returned, "証跡を添付してください")
            .await
            .unwrap();
        for n in &others {
            db.store.decide(&ctx, id, *n, &seen_at(&db.store, id, *n, 1).await, Review::Approved, "").await.unwrap();
        }
        assert_eq!(db.store.finish_review(&ctx, id).await.unwrap(), SystemStatus::Returned);
        let answers = db.store.answers(id, 1).await.unwrap();
        let a57 = answers.iter().find(|a| a.number == 57).unwrap();
        assert_eq!((a57.revision, a57.review), (2, Review::Returned), "{}", db.name);
        db.store.save_answer(&ctx, id, 57, &answer).await.unwrap();
        let answers = db.store.answers(id, 1).await.unwrap();
        let a = answers.iter().find(|a| a.number == 57).unwrap();
        assert!(a.revised_after_return);
        assert_eq!(a.review, Review::Pending, "answered again: back with the officer");
        db.store.submit_system(&ctx, id).await.unwrap();
        assert_eq!(
            db.store.answers(id, 1).await.unwrap().iter().find(|a| a.number == 57).unwrap().review,
            Review::Pending,
            "resubmitted items await a decision"
        );
        let kinds: Vec<&str> = db
            .store
            .history(id, 1)
            .await
            .unwrap()
            .into_iter()
            .filter(|h| h.number == 57 || h.number == 0)
            .map(|h| h.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            ["answer", "answer", "submit", "return", "review_finished", "answer", "submit"],
            "{}",
            db.name
        );

        // With the officer, what applies does not change; once decided, it
        // does (for the next round).
        let r = db.store.set_override(&ctx, id, 72, true, "クラウドを一部利用").await;
        assert!(matches!(r, Err(StoreError::Refused(WorkflowError::ScopeSubmitted(ref n))) if n == &[72]), "{r:?}");
        assert!(db.store.overrides(id).await.unwrap().is_empty(), "{}", db.name);
        db.store.decide(&ctx, id, 57, &seen_at(&db.store, id, 57, 3).await, Review::Approved, "").await.unwrap();
        assert_eq!(db.store.finish_review(&ctx, id).await.unwrap(), SystemStatus::Approved);
        db.store.set_override(&ctx, id, 72, true, "クラウドを一部利用").await.unwrap();
        db.store.set_override(&ctx, id, 72, false, "利用をやめた").await.unwrap();
        let o = db.store.overrides(id).await.unwrap();
        assert_eq!((o.len(), o[0].applies, o[0].reason.as_str()), (1, false, "利用をやめた"));
        assert!(matches!(db.store.audit_verify().await.unwrap(), mamori_store::audit::Verification::Intact { .. }));
        db.cleanup().await;
    }
}

/// A vendor's request is checked against the system as it stood a moment
/// before the write; the officer gives the system to another vendor in
/// between. Under the system's lock the first vendor no longer sees it:
/// each of their writes (an answer, a record, a component, removing one
/// of theirs) is refused as missing and changes nothing; the new vendor,
/// the console and a disabled account are as they should be.
#[tokio::test]
async fn a_write_by_someone_who_no_longer_sees_the_system_is_refused_under_its_lock() {
    use mamori_core::audit::{Actor, Origin};
    use mamori_core::identity::Role;
    use mamori_core::inventory::{ComponentInput, ComponentKind};
    use mamori_core::records::{RecordKind, Values};
    use mamori_store::identity::Ctx;
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let ctx = crate::system_ctx(now);
        let catalog = db.store.ensure_catalog(&ctx).await.unwrap().unwrap();
        let dept = db.store.create_organisation_audited(&ctx, "総務課", OrgKind::Department, "").await.unwrap();
        let first = db.store.create_organisation_audited(&ctx, "ベンダーA", OrgKind::Vendor, "").await.unwrap();
        let second = db.store.create_organisation_audited(&ctx, "ベンダーB", OrgKind::Vendor, "").await.unwrap();
        let input = SystemInput { vendor_id: Some(first), ..SystemInput::new("文書管理システム", dept) };
        let id = db.store.create_system(&ctx, &input, catalog).await.unwrap();
        let person = async |login: &str, org: i64| {
            let new = crate::new_account(login, Role::Vendor, Some(org));
            let account = db.store.issue_account(&ctx, &new, "t").await.unwrap();
            Ctx {
                now,
                actor: Actor { account_id: Some(account), login: login.into() },
                origin: Origin::default(),
                standing: None,
            }
        };
        let (a, b) = (person("vendor-a", first).await, person("vendor-b", second).await);
        let values = Values([("name".to_owned(), "担当".to_owned())].into());
        let component = ComponentInput {
            kind: ComponentKind::Middleware,
            product: "nginx".into(),
            vendor: "f5".into(),
            version: "1.26.2".into(),
            runs_on: "web01".into(),
            cpe: None,
            support_end: None,
            reason: String::new(),
        };
        let no_docs = mamori_store::records::Keeper::vendor(first, &[]);
        db.store.save_answer(&a, id, 1, &AnswerInput::done("対応")).await.unwrap();
        let record = db.store.save_record(&a, id, None, RecordKind::Contact, &values, no_docs).await.unwrap();
        let part = db.store.save_component(&a, id, None, &component).await.unwrap();

        db.store.update_system(&ctx, id, &SystemInput { vendor_id: Some(second), ..input.clone() }).await.unwrap();
        let before = (
            db.store.answers(id, 1).await.unwrap(),
            db.store.records(id).await.unwrap(),
            db.store.components(id).await.unwrap(),
        );
        let refused = |r: Result<(), StoreError>, what: &str| {
            assert!(matches!(r, Err(StoreError::Missing)), "{}: {what}: {r:?}", db.name);
        };
        refused(db.store.save_answer(&a, id, 1, &AnswerInput::done("変更")).await, "an answer");
        refused(db.store.save_record(&a, id, None, RecordKind::Contact, &values, no_docs).await.map(drop), "a record");
        refused(db.store.save_component(&a, id, None, &component).await.map(drop), "a component");
        refused(db.store.remove_record(&a, id, record, Some(no_docs)).await, "removing a record");
        refused(db.store.remove_component(&a, id, part).await, "removing a component");
        // Before, a sign-off of the year's reviews and a scan request were
        // taken from someone who no longer saw the system.
        let year = now.year();
        let review = mamori_core::yearly::SignoffKind::AdminAccounts;
        refused(db.store.add_signoff(&a, id, year, review, "棚卸し済み").await, "a sign-off");
        refused(db.store.request_scan(&a, id, None).await.map(drop), "a scan request");
        assert!(db.store.signoffs(id, year).await.unwrap().is_empty(), "{}", db.name);
        assert!(db.store.scans(id, 10).await.unwrap().is_empty(), "{}", db.name);
        let after = (
            db.store.answers(id, 1).await.unwrap(),
            db.store.records(id).await.unwrap(),
            db.store.components(id).await.unwrap(),
        );
        assert_eq!(after, before, "{}: nothing changed", db.name);

        // The vendor it went to writes; so does the console.
        db.store
            .save_record(&b, id, None, RecordKind::Contact, &values, mamori_store::records::Keeper::vendor(second, &[]))
            .await
            .unwrap();
        db.store.save_answer(&ctx, id, 1, &AnswerInput::done("コンソール")).await.unwrap();
        db.store.add_signoff(&b, id, year, review, "棚卸し済み").await.unwrap();
        db.store.request_scan(&b, id, None).await.unwrap();
        // A disabled account writes nothing, even to a system it sees.
        db.store.disable_inactive(&crate::system_ctx(now), now + time::Duration::days(1), "t").await.unwrap();
        refused(db.store.save_answer(&b, id, 1, &AnswerInput::done("停止後")).await, "a disabled account");
        db.cleanup().await;
    }
}

/// On PostgreSQL, a new revision of a library document uploaded while the
/// office starts the next round of a system that shows it: the upload read
/// the document's links and the system's round before the round's start
/// was committed, took the approved round's link for the open round's and
/// let it follow the new revision (the approved round then showed a file
/// nobody approved), and left the new round's copy of the link unseen. The
/// round's start is held at the audit log's head (a second connection holds
/// it) while the upload comes; the upload now waits for the system first.
#[tokio::test]
async fn a_new_revision_uploaded_as_the_next_round_starts_leaves_the_approved_round_as_it_was() {
    use mamori_store::library::NewDocFile;
    use sqlx::Executor;
    for db in each_backend().await {
        let Some(url) = db.pg_url.clone() else {
            db.cleanup().await;
            continue;
        };
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let (catalog, vendor, input, sys) = vendors_web_system(&db, &ctx).await;
        let reqs = db.store.catalog(catalog).await.unwrap();
        for r in mamori_core::checklist::applicable(&reqs.requirements, &input.attrs, &[]) {
            db.store.save_answer(&ctx, sys, r.number, &AnswerInput::done("実施")).await.unwrap();
        }
        let file = |name: &'static str| NewDocFile {
            original_name: name,
            content_type: "text/plain",
            sha256: "0",
            expires_on: None,
            content: b"x",
        };
        let doc = db.store.add_document(&ctx, vendor, "体制図", &file("chart-1.txt")).await.unwrap();
        db.store.link_document(&ctx, doc, vendor, sys, 57, false).await.unwrap();
        db.store.submit_system(&ctx, sys).await.unwrap();
        for a in db.store.answers(sys, 1).await.unwrap() {
            db.store.decide(&ctx, sys, a.number, &a.seen(), Review::Approved, "").await.unwrap();
        }
        assert_eq!(db.store.finish_review(&ctx, sys).await.unwrap(), SystemStatus::Approved);

        let mut other = crate::vulns::holding_the_audit_head(&url).await;
        let (store, c) = (db.store.clone(), ctx.clone());
        let round = tokio::spawn(async move { store.start_round(&c, sys, None).await });
        mamori_testkit::waiting_for_locks(&url, 1).await;
        let (store, c) = (db.store.clone(), ctx.clone());
        let revise =
            tokio::spawn(async move { store.add_document_revision(&c, doc, vendor, &file("chart-2.txt")).await });
        mamori_testkit::waiting_for_locks(&url, 2).await;
        other.execute("ROLLBACK").await.unwrap();
        assert_eq!(round.await.unwrap().unwrap(), 2);
        assert_eq!(revise.await.unwrap().unwrap(), 2);

        let shows =
            |links: Vec<mamori_store::library::DocLink>| links.iter().map(|l| l.shows.revision).collect::<Vec<_>>();
        assert_eq!(shows(db.store.document_links(sys, 1).await.unwrap()), [1], "the approved round as it was approved");
        assert_eq!(shows(db.store.document_links(sys, 2).await.unwrap()), [2], "the open round follows");
        let carried = db.store.answers(sys, 1).await.unwrap().into_iter().find(|a| a.number == 57).unwrap().revision;
        let now = db.store.answers(sys, 2).await.unwrap().into_iter().find(|a| a.number == 57).unwrap().revision;
        assert_eq!(now, carried + 2, "carried (+1), then changed by the new revision (+1)");
        db.cleanup().await;
    }
}

/// The rounds started together from the list of approved systems: the
/// status was judged on a read before the system's lock, and the store
/// starts a round from 提出済 too, so a system submitted meanwhile had its
/// unreviewed submission closed by a new round. Now judged under the lock:
/// a submitted system is left with the officer, its round as it was.
#[tokio::test]
async fn a_round_started_with_the_approved_ones_leaves_a_submitted_system_with_the_officer() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let (catalog, _, input, id) = vendors_web_system(&db, &ctx).await;
        let reqs = db.store.catalog(catalog).await.unwrap();
        let answer = AnswerInput::done("対応済み");
        for r in mamori_core::checklist::applicable(&reqs.requirements, &input.attrs, &[]) {
            db.store.save_answer(&ctx, id, r.number, &answer).await.unwrap();
        }
        db.store.submit_system(&ctx, id).await.unwrap();
        let r = db.store.start_approved_round(&ctx, id, None).await;
        let not_now = WorkflowError::NotNow(SystemStatus::Submitted);
        assert!(matches!(r, Err(StoreError::Refused(ref w)) if *w == not_now), "{}: {r:?}", db.name);
        let s = db.store.system(id).await.unwrap().unwrap();
        assert_eq!((s.round, s.status), (1, SystemStatus::Submitted), "{}", db.name);
        assert_eq!(db.store.start_round(&ctx, id, None).await.unwrap(), 2, "{}: one system, on purpose", db.name);
    }
}

/// One evidence file removed by two requests at once (two clicks; a
/// removal and a replacement): both read it before the system's lock, and
/// on PostgreSQL the second deleted nothing yet wrote a history line, an
/// `evidence.removed` event and a new answer revision. The second finds
/// nothing to remove.
#[tokio::test]
async fn a_file_removed_twice_at_once_is_removed_once_with_one_event() {
    use mamori_store::evidence::NewEvidence;
    use sqlx::{Connection, Executor};
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let (_, _, _, sys) = vendors_web_system(&db, &ctx).await;
        db.store.save_answer(&ctx, sys, 1, &AnswerInput::done("実施")).await.unwrap();
        let new = NewEvidence {
            number: 1,
            original_name: "ID管理簿.pdf",
            content_type: "application/pdf",
            sha256: &"0f".repeat(32),
            expires_on: None,
            content: b"%PDF-1.4",
            replaces: None,
            by: None,
        };
        let file = db.store.add_evidence(&ctx, sys, &new).await.unwrap();
        let revision = db.store.answer(sys, 1, 1).await.unwrap().unwrap().revision;
        let (first, second) = match db.pg_url.clone() {
            Some(url) => {
                // The system's row held: both removals read the file, then wait.
                let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
                other.execute("BEGIN").await.unwrap();
                other.execute(sqlx::query("SELECT id FROM system WHERE id = $1 FOR UPDATE").bind(sys)).await.unwrap();
                let remove = || {
                    let (store, c) = (db.store.clone(), ctx.clone());
                    tokio::spawn(async move { store.remove_evidence(&c, sys, file, None).await })
                };
                let first = remove();
                mamori_testkit::waiting_for_locks(&url, 1).await;
                let second = remove();
                mamori_testkit::waiting_for_locks(&url, 2).await;
                other.execute("ROLLBACK").await.unwrap();
                (first.await.unwrap(), second.await.unwrap())
            }
            None => (
                db.store.remove_evidence(&ctx, sys, file, None).await,
                db.store.remove_evidence(&ctx, sys, file, None).await,
            ),
        };
        let outcomes = [&first, &second].map(|r| match r {
            Ok(()) => "removed",
            Err(mamori_store::StoreError::Missing) => "missing",
            Err(e) => panic!("{}: {e:?}", db.name),
        });
        let mut sorted = outcomes;
        sorted.sort();
        assert_eq!(sorted, ["missing", "removed"], "{}", db.name);
        let only = mamori_store::auditlog::AuditFilter {
            action: Some("evidence.removed".into()),
            ..mamori_store::auditlog::AuditFilter::default()
        };
        let events = db.store.audit_page(&only, None, 100).await.unwrap().len();
        assert_eq!(events, 1, "{}", db.name);
        let after = db.store.answer(sys, 1, 1).await.unwrap().unwrap().revision;
        assert_eq!(after, revision + 1, "{}: one change to the answer", db.name);
        db.cleanup().await;
    }
}

/// A row under the id `table`'s next insert is to take, written by another
/// connection and left uncommitted: that insert waits for it.
async fn holding_the_next_id(url: &str, table: &str, columns: &str, values: &str) -> mamori_testkit::OpenTx {
    let sql = format!(
        "INSERT INTO {table} (id, {columns}) OVERRIDING SYSTEM VALUE SELECT last_value + 1, {values} FROM {table}_id_seq"
    );
    mamori_testkit::OpenTx::begin(url, &sql).await
}

/// Another audited write goes through within ten seconds.
async fn written_meanwhile(store: &Store) {
    use mamori_core::audit::{Action, Actor, NewEvent, Origin, Outcome};
    let other = NewEvent::new(Actor::system(), Origin::default(), Action::ServerStart, Outcome::Success);
    let meanwhile = store.audit_record(OffsetDateTime::now_utc(), other);
    let written = tokio::time::timeout(std::time::Duration::from_secs(10), meanwhile).await;
    written.expect("another audited write while the file is stored").unwrap();
}

/// The newest `n` actions of the audit log, oldest first.
async fn last_actions(store: &Store, n: i64) -> Vec<String> {
    store.audit_recent(n).await.unwrap().into_iter().rev().map(|e| e.record.action).collect()
}

/// A file replaced on PostgreSQL appended the replaced file's event, and a
/// library document revised the events of the answers that follow it, and
/// so took the audit log's head, before they inserted the new file: while
/// a file of many MB went in, every audited write of every instance
/// waited. Here each insert is held (another connection has written,
/// uncommitted, a row under the id the new file is to take) and another
/// audited write goes through meanwhile; the events of the replacement and
/// of the revision follow it in the log, in their order.
#[tokio::test]
async fn a_file_replaced_or_a_document_revised_keeps_no_other_audited_write_waiting_while_it_is_stored() {
    use mamori_store::evidence::NewEvidence;
    use mamori_store::library::NewDocFile;
    for db in each_backend().await {
        let Some(url) = db.pg_url.clone() else {
            db.cleanup().await;
            continue;
        };
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let (_, vendor, _, sys) = vendors_web_system(&db, &ctx).await;
        db.store.save_answer(&ctx, sys, 1, &AnswerInput::done("実施")).await.unwrap();
        let file = |replaces| NewEvidence {
            number: 1,
            original_name: "ID管理簿.pdf",
            content_type: "application/pdf",
            sha256: "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f",
            expires_on: None,
            content: b"%PDF-1.4",
            replaces,
            by: None,
        };
        let first = db.store.add_evidence(&ctx, sys, &file(None)).await.unwrap();
        let columns =
            "system_id, round, number, original_name, content_type, size, sha256, uploaded_at_us, uploaded_by";
        let values = format!("{sys}, 1, 1, 'held', 'text/plain', 0, '00', 0, 'test'");
        let held = holding_the_next_id(&url, "evidence", columns, &values).await;
        let (store, c) = (db.store.clone(), ctx.clone());
        let replace = tokio::spawn(async move { store.add_evidence(&c, sys, &file(Some(first))).await });
        mamori_testkit::waiting_for_locks(&url, 1).await;
        written_meanwhile(&db.store).await;
        held.roll_back().await;
        replace.await.unwrap().unwrap();
        let want = ["server.start", "evidence.removed", "evidence.uploaded"];
        assert_eq!(last_actions(&db.store, 3).await, want, "{}", db.name);

        let doc = |name| NewDocFile {
            original_name: name,
            content_type: "text/plain",
            sha256: "0",
            expires_on: None,
            content: b"x",
        };
        let id = db.store.add_document(&ctx, vendor, "体制図", &doc("chart-1.txt")).await.unwrap();
        db.store.link_document(&ctx, id, vendor, sys, 57, false).await.unwrap();
        let columns = "document_id, revision, original_name, content_type, size, sha256, uploaded_at_us, uploaded_by";
        let held =
            holding_the_next_id(&url, "document_revision", columns, &format!("{id}, 99, 'held', 'x', 0, '0', 0, 'x'"))
                .await;
        let (store, c) = (db.store.clone(), ctx.clone());
        let revise =
            tokio::spawn(async move { store.add_document_revision(&c, id, vendor, &doc("chart-2.txt")).await });
        mamori_testkit::waiting_for_locks(&url, 1).await;
        written_meanwhile(&db.store).await;
        held.roll_back().await;
        assert_eq!(revise.await.unwrap().unwrap(), 2);
        let want = ["server.start", "answer.saved", "document.uploaded"];
        assert_eq!(last_actions(&db.store, 3).await, want, "{}", db.name);
        db.cleanup().await;
    }
}

/// A page of a round's history is read alone: its lines, and of each item
/// they revise the answer revision before them (what the first of them
/// changed), however far back; an item first answered on the page has none.
/// One item's history pages the same way.
#[tokio::test]
async fn a_page_of_history_reads_its_lines_and_the_revision_before_them_of_each_item_they_revise() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let (_, _, _, id) = vendors_web_system(&db, &ctx).await;
        for (number, text) in [(1, "a1"), (2, "b1"), (1, "a2"), (3, "c1"), (2, "b2"), (1, "a3")] {
            db.store.save_answer(&ctx, id, number, &AnswerInput::done(text)).await.unwrap();
        }
        let whole = db.store.history(id, 1).await.unwrap();
        assert_eq!(db.store.history_len(id, 1, None).await.unwrap(), whole.len(), "{}", db.name);
        let start = whole.iter().position(|e| e.measures == "c1").unwrap();
        let page = db.store.history_lines(id, 1, None, start..whole.len()).await.unwrap();
        assert_eq!(page.lines, whole[start..], "{}", db.name);
        let mut before: Vec<(u32, &str)> = page.before.iter().map(|e| (e.number, e.measures.as_str())).collect();
        before.sort();
        assert_eq!(before, [(1, "a2"), (2, "b1")], "{}: item 3 had none before", db.name);

        assert_eq!(db.store.history_len(id, 1, Some(1)).await.unwrap(), 3, "{}", db.name);
        let own = db.store.history_lines(id, 1, Some(1), 1..3).await.unwrap();
        let texts =
            |es: &[mamori_store::systems::HistoryEntry]| es.iter().map(|e| e.measures.clone()).collect::<Vec<_>>();
        assert_eq!(texts(&own.lines), ["a2", "a3"], "{}", db.name);
        assert_eq!(texts(&own.before), ["a1"], "{}", db.name);
        let past = db.store.history_lines(id, 1, Some(1), 3..503).await.unwrap();
        assert!(past.lines.is_empty() && past.before.is_empty(), "{}: past the end, nothing", db.name);
        db.cleanup().await;
    }
}
