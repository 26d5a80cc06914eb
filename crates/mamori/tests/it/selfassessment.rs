//! mamori's own filled-in checklist (docs/self-assessment/): every one of
//! the 79 items answered; each item mamori meets names the tests that prove
//! it, and each of those tests exists; nothing is claimed the catalog does
//! not mark as met; and the Excel beside it is what mamori's own report
//! makes from these answers (`scripts/self-assessment` makes it again).

use crate::harness::{run, sqlite_store, started_once, system_ctx};
use mamori_core::checklist::{AnswerInput, AnswerStatus};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct File {
    items: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    number: u32,
    owner: String,
    status: String,
    #[serde(default)]
    measures: String,
    #[serde(default)]
    proved_by: Vec<String>,
    #[serde(default)]
    operator: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn answers() -> Vec<Item> {
    let text = std::fs::read_to_string(repo().join("docs/self-assessment/mamori.yaml")).unwrap();
    serde_yaml_ng::from_str::<File>(&text).expect("mamori.yaml parses").items
}

/// Every `fn NAME` of the workspace's Rust sources.
fn function_names() -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut dirs = vec![repo().join("crates")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for part in text.split("fn ").skip(1) {
                    let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    names.insert(name);
                }
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
        assert!(["done", "partial", "not_done"].contains(&i.status.as_str()), "No.{}: {}", i.number, i.status);
        match i.owner.as_str() {
            "mamori" => {
                assert!(!i.measures.is_empty() && !i.proved_by.is_empty(), "No.{}: what and which test", i.number);
            }
            "operator" => {
                assert!(i.status == "not_done" && i.proved_by.is_empty(), "No.{}: the operator's, claimed", i.number);
                assert!(!i.operator.is_empty(), "No.{}: what the operator must do", i.number);
            }
            other => panic!("No.{}: owner {other}", i.number),
        }
        // 対応済 only where the catalog says mamori meets it.
        assert!(i.status != "done" || met, "No.{} claimed done but not self_met in the catalog", i.number);
        assert!(!met || i.owner == "mamori", "No.{} is met by mamori: say how", i.number);
        for t in &i.proved_by {
            assert!(fns.contains(t), "No.{}: no test named {t}", i.number);
        }
    }
}

fn status(s: &str) -> AnswerStatus {
    match s {
        "done" => AnswerStatus::Done,
        "partial" => AnswerStatus::Partial,
        _ => AnswerStatus::NotDone,
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
    let input = mamori_store::systems::SystemInput {
        name: "mamori".into(),
        description: "セキュリティ要件チェックリストの運用システム".into(),
        department_id: orgs.iter().find(|o| o.name == "mamori 運用部門").unwrap().id,
        vendor_id: Some(orgs.iter().find(|o| o.name == "mamori 開発").unwrap().id),
        maintenance_id: None,
        cloud_id: None,
        phase: mamori_core::checklist::Phase::Building,
        attrs: mamori_core::catalog::SystemAttributes {
            uses_servers: true,
            web_system: true,
            external_service: true,
            confidentiality_high: true,
            integrity_high: true,
            availability_high: true,
            ..Default::default()
        },
        ismap_number: String::new(),
        service_name: String::new(),
        service_region: String::new(),
        urls: vec![],
        hosts: vec![],
        due_on: None,
    };
    let version = store.catalog_versions().await.unwrap()[0].id;
    let sys = store.create_system(&system_ctx(), &input, version).await.unwrap();
    let items = answers();
    for i in &items {
        let measures = match (i.measures.as_str(), i.operator.as_str()) {
            (m, "") => m.to_owned(),
            ("", o) => format!("運用者: {o}"),
            (m, o) => format!("{m}\n運用者: {o}"),
        };
        let proved = if i.proved_by.is_empty() { String::new() } else { format!("試験: {}", i.proved_by.join(", ")) };
        let answer = AnswerInput {
            status: status(&i.status),
            measures: if proved.is_empty() { measures } else { format!("{measures}\n{proved}") },
            planned: None,
            reason: String::new(),
        };
        store.save_answer(&system_ctx(), sys, i.number, &answer).await.unwrap();
    }
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
}
