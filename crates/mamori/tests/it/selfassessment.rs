//! mamori's own filled-in checklist (docs/self-assessment/): an answers
//! file mamori imports, every one of the 79 items answered; each item
//! mamori meets names the tests that prove it, and each of those tests
//! exists; nothing is claimed the catalog does not mark as met; and the
//! Excel beside it is what mamori's own report makes once the file is
//! imported (`scripts/self-assessment` makes it again).

use crate::harness::{run, sqlite_store, started_once, system_ctx};
use mamori_core::checklist::AnswerStatus;
use mamori_files::answer_file::FileAnswer;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn self_assessment() -> PathBuf {
    repo().join("docs/self-assessment/mamori.yaml")
}

/// The file as mamori reads it.
fn answers() -> Vec<FileAnswer> {
    let bytes = std::fs::read(self_assessment()).unwrap();
    mamori_files::answer_file::read(&bytes).unwrap_or_else(|e| panic!("mamori.yaml: {e:?}"))
}

/// A system of department `department` (and vendor `vendor`) with `attrs`.
fn system_input(
    name: &str,
    department_id: i64,
    vendor_id: Option<i64>,
    attrs: mamori_core::catalog::SystemAttributes,
) -> mamori_store::systems::SystemInput {
    mamori_store::systems::SystemInput {
        vendor_id,
        attrs,
        ..mamori_store::systems::SystemInput::new(name, department_id)
    }
}

/// Every `fn NAME` of the workspace's Rust sources.
fn function_names() -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for p in mamori_testkit::files_under(&[repo().join("crates")]) {
        if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            for part in text.split("fn ").skip(1) {
                names.insert(part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
            }
        }
    }
    names
}

#[test]
fn every_item_is_answered_and_each_claim_names_tests_that_exist() {
    let items = answers();
    assert_eq!(items.iter().map(|i| i.number).collect::<Vec<_>>(), (1..=79).collect::<Vec<_>>());
    let catalog = mamori_core::catalog::CatalogFile::shipped();
    let fns = function_names();
    for i in &items {
        let met = catalog.requirements.iter().find(|r| r.number == i.number).unwrap().self_met;
        let reason = i.input.reason.as_str();
        match i.input.status {
            // Met by the software, in part or whole: what, and which tests.
            AnswerStatus::Done | AnswerStatus::Partial => assert!(!i.basis.is_empty(), "No.{}: which test", i.number),
            // The operator's: what it must do, and nothing claimed.
            AnswerStatus::NotDone => {
                assert!(i.basis.is_empty(), "No.{}: the operator's, claimed", i.number);
                assert!(reason.starts_with("運用者が対応する項目: "), "No.{}: what the operator must do", i.number);
            }
            other => panic!("No.{}: {other:?}", i.number),
        }
        if i.input.status == AnswerStatus::Partial {
            assert!(reason.starts_with("残りは運用者が対応する: "), "No.{}: what is left, and to whom", i.number);
        }
        // 対応済 where, and only where, the catalog says mamori meets it.
        assert_eq!(i.input.status == AnswerStatus::Done, met, "No.{}: 対応済 against self_met", i.number);
        for t in &i.basis {
            assert!(fns.contains(t), "No.{}: no test named {t}", i.number);
        }
    }
}

