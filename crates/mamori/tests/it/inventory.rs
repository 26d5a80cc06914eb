//! `mamori inventory import|export` and `mamori feed import` on the
//! console: the same operations as the web pages, audited as the console.

use crate::harness::{run, sqlite_store};
use std::path::Path;
use tempfile::TempDir;

#[tokio::test]
async fn the_console_imports_and_exports_an_inventory_imports_release_data_and_advisories_and_lists_the_matches() {
    let dir = TempDir::new().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let (code, _, err) = run(&["demo", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");

    // English headings, in another order; an Excel date cell is read as a date too.
    let sheet = dir.path().join("inventory.csv");
    std::fs::write(&sheet, "product,version,vendor,cpe,support_end,runs_on\nnginx,1.24.0,F5,,,web01\nPostgreSQL,15.4,PGDG,,2027-11-11,db01\n").unwrap();
    let (code, out, err) =
        run(&["--data-dir", d, "inventory", "import", "--system", "1", sheet.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("追加 2 件"), "{out}");

    // A bad row: named, exit 2, nothing imported.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "product,version,vendor,cpe,support_end\nnginx,,F5,,\nApache,2.4,,,2027-02-30\n").unwrap();
    let (code, _, err) = run(&["--data-dir", d, "inventory", "import", "--system", "1", bad.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2行目 バージョン") && err.contains("3行目 サポート終了日"), "{err}");
    let (code, _, err) =
        run(&["--data-dir", d, "inventory", "import", "--system", "999", sheet.to_str().unwrap()]).await;
    assert_eq!(code, 2);
    assert!(err.contains("システム 999 はありません"), "{err}");

    // Release data: the kind read from the content; a file that is none is refused.
    let feed = dir.path().join("nginx.json");
    std::fs::write(&feed, r#"[{"cycle":"1.24","eol":"2024-04-23","latest":"1.24.0"},{"cycle":"1.25","eol":false}]"#)
        .unwrap();
    let (code, out, err) = run(&["--data-dir", d, "feed", "import", feed.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 件") && out.contains("更新したソフトウェア 1 件") && out.contains("終了日のないもの 1 件"),
        "{out}"
    );
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    let (code, _, err) = run(&["--data-dir", d, "feed", "import", junk.to_str().unwrap()]).await;
    assert_eq!(code, 2);
    assert!(err.contains("対応していない形式"), "{err}");

    // Exported as CSV and as Excel, with the date the data gave.
    let (code, csv, err) = run(&["--data-dir", d, "inventory", "export", "--system", "1", "--format", "csv"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(csv.starts_with("\u{feff}種別,製品,ベンダ,バージョン,稼働場所,CPE,サポート終了日"), "{csv}");
    assert!(
        csv.contains("nginx,F5,1.24.0,web01,,2024-04-23") && csv.contains("PostgreSQL,PGDG,15.4,db01,,2027-11-11"),
        "{csv}"
    );
    let xlsx = dir.path().join("inventory.xlsx");
    let args = [
        "--data-dir",
        d,
        "inventory",
        "export",
        "--system",
        "1",
        "--format",
        "xlsx",
        "--output",
        xlsx.to_str().unwrap(),
    ];
    let (code, _, err) = run(&args).await;
    assert_eq!(code, 0, "{err}");
    let rows = mamori_files::inventory::read(&std::fs::read(&xlsx).unwrap()).unwrap();
    assert_eq!(rows.len(), 2);

    // Advisories: NVD's JSON names nginx before 1.25.3; the console lists the match.
    let cve = dir.path().join("nvdcve.json");
    std::fs::write(
        &cve,
        r#"{"format":"NVD_CVE","vulnerabilities":[{"cve":{"id":"CVE-2023-44487","lastModified":"2025-01-01T00:00:00",
          "descriptions":[{"lang":"en","value":"HTTP/2 rapid reset"}],"metrics":{"cvssMetricV31":[{"cvssData":{"baseScore":7.5}}]},
          "configurations":[{"nodes":[{"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*","versionEndExcluding":"1.25.3"}]}]}]}}]}"#,
    )
    .unwrap();
    let (code, out, err) = run(&["--data-dir", d, "feed", "import", cve.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(nvd)"), "{out}");
    let (code, out, err) = run(&["--data-dir", d, "vuln", "list", "--system", "1", "--format", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &list.as_array().unwrap()[..];
    assert_eq!(m.len(), 1, "{out}");
    assert_eq!(
        (
            m[0]["system_id"].as_i64(),
            m[0]["advisory"].as_str(),
            m[0]["product"].as_str(),
            m[0]["version"].as_str(),
            m[0]["state"].as_str()
        ),
        (Some(1), Some("CVE-2023-44487"), Some("nginx"), Some("1.24.0"), Some("open"))
    );
    let (code, out, _) = run(&["--data-dir", d, "vuln", "list"]).await;
    assert_eq!(code, 0);
    assert!(out.starts_with("1\tCVE-2023-44487\tCVE-2023-44487\t7.5\tnginx 1.24.0\topen"), "{out}");
    let (code, _, err) = run(&["--data-dir", d, "vuln", "list", "--system", "999"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("システム 999 はありません"), "{err}");

    let store = sqlite_store(Path::new(d)).await;
    let done: Vec<(String, String)> = store
        .audit_recent(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| ["inventory.imported", "inventory.exported", "feed.imported"].contains(&e.record.action.as_str()))
        .map(|e| (e.record.action.clone(), e.record.actor_login.clone()))
        .collect();
    assert_eq!(done.len(), 5, "{done:?}");
    assert!(done.iter().all(|(_, who)| who.starts_with("console")), "{done:?}");
}
