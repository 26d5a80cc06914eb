//! A whole round as people live it, in a real headless Chromium: the
//! first-run setup, an account issued and its first sign-in (password
//! change forced, second factor enrolled), a system registered, answered
//! with evidence and submitted, one item returned and the rest approved,
//! the Excel downloaded, sign-out, and a session that expires. A failing
//! step leaves a screenshot in target/screenshots.

use crate::browser::Browser;
use crate::harness::{App, Options, PASSWORD};
use fantoccini::Locator;
use mamori_core::checklist::{AnswerInput, Review};
use mamori_core::identity::OrgKind;
use std::sync::Arc;

const NEW_PASSWORD: &str = "Kuyakusho-Anzen-2026";

/// Signs in someone who has never signed in: enrols the second factor and
/// changes the first password, in whichever order mamori asks.
async fn first_sign_in(b: &Browser, app: &App, login: &str, password: &str) {
    b.open(app, "/login").await;
    b.fill(&[("login", login), ("password", password)]).await;
    for _ in 0..4 {
        let path = b.path().await;
        if path.starts_with("/account/totp") {
            let secret = b.eval("return document.querySelector('.secret').textContent").await;
            let code = mamori_core::totp::code_at(secret.as_str().unwrap(), app.now()).unwrap();
            b.fill(&[("code", &code)]).await;
            // The recovery codes are shown once; go on.
            assert!(b.eval("return document.body.innerText").await.as_str().unwrap().contains("リカバリーコード"));
            b.open(app, "/dashboard").await;
        } else if path.starts_with("/password") {
            b.fill(&[
                ("current_password", password),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ])
            .await;
        } else {
            break;
        }
    }
    assert_eq!(b.path().await, "/dashboard", "{login} reaches the dashboard");
}

async fn select(b: &Browser, name: &str, value: &str) {
    let script = format!("document.querySelector('[name={name}]').value = '{value}'; return null");
    b.eval(&script).await;
}

