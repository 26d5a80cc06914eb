//! `mamori user …` and `mamori org …` on the console, beside a live server.

use crate::harness::{
    command, create_orgs, create_user, create_web_system, run, run_with_stdin, sqlite_store, token_in, Opts, Server,
};
use std::process::Stdio;

#[tokio::test]
async fn console_commands_refuse_bad_input_and_audit_every_change() {
    let s = Server::start(Opts::default()).await;
    let data = s.data_dir();
    let d = data.to_str().unwrap();
    let pw = "Console-Pass-99\n";

    let (code, _, err) = run_with_stdin(&["org", "create", "ベンダーA", "--kind", "vendor", "--data-dir", d], "").await;
    assert_eq!(code, 0, "{err}");
    // Refusals: each with its reason, exit 2, nothing written.
    for (args, msg) in [
        (vec!["--login", "a b", "--name", "A", "--email", "a@x.jp", "--role", "auditor"], "--login に使えない文字"),
        (vec!["--login", "aud1", "--name", "A", "--email", "nope", "--role", "auditor"], "--email の形式"),
        (vec!["--login", "aud1", "--name", "A", "--email", "a@x.jp", "--role", "root"], "--role は"),
        (
            vec!["--login", "System", "--name", "A", "--email", "a@x.jp", "--role", "auditor"],
            "サーバ自身の記録に使う名前",
        ),
        (vec!["--login", "ven1", "--name", "A", "--email", "a@x.jp", "--role", "vendor"], "--org が必要"),
        (
            vec!["--login", "ven1", "--name", "A", "--email", "a@x.jp", "--role", "vendor", "--org", "無い会社"],
            "登録されていません",
        ),
        (
            vec!["--login", "aud1", "--name", "A", "--email", "a@x.jp", "--role", "auditor", "--org", "ベンダーA"],
            "--org を指定しないで",
        ),
    ] {
        let mut full = vec!["user", "create", "--password-stdin", "--data-dir", d];
        full.extend(args);
        let (code, _, err) = run_with_stdin(&full, pw).await;
        assert_eq!(code, 2, "{full:?}: {err}");
        assert!(err.contains(msg), "{full:?}: expected {msg} in {err}");
    }
    let (code, _, err) = create_user(d, "aud1", "監査 一郎", "a@x.jp", "auditor", None, "weak\n").await;
    assert_eq!(code, 2);
    assert!(err.contains("12文字以上"), "{err}");

    let (code, out, err) = create_user(d, "ven1", "事業者 太郎", "v@x.jp", "vendor", Some("ベンダーA"), pw).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = create_user(d, "VEN1", "x", "v@x.jp", "vendor", Some("ベンダーA"), pw).await;
    assert_eq!(code, 2);
    assert!(err.contains("既に使われています"), "{err}");

    let (code, out, _) = run(&["user", "list", "--format", "json", "--data-dir", d]).await;
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["login"], "ven1");
    assert_eq!(list[0]["organisation"], "ベンダーA");
    assert!(!out.contains("argon2"), "no hash in the listing");

    // The account signs in through the running server.
    // The account signs in through the running server: the password the
    // console gave it is changed first (it went straight in before), then
    // a vendor enrols its second factor.
    let r = s.first_sign_in("ven1", "Console-Pass-99", "Own-Vendor-Pass-7").await;
    assert_eq!(r.headers().get("location").unwrap(), "/account/totp", "a vendor enrols its second factor next");

    // Three wrong passwords from another browser: the unlock has failures
    // to lift (an unlock with nothing to lift is refused, as a second
    // disable is).
    let cert = std::fs::read(s.data_dir().join("tls/self-signed.crt")).unwrap();
    let other = crate::harness::client_with_jar(&cert, std::sync::Arc::new(reqwest::cookie::Jar::default()));
    for _ in 0..3 {
        let page = other.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
        let form = [("login", "ven1"), ("password", "Wrong-Pass-123"), ("csrf_token", &token_in(&page))];
        let r = other.post(s.url("/login")).header("origin", &s.base).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 200, "refused");
    }
    for args in [vec!["user", "unlock", "ven1"], vec!["user", "disable", "ven1"]] {
        let mut full = args.clone();
        full.extend(["--data-dir", d]);
        let (code, _, err) = run(&full).await;
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    let (code, _, err) = run(&["user", "unlock", "ven1", "--data-dir", d]).await;
    assert_eq!(code, 2, "nothing more to lift: {err}");
    assert!(err.contains("すでにその状態"), "{err}");
    let (code, _, err) = run_with_stdin(
        &["user", "reset-password", "ven1", "--password-stdin", "--data-dir", d],
        "New-Console-Pass-1\n",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["user", "disable", "nobody", "--data-dir", d]).await;
    assert_eq!(code, 2);
    assert!(err.contains("ありません"), "{err}");
    // A reason the web would refuse (empty, a control character) is
    // refused here too, before anything is written (it went into the
    // ledger as given).
    for (args, reason) in [(["user", "unlock", "ven1"], ""), (["user", "disable", "ven1"], "理由\u{1b}[2J")] {
        let mut full = args.to_vec();
        full.extend(["--reason", reason, "--data-dir", d]);
        let (code, _, err) = run(&full).await;
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("--reason"), "{args:?}: {err}");
    }
    let (code, _, err) = run_with_stdin(
        &["user", "reset-password", "ven1", "--password-stdin", "--reason", " ", "--data-dir", d],
        "Another-Console-Pass-2\n",
    )
    .await;
    assert_eq!(code, 2, "{err}");

    let keep = s.dir.clone();
    s.stop().await;
    let store = sqlite_store(&data).await;
    let actions: Vec<String> = store.audit_recent(100).await.unwrap().into_iter().map(|e| e.record.action).collect();
    for a in ["organisation.created", "account.created", "account.unlocked", "account.disabled", "password.reset"] {
        assert!(actions.contains(&a.to_owned()), "{a} missing from {actions:?}");
    }
    let created =
        store.audit_recent(100).await.unwrap().into_iter().find(|e| e.record.action == "account.created").unwrap();
    assert!(created.record.actor_login.starts_with("console"), "{}", created.record.actor_login);
    let ledger = store.ledger().await.unwrap();
    // The unlock too, with its reason (it was in the audit log only).
    let changes: Vec<&str> = ledger.iter().map(|l| l.change.as_str()).collect();
    assert_eq!(changes, ["issued", "unlocked", "disabled", "password_reset"]);
    store.close().await;
    // The console cannot disable the only administrator either.
    let (code, out, err) = create_user(d, "adm1", "管理 一郎", "adm@x.jp", "admin", None, pw).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(&["user", "disable", "adm1", "--data-dir", d]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("有効な管理者が 1 人もいなくなる"), "{err}");
    drop(keep);
}

