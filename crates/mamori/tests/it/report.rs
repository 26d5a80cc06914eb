//! `mamori report checklist` on the console, and its print page printed
//! to PDF by a real headless Chromium (Debian's package, installed by
//! scripts/test): A4 landscape, the column headings on every page, and no
//! row cut across two pages.

use crate::harness::{run, sqlite_store, system_ctx};
use calamine::{Data, DataType, Reader, Xlsx};
use mamori_core::checklist::AnswerInput;
use std::path::Path;
use std::process::Command;
use tempfile::TempDir;

/// A data directory with the demo's ten systems.
async fn demo() -> TempDir {
    let dir = TempDir::new().unwrap();
    let d = dir.path().join("data");
    let (code, _, err) = run(&["demo", "--data-dir", d.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    dir
}

fn data(dir: &TempDir) -> String {
    dir.path().join("data").to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_console_writes_the_checklist_as_xlsx_csv_and_html_and_audits_it() {
    let dir = demo().await;
    let d = data(&dir);
    let out = dir.path().join("c.xlsx");
    let args = ["report", "checklist", "--system", "1", "--format", "xlsx", "--output", out.to_str().unwrap()];
    let (code, _, err) = run(&[&["--data-dir", &d][..], &args].concat()).await;
    assert_eq!(code, 0, "{err}");
    let mut book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
    let sheet = book.worksheet_range("チェックリスト").unwrap();
    assert!(matches!(sheet.get_value((0, 0)), Some(Data::String(s)) if s.ends_with("文書管理システム")));
    let numbers: Vec<f64> = (12..12 + 79).filter_map(|r| sheet.get_value((r, 0))?.as_f64()).collect();
    assert_eq!(numbers, (1..=79).map(f64::from).collect::<Vec<_>>());

    let (code, csv, err) = run(&["--data-dir", &d, "report", "checklist", "--system", "1", "--format", "csv"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(csv.starts_with("\u{feff}No,大項目,中項目,内容,対応状況"), "{csv}");
    let html_args = ["--data-dir", &d, "report", "checklist", "--system", "1", "--format", "html"];
    let (code, html, _) = run(&html_args).await;
    assert_eq!(code, 0);
    assert!(html.contains("<style>") && html.contains("size: A4 landscape"), "a file stands alone");

    let (code, _, err) = run(&["--data-dir", &d, "report", "checklist", "--system", "999", "--format", "csv"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("システム 999 はありません"), "{err}");

    let store = sqlite_store(Path::new(&d)).await;
    let exported: Vec<String> = store
        .audit_recent(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.action == "report.exported")
        .map(|e| format!("{} {}", e.record.actor_login, e.record.changes))
        .collect();
    assert_eq!(exported.len(), 3, "{exported:?}");
    assert!(exported.iter().all(|e| e.starts_with("console")), "{exported:?}");
    store.close().await;
}

#[tokio::test]
async fn the_console_refuses_shift_jis_that_would_lose_a_character_and_names_it() {
    let dir = demo().await;
    let d = data(&dir);
    // System 4 of the demo is being answered: its vendor writes 𠮷 into No.1.
    let store = sqlite_store(Path::new(&d)).await;
    let input = AnswerInput::done("𠮷田が ID 管理簿を管理");
    store.save_answer(&system_ctx(), 4, 1, &input).await.unwrap();
    store.close().await;
    let out = dir.path().join("c.csv");
    let args = [
        "--data-dir",
        &d,
        "report",
        "checklist",
        "--system",
        "4",
        "--format",
        "csv",
        "--encoding",
        "cp932",
        "--output",
    ];
    let (code, _, err) = run(&[&args[..], &[out.to_str().unwrap()]].concat()).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No.1 対応内容: 𠮷 (U+20BB7)"), "{err}");
    assert!(!out.exists(), "nothing written");
    let (code, _, err) = run(&[&args[..], &[out.to_str().unwrap(), "--substitute"]].concat()).await;
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&out).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad && text.contains("〓田が ID 管理簿を管理"), "{text}");
}

/// One word of `pdftotext -bbox`: its box and text.
struct Word {
    x_min: f64,
    x_max: f64,
    y_min: f64,
    y_max: f64,
    text: String,
}

fn attr(tag: &str, name: &str) -> f64 {
    let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    tag[start..].split('"').next().unwrap().parse().unwrap()
}

/// The words of each page, with their boxes.
fn pages_of(bbox_html: &str) -> Vec<(f64, f64, Vec<Word>)> {
    let mut pages = Vec::new();
    for page in bbox_html.split("<page ").skip(1) {
        let (tag, _) = page.split_once('>').unwrap();
        let words = page
            .split("<word ")
            .skip(1)
            .map(|w| {
                let (tag, rest) = w.split_once('>').unwrap();
                let text = rest.split("</word>").next().unwrap().to_owned();
                Word {
                    x_min: attr(tag, "xMin"),
                    x_max: attr(tag, "xMax"),
                    y_min: attr(tag, "yMin"),
                    y_max: attr(tag, "yMax"),
                    text,
                }
            })
            .collect();
        pages.push((attr(tag, "width"), attr(tag, "height"), words));
    }
    pages
}

fn tool(name: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e} (scripts/test installs it from Debian's packages)"));
    assert!(out.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[tokio::test]
async fn the_print_page_prints_on_a4_landscape_with_headings_on_every_page_and_no_row_cut() {
    let dir = demo().await;
    let d = data(&dir);
    let html = dir.path().join("checklist.html");
    let pdf = dir.path().join("checklist.pdf");
    let args = ["--data-dir", &d, "report", "checklist", "--system", "1", "--format", "html", "--output"];
    let (code, _, err) = run(&[&args[..], &[html.to_str().unwrap()]].concat()).await;
    assert_eq!(code, 0, "{err}");
    tool(
        "chromium",
        &[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            &format!("--user-data-dir={}", dir.path().join("chromium").display()),
            &format!("--print-to-pdf={}", pdf.display()),
            &format!("file://{}", html.display()),
        ],
    );
    let bbox = String::from_utf8(tool("pdftotext", &["-bbox", pdf.to_str().unwrap(), "-"]).stdout).unwrap();
    let pages = pages_of(&bbox);
    let info = String::from_utf8(tool("pdfinfo", &[pdf.to_str().unwrap()]).stdout).unwrap();
    assert!(info.contains(&format!("Pages:           {}", pages.len())), "{info}");
    assert!(pages.len() >= 3, "79 requirements do not fit on {} page(s)", pages.len());

    let mut numbers = Vec::new();
    let total = pages.len();
    for (i, (width, height, words)) in pages.iter().enumerate() {
        let page = i + 1;
        // A4 landscape: 297 × 210 mm is 841.9 × 595.3 points.
        assert!((width - 841.9).abs() < 1.0 && (height - 595.3).abs() < 1.0, "page {page}: {width} × {height}");
        let footer: Vec<&str> = words.iter().filter(|w| w.y_min > height - 30.0).map(|w| w.text.as_str()).collect();
        assert_eq!(footer, [page.to_string(), "/".into(), total.to_string()], "page {page}: its number");
        let Some(heading) = words.iter().find(|w| w.text == "大項目") else {
            // Only the summary may stand after the last row.
            assert_eq!(numbers.len(), 79, "page {page}: no headings before the last row");
            assert!(words.iter().any(|w| w.text == "集計"), "page {page}: neither rows nor the summary");
            continue;
        };
        // Boxes are as tall as the font's ascent and descent: a word is
        // below the headings when its top is below their middle.
        let below = |w: &&Word| w.y_min > (heading.y_min + heading.y_max) / 2.0;
        // The No column lies left of 大項目; its words are the rows' numbers.
        let mut starts: Vec<(u32, f64)> = words
            .iter()
            .filter(below)
            .filter(|w| w.x_max < heading.x_min)
            .filter_map(|w| Some((w.text.parse::<u32>().ok()?, w.y_min)))
            .collect();
        starts.sort_by(|a, b| a.1.total_cmp(&b.1));
        let first = starts.iter().map(|(_, y)| *y).fold(f64::MAX, f64::min);
        assert!(first < f64::MAX, "page {page}: no row");
        // A row cut at the page's end would go on here, above the first
        // row that starts on this page.
        let carried: Vec<&str> =
            words.iter().filter(below).filter(|w| w.y_min + 2.0 < first).map(|w| w.text.as_str()).collect();
        assert!(carried.is_empty(), "page {page} begins with the rest of a row: {carried:?}");
        numbers.extend(starts.iter().map(|(n, _)| *n));
    }
    assert_eq!(numbers, (1..=79).collect::<Vec<_>>(), "every row once, in order");
}

#[tokio::test]
async fn the_console_writes_every_systems_checklist_in_one_workbook_with_filters() {
    let dir = demo().await;
    let d = data(&dir);
    let out = dir.path().join("all.xlsx");
    let (code, list, _) = run(&["--data-dir", &d, "system", "list"]).await;
    assert_eq!(code, 0);
    let approved = list.lines().filter(|l| l.ends_with("\tapproved")).count();
    assert!(approved > 0 && approved < list.lines().count(), "{list}");
    for (filter, systems) in [(None, list.lines().count()), (Some("approved"), approved)] {
        let mut args = vec!["--data-dir", &d, "report", "all", "--output", out.to_str().unwrap()];
        if let Some(status) = filter {
            args.extend(["--status", status]);
        }
        let (code, _, err) = run(&args).await;
        assert_eq!(code, 0, "{err}");
        let book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
        assert_eq!(book.sheet_names().len(), 2 + systems, "{filter:?}");
    }
    let (code, _, err) = run(&["--data-dir", &d, "report", "all", "--status", "finished"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("not_started, answering, submitted, returned, approved"), "{err}");
}

#[tokio::test]
async fn the_console_writes_the_yearly_report_and_refuses_an_impossible_year() {
    let dir = demo().await;
    let d = data(&dir);
    let year = time::OffsetDateTime::now_utc().year().to_string();
    let out = dir.path().join("yearly.xlsx");
    let args = ["--data-dir", &d, "report", "yearly", "--system", "1", "--year", &year, "--format", "xlsx", "--output"];
    let (code, _, err) = run(&[&args[..], &[out.to_str().unwrap()]].concat()).await;
    assert_eq!(code, 0, "{err}");
    let mut book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
    let sheet = book.worksheet_range("年次報告").unwrap();
    assert!(matches!(sheet.get_value((0, 0)), Some(Data::String(s)) if s.ends_with("文書管理システム")));
    let html_args = ["--data-dir", &d, "report", "yearly", "--system", "1", "--year", &year, "--format", "html"];
    let (code, html, _) = run(&html_args).await;
    assert_eq!(code, 0);
    assert!(html.contains("<style>") && html.contains("確認欄") && html.contains("報告期限"), "{html}");
    let (code, _, err) =
        run(&["--data-dir", &d, "report", "yearly", "--system", "1", "--year", "1999", "--format", "html"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("1999"), "{err}");
}

/// A report written to a file, and the audit log kept as a file before a
/// forced restore, hold personal data: each is its owner's only (0600, a
/// folder made for it 0700) whatever the umask of the shell the command is
/// run from; they were 0644 and 0755 under the usual 022. A file there
/// already is made so too.
#[tokio::test]
async fn files_the_console_writes_are_its_owner_s_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: sets this test process's file mode mask, inherited by the
    // commands it runs; nothing else here depends on it.
    unsafe { libc::umask(0o022) };
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = demo().await;
    let d = data(&dir);
    let out = dir.path().join("c.csv");
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = ["report", "checklist", "--system", "1", "--format", "csv", "--output", out.to_str().unwrap()];
    let (code, _, err) = run(&[&["--data-dir", &d][..], &args].concat()).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(mode(&out), 0o600, "the report");
    let written = std::fs::read(&out).unwrap();
    assert!(written.len() > 1000 && !written.starts_with(b"old"), "written over whole");
    let backups = dir.path().join("b");
    let (code, _, err) = run(&["--data-dir", &d, "backup", "--to", backups.to_str().unwrap(), "--unencrypted"]).await;
    assert_eq!(code, 0, "{err}");
    let archive = std::fs::read_dir(&backups).unwrap().next().unwrap().unwrap().path();
    let archives = dir.path().join("data/audit-archive");
    let _ = std::fs::remove_dir_all(&archives);
    let (code, out, err) =
        run(&["--data-dir", &d, "restore", "--from", archive.to_str().unwrap(), "--unencrypted", "--force"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(mode(&archives), 0o700, "the folder of the audit log kept");
    for f in std::fs::read_dir(&archives).unwrap() {
        let f = f.unwrap().path();
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}
