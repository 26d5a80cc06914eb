//! Stored cross-site scripting, tried as an attacker would: well over a
//! hundred payloads (tags, event handlers, `javascript:` URLs, SVG and
//! MathML, attribute and element breaking, template syntax, Unicode and
//! encoding tricks) stored in every free-text field and file name, then
//! every page that shows them loaded in a real Chromium whose hook records
//! any script that runs and any Content-Security-Policy violation.

use crate::browser::Browser;
use crate::checklist::system;
use crate::harness::{App, Options};
use mamori_core::checklist::{AnswerInput, AnswerStatus, Phase};
use mamori_core::identity::{Login, OrgKind, Role};
use mamori_core::inventory::{ComponentInput, ComponentKind};
use mamori_core::records::{FieldType, RecordKind, Values};
use mamori_core::vulns::{Advisory, Affected, MatchState, Versions, VulnSource};

/// Each payload is built so that, taken as HTML, it leaves an element the
/// page can be searched for (`data-xss-probe`, `<xss-probe>`) besides
/// whatever script it tries to run.
pub fn payloads() -> Vec<String> {
    let breakers =
        ["", "\"", "'", "\">", "'>", "</textarea>", "</title>", "</script>", "-->", "</option></select>", "`"];
    let vectors = [
        "<script data-xss-probe>alert(1)</script>",
        "<img data-xss-probe src=x onerror=alert(1)>",
        "<svg data-xss-probe onload=alert(1)>",
        "<a data-xss-probe href=\"javascript:alert(1)\">x</a>",
        "<iframe data-xss-probe srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<details data-xss-probe open ontoggle=alert(1)>",
        "<xss-probe onclick=alert(1)></xss-probe>",
        "<input data-xss-probe autofocus onfocus=alert(1)>",
        "<object data-xss-probe data=\"javascript:alert(1)\"></object>",
        "<math><mi data-xss-probe xlink:href=\"javascript:alert(1)\">x</mi></math>",
        "<style data-xss-probe>*{background:url(javascript:alert(1))}</style>",
        "<form data-xss-probe action=\"javascript:alert(1)\"><button>x</button></form>",
        "<body data-xss-probe onload=alert(1)>",
        "<svg><animate data-xss-probe onbegin=alert(1) attributeName=x dur=1s>",
    ];
    let mut out: Vec<String> = breakers.iter().flat_map(|b| vectors.iter().map(move |v| format!("{b}{v}"))).collect();
    out.extend(
        [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " \tjavascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "{{7*7}}{{constructor.constructor('alert(1)')()}}",
            "${alert(1)}#{alert(1)}<%= 7*7 %>",
            "{% raw %}{{ x }}{% endraw %}{# c #}",
            "＜script＞alert(1)＜/script＞",
            "\u{202E}fdp.exe<img data-xss-probe src=x onerror=alert(1)>",
            "<scr\u{200B}ipt>alert(1)</script><img data-xss-probe src=x onerror=alert(1)>",
            "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "&lt;img data-xss-probe src=x onerror=alert(1)&gt;",
            "&#60;img data-xss-probe src=x onerror=alert(1)&#62;",
            "\\u003cimg data-xss-probe src=x onerror=alert(1)\\u003e",
            "<!--<img src=--><img data-xss-probe src=x onerror=alert(1)//-->",
            "<noscript><p title=\"</noscript><img data-xss-probe src=x onerror=alert(1)>\">",
            "<svg data-xss-probe><script>alert&#40;1&#41;</script></svg>",
            "\"onmouseover=alert(1) data-xss-probe=\"",
            "' onfocus=alert(1) autofocus data-xss-probe='",
            "<img data-xss-probe src=x onerror=\"eval(atob('YWxlcnQoMSk='))\">",
        ]
        .map(str::to_owned),
    );
    out
}