#[tokio::test]
async fn setup_url_is_printed_until_an_administrator_exists() {
    let s = Server::start(Opts::default()).await;
    let first = s.setup_url.clone().expect("a setup URL on a fresh data directory");
    let dir = s.dir.clone();
    s.kill().await;
    let s = Server::start(Opts::default().data_dir(&dir)).await;
    let second = s.setup_url.clone().expect("still no administrator: a new URL");
    assert_ne!(first, second, "a new token on each start");
    let path_of = |url: &str| url[url.find("/setup/").unwrap()..].to_owned();
    let path = path_of(&second);
    assert_eq!(s.get(&path_of(&first)).await.status(), 404, "the old token is dead");
    let r = s
        .post_form(
            &path,
            &path,
            &[
                ("login", "admin1"),
                ("display_name", "管理者"),
                ("email", "admin@example.lg.jp"),
                ("new_password", "Admin-Pass-123"),
                ("confirm_password", "Admin-Pass-123"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    // Killed without warning right after: the administrator is there.
    s.kill().await;
    let s = Server::start(Opts::default().data_dir(&dir)).await;
    assert!(s.setup_url.is_none(), "no setup URL once an administrator exists");
    assert_eq!(s.get(&path).await.status(), 404);
    s.kill().await;
}

/// The setup URL holds a secret: on the console once, in the log never.
/// The server runs with JSON logs until the announcement is complete and
/// then stops, so everything it wrote on either stream is read.
#[tokio::test]
async fn setup_token_is_printed_once_and_is_in_no_json_log_line() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let dir = tempfile::TempDir::new().unwrap();
    let mut child = command()
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        stderr.read_to_string(&mut text).await.unwrap();
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut console = String::new();
    let announced = async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            console.push_str(&line);
            console.push('\n');
            if line.starts_with("mamori: ready") {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), announced).await.expect("mamori announces itself");
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    while let Some(line) = stdout.next_line().await.unwrap() {
        console.push_str(&line);
        console.push('\n');
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
    let log = log.await.unwrap();

    let token = console.split("/setup/").nth(1).expect("a setup URL on the console")[..64].to_owned();
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    assert_eq!(console.matches(&token).count() + log.matches(&token).count(), 1, "{console}\n{log}");
    let mut told = false;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(!line.contains(&token), "the token is in a log line: {line}");
        told |= event["message"].as_str().is_some_and(|m| m.contains("setup URL was printed"));
    }
    assert!(told, "the log says that a setup URL was printed:\n{log}");
}

#[tokio::test]
async fn catalog_is_shipped_exported_and_a_bad_excel_imports_nothing() {
    let s = Server::start(Opts::default()).await;
    let data = s.data_dir();
    let d = data.to_str().unwrap();
    let (code, out, err) = run(&["catalog", "export", "--format", "json", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 79);
    for key in ["number", "major", "middle", "text", "applies_when"] {
        assert!(items.iter().all(|i| !i[key].is_null()), "{key}");
    }
    assert_eq!(items[40]["number"], 41);
    assert_eq!(items[40]["applies_when"], "web_system and (confidentiality_high or integrity_high)");

    // Excel out, edited, and back in as version 2.
    let xlsx = s.dir.path().join("catalog.xlsx");
    let (code, _, err) =
        run(&["catalog", "export", "--format", "xlsx", "--output", xlsx.to_str().unwrap(), "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        run(&["catalog", "import", xlsx.to_str().unwrap(), "--id", "chiyoda-x", "--data-dir", d]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("79 件"), "{out}");
    let (code, out, _) = run(&["catalog", "diff", "1", "2", "--data-dir", d]).await;
    assert_eq!(code, 0);
    assert!(out.contains("No.") || out.contains("差分はありません"), "{out}");

    // A sheet with bad rows: the rows are named, and no version is added.
    let bad = s.dir.path().join("bad.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, row) in
        [["No", "大項目", "中項目", "内容"], ["1", "A", "B", "C"], ["two", "A", "B", "C"], ["3", "A", "B", ""]]
            .iter()
            .enumerate()
    {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32, c as u16, *v).unwrap();
        }
    }
    wb.save(&bad).unwrap();
    let (code, _, err) = run(&["catalog", "import", bad.to_str().unwrap(), "--data-dir", d]).await;
    assert_eq!(code, 2);
    assert!(err.contains("3行目") && err.contains("No.3 text"), "{err}");
    let (_, out, _) = run(&["catalog", "list", "--data-dir", d]).await;
    assert_eq!(out.lines().count(), 2, "still two versions: {out}");
    // The same file twice is one version.
    let (code, out, _) =
        run(&["catalog", "import", xlsx.to_str().unwrap(), "--id", "chiyoda-x", "--data-dir", d]).await;
    assert_eq!(code, 0);
    assert!(out.contains("既にあります"), "{out}");
    s.kill().await;
}

#[tokio::test]
async fn system_list_and_show_on_the_console() {
    let s = Server::start(Opts::default()).await;
    let data = s.data_dir();
    let d = data.to_str().unwrap();
    create_orgs(d).await;
    let (code, out, _) = run(&["system", "list", "--format", "json", "--data-dir", d]).await;
    assert_eq!((code, out.trim()), (0, "[]"));
    let store = sqlite_store(&data).await;
    let (id, _) = create_web_system(&store, vec!["https://docs.example.lg.jp/".into()]).await;
    store.close().await;
    let (code, out, _) = run(&["system", "list", "--format", "json", "--data-dir", d]).await;
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["id"], id);
    for (key, want) in [
        ("name", "文書管理システム"),
        ("department", "総務課"),
        ("vendor", "ベンダーA"),
        ("phase", "production"),
        ("status", "not_started"),
    ] {
        assert_eq!(list[0][key], want, "{key}");
    }
    let (code, out, _) = run(&["system", "show", &id.to_string(), "--data-dir", d]).await;
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["applicable"].as_array().unwrap().len(), 66, "every-system items and web items");
    let (code, _, err) = run(&["system", "show", "999", "--data-dir", d]).await;
    assert_eq!(code, 2);
    assert!(err.contains("ありません"));
    s.kill().await;
}

/// The console starts the next rounds as the rounds page does: without
/// systems named, every approved one that is not retired, each audited;
/// a past due date starts nothing (exit 2); a system named that is not
/// approved is left as it is and named with the reason (exit 1).
#[tokio::test]
async fn the_console_starts_the_next_rounds_of_the_approved_systems() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (code, _, err) = run(&["demo", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    let rounds = async || {
        let (code, out, _) = run(&["system", "list", "--format", "json", "--data-dir", d]).await;
        assert_eq!(code, 0);
        let list: serde_json::Value = serde_json::from_str(&out).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_owned(),
                    s["status"].as_str().unwrap().to_owned(),
                    s["round"].as_i64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = rounds().await;
    let approved: Vec<&String> = before.iter().filter(|(_, status, _)| status == "approved").map(|(n, ..)| n).collect();
    assert_eq!(approved.len(), 2, "{before:?}");

    let (code, _, err) = run(&["system", "start-rounds", "--due", "2000-04-01", "--data-dir", d]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("今日以降"), "{err}");
    assert_eq!(rounds().await, before, "nothing started");

    let (code, out, err) = run(&["system", "start-rounds", "--due", "2099-03-31", "--data-dir", d]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().filter(|l| l.contains("第2回を開始")).count(), 2, "{out}");
    let after = rounds().await;
    for (name, status, round) in &after {
        let was = before.iter().find(|(n, ..)| n == name).unwrap();
        if approved.contains(&name) {
            assert_eq!((status.as_str(), *round), ("answering", 2), "{name}");
        } else {
            assert_eq!((status, *round), (&was.1, was.2), "{name}: as it was");
        }
    }

    // Named again: no longer approved; nothing changes.
    let (code, out, _) = run(&["system", "start-rounds", "--due", "2099-03-31", "1", "--data-dir", d]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("1\t文書管理システム\t開始しませんでした: 承認済みではありません"), "{out}");
    assert_eq!(rounds().await, after);
    let store = sqlite_store(&data).await;
    let events = store.audit_recent(200).await.unwrap();
    let started = events.iter().filter(|e| e.record.action == "system.round_started").count();
    assert_eq!(started, 2, "one event each");
    store.close().await;
}

#[tokio::test]
async fn demo_fills_an_empty_data_directory_once() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (code, out, err) = run(&["demo", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    let accounts: Vec<(&str, &str)> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[0] != "login").then(|| (f[0], f[2]))
        })
        .collect();
    assert_eq!(accounts.len(), 8, "{out}");
    let (code, out, _) = run(&["system", "list", "--format", "json", "--data-dir", d]).await;
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let statuses: std::collections::BTreeSet<&str> =
        list.as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(list.as_array().unwrap().len(), 10);
    assert_eq!(statuses.len(), 5, "every status: {statuses:?}");
    // The retired one was retired as the office does (its disposal record
    // approved), its round closed as it stood (差戻し).
    let retired: Vec<&serde_json::Value> =
        list.as_array().unwrap().iter().filter(|s| s["phase"] == "retired").collect();
    assert_eq!(retired.len(), 1, "{list}");
    assert_eq!(retired[0]["status"], "returned", "{list}");
    let (code, _, err) = run(&["demo", "--data-dir", d]).await;
    assert_eq!(code, 2, "a second run is refused");
    assert!(err.contains("既にデータがあります"), "{err}");
    let (code, _, _) = run(&["audit", "verify", "--data-dir", d]).await;
    assert_eq!(code, 0);

    // The printed password signs the vendor in, and it sees only its systems.
    let keep = std::sync::Arc::new(dir);
    let s = Server::start(Opts::default().data_dir(&keep)).await;
    let (_, pw) = accounts.iter().find(|(l, _)| *l == "vendor-a").unwrap();
    let r = s.sign_in("vendor-a", pw).await;
    // Vendors sign in with a second factor by default: enrolment first.
    assert_eq!(r.headers().get("location").unwrap(), "/account/totp");
    assert_eq!(s.get("/dashboard").await.headers().get("location").unwrap(), "/account/totp");
    assert!(s.enrol_second_factor().await.status().is_success());
    let board = s.get("/dashboard").await.text().await.unwrap();
    assert!(board.contains("文書管理システム") && !board.contains("税務総合システム"), "vendor A's systems only");
    // Its approved running web system passed the gate into production:
    // the diagnosis (No.37, 78) is approved with evidence, so the sample
    // does not flag it as never having passed. The submitted one, not yet
    // approved, is flagged.
    assert!(board.contains(r#"id="unproven""#) && board.contains(r#"href="/systems/2/items/37""#), "{board}");
    assert!(!board.contains(r#"href="/systems/1/items/37""#), "{board}");
    let page = s.get("/systems/1").await.text().await.unwrap();
    assert!(page.contains("文書管理システム") && !page.contains(r#"id="unproven""#), "{page}");
    s.kill().await;
}