async fn journey(app: &App, browsers: Arc<tokio::sync::Mutex<Vec<Arc<Browser>>>>) {
    let start = || async {
        let b = Arc::new(Browser::start(1366, 900).await);
        browsers.lock().await.push(b.clone());
        b
    };
    // 1. First-run setup: the first administrator, with the one-time URL.
    let token = "journey-setup-token-0123456789abcdef";
    app.setup_token(token).await;
    let admin = start().await;
    admin.open(app, &format!("/setup/{token}")).await;
    admin
        .fill(&[
            ("login", "kanri01"),
            ("display_name", "管理 太郎"),
            ("email", "kanri01@example.lg.jp"),
            ("new_password", PASSWORD),
            ("confirm_password", PASSWORD),
        ])
        .await;
    assert_eq!(admin.path().await, "/login", "setup done, to the sign-in page");
    // The one-time URL works once.
    admin.open(app, &format!("/setup/{token}")).await;
    assert!(admin.eval("return document.body.innerText").await.as_str().unwrap().contains("見つかりません"));
    first_sign_in(&admin, app, "kanri01", PASSWORD).await;

    // 2. The administrator issues the security officer's account.
    let dept = app.org("総務課", OrgKind::Department).await;
    let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
    admin.open(app, "/admin/users/new").await;
    select(&admin, "role", "security-officer").await;
    admin
        .fill(&[
            ("login", "shinsa01"),
            ("display_name", "審査 花子"),
            ("email", "shinsa01@example.lg.jp"),
            ("new_password", PASSWORD),
            ("confirm_password", PASSWORD),
            ("reason", "情報セキュリティ担当の着任"),
        ])
        .await;
    assert!(admin.path().await.starts_with("/admin/users/"), "issued: {}", admin.path().await);

    // 3. The officer's first sign-in: password changed, second factor enrolled.
    let officer = start().await;
    first_sign_in(&officer, app, "shinsa01", PASSWORD).await;
    let hash = app.store.account_by_login("shinsa01").await.unwrap().unwrap();
    assert!(!hash.must_change_password && hash.totp_enabled, "changed and enrolled");

    // 4. The officer registers a system.
    officer.open(app, "/systems/new").await;
    select(&officer, "department_id", &dept.to_string()).await;
    select(&officer, "vendor_id", &vendor.to_string()).await;
    officer.eval("document.querySelector('[name=web_system]').checked = true; return null").await;
    officer.fill(&[("name", "文書管理システム")]).await;
    let path = officer.path().await;
    let sys: i64 = path.trim_start_matches("/systems/").parse().unwrap_or_else(|_| panic!("to the system: {path}"));

    // 5. The vendor answers (two items here, the rest as if done before),
    //    uploads evidence, and submits.
    let (_, secret) = app.user("gyosha01", mamori_core::identity::Role::Vendor, Some(vendor)).await;
    let v = start().await;
    v.sign_in(app, "gyosha01", secret.as_deref()).await;
    let applicable: Vec<u32> = app.store.figures(&[app.store.system(sys).await.unwrap().unwrap()]).await.unwrap()[0]
        .items
        .iter()
        .map(|i| i.number)
        .collect();
    for n in applicable.iter().filter(|n| **n > 2) {
        let input = AnswerInput::done(format!("No.{n} 実施"));
        app.store.save_answer(&app.ctx(), sys, *n, &input).await.unwrap();
    }
    for n in [1, 2] {
        v.open(app, &format!("/systems/{sys}/items/{n}")).await;
        // 対応状況 is a set of radio buttons.
        v.eval("document.querySelector('[name=status][value=done]').checked = true; return null").await;
        v.fill(&[("measures", &format!("No.{n} はブラウザから回答"))]).await;
    }
    v.open(app, &format!("/systems/{sys}/items/1")).await;
    let pdf = tempfile::Builder::new().suffix(".pdf").tempfile().unwrap();
    std::fs::write(pdf.path(), b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").unwrap();
    let file = v.client.find(Locator::Css("#file")).await.unwrap();
    file.send_keys(pdf.path().to_str().unwrap()).await.unwrap();
    v.click("#upload button[type=submit]").await;
    assert_eq!(app.store.evidence_for(sys, 1, 1).await.unwrap().len(), 1, "the evidence is stored");
    v.open(app, &format!("/systems/{sys}")).await;
    v.client.find(Locator::Css("details summary.button")).await.unwrap().click().await.unwrap();
    v.click("form[action$='/submit'] button[type=submit]").await;
    assert!(v.eval("return document.body.innerText").await.as_str().unwrap().contains("回答を提出しました"));
    // The department's part (its own items) is in too: the system is with the office.
    app.store.submit_part(&app.ctx(), sys, dept).await.unwrap();
    let status = app.store.system(sys).await.unwrap().unwrap().status;
    assert_eq!(status.as_str(), "submitted", "submitted by both parties");

    // 6. The officer returns No.2 with a comment and approves the rest.
    officer.open(app, &format!("/systems/{sys}")).await;
    officer.client.find(Locator::Css("#item-2 details.return summary")).await.unwrap().click().await.unwrap();
    let field = officer.client.find(Locator::Css("#return-comment-2")).await.unwrap();
    field.send_keys("根拠資料を添付してください").await.unwrap();
    officer.click("#item-2 button[form='return-2']").await;
    officer.click("a[href$='?select=pending#items']").await;
    officer.click("#items button[type=submit]").await;
    officer.click("form button[type=submit].button").await;
    let answers = app.store.answers(sys, 1).await.unwrap();
    let of = |n: u32| answers.iter().find(|a| a.number == n).unwrap().review;
    assert_eq!(of(2), Review::Returned);
    assert!(applicable.iter().filter(|n| **n != 2).all(|n| of(*n) == Review::Approved), "every other item approved");

    // 7. The checklist comes out as the Excel people use.
    let got = officer
        .client
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 fetch('/systems/{sys}/report.xlsx').then(r => r.arrayBuffer().then(b => {{
                   const head = new Uint8Array(b.slice(0, 2));
                   done([r.status, r.headers.get('content-type'), b.byteLength, String.fromCharCode(head[0], head[1])]);
                 }}));"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(got[0], 200, "{got}");
    assert!(got[1].as_str().unwrap().contains("spreadsheetml"), "{got}");
    assert!(got[2].as_u64().unwrap() > 5_000 && got[3] == "PK", "an xlsx: {got}");

    // 8. Sign-out: the session ends on the server; back is the sign-in page.
    officer.client.find(Locator::Css("details.account-menu summary")).await.unwrap().click().await.unwrap();
    officer.click("form[action='/logout'] button").await;
    officer.open(app, "/dashboard").await;
    assert_eq!(officer.path().await, "/login", "signed out");

    // 9. The vendor's session expires after an hour without a request.
    app.clock.advance(time::Duration::minutes(61));
    v.open(app, "/dashboard").await;
    assert_eq!(v.path().await, "/login?expired=1", "the idle session ended, and the page says so");
    assert!(v.eval("return document.body.innerText").await.as_str().unwrap().contains("ログイン"), "the sign-in page");
}

#[tokio::test]
async fn a_whole_round_in_chromium_from_first_setup_to_approval_the_excel_sign_out_and_expiry() {
    let app = App::spawn("sqlite", Options::default()).await;
    let browsers = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let result = {
        let run = journey(&app, browsers.clone());
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)).await
    };
    let all = std::mem::take(&mut *browsers.lock().await);
    if let Err(panic) = result {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        for (i, b) in all.iter().enumerate() {
            if let Ok(png) = b.client.screenshot().await {
                let path = dir.join(format!("journey-{i}.png"));
                std::fs::write(&path, png).unwrap();
                eprintln!("screenshot: {} ({})", path.display(), b.path().await);
            }
        }
        std::panic::resume_unwind(panic);
    }
    for b in all {
        if let Ok(b) = Arc::try_unwrap(b) {
            b.close().await;
        }
    }
    app.close().await;
}