/// `n` payloads from `from` on, joined by new lines (a multi-line field
/// holds many).
fn joined(p: &[String], from: usize, n: usize) -> String {
    p.iter().cycle().skip(from).take(n).cloned().collect::<Vec<_>>().join("\n")
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

struct Stored {
    sys: i64,
    component: i64,
    record: i64,
    account: i64,
    event: i64,
    people: Vec<(Role, &'static str, Option<String>)>,
}

/// Stores the payloads through the store, below the forms' own checks, so
/// that what is tried is the output's escaping whatever got in.
async fn store_payloads(app: &App, p: &[String]) -> Stored {
    let dept = app.org(&format!("総務課{}", p[0]), OrgKind::Department).await;
    let vendor = app.org(&format!("ベンダー{}", p[1]), OrgKind::Vendor).await;
    let sys = system(app, dept, Some(vendor), "文書管理システム").await;
    let before = app.store.system(sys).await.unwrap().unwrap();
    let mut input = before.input.clone();
    input.name = p[2].clone();
    input.description = joined(p, 3, 40);
    input.urls = vec!["javascript:alert(1)".into(), format!("https://docs.example.lg.jp/{}", p[4])];
    input.hosts = vec![p[5].clone()];
    input.ismap_number = p[6].clone();
    input.service_name = p[7].clone();
    input.service_region = p[8].clone();
    input.phase = Phase::Production;
    app.store.update_system(&app.system_ctx(), before.id, &input).await.unwrap();

    let people = app.one_of_each_role(dept, vendor).await;
    let account = app
        .store
        .issue_account(
            &app.ctx(),
            &mamori_store::accounts::NewAccount {
                login: Login::parse("xss01").unwrap(),
                display_name: p[9].clone(),
                email: "xss01@example.lg.jp".into(),
                role: Role::Vendor,
                organisation_id: Some(vendor),
                password_hash: mamori_core::password::hash::hash(crate::harness::PASSWORD),
                must_change_password: false,
            },
            &p[10],
        )
        .await
        .unwrap();

    // Answers, reasons and evidence file names; submitted, one returned.
    let ctx = app.ctx();
    let applicable: Vec<u32> = (1..=12).chain(15..=30).chain([79]).collect();
    for (i, n) in applicable.iter().enumerate() {
        let input = AnswerInput {
            status: AnswerStatus::Partial,
            measures: joined(p, i * 5, 5),
            planned: Some(time::macros::date!(2027 - 03 - 31)),
            reason: p[(i + 60) % p.len()].clone(),
        };
        app.store.save_answer(&ctx, sys, *n, &input).await.unwrap();
    }
    let sha = "0".repeat(64);
    for (i, n) in applicable.iter().take(12).enumerate() {
        let name = format!("{}.pdf", p[(i * 13) % p.len()]);
        let e = mamori_store::evidence::NewEvidence {
            number: *n,
            original_name: &name,
            content_type: "application/pdf",
            sha256: &sha,
            expires_on: None,
            content: PDF,
            replaces: None,
            by: None,
        };
        app.store.add_evidence(&ctx, sys, &e).await.unwrap();
    }
    app.store.submit_system(&ctx, sys).await.unwrap();
    let answer = app.store.answer(sys, 1, 2).await.unwrap().unwrap();
    app.store
        .decide(&ctx, sys, 2, &answer.seen(), mamori_core::checklist::Review::Returned, &joined(p, 70, 15))
        .await
        .unwrap();

    // The inventory, an advisory whose link is a script, a decision.
    let mut component = 0;
    for i in 0..8 {
        let c = ComponentInput {
            kind: ComponentKind::ALL[i % ComponentKind::ALL.len()],
            product: if i == 0 { "Apache HTTP Server".into() } else { format!("製品{i}{}", p[i * 7 % p.len()]) },
            vendor: p[(i * 7 + 1) % p.len()].clone(),
            version: p[(i * 7 + 2) % p.len()].clone(),
            runs_on: format!("server{i}{}", p[(i * 7 + 3) % p.len()]),
            cpe: (i == 0).then(|| "cpe:2.3:a:apache:http_server:2.4.57:*:*:*:*:*:*:*".to_owned()),
            support_end: None,
            reason: joined(p, i * 7 + 4, 3),
        };
        component = app.store.save_component(&ctx, sys, None, &c).await.unwrap();
    }
    let advisory = Advisory {
        source: VulnSource::Jvn,
        ident: "JVNDB-2026-000001".into(),
        title: joined(p, 90, 4),
        link: "javascript:alert(1)".into(),
        cvss: Some(9.8),
        cves: vec![p[95].clone()],
        modified: "1".into(),
        affected: vec![Affected {
            part: Some('a'),
            vendor: "apache".into(),
            product: "http_server".into(),
            versions: Versions::Unknown,
            on: vec![],
        }],
    };
    app.store.import_advisories(&ctx, &format!("{}.rdf", p[96]), "0", VulnSource::Jvn, &[advisory]).await.unwrap();
    let matched = app.store.vuln_matches(Some(sys)).await.unwrap()[0].id;
    app.store.decide_match(&ctx, (sys, matched, None), MatchState::NotAffected, &joined(p, 100, 5)).await.unwrap();

    // A record of every kind, every text field a payload.
    let mut record = 0;
    for (k, kind) in RecordKind::ALL.iter().enumerate() {
        let mut v = std::collections::BTreeMap::new();
        for (f, spec) in kind.fields().iter().enumerate() {
            let text = p[(k * 11 + f) % p.len()].clone();
            let value = match spec.ty {
                FieldType::Text(_) | FieldType::Multiline(_) => text,
                FieldType::Date => "2027-03-31".into(),
                FieldType::Url => "javascript:alert(1)".into(),
                FieldType::Phone => "03-1234-5678".into(),
                FieldType::Email => "a@example.lg.jp".into(),
                FieldType::Number(lo, _) => lo.to_string(),
                FieldType::Choice(codes) => codes[0].into(),
                FieldType::YesNo => "yes".into(),
            };
            v.insert(spec.name.to_owned(), value);
        }
        record = app
            .store
            .save_record(&ctx, sys, None, *kind, &Values(v), mamori_store::records::Keeper::CONSOLE)
            .await
            .unwrap();
    }

    // The library, a sign-off, an alert.
    let doc = mamori_store::library::NewDocFile {
        original_name: &format!("{}.pdf", p[110]),
        content_type: "application/pdf",
        sha256: &sha,
        expires_on: None,
        content: PDF,
    };
    for i in 0..6 {
        app.store.add_document(&ctx, vendor, &p[(111 + i) % p.len()], &doc).await.unwrap();
    }
    let year = app.now().to_offset(mamori_core::jst::JST).year();
    app.store
        .add_signoff(&ctx, sys, year, mamori_core::yearly::SignoffKind::AdminAccounts, &joined(p, 120, 4))
        .await
        .unwrap();
    app.store
        .raise_alert(
            app.now(),
            "signin.spraying",
            mamori_core::monitoring::Severity::Warning,
            &p[130],
            &joined(p, 131, 5),
        )
        .await
        .unwrap();
    let event = app.store.audit_recent(1).await.unwrap()[0].record.seq;
    Stored { sys, component, record, account, event, people }
}

/// Every page that shows what was stored.
fn pages(s: &Stored) -> Vec<String> {
    let sys = s.sys;
    let mut out: Vec<String> = [
        "/dashboard".to_owned(),
        "/systems".into(),
        "/rounds".into(),
        format!("/systems/{sys}"),
        format!("/systems/{sys}?show=returned"),
        format!("/systems/{sys}/edit"),
        format!("/systems/{sys}/history"),
        format!("/systems/{sys}/yearly"),
        format!("/systems/{sys}/yearly/report"),
        format!("/systems/{sys}/report"),
        format!("/systems/{sys}/inventory"),
        format!("/systems/{sys}/inventory/{}", s.component),
        "/inventory".into(),
        "/vulns?state=all".into(),
        "/feeds".into(),
        format!("/systems/{sys}/records"),
        format!("/systems/{sys}/records/{}", s.record),
        "/records".into(),
        "/library".into(),
        "/alerts".into(),
        "/audit".into(),
        format!("/audit/events/{}", s.event),
        "/admin/users".into(),
        format!("/admin/users/{}", s.account),
        format!("/admin/users/{}/edit", s.account),
        "/admin/organisations".into(),
        "/admin/ledger".into(),
    ]
    .into();
    out.extend([1, 2, 3, 12, 79].map(|n| format!("/systems/{sys}/items/{n}")));
    out
}

#[tokio::test]
async fn over_a_hundred_stored_payloads_in_every_text_field_and_file_name_run_no_script_and_break_no_csp_on_any_page_for_any_role(
) {
    let app = App::spawn("sqlite", Options::default()).await;
    let p = payloads();
    assert!(p.len() >= 100, "{} payloads", p.len());
    let stored = store_payloads(&app, &p).await;
    let mut findings = Vec::new();
    let mut shown = 0;
    for (role, login, secret) in &stored.people {
        let b = Browser::start(1366, 900).await;
        b.watch_scripts().await;
        b.sign_in(&app, login, secret.as_deref()).await;
        for path in pages(&stored) {
            b.open(&app, &path).await;
            let status_ok =
                b.eval("return !document.title.includes('404') && document.body.innerText.length > 0").await;
            if status_ok == serde_json::Value::Bool(true) {
                shown += 1;
            }
            for f in b.script_findings().await {
                findings.push(format!("{role:?} {path}: {f}"));
            }
        }
        b.close().await;
    }
    assert!(findings.is_empty(), "{} findings:\n{}", findings.len(), findings.join("\n"));
    // The walk saw the pages, not error pages: every role reads some, the office most.
    assert!(shown >= 60, "only {shown} pages shown");
    app.close().await;
}

#[tokio::test]
async fn the_hook_sees_a_script_that_runs_and_a_csp_violation() {
    // The test above is only as good as its hook: on a page of mamori's
    // own origin, an inline script is blocked (a violation seen) and a
    // script mamori would allow, run by hand, is seen calling alert.
    let app = App::spawn("sqlite", Options::default()).await;
    let b = Browser::start(1024, 768).await;
    b.watch_scripts().await;
    b.open(&app, "/login").await;
    assert!(b.script_findings().await.is_empty(), "the sign-in page itself is clean");
    b.eval(
        "const s = document.createElement('script'); s.textContent = 'alert(2)'; document.body.appendChild(s);
         alert(3);
         const i = document.createElement('img'); i.setAttribute('data-xss-probe', ''); document.body.appendChild(i);
         return null",
    )
    .await;
    let seen = b.script_findings().await.join("\n");
    assert!(seen.contains("csp script-src"), "{seen}");
    assert!(seen.contains("alert 3") && !seen.contains("alert 2"), "{seen}");
    assert!(seen.contains("element <img data-xss-probe"), "{seen}");
    b.close().await;
    app.close().await;
}
