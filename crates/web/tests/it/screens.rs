//! The screens as each role sees them, in a real headless Chromium: pages
//! that hold their width whatever the input, text in Japanese without an
//! internal code or a translation key, a navigation that fits.

use crate::browser::Browser;
use crate::checklist::system;
use crate::harness::{App, Options};
use mamori_core::audit::{Action, Outcome};
use mamori_core::checklist::{AnswerInput, AnswerStatus, HistoryKind, Phase, Review, SystemStatus};
use mamori_core::identity::{LedgerChange, OrgKind, Role};
use mamori_core::monitoring::Severity;
use mamori_core::verification::CheckId;
use mamori_core::yearly::SignoffKind;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A ward with one of each role and a system filled with hostile lengths:
/// a 2,000-character URL, an answer as long as an answer may be (10,000
/// characters) with no space in it, a 3,000-character description, a
/// 2,000-character return comment (the most a comment takes), an open alert.
struct Ward {
    sys: i64,
    /// A component of the system's software inventory.
    component: i64,
    /// A record of the system.
    record: i64,
    vendor_account: i64,
    people: Vec<(Role, &'static str, Option<String>)>,
}

const LONG_URL: usize = 2_000;

async fn ward(app: &App) -> Ward {
    let dept = app.org("総務課", OrgKind::Department).await;
    let vendor = app.org("株式会社ベンダーエー情報システム開発事業部", OrgKind::Vendor).await;
    let sys = system(app, dept, Some(vendor), "文書管理システム").await;
    let before = app.store.system(sys).await.unwrap().unwrap();
    let mut input = before.input.clone();
    input.name = format!("文書管理システム{}", "長".repeat(200));
    input.description = "説明".repeat(1_500);
    input.urls = vec![format!("https://docs.example.lg.jp/{}", "p".repeat(LONG_URL))];
    input.hosts = vec![format!("{}.example.lg.jp", "h".repeat(60))];
    input.ismap_number = "C".repeat(300);
    input.service_name = "クラウド".repeat(100);
    input.service_region = "東京".repeat(100);
    input.phase = Phase::Production;
    app.store.update_system(&app.system_ctx(), before.id, &input).await.unwrap();

    let people = app.one_of_each_role(dept, vendor).await;
    let vendor_account = app.store.account_by_login("gyosha01").await.unwrap().unwrap().id;

    // The vendor answers every item, one at length, and submits.
    answered_in_store(app, sys, (3..=12).chain(15..=30).chain([79])).await;
    let v = app.client();
    v.sign_in(app, "gyosha01", crate::harness::PASSWORD, None).await;
    let long = "A".repeat(mamori_core::checklist::MAX_ANSWER_TEXT);
    for (n, status, measures) in [(1, "done", long.as_str()), (2, "partial", "一部は次年度に対応")] {
        let r = v
            .answer(
                sys,
                n,
                &[("status", status), ("measures", measures), ("planned_date", "2027-03-31"), ("reason", "")],
            )
            .await;
        assert_eq!(r.status, 303, "item {n} saved: {}", r.body);
    }
    v.get(&format!("/systems/{sys}")).await;
    let r = v.post(&format!("/systems/{sys}/submit"), &[]).await;
    assert_eq!(r.status, 303, "submitted: {}", r.body);

    // The officer returns the long one with a long comment.
    let secret = people[1].2.clone();
    let o = app.client();
    o.sign_in(app, "shinsa01", crate::harness::PASSWORD, secret.as_deref()).await;
    let page = o.get(&format!("/systems/{sys}/items/1")).await;
    let marker = "name=\"revision\" value=\"";
    let revision: String = page.body.split(marker).nth(1).unwrap_or("").chars().take_while(|c| *c != '"').collect();
    let decided = crate::harness::hidden_in(&page.body, "decided");
    let comment = format!("根拠資料を添付してください{}", "B".repeat(1_980));
    let r = o
        .post(
            &format!("/systems/{sys}/items/1/review"),
            &[("decision", "return"), ("comment", &comment), ("revision", &revision), ("decided", &decided)],
        )
        .await;
    assert_eq!(r.status, 303, "returned: {}", r.body);

    scanned(app, sys).await;
    app.store
        .raise_alert(app.now(), "signin.spraying", Severity::Warning, "192.0.2.1", &"詳細".repeat(500))
        .await
        .unwrap();
    // Runs of every kind on the jobs page: waiting, running, done, retrying.
    let now = app.now();
    for (n, kind) in mamori_core::jobs::JobKind::ALL.iter().enumerate() {
        app.store.queue_job(now, *kind, "2026-12-04", now + time::Duration::seconds(n as i64)).await.unwrap();
    }
    let done = app.store.claim_job(now + time::Duration::minutes(1), "mamori-1:4242").await.unwrap().unwrap();
    app.store.finish_job(now, &done, Ok("3 件".into())).await.unwrap();
    let failed = app.store.claim_job(now + time::Duration::minutes(1), "mamori-1:4242").await.unwrap().unwrap();
    app.store.finish_job(now, &failed, Err("書き込めません".into())).await.unwrap();
    app.store.claim_job(now + time::Duration::minutes(1), "mamori-2:77").await.unwrap().unwrap();
    // A software inventory at hostile lengths: one ended, one ending, one
    // without a date, one from release data; and a feed import.
    let today = now.to_offset(mamori_core::jst::JST).date();
    let mut component = 0;
    for (product, end, kind) in [
        (format!("Apache HTTP Server{}", "長".repeat(180)), Some(today - time::Duration::days(3)), "middleware"),
        ("Ubuntu".to_owned(), None, "os"),
        ("nginx".to_owned(), Some(today + time::Duration::days(30)), "library"),
        ("x".repeat(200), None, "framework"),
    ] {
        let end = end.map(|d| d.to_string()).unwrap_or_default();
        let fields = mamori_core::inventory::ComponentFields {
            kind,
            product: &product,
            vendor: &"ベンダ".repeat(60),
            version: &"1.2.3-".repeat(16),
            runs_on: &"Web サーバ".repeat(20),
            cpe: "cpe:2.3:a:apache:http_server:2.4.57:*:*:*:*:*:*:*",
            support_end: &end,
            reason: &"理由".repeat(1_000),
        };
        let input = mamori_core::inventory::ComponentInput::parse(&fields).unwrap();
        component = app.store.save_component(&app.ctx(), sys, None, &input).await.unwrap();
    }
    let ubuntu = mamori_core::inventory::EolProduct {
        name: "ubuntu".into(),
        label: "Ubuntu".into(),
        aliases: vec![],
        cpes: vec![],
        releases: vec![mamori_core::inventory::EolRelease {
            cycle: "1.2".into(),
            released: None,
            eol: Some(today + time::Duration::days(100)),
            latest: Some("1.2.9".into()),
        }],
    };
    app.store.import_eol(&app.ctx(), &format!("{}.json", "u".repeat(190)), &"a".repeat(64), &[ubuntu]).await.unwrap();
    // Advisories naming the inventory's Apache: one checked by version, one not, one decided.
    let advisories: Vec<mamori_core::vulns::Advisory> = [("CVE-2023-44487", Some(9.8)), ("JVNDB-2023-019153", None)]
        .iter()
        .map(|(ident, cvss)| mamori_core::vulns::Advisory {
            source: mamori_core::vulns::VulnSource::Nvd,
            ident: (*ident).into(),
            title: format!("HTTP/2{}", "長い説明".repeat(75)),
            link: format!("https://nvd.nist.gov/vuln/detail/{ident}"),
            cvss: *cvss,
            cves: (1..=30).map(|n| format!("CVE-2023-{n:05}")).collect(),
            modified: "1".into(),
            affected: vec![mamori_core::vulns::Affected {
                part: Some('a'),
                vendor: "apache".into(),
                product: "http_server".into(),
                versions: if cvss.is_some() {
                    mamori_core::vulns::Versions::Any
                } else {
                    mamori_core::vulns::Versions::Unknown
                },
                on: vec![],
            }],
        })
        .collect();
    app.store
        .import_advisories(&app.ctx(), "nvd.json", "0", mamori_core::vulns::VulnSource::Nvd, &advisories)
        .await
        .unwrap();
    let first = app.store.vuln_matches(Some(sys)).await.unwrap()[0].id;
    app.store
        .decide_match(&app.ctx(), (sys, first, None), mamori_core::vulns::MatchState::Fixed, &"対応".repeat(1_000))
        .await
        .unwrap();
    // A record of every kind, each field at its longest.
    let mut record = 0;
    for kind in mamori_core::records::RecordKind::ALL {
        use mamori_core::records::FieldType;
        let values = mamori_core::records::parse(*kind, |name| {
            let Some(spec) = kind.fields().iter().find(|f| f.name == name) else { return String::new() };
            match spec.ty {
                FieldType::Text(max) | FieldType::Multiline(max) => "長".repeat(max),
                FieldType::Date => (today - time::Duration::days(400)).to_string(),
                FieldType::Url => format!("https://example.lg.jp/{}", "u".repeat(1_900)),
                FieldType::Phone => "03-1234-5678".into(),
                FieldType::Email => format!("{}@example.lg.jp", "m".repeat(60)),
                FieldType::Number(_, max) => max.to_string(),
                FieldType::Choice(codes) => codes[0].into(),
                FieldType::YesNo => "yes".into(),
            }
        })
        .unwrap();
        record = app
            .store
            .save_record(&app.ctx(), sys, None, *kind, &values, mamori_store::records::Keeper::CONSOLE)
            .await
            .unwrap();
    }
    Ward { sys, component, record, vendor_account, people }
}

/// A finished scan of the system: every check, each verdict among them,
/// with the scanner's own (English, technical) summaries.
async fn scanned(app: &App, sys: i64) {
    use mamori_core::verification::{CheckResult, ScanReport, TargetReport, Verdict};
    let verdicts = [Verdict::Pass, Verdict::Warn, Verdict::Fail, Verdict::Error];
    let checks = CheckId::ALL
        .iter()
        .zip(verdicts.iter().cycle())
        .map(|(id, v)| {
            let summary = format!("invalid certificate: UnknownIssuer; accepts TLS 1.0 (check {})", id.as_str().len());
            CheckResult::new(*id, &[], *v, summary, serde_json::json!({}))
        })
        .collect();
    let report =
        ScanReport { targets: vec![TargetReport { target: "https://127.0.0.1:9/".into(), checks }], errors: vec![] };
    app.store.request_scan(&app.ctx(), sys, None).await.unwrap();
    let run = app.store.claim_scan(app.now(), time::Duration::hours(1)).await.unwrap().expect("the queued scan");
    app.store.finish_scan(&app.system_ctx(), &run, true, &report, "test").await.unwrap();
}

/// Answers items `numbers` of system `sys` 対応済, straight in the store.
async fn answered_in_store(app: &App, sys: i64, numbers: impl Iterator<Item = u32>) {
    for n in numbers {
        let input = AnswerInput::done(format!("No.{n} の対策を実施"));
        app.store.save_answer(&app.ctx(), sys, n, &input).await.unwrap();
    }
}

/// Every page a person reaches from the navigation and the system, by path.
fn tour(w: &Ward, event: i64) -> Vec<String> {
    let s = w.sys;
    let a = w.vendor_account;
    [
        "/dashboard".to_owned(),
        "/account".into(),
        "/password".into(),
        "/catalog".into(),
        "/catalog?version=1&compare=1".into(),
        "/catalog/import".into(),
        "/library".into(),
        "/systems".into(),
        "/systems?sort=status&dir=desc".into(),
        format!("/systems/{s}"),
        format!("/systems/{s}?show=returned&select=pending"),
        format!("/systems/{s}/edit"),
        format!("/systems/{s}/history"),
        format!("/systems/{s}/history?round=1"),
        format!("/systems/{s}/items/1"),
        format!("/systems/{s}/items/2"),
        format!("/systems/{s}/items/3"),
        format!("/systems/{s}/yearly"),
        format!("/systems/{s}/inventory"),
        format!("/systems/{s}/inventory/{}", w.component),
        "/inventory".into(),
        "/vulns".into(),
        format!("/systems/{s}/records"),
        format!("/systems/{s}/records/{}", w.record),
        format!("/systems/{s}/records/new?kind=contract"),
        "/records".into(),
        "/vulns?state=all".into(),
        "/feeds".into(),
        format!("/systems/{s}/report"),
        format!("/systems/{s}/yearly/report"),
        "/systems/new".into(),
        "/rounds".into(),
        "/admin/users".into(),
        "/admin/users/new".into(),
        format!("/admin/users/{a}"),
        format!("/admin/users/{a}/edit"),
        "/admin/organisations".into(),
        "/admin/ledger".into(),
        "/admin/access-review".into(),
        "/audit".into(),
        format!("/audit/events/{event}"),
        "/audit/signins".into(),
        "/alerts".into(),
        "/jobs".into(),
    ]
    .into()
}

/// Every code mamori stores that a person must never read as such.
fn internal_codes() -> BTreeSet<String> {
    let mut codes: BTreeSet<String> = BTreeSet::new();
    codes.extend(Action::ALL.iter().map(|a| a.as_str().to_owned()));
    codes.extend(Outcome::ALL.iter().map(|o| o.as_str().to_owned()));
    codes.extend(Role::ALL.iter().map(|r| r.as_str().to_owned()));
    codes.extend([OrgKind::Department, OrgKind::Vendor].iter().map(|k| k.as_str().to_owned()));
    codes.extend(Phase::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(SystemStatus::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(AnswerStatus::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(Review::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(HistoryKind::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(LedgerChange::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(SignoffKind::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(CheckId::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(mamori_core::jobs::JobKind::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(mamori_core::jobs::JobState::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(mamori_core::inventory::ComponentKind::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(mamori_core::inventory::SupportState::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(mamori_core::inventory::SupportSource::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(
        ["endoflife", "inventory.support_ending", "inventory.support_ended", "vuln.matched", "nvd", "jvn"]
            .map(str::to_owned),
    );
    codes.extend(mamori_core::vulns::MatchState::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(mamori_core::records::RecordKind::ALL.iter().map(|x| x.as_str().to_owned()));
    codes.extend(["record.due_soon", "record.overdue", "datacentre", "pmark", "isms", "ismap"].map(str::to_owned));
    // MatchedBy's codes (`cpe`, `name`) are words a CPE name itself holds.
    codes.extend(["pass", "warn", "error", "fail", "info", "warning", "critical"].map(str::to_owned));
    codes.extend(["signin.spraying", "signin.spike", "always"].map(str::to_owned));
    codes.extend(mamori_web::labels::TARGET_KINDS.map(|(kind, _)| kind.to_owned()));
    codes.extend(
        [
            "uses_servers",
            "web_system",
            "external_service",
            "confidentiality_high",
            "integrity_high",
            "availability_high",
        ]
        .map(str::to_owned),
    );
    codes
}

/// Every message id of the Japanese language file.
fn translation_keys() -> BTreeSet<String> {
    let ftl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/i18n/ja.ftl")).unwrap();
    let resource = fluent_syntax::parser::parse(ftl.as_str()).expect("ja.ftl parses");
    resource
        .body
        .iter()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

/// The Japanese text of message `key` (one without variables).
fn ja(key: &str) -> String {
    let ftl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/i18n/ja.ftl")).unwrap();
    let resource = fluent_syntax::parser::parse(ftl.as_str()).expect("ja.ftl parses");
    resource
        .body
        .iter()
        .find_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) if m.id.name == key => m.value.as_ref().map(|v| {
                v.elements
                    .iter()
                    .map(|el| match el {
                        fluent_syntax::ast::PatternElement::TextElement { value } => *value,
                        _ => panic!("{key} has a variable"),
                    })
                    .collect::<String>()
            }),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{key} in ja.ftl"))
}

/// The words of a visible text as a code would stand in it, and the parts
/// of a word joined by colons (`account:8` holds `account`).
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':')))
        .map(|t| t.trim_matches(|c| matches!(c, '.' | ':' | '-')))
        .filter(|t| !t.is_empty())
        .flat_map(|t| std::iter::once(t).chain(t.split(':').filter(move |p| !p.is_empty() && *p != t)))
}

#[tokio::test]
async fn every_page_for_every_role_stays_within_1366_px_and_shows_no_internal_code_or_translation_key() {
    let app = App::spawn("sqlite", Options::default()).await;
    let w = ward(&app).await;
    let event = app.store.audit_recent(1).await.unwrap()[0].record.seq;
    let codes = internal_codes();
    let keys = translation_keys();
    let mut problems = Vec::new();
    for (role, login, secret) in &w.people {
        let b = Browser::start(1366, 900).await;
        b.sign_in(&app, login, secret.as_deref()).await;
        for path in tour(&w, event) {
            b.open(&app, &path).await;
            let shown = b
                .eval(
                    "const d = document.documentElement;
                     return [d.scrollWidth, d.clientWidth, document.body.innerText, document.title, window.innerWidth]",
                )
                .await;
            let (width, window) = (shown[0].as_u64().unwrap(), shown[1].as_u64().unwrap());
            assert_eq!(shown[4], 1366, "the window is 1366 px wide");
            if width > window {
                problems.push(format!("{role:?} {path}: {width} px wide"));
            }
            let text = format!("{} {}", shown[3].as_str().unwrap(), shown[2].as_str().unwrap());
            let mut seen = BTreeSet::new();
            for t in tokens(&text) {
                if (codes.contains(t) || keys.contains(t)) && seen.insert(t.to_owned()) {
                    problems.push(format!("{role:?} {path}: shows `{t}`"));
                }
            }
        }
        b.close().await;
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    app.close().await;
}

#[tokio::test]
async fn the_navigation_fits_on_one_line_at_1024_px_with_an_alert_badge_for_every_role() {
    let app = App::spawn("sqlite", Options::default()).await;
    let w = ward(&app).await;
    for (role, login, secret) in &w.people {
        let b = Browser::start(1024, 768).await;
        b.sign_in(&app, login, secret.as_deref()).await;
        b.open(&app, "/dashboard").await;
        let nav = b
            .eval(
                "const h = document.querySelector('header.site');
                 const links = [...h.querySelectorAll('nav a')];
                 // How many lines the elements stand on: a new line starts
                 // below the bottom of the one before.
                 const rows = els => {
                   const boxes = els.map(e => e.getBoundingClientRect()).sort((a, b) => a.top - b.top);
                   let lines = 0, bottom = -Infinity;
                   for (const b of boxes) { if (b.top >= bottom) { lines++; bottom = b.bottom; } else { bottom = Math.max(bottom, b.bottom); } }
                   return lines;
                 };
                 return {
                   tops: rows(links),
                   bar: rows([...h.querySelectorAll('.bar > *')]),
                   broken: [...links, ...h.querySelectorAll('.bar > *')]
                     .filter(e => e.getClientRects().length > 1 || e.scrollWidth > e.clientWidth + 1)
                     .map(e => e.textContent.trim()),
                   width: document.documentElement.scrollWidth - document.documentElement.clientWidth,
                   alerts: links.map(e => e.textContent).filter(t => t.includes('(1)')).length,
                 };",
            )
            .await;
        assert_eq!(b.eval("return window.innerWidth").await, 1024, "the window is 1024 px wide");
        assert_eq!(nav["width"], 0, "{role:?}: the page is no wider than the window: {nav}");
        assert_eq!(nav["tops"], 1, "{role:?}: the links on one line: {nav}");
        assert_eq!(nav["bar"], 1, "{role:?}: the brand and the account on one line: {nav}");
        assert!(nav["broken"].as_array().unwrap().is_empty(), "{role:?}: no item breaks: {nav}");
        let badge = matches!(role, Role::SecurityOfficer | Role::Auditor);
        assert_eq!(nav["alerts"], u8::from(badge), "{role:?}: the open alert's badge: {nav}");
        b.close().await;
    }
    app.close().await;
}

#[tokio::test]
async fn axe_core_finds_no_serious_or_critical_violation_on_any_page_for_any_role() {
    let app = App::spawn("sqlite", Options::default()).await;
    let w = ward(&app).await;
    let event = app.store.audit_recent(1).await.unwrap()[0].record.seq;
    let mut problems = Vec::new();
    let b = Browser::start(1366, 900).await;
    for path in ["/", "/login"] {
        b.open(&app, path).await;
        for (rule, impact, at) in b.accessibility_violations().await {
            problems.push(format!("anonymous {path}: {rule} ({impact}) at {at}"));
        }
    }
    b.close().await;
    let (mut checked, mut refusals) = (0, 0);
    for (role, login, secret) in &w.people {
        let b = Browser::start(1366, 900).await;
        b.sign_in(&app, login, secret.as_deref()).await;
        // A page the role may not open shows the error page: the same
        // markup each time but for the request id, so the first one of
        // each role is checked and the rest are not checked again.
        let mut refusal_seen = false;
        for path in tour(&w, event) {
            b.open(&app, &path).await;
            if b.eval("return document.querySelector('section.error') !== null").await == true {
                if refusal_seen {
                    continue;
                }
                refusal_seen = true;
                refusals += 1;
            }
            checked += 1;
            for (rule, impact, at) in b.accessibility_violations().await {
                problems.push(format!("{role:?} {path}: {rule} ({impact}) at {at}"));
            }
        }
        b.close().await;
    }
    assert!(checked >= 100 && refusals >= 3, "the pages each role may open: {checked}; error pages: {refusals}");
    assert!(problems.is_empty(), "{} violations:\n{}", problems.len(), problems.join("\n"));
    app.close().await;
}

/// Where the summary of a refused form stands, and what has the focus.
async fn error_summary(b: &Browser) -> Value {
    b.eval(
        "const s = document.getElementById('error-summary');
         if (!s) return null;
         const r = s.getBoundingClientRect();
         const links = [...s.querySelectorAll('a')].map(a => a.getAttribute('href'));
         return {
           top: r.top, bottom: r.bottom, screen: window.innerHeight,
           focused: document.activeElement === s,
           text: s.innerText,
           targets: links.map(h => !!document.getElementById(h.slice(1))),
         };",
    )
    .await
}

#[tokio::test]
async fn scan_results_read_in_japanese_each_check_and_verdict_in_its_own_words_the_english_only_behind_a_toggle() {
    use mamori_core::verification::Verdict;
    let app = App::spawn("sqlite", Options::default()).await;
    let w = ward(&app).await;
    let (_, login, secret) = &w.people[1];
    let b = Browser::start(1366, 900).await;
    b.sign_in(&app, login, secret.as_deref()).await;
    b.open(&app, &format!("/systems/{}", w.sys)).await;
    let rows = b
        .eval(
            "return [...document.querySelectorAll('#scan tbody tr')]
               .map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))",
        )
        .await;
    let rows: Vec<Vec<String>> = serde_json::from_value(rows).unwrap();
    // `scanned` gave the checks pass, warn, fail, error in turn.
    let verdicts = [Verdict::Pass, Verdict::Warn, Verdict::Fail, Verdict::Error];
    assert_eq!(rows.len(), CheckId::ALL.len());
    let mut meanings = BTreeSet::new();
    for ((id, verdict), row) in CheckId::ALL.iter().zip(verdicts.iter().cycle()).zip(&rows) {
        let [pass, warn, fail] = mamori_web::labels::scan_meaning_keys(*id);
        let meaning = match verdict {
            Verdict::Pass => ja(pass),
            Verdict::Warn => ja(warn),
            Verdict::Fail => ja(fail),
            Verdict::Error => ja("scan-meaning-error"),
        };
        assert_eq!(row[1], ja(mamori_web::i18n::Label::key(*id)), "{id:?}");
        assert_eq!(row[2], ja(mamori_web::i18n::Label::key(*verdict)), "{id:?}");
        assert!(row[3].starts_with(&meaning), "{id:?} {verdict:?}: {}", row[3]);
        assert!(!row[3].contains("UnknownIssuer"), "the scanner's English stays folded: {}", row[3]);
        if *verdict != Verdict::Error {
            meanings.insert(meaning);
        }
    }
    assert_eq!(meanings.len(), 12, "twelve checks, twelve different sentences");
    // Unfolded, the scanner's own words are there.
    b.eval("document.querySelectorAll('#scan details').forEach(d => d.open = true); return null").await;
    let open = b.eval("return document.querySelector('#scan').innerText").await;
    assert!(open.as_str().unwrap().contains("UnknownIssuer"));
    b.close().await;
    app.close().await;
}

/// Presses Tab in the page shown and says what has the focus then: its tag,
/// text, whether a mark shows it (an outline or a ring) and whether it is
/// inside the window.
async fn tab(b: &Browser) -> Value {
    let active = b.client.active_element().await.unwrap();
    active.send_keys(&fantoccini::key::Key::Tab.to_string()).await.unwrap();
    b.eval(
        "const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
         return { tag: e.tagName, text: (e.innerText || e.value || '').trim().slice(0, 40),
                  marked: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none',
                  inside: r.bottom > 0 && r.top < innerHeight && r.width > 0 && r.height > 0 };",
    )
    .await
}

#[tokio::test]
async fn the_keyboard_reaches_the_content_past_the_header_and_every_stop_shows_its_focus() {
    let app = App::spawn("sqlite", Options::default()).await;
    let w = ward(&app).await;
    let mut problems = Vec::new();
    for (role, login, secret) in &w.people {
        let b = Browser::start(1366, 900).await;
        b.sign_in(&app, login, secret.as_deref()).await;
        for path in ["/dashboard".to_owned(), format!("/systems/{}", w.sys)] {
            if *role == Role::Admin && path.starts_with("/systems/") {
                continue;
            }
            b.open(&app, &path).await;
            // The first stop skips the header; taken, the focus is on the content.
            let first = tab(&b).await;
            if first["text"] != "本文へ移動" || first["marked"] != true || first["inside"] != true {
                problems.push(format!("{role:?} {path}: first stop {first}"));
            }
            b.client.active_element().await.unwrap().send_keys(&fantoccini::key::Key::Enter.to_string()).await.unwrap();
            let at = b.eval("return document.activeElement.id").await;
            if at != "main" {
                problems.push(format!("{role:?} {path}: the skip link left the focus on `{at}`"));
            }
            // Forty stops on (or to the end of the page, where the focus
            // leaves the document): each one marked, and in the window.
            for _ in 0..40 {
                let stop = tab(&b).await;
                if stop["tag"] == "BODY" {
                    break;
                }
                if stop["marked"] != true || stop["inside"] != true {
                    problems.push(format!("{role:?} {path}: {stop}"));
                }
            }
        }
        b.close().await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    app.close().await;
}

#[tokio::test]
async fn an_invalid_form_far_down_the_page_shows_its_summary_in_the_first_screen_with_the_focus_on_it() {
    let app = App::spawn("sqlite", Options::default()).await;
    let w = ward(&app).await;
    let (_, login, secret) = &w.people[1];
    let b = Browser::start(1366, 768).await;
    b.sign_in(&app, login, secret.as_deref()).await;

    // The log review form stands below the sign-in chart: a period that
    // ends before it starts.
    b.open(&app, "/audit/signins").await;
    let form_top = b.eval("return document.getElementById('findings').getBoundingClientRect().top").await;
    assert!(form_top.as_f64().unwrap() > 768.0, "the form starts below the first screen: {form_top}");
    b.fill(&[("from", "2026-12-01"), ("to", "2026-11-01"), ("findings", "異常なし")]).await;
    let s = error_summary(&b).await;
    assert!(!s.is_null(), "a summary");
    assert!(s["top"].as_f64().unwrap() >= 0.0 && s["bottom"].as_f64().unwrap() <= 768.0, "in the first screen: {s}");
    assert_eq!(s["focused"], true, "the focus is on it: {s}");
    assert!(s["text"].as_str().unwrap().contains("入力内容を確認してください"), "{s}");
    assert_eq!(s["targets"], json!([true]), "its message links to the field: {s}");

    // The officer returns an item without saying why.
    b.open(&app, &format!("/systems/{}/items/2", w.sys)).await;
    b.eval("document.querySelector('[name=decision][value=return]').checked = true; return null").await;
    b.fill(&[("comment", " ")]).await;
    let s = error_summary(&b).await;
    assert!(!s.is_null(), "a summary on the item page");
    assert!(s["bottom"].as_f64().unwrap() <= 768.0 && s["focused"] == true, "{s}");
    assert_eq!(s["targets"], json!([true]), "{s}");

    // A valid form shows none.
    b.open(&app, "/audit/signins").await;
    b.fill(&[("from", "2026-11-01"), ("to", "2026-11-30"), ("findings", "異常なし")]).await;
    assert!(error_summary(&b).await.is_null());
    b.close().await;
    app.close().await;
}

/// A web system with high confidentiality, integrity and availability and
/// an external service, but no servers of its own: 78 of the 79 items
/// apply (all but No.14). Every one answered and submitted:
/// (system, applicable items as the system's page lists them).
async fn submitted_system(app: &App) -> (i64, usize) {
    let dept = app.org("総務課", OrgKind::Department).await;
    let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
    let sys = system(app, dept, Some(vendor), "基幹業務システム").await;
    let before = app.store.system(sys).await.unwrap().unwrap();
    let mut input = before.input.clone();
    input.attrs = mamori_core::catalog::SystemAttributes {
        uses_servers: false,
        web_system: true,
        external_service: true,
        confidentiality_high: true,
        integrity_high: true,
        availability_high: true,
        cloud_only: false,
        ward_domain: false,
    };
    app.store.update_system(&app.system_ctx(), before.id, &input).await.unwrap();
    answered_in_store(app, sys, (1..=13).chain(15..=79)).await;
    let sha256 = "0".repeat(64);
    let file = mamori_store::evidence::NewEvidence {
        number: 1,
        original_name: "設定確認書.pdf",
        content_type: "application/pdf",
        sha256: &sha256,
        expires_on: None,
        content: b"%PDF-1.4 test",
        replaces: None,
        by: None,
    };
    app.store.add_evidence(&app.ctx(), sys, &file).await.unwrap();
    app.store.submit_system(&app.ctx(), sys).await.unwrap();
    let s = app.store.system(sys).await.unwrap().unwrap();
    let applicable = app.store.figures(&[s]).await.unwrap()[0].items.len();
    (sys, applicable)
}

#[tokio::test]
async fn reviewing_a_78_item_system_with_bulk_approval_takes_four_page_loads_each_approval_one_audited_decision_in_one_transaction(
) {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, applicable) = submitted_system(&app).await;
    assert_eq!(applicable, 78, "every attribute on: 78 of the 79 items apply");
    let (officer_id, secret) = app.user("shinsa01", Role::SecurityOfficer, None).await;
    let b = Browser::start(1366, 900).await;
    b.sign_in(&app, "shinsa01", secret.as_deref()).await;
    let before = b.loads();
    let seq_before = app.store.audit_recent(1).await.unwrap()[0].record.seq;

    b.open(&app, &format!("/systems/{sys}")).await;
    b.click("a[href$='?select=pending#items']").await;
    let ticked = b.eval("return document.querySelectorAll('input[name=item]:checked').length").await;
    assert_eq!(ticked, 78, "every pending item ticked");
    b.click("#items button[type=submit]").await;
    assert_eq!(b.path().await, format!("/systems/{sys}/approvals"), "the confirmation page");
    let listed = b.eval("return document.querySelectorAll('input[name=item]').length").await;
    assert_eq!(listed, 78, "the confirmation lists them all");
    b.click("form button[type=submit].button").await;
    assert_eq!(b.path().await, format!("/systems/{sys}"));
    let loads = b.loads() - before;
    assert!(loads < 10, "{loads} page loads");
    assert_eq!(loads, 4, "the list, all ticked, the confirmation, done");

    // Every answer approved, each by one audited decision of the officer,
    // written together: consecutive events at one instant.
    let answers = app.store.answers(sys, 1).await.unwrap();
    assert_eq!(answers.iter().filter(|a| a.review == Review::Approved).count(), 78);
    let events: Vec<_> = app
        .store
        .audit_recent(200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.seq > seq_before && e.record.action == Action::AnswerReviewed.as_str())
        .collect();
    assert_eq!(events.len(), 78, "one event per approval");
    assert!(events.iter().all(
        |e| e.record.actor_account_id == Some(officer_id) && e.record.changes.contains("\"decision\":\"approved\"")
    ));
    let seqs: BTreeSet<i64> = events.iter().map(|e| e.record.seq).collect();
    assert_eq!(seqs.last().unwrap() - seqs.first().unwrap(), 77, "consecutive: one transaction");
    assert_eq!(events.iter().map(|e| e.record.occurred_at_us).collect::<BTreeSet<_>>().len(), 1, "at one instant");
    b.close().await;
    app.close().await;
}

#[tokio::test]
async fn the_list_shows_each_answer_and_its_evidence_accessibly_and_approves_or_returns_in_place_in_one_page_load_each()
{
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, _) = submitted_system(&app).await;
    let (officer_id, secret) = app.user("shinsa01", Role::SecurityOfficer, None).await;
    let b = Browser::start(1366, 900).await;
    b.sign_in(&app, "shinsa01", secret.as_deref()).await;
    b.open(&app, &format!("/systems/{sys}")).await;
    let row = |n: u32| format!("return document.querySelector('#item-{n}').innerText");
    let first = b.eval(&row(1)).await;
    let first = first.as_str().unwrap();
    assert!(first.contains("No.1 の対策を実施") && first.contains("設定確認書.pdf"), "answer and evidence: {first}");
    assert_eq!(b.accessibility_violations().await, vec![], "the list in review");
    let seq_before = app.store.audit_recent(1).await.unwrap()[0].record.seq;
    let before = b.loads();

    // Approve No.1 from its row.
    b.click("#item-1 button[form='approve-1']").await;
    assert_eq!(b.path().await, format!("/systems/{sys}"));
    let first = b.eval(&row(1)).await;
    assert!(first.as_str().unwrap().contains("承認"), "{first}");
    assert!(
        b.eval("return document.querySelector('#item-1 button[form=approve-1]') === null").await == true,
        "a decided item offers no decision"
    );

    // Return No.2 from its row, with a comment typed there.
    let comment = "ログの保存期間(2年)の根拠資料を添付してください";
    b.client.find(fantoccini::Locator::Css("#item-2 details.return summary")).await.unwrap().click().await.unwrap();
    let field = b.client.find(fantoccini::Locator::Css("#return-comment-2")).await.unwrap();
    field.send_keys(comment).await.unwrap();
    b.click("#item-2 button[form='return-2']").await;
    assert_eq!(b.loads() - before, 2, "one page load per decision");
    let second = b.eval(&row(2)).await;
    let second = second.as_str().unwrap();
    assert!(second.contains("差戻し") && second.contains(comment), "returned with its comment in the list: {second}");

    // Each one audited decision of the officer; nothing else changed.
    let answers = app.store.answers(sys, 1).await.unwrap();
    let review = |n: u32| answers.iter().find(|a| a.number == n).unwrap();
    assert_eq!(review(1).review, Review::Approved);
    assert_eq!((review(2).review, review(2).review_comment.as_str()), (Review::Returned, comment));
    assert_eq!(answers.iter().filter(|a| a.review != Review::Pending).count(), 2);
    let events: Vec<_> = app
        .store
        .audit_recent(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.seq > seq_before && e.record.action == Action::AnswerReviewed.as_str())
        .collect();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.record.actor_account_id == Some(officer_id)));

    // The vendor reads the comment in the list too.
    let vendor = app.store.system(sys).await.unwrap().unwrap().input.vendor_id;
    app.user("gyosha01", Role::Vendor, vendor).await;
    let v = app.client();
    v.sign_in(&app, "gyosha01", crate::harness::PASSWORD, None).await;
    let page = v.get(&format!("/systems/{sys}")).await;
    assert!(page.body.contains("review-comment inline") && page.body.contains(comment), "vendor's list");
    assert!(!page.body.contains("form=\"approve-"), "the vendor is offered no decision");
    b.close().await;
    app.close().await;
}

#[tokio::test]
async fn a_new_round_starts_only_after_a_confirmation_and_the_old_rounds_history_stays_readable() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, applicable) = submitted_system(&app).await;
    let s = app.store.system(sys).await.unwrap().unwrap();
    let numbers: Vec<u32> = (1..=13).chain(15..=79).collect();
    app.store.approve_seen(&app.ctx(), sys, s.revision, &numbers).await.unwrap();
    app.store.finish_review(&app.ctx(), sys).await.unwrap();
    let (_, secret) = app.user("shinsa01", Role::SecurityOfficer, None).await;
    let b = Browser::start(1366, 900).await;
    b.sign_in(&app, "shinsa01", secret.as_deref()).await;

    b.open(&app, &format!("/systems/{sys}")).await;
    let button = "form[action$='/rounds'] button";
    let shown = format!("return document.querySelector(\"{button}\").checkVisibility()");
    assert_eq!(b.eval(&shown).await, false, "the button waits behind the confirmation");
    b.client.find(fantoccini::Locator::Css("details.confirm > summary")).await.unwrap().click().await.unwrap();
    let confirm_text = b.eval("return document.querySelector('details.confirm[open]').innerText").await;
    assert!(confirm_text.as_str().unwrap().contains("第2回の評価ラウンドを始めます"), "{confirm_text}");
    b.click(button).await;
    assert_eq!(app.store.system(sys).await.unwrap().unwrap().round, 2);

    // The history shows the current round, and round 1 on demand, whole.
    b.open(&app, &format!("/systems/{sys}/history")).await;
    let rows = "return document.querySelectorAll('table.list tbody tr').length";
    let heading = b.eval("return document.querySelector('h1').innerText").await;
    assert!(heading.as_str().unwrap().contains("第2回"), "{heading}");
    let current = b.eval(rows).await.as_u64().unwrap();
    b.click("nav.rounds a[href$='round=1']").await;
    let heading = b.eval("return document.querySelector('h1').innerText").await;
    assert!(heading.as_str().unwrap().contains("第1回"), "{heading}");
    let first = b.eval(rows).await.as_u64().unwrap();
    let text = b.eval("return document.querySelector('table.list').innerText").await;
    // Every answer, every approval, the submission and the end of the review.
    assert!(first >= 2 * applicable as u64 + 2, "round 1 keeps its {first} lines");
    assert!(text.as_str().unwrap().contains("審査完了"), "{text}");
    assert!(current < first, "round 2 has only begun: {current} lines");
    b.close().await;
    app.close().await;
}

#[tokio::test]
async fn statuses_and_dates_never_break_over_lines_and_the_lists_hold_a_1024_px_window() {
    let app = App::spawn("sqlite", Options::default()).await;
    let w = ward(&app).await;
    let s = w.sys;
    let mut problems = Vec::new();
    for (role, login, secret) in w.people.iter().filter(|(r, ..)| matches!(r, Role::SecurityOfficer | Role::Vendor)) {
        let b = Browser::start(1024, 768).await;
        b.sign_in(&app, login, secret.as_deref()).await;
        for path in [
            "/systems".to_owned(),
            format!("/systems/{s}"),
            format!("/systems/{s}/history"),
            format!("/systems/{s}/items/1"),
            "/audit".into(),
            "/admin/ledger".into(),
        ] {
            b.open(&app, &path).await;
            let found = b
                .eval(
                    "const cells = [...document.querySelectorAll('td.nowrap, td .nowrap')].filter(td => td.textContent.trim());
                     const broken = cells.filter(td => {
                       const r = document.createRange();
                       r.selectNodeContents(td);
                       return new Set([...r.getClientRects()].map(x => Math.round(x.bottom))).size > 1;
                     }).map(td => td.textContent.trim());
                     const d = document.documentElement;
                     return { cells: cells.length, broken, over: d.scrollWidth - d.clientWidth };",
                )
                .await;
            if found["cells"].as_u64() == Some(0) && !path.starts_with("/audit") && !path.starts_with("/admin") {
                problems.push(format!("{role:?} {path}: no status or date cell"));
            }
            if !found["broken"].as_array().unwrap().is_empty() {
                problems.push(format!("{role:?} {path}: broken {}", found["broken"]));
            }
            if found["over"].as_i64().unwrap_or(1) > 0 {
                problems.push(format!("{role:?} {path}: {} px too wide", found["over"]));
            }
        }
        b.close().await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    app.close().await;
}
