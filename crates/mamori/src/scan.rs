//! `mamori scan`: verifies the technical items of a web server from outside.

use crate::shared::{outln, EXIT_CONFIG, EXIT_PROBLEM};
use clap::{Args, ValueEnum};
use mamori_scan::{scan, CheckId, ScanOptions, TargetReport, Verdict};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// 対象の URL またはホスト名 (https://…、http://…、www.example.lg.jp) / URLs or host names
    #[arg(required = true)]
    urls: Vec<String>,
    /// 確認するポート (カンマ区切り) / ports to probe
    #[arg(long, value_delimiter = ',')]
    ports: Option<Vec<u16>>,
    /// 信頼する CA 証明書 (PEM) / trust anchors for the certificate check
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// 平文 HTTP のポート / where plain HTTP is expected
    #[arg(long, default_value_t = 80)]
    http_port: u16,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// 接続・読み取りの時間制限 (秒) / timeout per connection
    #[arg(long, default_value_t = 5)]
    timeout: u64,
    /// 表示言語 / language of the text report
    #[arg(long, value_enum, default_value_t = Lang::Ja)]
    lang: Lang,
    /// 同時に確認する対象の数 / targets scanned at once
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Lang {
    Ja,
    En,
}

fn title(id: CheckId, lang: Lang) -> &'static str {
    let (ja, en) = match id {
        CheckId::TlsVersions => ("TLS のバージョンと暗号スイート (57)", "TLS versions and cipher suites (57)"),
        CheckId::TlsCertificate => ("サーバ証明書 (56)", "Certificate (56)"),
        CheckId::HttpsRedirect => ("すべてのページの HTTPS (55)", "HTTPS on every page (55)"),
        CheckId::Clickjacking => ("クリックジャッキング対策 (53)", "Clickjacking (53)"),
        CheckId::Disclosure => ("バージョン情報の表示 (33, 54③)", "Version disclosure (33, 54③)"),
        CheckId::Cookies => ("Cookie の属性 (44)", "Cookie attributes (44)"),
        CheckId::Exposed => ("公開不要なファイル (34①)", "Exposed files (34①)"),
        CheckId::Listing => ("ディレクトリ一覧 (34②)", "Directory listing (34②)"),
        CheckId::Ports => ("開いているポート (31, 32)", "Open ports (31, 32)"),
        CheckId::PasswordField => ("パスワードの非表示 (38②)", "Password fields masked (38②)"),
        CheckId::CsrfToken => ("フォームの CSRF 対策 (45)", "CSRF tokens in forms (45)"),
        CheckId::SessionIdStrength => ("セッションIDの推測困難性 (42②)", "Session id strength (42②)"),
        CheckId::SessionInUrl => ("URL 中のセッションID (43)", "Session id in URLs (43)"),
        CheckId::CredentialsInUrl => ("URL 中の認証情報 (54①)", "Credentials in URLs (54①)"),
        CheckId::Admin => ("管理用インタフェース (35, 36)", "Administration interfaces (35, 36)"),
        CheckId::ErrorDetail => ("エラーの詳細表示 (47②, 54③)", "Error detail (47②, 54③)"),
    };
    if lang == Lang::En {
        en
    } else {
        ja
    }
}

fn verdict(v: Verdict, lang: Lang) -> &'static str {
    match (v, lang) {
        (Verdict::Pass, Lang::Ja) => "合格",
        (Verdict::Warn, Lang::Ja) => "要確認",
        (Verdict::Fail, Lang::Ja) => "不合格",
        (Verdict::Error, Lang::Ja) => "実行不可",
        (Verdict::Pass, Lang::En) => "pass",
        (Verdict::Warn, Lang::En) => "warn",
        (Verdict::Fail, Lang::En) => "FAIL",
        (Verdict::Error, Lang::En) => "error",
    }
}

pub async fn run(args: ScanArgs) -> ExitCode {
    let ca_pem = match crate::shared::read_ca_file(args.ca_file.as_deref()) {
        Ok(pem) => pem,
        Err(code) => return code,
    };
    let mut opts = ScanOptions {
        timeout: Duration::from_secs(args.timeout.clamp(1, 60)),
        ca_pem,
        http_port: args.http_port,
        ..ScanOptions::default()
    };
    if let Some(p) = args.ports {
        opts.ports = p;
    }
    // Targets in parallel, at most `concurrency` at once; reports in the order given.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(args.concurrency.clamp(1, 256)));
    let opts = std::sync::Arc::new(opts);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, url) in args.urls.iter().cloned().enumerate() {
        let (slots, opts) = (slots.clone(), opts.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            (i, url.clone(), scan(&url, &opts).await)
        });
    }
    // A progress bar on the terminal when there are several targets (never
    // in a pipe, where it would be noise).
    use std::io::IsTerminal;
    let bar = (args.urls.len() > 1 && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(args.urls.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed}") {
            b.set_style(style);
        }
        b
    });
    let mut done = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Some(b) = &bar {
            b.inc(1);
        }
        if let Ok(r) = r {
            done.push(r);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    done.sort_by_key(|(i, _, _)| *i);
    let mut reports: Vec<TargetReport> = Vec::new();
    let mut unscannable = false;
    for (_, url, result) in done {
        match result {
            Ok(r) => reports.push(r),
            Err(e) => {
                eprintln!("mamori: {url} を確認できません (cannot scan): {e}");
                unscannable = true;
            }
        }
    }
    match args.format {
        Format::Json => outln!("{}", serde_json::json!({ "targets": reports })),
        Format::Text => {
            for r in &reports {
                outln!("{}", r.target);
                for c in &r.checks {
                    // Coloured on a terminal only (console decides).
                    let word = verdict(c.verdict, args.lang);
                    let word = match c.verdict {
                        Verdict::Pass => console::style(word).green(),
                        Verdict::Warn => console::style(word).yellow(),
                        Verdict::Fail => console::style(word).red().bold(),
                        Verdict::Error => console::style(word).magenta(),
                    };
                    outln!("  {:<10} {:<32} {}", word, title(c.id, args.lang), c.summary);
                }
            }
        }
    }
    let failed = reports.iter().any(|r| r.checks.iter().any(|c| c.verdict == Verdict::Fail));
    if unscannable || reports.iter().any(|r| r.checks.iter().all(|c| c.verdict == Verdict::Error)) {
        ExitCode::from(EXIT_CONFIG)
    } else if failed {
        ExitCode::from(EXIT_PROBLEM)
    } else {
        ExitCode::SUCCESS
    }
}
