//! Account administration through the screens (items 1, 3, 6, 7, 50, 65).

use crate::harness::{hidden_in, vendor_account_form, vendor_change_form, App, Options, INITIAL_PASSWORD, PASSWORD};
use mamori_core::identity::{OrgKind, Role};
use reqwest::StatusCode;

#[tokio::test]
async fn admin_issues_an_account_that_must_choose_its_own_password() {
    for app in App::each(Options::default()).await {
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let dept = app.org("総務課", OrgKind::Department).await;
        let org = vendor.to_string();
        let (admin, _) = app.signed_in("admin1", Role::Admin, None).await;
        admin.get("/admin/users/new").await;
        // Bad input: every problem named, nothing created, what was typed kept (passwords aside).
        let bad = admin
            .post(
                "/admin/users",
                &[
                    ("login", "Taro Yamada"),
                    ("display_name", "山田 太郎"),
                    ("email", "taro@"),
                    ("role", "vendor"),
                    ("organisation_id", &dept.to_string()),
                    ("new_password", INITIAL_PASSWORD),
                    ("confirm_password", "Initial-Pass-2"),
                    ("reason", ""),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::OK);
        for msg in [
            "ユーザIDに使えない文字",
            "メールアドレスの形式",
            "一致しません",
            "理由を入力してください",
            "種別が「事業者」",
        ] {
            assert!(bad.body.contains(msg), "{}: {msg} missing", app.backend);
        }
        assert!(bad.body.contains("山田 太郎"), "typed values are kept");
        assert!(!bad.body.contains(INITIAL_PASSWORD), "passwords are not");
        assert_eq!(app.store.accounts().await.unwrap().len(), 1, "{}: nothing created", app.backend);

        let ok = admin
            .post(
                "/admin/users",
                &vendor_account_form("taro.yamada", "山田 太郎", "taro@vendor.example.jp", &org, "保守契約の担当者"),
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, ok.body);
        let detail = admin.get(ok.location()).await;
        assert!(detail.body.contains("アカウントを発行しました"));
        assert!(detail.body.contains("保守契約の担当者"), "the ledger shows the reason");
        // Same login again: refused with a clear message.
        admin.get("/admin/users/new").await;
        let dup = admin
            .post("/admin/users", &vendor_account_form("TARO.YAMADA", "別人", "b@vendor.example.jp", &org, "重複"))
            .await;
        assert!(dup.body.contains("既に使われています"), "{}", app.backend);
        // A name the server records its own actions under is no person's.
        admin.get("/admin/users/new").await;
        let form = vendor_account_form("Scanner", "偽のスキャナ", "s@vendor.example.jp", &org, "試し");
        let reserved = admin.post("/admin/users", &form).await;
        assert_eq!(reserved.status, StatusCode::OK, "{}", app.backend);
        assert!(reserved.body.contains("サーバ自身の記録に使う名前"), "{}", app.backend);
        assert!(app.store.accounts().await.unwrap().iter().all(|a| a.login.as_str() != "scanner"), "{}", app.backend);

        let vendor_client = app.client();
        let r = vendor_client.sign_in(&app, "taro.yamada", INITIAL_PASSWORD, None).await;
        assert_eq!(r.location(), "/password", "{}: the initial password must be changed", app.backend);
        vendor_client.get("/password").await;
        let r = vendor_client.change_password(INITIAL_PASSWORD, PASSWORD).await;
        assert_eq!(r.location(), "/account/totp", "{}: then a vendor enrols its second factor", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn item_7_a_change_of_role_or_organisation_ends_the_persons_sessions() {
    for app in App::each(Options::default()).await {
        let vendor_a = app.org("ベンダーA", OrgKind::Vendor).await;
        let vendor_b = app.org("ベンダーB", OrgKind::Vendor).await;
        let (admin, _) = app.signed_in("admin1", Role::Admin, None).await;
        let (person, id) = app.signed_in("moving", Role::Vendor, Some(vendor_a)).await;
        assert_eq!(person.get("/dashboard").await.status, StatusCode::OK);
        let seen = hidden_in(&admin.get(&format!("/admin/users/{id}/edit")).await.body, "seen");
        let r = admin
            .post(
                &format!("/admin/users/{id}"),
                &vendor_change_form("moving さん", "moving@example.lg.jp", &vendor_b.to_string(), "人事異動", &seen),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(person.get("/dashboard").await.location(), "/login", "{}: the old grant ended at once", app.backend);
        let ledger = admin.get("/admin/ledger").await;
        assert!(
            ledger.body.contains("所属の変更") && ledger.body.contains("ベンダーB") && ledger.body.contains("人事異動")
        );

        // Disabling also ends sessions, and the account cannot sign in.
        let (person, id) = app.signed_in("leaving", Role::Vendor, Some(vendor_a)).await;
        admin.get(&format!("/admin/users/{id}")).await;
        let r = admin.post(&format!("/admin/users/{id}/disable"), &[("reason", "退職")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(person.get("/dashboard").await.location(), "/login");
        let again = app.client().sign_in(&app, "leaving", PASSWORD, None).await;
        assert!(again.body.contains("ユーザIDもしくはパスワードが違います"));
        app.close().await;
    }
}

#[tokio::test]
async fn item_50_markup_typed_into_fields_is_shown_escaped() {
    for app in App::each(Options::default()).await {
        let (admin, _) = app.signed_in("admin1", Role::Admin, None).await;
        let evil = "<script>alert(1)</script>\"'&";
        admin.get("/admin/organisations").await;
        let r = admin.post("/admin/organisations", &[("name", evil), ("kind", "vendor"), ("contact", evil)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let org = app.store.organisations().await.unwrap()[0].id;
        admin.get("/admin/users/new").await;
        let r = admin
            .post("/admin/users", &vendor_account_form("victim", evil, "v@example.jp", &org.to_string(), evil))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let detail = r.location().to_owned();
        for path in ["/admin/users", detail.as_str(), "/admin/ledger", "/admin/organisations", "/admin/access-review"] {
            let body = admin.get(path).await.body;
            assert!(!body.contains("<script>alert"), "{}: {path} shows raw markup", app.backend);
            assert!(body.contains("&lt;script&gt;") || body.contains("&#60;script&#62;"), "{}: {path}", app.backend);
        }
        // A bad form re-rendered with the markup keeps it escaped too.
        admin.get("/admin/users/new").await;
        let r = admin.post("/admin/users", &[("login", evil), ("display_name", evil), ("reason", evil)]).await;
        assert!(!r.body.contains("<script>alert"));
        app.close().await;
    }
}

#[tokio::test]
async fn items_3_7_ledger_exports_and_access_review_sign_off() {
    for app in App::each(Options::default()).await {
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let csv = officer.http.get(format!("{}/admin/ledger.csv", app.base)).send().await.unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        assert_eq!(csv.headers().get("content-type").unwrap(), "text/csv; charset=utf-8");
        assert!(csv.headers().get("content-disposition").unwrap().to_str().unwrap().contains("attachment"));
        let bytes = csv.bytes().await.unwrap();
        assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 with BOM");
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert!(text.starts_with("日時,ユーザID,氏名,変更内容"), "{text}");
        assert!(text.contains("officer1,officer1 さん,発行"), "the person's name beside the ID: {text}");
        assert!(text.contains("情報セキュリティ担当") && !text.contains("security-officer"), "roles by name: {text}");
        let sjis = officer.http.get(format!("{}/admin/ledger.csv?encoding=sjis", app.base)).send().await.unwrap();
        let bytes = sjis.bytes().await.unwrap();
        let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad && decoded.starts_with("日時,ユーザID"), "Shift_JIS");
        let xlsx = officer.http.get(format!("{}/admin/ledger.xlsx", app.base)).send().await.unwrap();
        assert_eq!(
            xlsx.headers().get("content-type").unwrap(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(&xlsx.bytes().await.unwrap()[..2], b"PK");
        assert_eq!(app.audit_actions().await.iter().filter(|a| *a == "ledger.exported").count(), 3);

        // The access review: an empty comment is refused, a real one recorded.
        let review = async |comment: &str| {
            officer.post_from("/admin/access-review", "/admin/access-review", &["shown"], &[("comment", comment)]).await
        };
        let r = review(" ").await;
        assert!(r.body.contains("所見を入力してください"), "{}", app.backend);
        // An account issued after the page was opened: not signed off unseen.
        let page = officer.get("/admin/access-review").await.body;
        let shown = crate::harness::hidden_in(&page, "shown");
        app.issue("late-one", Role::Vendor, None).await;
        let r = officer.post("/admin/access-review", &[("comment", "不要アカウントなし"), ("shown", &shown)]).await;
        assert!(r.body.contains("この画面を開いた後にアカウントが発行"), "{}: {}", app.backend, r.body);
        assert!(app.store.access_reviews().await.unwrap().is_empty(), "{}: nothing signed off", app.backend);
        let r = review("不要アカウントなし").await;
        assert_eq!(r.location(), "/admin/access-review");
        let page = officer.get("/admin/access-review").await;
        assert!(page.body.contains("不要アカウントなし") && page.body.contains("officer1"));
        assert_eq!(app.store.access_reviews().await.unwrap().len(), 1);

        // An auditor reads, and cannot sign off.
        let (auditor, _) = app.signed_in("auditor1", Role::Auditor, None).await;
        let page = auditor.get("/admin/access-review").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("action=\"/admin/access-review\""));
        app.close().await;
    }
}

#[tokio::test]
async fn the_users_list_and_the_ledger_show_fifty_a_page() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    for i in 1..=54 {
        app.issue(&format!("staff{i:02}"), Role::Auditor, None).await;
    }
    let rows = |body: &str| {
        body.split("<tbody>").nth(1).unwrap_or("").split("</tbody>").next().unwrap().matches("<tr").count()
    };
    let first = officer.get("/admin/users").await.body;
    assert_eq!(rows(&first), 50, "{first}");
    assert!(first.contains("href=\"/admin/users?page=2\" rel=\"next\"") && first.contains("1 / 2"), "{first}");
    let second = officer.get("/admin/users?page=2").await.body;
    assert_eq!(rows(&second), 5, "55 accounts in all");
    assert!(second.contains("href=\"/admin/users?page=1\" rel=\"prev\""));

    let ledger = officer.get("/admin/ledger").await.body;
    assert_eq!(rows(&ledger), 50);
    let newest = ledger.find("staff54").expect("the newest line");
    assert!(ledger.find("staff05").is_none_or(|older| newest < older), "newest first");
    assert_eq!(rows(&officer.get("/admin/ledger?page=2").await.body), 5);
    let hostile = officer.get("/admin/ledger?page=-1%27").await;
    assert_eq!((hostile.status, rows(&hostile.body)), (StatusCode::OK, 50), "an odd page is the first");
    app.close().await;
}

/// A heading sorts its list, a second click the other way, the order kept
/// from page to page, with `aria-sort` saying which.
#[tokio::test]
async fn the_users_list_and_the_ledger_sort_by_their_headings_both_ways_across_pages() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    for i in 1..=54 {
        app.issue(&format!("staff{i:02}"), Role::Auditor, None).await;
    }
    let logins = |body: &str| -> Vec<String> {
        let rows = body.split("<tbody>").nth(1).unwrap_or("").split("</tbody>").next().unwrap().to_owned();
        rows.split("<tr")
            .skip(1)
            .map(|r| r.split("\">").nth(1).unwrap().split('<').next().unwrap().to_owned())
            .collect()
    };

    let desc = officer.get("/admin/users?sort=login&dir=desc").await.body;
    let first = logins(&desc);
    assert_eq!(first.len(), 50);
    assert_eq!(first[0], "staff54");
    assert!(first.windows(2).all(|w| w[0] >= w[1]), "descending: {first:?}");
    assert!(desc.contains("<th aria-sort=\"descending\"><a href=\"/admin/users?sort=login&#38;dir=asc\">"), "{desc}");
    assert!(desc.contains("<th aria-sort=\"none\"><a href=\"/admin/users?sort=role&#38;dir=asc\">"), "{desc}");
    assert!(desc.contains("href=\"/admin/users?sort=login&#38;dir=desc&#38;page=2\" rel=\"next\""), "{desc}");
    let rest = logins(&officer.get("/admin/users?sort=login&dir=desc&page=2").await.body);
    assert_eq!(rest, ["staff04", "staff03", "staff02", "staff01", "officer1"], "the order carries on");
    let asc = logins(&officer.get("/admin/users?sort=login&dir=asc").await.body);
    assert_eq!(asc[0], "officer1");
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "ascending: {asc:?}");

    // The ledger: newest first by default, the time heading turns it round.
    let ledger = officer.get("/admin/ledger").await.body;
    assert!(ledger.contains("<th aria-sort=\"descending\"><a href=\"/admin/ledger?sort=at&#38;dir=asc\">"), "{ledger}");
    let oldest = officer.get("/admin/ledger?sort=at&dir=asc").await.body;
    let (a, b) = (oldest.find(">officer1<").unwrap(), oldest.find(">staff01<").unwrap());
    assert!(a < b, "oldest first");
    let by_login = officer.get("/admin/ledger?sort=login&dir=desc").await.body;
    assert!(by_login.find(">staff54<").unwrap() < by_login.find(">staff53<").unwrap());
    assert!(by_login.contains("aria-sort=\"descending\"><a href=\"/admin/ledger?sort=login&#38;dir=asc\">"));
    let odd = officer.get("/admin/users?sort=%27;drop&dir=sideways").await;
    assert_eq!((odd.status, logins(&odd.body).len()), (StatusCode::OK, 50), "an unknown order is the stored one");
    app.close().await;
}

/// An account's page shows the person, never the password hash or the
/// second factor's secret (they are not even in the template's reach).
#[tokio::test]
async fn an_accounts_page_never_shows_its_password_hash_or_second_factor_secret() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (admin, _) = app.signed_in("admin1", Role::Admin, None).await;
    let org = app.org("ベンダーA", OrgKind::Vendor).await;
    let (id, secret) = app.user("vendor-a", Role::Vendor, Some(org)).await;
    let a = app.store.account_by_id(id).await.unwrap().unwrap();
    let page = admin.get(&format!("/admin/users/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("vendor-a") && page.body.contains("ベンダーA"), "{}", page.body);
    assert!(!page.body.contains(&a.password_hash) && !page.body.contains("$argon2"), "no hash");
    assert!(!page.body.contains(&secret.expect("a vendor's second factor")), "no secret");
    app.close().await;
}

/// Two administrators each disable the other at the same moment: each
/// check saw the other still there and both went through, leaving no
/// administrator (and first-run setup open again). Exactly one goes
/// through now (the other is refused with a message, or finds its session
/// ended), and the console cannot disable the last one either.
#[tokio::test]
async fn two_administrators_disabling_each_other_at_once_leave_one_and_the_last_is_kept() {
    for app in App::each(Options::default()).await {
        let (a, a_id) = app.signed_in("admin-a", Role::Admin, None).await;
        let (b, b_id) = app.signed_in("admin-b", Role::Admin, None).await;
        a.get(&format!("/admin/users/{b_id}")).await;
        b.get(&format!("/admin/users/{a_id}")).await;
        let (to_b, to_a) = (format!("/admin/users/{b_id}/disable"), format!("/admin/users/{a_id}/disable"));
        let (ra, rb) = tokio::join!(a.post(&to_b, &[("reason", "異動")]), b.post(&to_a, &[("reason", "異動")]));
        let done =
            |r: &crate::harness::Res| r.status == StatusCode::SEE_OTHER && r.location().starts_with("/admin/users/");
        assert_eq!([&ra, &rb].iter().filter(|r| done(r)).count(), 1, "{}: {} / {}", app.backend, ra.status, rb.status);
        // The other is refused, or, when the first had ended its session
        // before it was read, sent to sign in again.
        let other = if done(&ra) { &rb } else { &ra };
        let refused = other.body.contains("有効な管理者が 1 人もいなくなる");
        let signing_in = ["/login", "/login?changed=1"].contains(&other.location());
        assert!(refused || signing_in, "{}: {} {}", app.backend, other.status, other.body);
        let admins = app.store.accounts().await.unwrap();
        let enabled = admins.iter().filter(|x| x.role == Role::Admin && x.disabled_at.is_none()).count();
        assert_eq!(enabled, 1, "{}", app.backend);
        let last = admins.iter().find(|x| x.role == Role::Admin && x.disabled_at.is_none()).unwrap().id;
        let refused = app.store.set_account_disabled(&app.system_ctx(), last, true, "console").await;
        assert!(matches!(refused, Err(mamori_store::StoreError::LastAdministrator)), "{}: {refused:?}", app.backend);
        app.close().await;
    }
}

/// Two administrators edit one account from forms shown before either
/// saved. The second save used to go through on the copy it had read and
/// undo the first: a vendor's staff member moved to another company was
/// moved back by an unrelated change of name, and the ledger recorded a
/// "before" that was not. Now exactly one of two saves at once goes
/// through, a form shown before a change saves nothing and shows the
/// account as it is, a form without its mark saves nothing, and the
/// ledger's lines follow one another.
#[tokio::test]
async fn an_account_changed_meanwhile_is_not_overwritten_by_a_form_shown_before() {
    for app in App::each(Options::default()).await {
        let (vendor_a, vendor_b, vendor_c) = (
            app.org("ベンダーA", OrgKind::Vendor).await,
            app.org("ベンダーB", OrgKind::Vendor).await,
            app.org("ベンダーC", OrgKind::Vendor).await,
        );
        let (a, _) = app.signed_in("admin-a", Role::Admin, None).await;
        let (b, _) = app.signed_in("admin-b", Role::Admin, None).await;
        let (_, id) = app.signed_in("moving", Role::Vendor, Some(vendor_a)).await;
        let edit = format!("/admin/users/{id}/edit");
        let to = format!("/admin/users/{id}");
        let seen_a = hidden_in(&a.get(&edit).await.body, "seen");
        let seen_b = hidden_in(&b.get(&edit).await.body, "seen");
        assert_eq!(seen_a, seen_b);
        let (vb, vc) = (vendor_b.to_string(), vendor_c.to_string());
        let move_to_b = vendor_change_form("moving さん", "moving@example.lg.jp", &vb, "異動 (B)", &seen_a);
        let move_to_c = vendor_change_form("moving さん", "moving@example.lg.jp", &vc, "異動 (C)", &seen_b);
        let (ra, rb) = tokio::join!(a.post(&to, &move_to_b), b.post(&to, &move_to_c));
        let saved = |r: &crate::harness::Res| r.status == StatusCode::SEE_OTHER && r.location() == to;
        let a_first = crate::harness::first_of_two_landed(
            &ra,
            &rb,
            app.backend,
            "この間に他の管理者がこのアカウントを変更したため",
        );
        let (won, saved_one, lost) = if a_first { (vendor_b, &ra, &rb) } else { (vendor_c, &rb, &ra) };
        assert_eq!(saved_one.location(), to, "{}", app.backend);
        let now = app.store.account_by_id(id).await.unwrap().unwrap();
        assert_eq!(now.organisation_id, Some(won), "{}", app.backend);
        // The refused form shows the account as it is now, with a new mark.
        assert_eq!(hidden_in(&lost.body, "seen"), now.edit_mark(), "{}", app.backend);
        assert!(lost.body.contains(&format!("<option value=\"{won}\" selected>")), "{}", app.backend);

        // A form shown before that change, saving only a new name, would
        // have moved the person back: nothing is saved.
        let r = a
            .post(
                &to,
                &vendor_change_form("新しい名前", "moving@example.lg.jp", &vendor_a.to_string(), "改名", &seen_a),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        // Nor without a mark.
        let (v, name) = (won.to_string(), "印なし");
        let fields = vendor_change_form(name, "moving@example.lg.jp", &v, "改名", "");
        let r = a.post(&to, &fields[..5]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        let after = app.store.account_by_id(id).await.unwrap().unwrap();
        assert_eq!((after.organisation_id, after.display_name.as_str()), (Some(won), "moving さん"), "{}", app.backend);

        // With the mark it was shown, the change goes through.
        let seen = hidden_in(&a.get(&edit).await.body, "seen");
        let r = a.post(&to, &vendor_change_form("新しい名前", "moving@example.lg.jp", &v, "改名", &seen)).await;
        assert!(saved(&r), "{}: {}", app.backend, r.body);

        // The ledger: one move, from A to the one that won, then the name.
        let ledger = app.store.ledger_of(id).await.unwrap();
        let lines: Vec<(String, String)> = ledger
            .iter()
            .filter(|l| l.change != mamori_core::identity::LedgerChange::Issued)
            .map(|l| (l.before.clone(), l.after.clone()))
            .collect();
        let won_name = if won == vendor_b { "ベンダーB" } else { "ベンダーC" };
        assert_eq!(
            lines,
            [("ベンダーA".to_owned(), won_name.to_owned()), ("moving さん".to_owned(), "新しい名前".to_owned())],
            "{}",
            app.backend
        );
        app.close().await;
    }
}

/// Two administrators press "disable" for the same person at once: both
/// went through, and the ID ledger said the account was disabled twice.
/// One goes through; the other is told it was done already, and nothing
/// more is recorded. Enabling and unlocking likewise.
#[tokio::test]
async fn two_administrators_disabling_or_unlocking_one_account_at_once_write_one_ledger_line() {
    for app in App::each(Options::default()).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        let (a, _) = app.signed_in("admin-a", Role::Admin, None).await;
        let (b, _) = app.signed_in("admin-b", Role::Admin, None).await;
        let (_, id) = app.signed_in("leaving", Role::Vendor, Some(org)).await;
        for (act, line) in [
            ("disable", mamori_core::identity::LedgerChange::Disabled),
            ("enable", mamori_core::identity::LedgerChange::Enabled),
            ("unlock", mamori_core::identity::LedgerChange::Unlocked),
        ] {
            if act == "unlock" {
                app.lock("leaving").await;
            }
            let page = format!("/admin/users/{id}");
            a.get(&page).await;
            b.get(&page).await;
            let to = format!("{page}/{act}");
            let (ra, rb) = tokio::join!(a.post(&to, &[("reason", "退職")]), b.post(&to, &[("reason", "退職")]));
            crate::harness::first_of_two_landed(&ra, &rb, app.backend, "このアカウントは、すでにその状態です");
            let ledger = app.store.ledger_of(id).await.unwrap();
            assert_eq!(ledger.iter().filter(|l| l.change == line).count(), 1, "{}: {act}", app.backend);
        }
        let events = app.store.audit_recent(50).await.unwrap();
        let count = |action: &str| events.iter().filter(|e| e.record.action == action).count();
        let counts = (count("account.disabled"), count("account.enabled"), count("account.unlocked"));
        assert_eq!(counts, (1, 1, 1), "{}", app.backend);
        app.close().await;
    }
}

/// An administrator's open session (a workstation left unlocked) set a new
/// password for its own account from the accounts page: no current
/// password asked, no failure counted, and the administrator shut out.
/// Their own password, second factor and account are refused there with a
/// message, nothing in the ledger; another administrator's password is
/// reset as before.
#[tokio::test]
async fn an_administrator_resets_neither_their_own_password_nor_second_factor_nor_disables_themselves() {
    for app in App::each(Options::default()).await {
        let (admin, id) = app.signed_in("admin-a", Role::Admin, None).await;
        let (_, other) = app.signed_in("admin-b", Role::Admin, None).await;
        admin.get(&format!("/admin/users/{id}")).await;
        let hash = app.store.account_by_id(id).await.unwrap().unwrap().password_hash;
        let ledger = app.store.ledger().await.unwrap().len();
        for (path, form) in [
            ("reset-password", vec![("reason", "忘れたため"), ("new_password", "Chosen-Pass-123")]),
            ("reset-totp", vec![("reason", "端末を紛失したため")]),
            ("disable", vec![("reason", "異動")]),
        ] {
            let r = admin.post(&format!("/admin/users/{id}/{path}"), &form).await;
            assert!(r.body.contains("自分自身のアカウントに対しては"), "{}: {path}: {}", app.backend, r.status);
        }
        let a = app.store.account_by_id(id).await.unwrap().unwrap();
        assert_eq!(a.password_hash, hash, "{}: the password as it was", app.backend);
        assert!(a.totp_enabled && a.disabled_at.is_none(), "{}", app.backend);
        assert_eq!(app.store.ledger().await.unwrap().len(), ledger, "{}: nothing in the ledger", app.backend);

        let form = [("reason", "忘れたため"), ("new_password", "Chosen-Pass-123")];
        let r = admin.post(&format!("/admin/users/{other}/reset-password"), &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: another administrator's", app.backend);
        app.close().await;
    }
}

/// An administrator can set a new password for a security officer and
/// clear their second factor, sign in as them and enrol an authenticator
/// of their own: the officer's powers, under the officer's name. Each
/// reset by an administrator now raises an alert the office sees (and is
/// mailed, by the default routes), naming the account and who reset it.
#[tokio::test]
async fn a_password_or_second_factor_reset_by_an_administrator_alerts_the_office() {
    for app in App::each(Options::default()).await {
        let (admin, _) = app.signed_in("admin1", Role::Admin, None).await;
        let (officer, officer_id) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        admin.get(&format!("/admin/users/{officer_id}")).await;
        let form = [("reason", "端末を紛失したため"), ("new_password", "Chosen-Pass-123")];
        let r = admin.post(&format!("/admin/users/{officer_id}/reset-password"), &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let r = admin.post(&format!("/admin/users/{officer_id}/reset-totp"), &form[..1]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);

        let alerts = app.store.alerts(true).await.unwrap();
        let reset: Vec<_> = alerts.iter().filter(|a| a.kind == "account.credentials_reset").collect();
        assert_eq!(reset.len(), 1, "{}: one alert for the account: {alerts:?}", app.backend);
        assert_eq!((reset[0].subject.as_str(), reset[0].count), ("officer1", 2), "{}", app.backend);
        assert!(reset[0].detail.contains("admin1"), "{}: {}", app.backend, reset[0].detail);

        // Another officer of the office sees it (the one reset was signed out).
        let (other, _) = app.signed_in("officer2", Role::SecurityOfficer, None).await;
        let page = other.get("/alerts").await.body;
        assert!(page.contains("管理者によるパスワードまたは二要素認証の再設定") && page.contains("officer1"), "{page}");
        assert_eq!(officer.get("/dashboard").await.location(), "/login", "{}", app.backend);
        app.close().await;
    }
}

/// Whoever holds an administrator's session issued a security officer's
/// account with a password of their own choosing (or gave an account they
/// issued the auditor's role, or enabled a dormant officer's), and signed
/// in as it: only a ledger line told. Each now raises an alert the office
/// sees, naming the account and who did it; a department's or vendor's
/// account raises none. And the ledger keeps on each line the name the ID
/// bore then: renamed for another person, its history is not rewritten.
#[tokio::test]
async fn accounts_made_privileged_alert_the_office_and_the_ledger_keeps_each_line_s_name() {
    for app in App::each(Options::default()).await {
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let (admin, _) = app.signed_in("admin1", Role::Admin, None).await;
        admin.get("/admin/users/new").await;
        let form = [
            ("login", "sato"),
            ("display_name", "佐藤"),
            ("email", "sato@example.lg.jp"),
            ("role", "security-officer"),
            ("organisation_id", ""),
            ("new_password", INITIAL_PASSWORD),
            ("confirm_password", INITIAL_PASSWORD),
            ("reason", "着任"),
        ];
        let r = admin.post("/admin/users", &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let (tanaka, _) = app.user("tanaka", Role::Vendor, Some(vendor)).await;
        let privileged = || async {
            let alerts = app.store.alerts(true).await.unwrap();
            alerts.into_iter().filter(|a| a.kind == "account.privileged").collect::<Vec<_>>()
        };
        let of = |alerts: &[mamori_store::auditlog::Alert], login: &str| {
            alerts.iter().find(|a| a.subject == login).map(|a| (a.count, a.detail.clone()))
        };
        let alerts = privileged().await;
        let (count, detail) = of(&alerts, "sato").expect("the officer's issue alerts");
        assert!(count == 1 && detail.contains("情報セキュリティ担当") && detail.contains("admin1"), "{detail}");
        assert_eq!(of(&alerts, "tanaka"), None, "{}: a vendor's account raises none", app.backend);

        let edit = format!("/admin/users/{tanaka}");
        let seen = hidden_in(&admin.get(&format!("{edit}/edit")).await.body, "seen");
        let change = [
            ("display_name", "田中"),
            ("email", "tanaka@example.lg.jp"),
            ("role", "auditor"),
            ("organisation_id", ""),
            ("reason", "異動"),
            ("seen", &seen),
        ];
        let r = admin.post(&edit, &change).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let (_, detail) = of(&privileged().await, "tanaka").expect("the role given alerts");
        assert!(detail.contains("監査の権限") && detail.contains("admin1"), "{detail}");

        let sato = app.store.account_by_login("sato").await.unwrap().unwrap().id;
        admin.post(&format!("/admin/users/{sato}/disable"), &[("reason", "休職")]).await;
        let r = admin.post(&format!("/admin/users/{sato}/enable"), &[("reason", "復職")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let (count, detail) = of(&privileged().await, "sato").unwrap();
        assert!(count == 2 && detail.contains("再び有効"), "{}: {count} {detail}", app.backend);
        let page = app.signed_in("officer2", Role::SecurityOfficer, None).await.0.get("/alerts").await.body;
        assert!(page.contains("アカウントの発行または権限の付与") && page.contains("sato"), "{page}");

        // Renamed: each line keeps the name of its day.
        let seen = hidden_in(&admin.get(&format!("{edit}/edit")).await.body, "seen");
        let rename = [
            ("display_name", "鈴木"),
            ("email", "suzuki@example.lg.jp"),
            ("role", "auditor"),
            ("organisation_id", ""),
            ("reason", "改姓"),
            ("seen", &seen),
        ];
        assert_eq!(admin.post(&edit, &rename).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let names: Vec<_> = app
            .store
            .ledger_of(tanaka)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.change.as_str().to_owned(), l.account_name))
            .collect();
        let name_at =
            |change: &str| names.iter().filter(|(c, _)| c == change).map(|(_, n)| n.as_str()).collect::<Vec<_>>();
        assert_eq!(name_at("issued"), ["tanaka さん"], "{}: {names:?}", app.backend);
        assert_eq!(name_at("display_name"), ["田中", "鈴木"], "{}: {names:?}", app.backend);
        let csv = admin.http.get(format!("{}/admin/ledger.csv", app.base)).send().await.unwrap().text().await.unwrap();
        assert!(csv.contains("tanaka,tanaka さん,発行"), "{csv}");
        app.close().await;
    }
}

/// A request holds the person as their account was when it began. An
/// administrator disabled, and an officer made 監査, while their requests
/// ran could still issue an account and sign off a log review: those
/// writes checked the permission before, never in their own transaction.
/// Each is now refused as made by an account that changed (the person is
/// sent to sign in again), and nothing of it is written; made for the
/// account as it is now, the review is refused by permission (several
/// rounds started at once stop at the first refused; a download is not
/// recorded, so not handed out), and the
/// console, which has no account, is not held to one.
/// A request begun in a session that its person ends meanwhile from
/// another (signing out everywhere else, as one does who fears a session
/// was taken), or whose password an administrator resets, wrote all the
/// same: a taken session's upload waiting for the malware scan was saved
/// under the owner's name after the owner had ended it. Such a request now
/// writes nothing; the session the owner kept writes as before.
#[tokio::test]
async fn a_request_begun_in_a_session_ended_meanwhile_writes_nothing() {
    use mamori_app::{Op, Person, Refused};
    use mamori_core::checklist::AnswerInput;
    for app in App::each(Options::default()).await {
        let backend = app.backend;
        let (sys, taken) = crate::checklist::supplied_system(&app, "文書管理システム").await;
        let person = async || Person::of(&app.store.account_by_login("vendor-a").await.unwrap().unwrap());
        let op = |who| Op { store: &app.store, who, origin: Default::default(), now: app.now() };
        let save = async |who: &Person, text: &str| {
            let op = Op { store: &app.store, who, origin: Default::default(), now: app.now() };
            mamori_app::checklist::save_answer(&op, sys, 4, &AnswerInput::done(text), 0).await
        };
        let then = person().await;
        let owner = app.client();
        assert_eq!(owner.sign_in(&app, "vendor-a", PASSWORD, None).await.status, StatusCode::SEE_OTHER, "{backend}");
        owner.get("/account").await;
        assert_eq!(owner.post("/account/sessions", &[]).await.status, StatusCode::SEE_OTHER, "{backend}");
        let r = save(&then, "奪われたセッションから").await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: {r:?}");
        assert!(app.store.answer(sys, 1, 4).await.unwrap().is_none(), "{backend}: nothing written");
        assert!(taken.get("/dashboard").await.location().starts_with("/login"), "{backend}: signed out");

        let kept = person().await;
        let admin = app.issue("admin-a", Role::Admin, None).await;
        let admin = Person::of(&app.store.account_by_id(admin).await.unwrap().unwrap());
        let hash = mamori_core::password::hash::hash("Another-Horse-43");
        mamori_app::accounts::act(
            &op(&admin),
            kept.account_id.unwrap(),
            mamori_app::accounts::Action::ResetPassword(&hash),
            "依頼",
        )
        .await
        .unwrap();
        let r = save(&kept, "リセットの後に").await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: after a reset: {r:?}");
        assert!(app.store.answer(sys, 1, 4).await.unwrap().is_none(), "{backend}: nothing written");
        save(&person().await, "いまのセッションから").await.unwrap();
        app.close().await;
    }
}

#[tokio::test]
async fn a_request_begun_before_its_account_was_disabled_or_demoted_writes_nothing() {
    use mamori_app::{Op, Person, Refused};
    use mamori_store::accounts::NewAccount;
    for app in App::each(Options::default()).await {
        let backend = app.backend;
        app.issue("admin-a", Role::Admin, None).await;
        let admin = app.issue("admin-b", Role::Admin, None).await;
        let officer = app.issue("officer-b", Role::SecurityOfficer, None).await;
        let as_they_were = |id: i64| {
            let store = app.store.clone();
            async move { Person::of(&store.account_by_id(id).await.unwrap().unwrap()) }
        };
        let (admin_then, officer_then) = (as_they_were(admin).await, as_they_were(officer).await);
        let op = |who| Op { store: &app.store, who, origin: Default::default(), now: app.now() };
        let dept = app.org("総務課", OrgKind::Department).await;
        let new = |login: &str| NewAccount {
            login: mamori_core::identity::Login::parse(login).unwrap(),
            display_name: "新しい人".into(),
            email: format!("{login}@example.lg.jp"),
            role: Role::Department,
            organisation_id: Some(dept),
            password_hash: mamori_core::password::hash::hash(PASSWORD),
            must_change_password: true,
        };

        app.store.set_account_disabled(&app.ctx(), admin, true, "退職").await.unwrap();
        let before = app.store.account_count().await.unwrap();
        let r = mamori_app::accounts::issue(&op(&admin_then), &new("issued-late"), "依頼").await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: {r:?}");
        assert_eq!(app.store.account_count().await.unwrap(), before, "{backend}: no account issued");
        assert!(app.store.account_by_login("issued-late").await.unwrap().is_none(), "{backend}");

        app.change_role(officer, Role::Auditor, None).await;
        let (from, to) = ("2026-11-01", "2026-11-30");
        let r = mamori_app::oversight::sign_off_log_review(&op(&officer_then), from, to, "異常なし").await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: {r:?}");
        let officer_now = as_they_were(officer).await;
        let r = mamori_app::oversight::sign_off_log_review(&op(&officer_now), from, to, "異常なし").await;
        assert!(matches!(r, Err(Refused::NotFound)), "{backend}: 監査 may not: {r:?}");
        assert!(app.store.log_reviews().await.unwrap().is_empty(), "{backend}: no review recorded");
        // Rounds started at once: the first write refused ends the run,
        // as a refusal of the person, not one line among the systems'.
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let approved = crate::checklist::system(&app, dept, Some(vendor), "文書管理システム").await;
        crate::library::approve_round(&app, approved, 1).await;
        let r = mamori_app::checklist::start_rounds(&op(&officer_then), &[approved], None).await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: {:?}", r.map(|v| v.len()));
        assert_eq!(app.store.system(approved).await.unwrap().unwrap().round, 1, "{backend}: no round started");
        // A download is handed out once its audit event is written: not to
        // the account as it was.
        let exported = async || app.audit_actions().await.iter().filter(|a| *a == "report.exported").count();
        let before = exported().await;
        let r = mamori_app::reports::record_export(&op(&officer_then), approved, "xlsx").await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: {r:?}");
        mamori_app::reports::record_export(&op(&officer_now), approved, "xlsx").await.unwrap();
        assert_eq!(exported().await, before + 1, "{backend}: the one of the account as it is");
        // The audit log's and the ID ledger's exports, and an inventory's, alike.
        let r = mamori_app::oversight::begin_audit_export(&op(&officer_then), Default::default(), "csv").await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: the audit log: {:?}", r.map(drop));
        let r = mamori_app::oversight::record_ledger_export(&op(&admin_then), "xlsx").await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: the ID ledger: {r:?}");
        let format = mamori_app::inventory::Format::Xlsx;
        let r = mamori_app::inventory::export(&op(&officer_then), approved, format).await;
        assert!(matches!(r, Err(Refused::AccountChanged)), "{backend}: the inventory: {:?}", r.map(drop));
        let exports = ["audit.exported", "ledger.exported", "inventory.exported"];
        let actions = app.audit_actions().await;
        assert!(!actions.iter().any(|a| exports.contains(&a.as_str())), "{backend}: none recorded: {actions:?}");

        let console = Person::console(Role::SecurityOfficer, "console".into());
        mamori_app::oversight::sign_off_log_review(&op(&console), from, to, "異常なし").await.unwrap();
        let admin_now = Person::console(Role::Admin, "console".into());
        mamori_app::accounts::issue(&op(&admin_now), &new("issued-at-console"), "依頼").await.unwrap();
        assert_eq!(app.store.log_reviews().await.unwrap().len(), 1, "{backend}");
        app.close().await;
    }
}

/// An access review (items 7, 65) counted the accounts it read before its
/// own transaction: an account issued between that read and the sign-off's
/// commit was recorded as reviewed, never shown. On PostgreSQL, the
/// sign-off here stops at its reviewer's row, which another connection
/// holds, while another administrator issues an account. The sign-off
/// now reads the accounts under the administrators' lock, which the issue
/// takes too: the issue waits, comes after the review in the log, and the
/// review counts the accounts there were when it was written.
#[tokio::test]
async fn an_account_issued_while_an_access_review_is_signed_off_is_never_counted_as_reviewed_unseen() {
    use mamori_app::{Op, Person};
    for app in App::each(Options::default()).await {
        let Some(url) = app.pg_url().map(str::to_owned) else { continue };
        let reviewer = app.issue("admin-a", Role::Admin, None).await;
        app.issue("admin-b", Role::Admin, None).await;
        let who = Person::of(&app.store.account_by_id(reviewer).await.unwrap().unwrap());
        let shown = mamori_app::oversight::accounts_mark(&app.store.accounts().await.unwrap());
        let before = app.store.account_count().await.unwrap();

        let held = format!("SELECT 1 FROM account WHERE id = {reviewer} FOR UPDATE");
        let held = mamori_testkit::OpenTx::begin(&url, &held).await;
        let op = Op { store: &app.store, who: &who, origin: Default::default(), now: app.now() };
        let sign_off = mamori_app::oversight::sign_off_access_review(&op, "不要アカウントなし", &shown);
        let meanwhile = async {
            mamori_testkit::waiting_for_locks(&url, 1).await;
            let issue = app.issue("issued-meanwhile", Role::Auditor, None);
            // Until the issue has committed, or waits for a lock too.
            let release = async {
                let mut watch = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
                for _ in 0..200 {
                    let issued = app.store.account_by_login("issued-meanwhile").await.unwrap().is_some();
                    if issued || mamori_testkit::lock_waiters(&mut watch).await >= 2 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                held.commit().await;
            };
            tokio::join!(issue, release)
        };
        let (signed, _) = tokio::join!(sign_off, meanwhile);
        signed.unwrap();
        let seq_of = async |action: &str| {
            let events = app.store.audit_recent(50).await.unwrap();
            events.iter().find(|e| e.record.action == action).unwrap().record.seq
        };
        let (reviewed, issued) = (seq_of("access_review.signed_off").await, seq_of("account.created").await);
        assert!(reviewed < issued, "signed off ({reviewed}) after an account it never showed was issued ({issued})");
        assert_eq!(app.store.access_reviews().await.unwrap()[0].accounts, before, "the accounts there were");
        app.close().await;
    }
}