/// The item rows of a checklist workbook: the cells of each row whose first
/// cell is an item number, as text.
fn item_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).unwrap();
    range
        .rows()
        .filter(|r| {
            matches!(r.first(), Some(Data::Float(n)) if (1.0..=79.0).contains(n))
                || matches!(r.first(), Some(Data::Int(n)) if (1..=79).contains(n))
        })
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test]
async fn the_self_assessment_workbook_is_what_mamoris_report_makes_of_the_answers() {
    let (_keep, data) = started_once().await;
    let d = data.display().to_string();
    for (name, kind) in [("mamori 運用部門", "department"), ("mamori 開発", "vendor")] {
        let (code, _, err) = run(&["org", "create", name, "--kind", kind, "--data-dir", &d]).await;
        assert_eq!(code, 0, "{err}");
    }
    let store = sqlite_store(&data).await;
    let orgs = store.organisations().await.unwrap();
    let mut input = system_input(
        "mamori",
        orgs.iter().find(|o| o.name == "mamori 運用部門").unwrap().id,
        Some(orgs.iter().find(|o| o.name == "mamori 開発").unwrap().id),
        mamori_core::catalog::SystemAttributes {
            uses_servers: true,
            web_system: true,
            external_service: true,
            confidentiality_high: true,
            integrity_high: true,
            availability_high: true,
            ..Default::default()
        },
    );
    input.description = "セキュリティ要件チェックリストの運用システム".into();
    let version = store.catalog_versions().await.unwrap()[0].id;
    let sys = store.create_system(&system_ctx(), &input, version).await.unwrap();
    let file = self_assessment();
    let import = |dry: bool| {
        let (sys, file, d) = (sys.to_string(), file.display().to_string(), d.clone());
        async move {
            let mut args = vec!["system", "import-answers", &sys, "--file", &file, "--data-dir", &d];
            if dry {
                args.push("--dry-run");
            }
            run(&args).await
        }
    };
    let (code, out, err) = import(true).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No.33 ") && out.contains("79 件が変わります"), "{out}");
    assert!(store.answers(sys, 1).await.unwrap().is_empty(), "a dry run saves nothing");
    let (code, out, err) = import(false).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("79 件の回答を保存しました"), "{out}");
    let saved = store.answers(sys, 1).await.unwrap();
    assert_eq!(saved.len(), 79);
    let n33 = saved.iter().find(|a| a.number == 33).unwrap();
    assert!(n33.input.measures.contains("\n根拠: "), "{}", n33.input.measures);
    let (code, out, _) = import(false).await;
    assert!(code == 0 && out.contains("0 件の回答を保存しました"), "the same file again changes nothing: {out}");
    store.close().await;
    let out = data.join("mamori-checklist.xlsx");
    let (code, _, err) = run(&[
        "report",
        "checklist",
        "--system",
        &sys.to_string(),
        "--format",
        "xlsx",
        "--output",
        out.to_str().unwrap(),
        "--data-dir",
        &d,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let made = std::fs::read(&out).unwrap();
    let rows = item_rows(&made);
    assert_eq!(rows.len(), 79, "every item in the workbook");
    let committed = repo().join("docs/self-assessment/mamori-checklist.xlsx");
    if std::env::var_os("MAMORI_WRITE_SELF_ASSESSMENT").is_some() {
        std::fs::write(&committed, &made).unwrap();
    }
    let kept = std::fs::read(&committed)
        .expect("docs/self-assessment/mamori-checklist.xlsx (scripts/self-assessment makes it)");
    assert_eq!(
        item_rows(&kept),
        rows,
        "the committed workbook is not what the answers make: run scripts/self-assessment"
    );
    // Once submitted, the system's answers are the office's to review: the
    // file is refused in words, and nothing changes.
    let store = sqlite_store(&data).await;
    store.submit_system(&system_ctx(), sys).await.unwrap();
    let changed = data.join("changed.yaml");
    std::fs::write(&changed, "answers:\n  - {number: 33, status: 未対応, reason: 別の答え}\n").unwrap();
    let (code, out, err) =
        run(&["system", "import-answers", &sys.to_string(), "--file", changed.to_str().unwrap(), "--data-dir", &d])
            .await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("このシステムは今は回答を変更できません") && err.contains("何も保存していません"), "{err}");
    let n33 = store.answers(sys, 1).await.unwrap().into_iter().find(|a| a.number == 33).unwrap();
    assert_eq!(n33.input.status, AnswerStatus::Done, "nothing saved");
    store.close().await;
}

/// An answers file with any problem saves nothing, and names every problem
/// at once: in its form (a status no one uses, a date that does not
/// exist, an item twice, a field it does not have, aliases that multiply),
/// and against the system (an item not in its catalog, one that does not
/// apply to it).
#[tokio::test]
async fn an_answers_file_with_any_problem_saves_nothing_and_names_every_problem() {
    let (_keep, data) = started_once().await;
    let d = data.display().to_string();
    let (code, _, err) = run(&["org", "create", "出納課", "--kind", "department", "--data-dir", &d]).await;
    assert_eq!(code, 0, "{err}");
    let store = sqlite_store(&data).await;
    let dept = store.organisations().await.unwrap().into_iter().find(|o| o.name == "出納課").unwrap().id;
    // Not a web system: the web items do not apply.
    let input = system_input("会計システム", dept, None, Default::default());
    let version = store.catalog_versions().await.unwrap()[0].id;
    let sys = store.create_system(&system_ctx(), &input, version).await.unwrap();
    let catalog = mamori_core::catalog::CatalogFile::shipped();
    let applies = mamori_core::checklist::Conditions::of(&catalog.requirements).applicable(&input.attrs, &[]);
    let applies_not = (1..=79).find(|n| !applies.contains(n)).expect("an item that does not apply");
    let applies_first = applies[0];
    let mut laughs = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
    for (i, c) in ('b'..='j').enumerate() {
        let p = (b'a' + i as u8) as char;
        laughs.push_str(&format!("{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"));
    }
    let cases = [
        (
            format!(
                "answers:\n  - {{number: {applies_first}, status: 済み}}\n  - {{number: 2, status: 未対応, planned: 2027-02-30}}\n  - {{number: 3, status: 対象外, reason: x}}\n  - {{number: 3, status: 対象外, reason: x}}\n"
            ),
            vec![format!("No.{applies_first} status:"), "No.2 planned:".into(), "No.3 number:".into()],
        ),
        (
            "answers:\n  - {number: 1, status: 対応済, measures: x, owner: 誰か}\n".into(),
            vec!["owner".into()],
        ),
        (laughs, vec!["読み取れません".into()]),
        (
            format!(
                "answers:\n  - {{number: 99, status: 対応済, measures: x}}\n  - {{number: {applies_not}, status: 対応済, measures: x}}\n  - {{number: {applies_first}, status: 対応済, measures: x}}\n"
            ),
            vec!["No.99: この要件一覧にありません".into(), format!("No.{applies_not}: このシステムには適用されません")],
        ),
    ];
    let file = data.join("answers.yaml");
    for (text, says) in cases {
        std::fs::write(&file, &text).unwrap();
        let (code, out, err) =
            run(&["system", "import-answers", &sys.to_string(), "--file", file.to_str().unwrap(), "--data-dir", &d])
                .await;
        assert_eq!(code, 2, "{text}: {out}{err}");
        assert!(err.contains("何も保存していません"), "{err}");
        for s in &says {
            assert!(err.contains(s.as_str()), "{text}: {s} not in {err}");
        }
        assert!(store.answers(sys, 1).await.unwrap().is_empty(), "{text}: nothing saved");
    }
    store.close().await;
}
