//! `mamori demo`: fills an empty data directory with a realistic sample, so
//! a new user can look around in a minute. `--systems` and `--accounts`
//! make it larger, for trying the pages at a ward's scale.

use crate::settings::GlobalArgs;
use crate::shared::{open_store, outln, EXIT_CONFIG, EXIT_PROBLEM};
use clap::Args;
use mamori_core::audit::{Actor, Origin};
use mamori_core::catalog::{RequirementDef, SystemAttributes};
use mamori_core::checklist::{self, AnswerInput, AnswerStatus, Phase, Review, SystemStatus};
use mamori_core::clock::{Clock, SystemClock};
use mamori_core::identity::{Login, OrgKind, Role};
use mamori_core::password::hash;
use mamori_core::records::{self, RecordKind, RecordReview};
use mamori_store::accounts::NewAccount;
use mamori_store::evidence::NewEvidence;
use mamori_store::identity::Ctx;
use mamori_store::systems::SystemInput;
use mamori_store::Seen;
use mamori_store::{Store, StoreError};
use rand::Rng;
use std::process::ExitCode;

/// The named sample: systems and accounts made whatever the sizes asked.
const NAMED_SYSTEMS: u32 = 10;
const NAMED_ACCOUNTS: u32 = 8;
/// The largest sample `--systems` and `--accounts` make.
const MAX_SIZE: u32 = 5000;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// 作成するシステムの数 (1〜5000; 11 件目からは「業務システム 0011」のように作成) / number of systems
    #[arg(long, value_name = "N", default_value_t = NAMED_SYSTEMS)]
    systems: u32,
    /// 作成するアカウントの数 (8〜5000; 9 件目からは user-0009 のように作成) / number of accounts
    #[arg(long, value_name = "N", default_value_t = NAMED_ACCOUNTS)]
    accounts: u32,
}

/// A password that meets the policy: 16 characters from four classes.
fn password() -> String {
    const SETS: [&[u8]; 4] = [b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnopqrstuvwxyz", b"23456789", b"-_.!#%+="];
    let mut rng = rand::rngs::OsRng;
    let mut chars: Vec<u8> = (0..16)
        .map(|i| {
            let set = SETS[i % 4];
            set[rng.gen_range(0..set.len())]
        })
        .collect();
    for i in (1..chars.len()).rev() {
        chars.swap(i, rng.gen_range(0..=i));
    }
    String::from_utf8(chars).expect("ASCII")
}

/// The sizes asked for, or why they are refused.
fn check(args: &DemoArgs) -> Result<(), String> {
    if !(1..=MAX_SIZE).contains(&args.systems) {
        return Err(format!(
            "--systems は 1 から {MAX_SIZE} までの数にしてください。{} は指定できません (--systems must be between 1 and {MAX_SIZE})",
            args.systems
        ));
    }
    if !(NAMED_ACCOUNTS..=MAX_SIZE).contains(&args.accounts) {
        return Err(format!(
            "--accounts は {NAMED_ACCOUNTS} から {MAX_SIZE} までの数にしてください。{} は指定できません (--accounts must be between {NAMED_ACCOUNTS} and {MAX_SIZE})",
            args.accounts
        ));
    }
    Ok(())
}

pub async fn run(global: &GlobalArgs, args: &DemoArgs) -> ExitCode {
    if let Err(message) = check(args) {
        eprintln!("mamori: {message}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let code = match fill(&store, args).await {
        Ok(Filled { accounts, more }) => {
            outln!("デモデータを作成しました (demo data created). アカウント (accounts):");
            outln!("{:<14} {:<18} password", "login", "role");
            for (login, role, pw) in accounts {
                outln!("{login:<14} {role:<18} {pw}");
            }
            if more > 0 {
                let first = extra_login(NAMED_ACCOUNTS + 1);
                let range =
                    if more == 1 { first } else { format!("{first} 〜 {}", extra_login(NAMED_ACCOUNTS + more)) };
                outln!(
                    "ほかに {more} 件のアカウント ({range}) を作成しました。パスワードは表示しません。使うときは mamori user reset-password で設定してください (further accounts created: {more}; set a password with `mamori user reset-password LOGIN --password-stdin`)."
                );
            }
            outln!("システム管理者・情報セキュリティ担当・事業者は、初回ログイン時に二要素認証を設定します (admin, officer and vendor enrol TOTP at first sign-in).");
            ExitCode::SUCCESS
        }
        Err(Refusal::NotEmpty) => {
            eprintln!("mamori: このデータディレクトリには既にデータがあります。デモは空のディレクトリにだけ作成します (the data directory already holds data)");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(Refusal::Store(e)) => {
            eprintln!("mamori: デモデータを作成できませんでした (cannot create demo data): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    };
    store.close().await;
    code
}

enum Refusal {
    NotEmpty,
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e)
    }
}

/// What was made: the named accounts with their passwords, and how many
/// further accounts (whose passwords are not shown).
struct Filled {
    accounts: Vec<(String, &'static str, String)>,
    more: u32,
}

/// The login of the `n`th account beyond the named ones: `user-0009`.
fn extra_login(n: u32) -> String {
    format!("user-{n:04}")
}

fn demo_ctx() -> Ctx {
    Ctx {
        now: SystemClock.now(),
        actor: Actor { account_id: None, login: "demo".into() },
        origin: Origin::default(),
        standing: None,
    }
}

async fn fill(store: &Store, args: &DemoArgs) -> Result<Filled, Refusal> {
    if !store.accounts().await?.is_empty() || !store.organisations().await?.is_empty() {
        return Err(Refusal::NotEmpty);
    }
    let ctx = demo_ctx();
    let catalog = match store.ensure_catalog(&ctx).await? {
        Some(id) => id,
        None => store.catalog_versions().await?[0].id,
    };
    let mut dept = Vec::new();
    for name in ["総務課", "税務課", "子育て支援課", "情報政策課"] {
        dept.push(store.create_organisation_audited(&ctx, name, OrgKind::Department, "内線 1234").await?);
    }
    let mut vendors = Vec::new();
    for name in ["株式会社ちよだシステム", "まもり情報サービス株式会社", "クラウドワークス合同会社"]
    {
        vendors.push(store.create_organisation_audited(&ctx, name, OrgKind::Vendor, "03-0000-0000").await?);
    }
    let people: [(&str, &str, Role, Option<i64>); NAMED_ACCOUNTS as usize] = [
        ("admin", "管理 太郎", Role::Admin, None),
        ("officer", "情報 花子", Role::SecurityOfficer, None),
        ("auditor", "監査 次郎", Role::Auditor, None),
        ("soumu", "総務 三郎", Role::Department, Some(dept[0])),
        ("zeimu", "税務 四郎", Role::Department, Some(dept[1])),
        ("vendor-a", "千代田 一郎", Role::Vendor, Some(vendors[0])),
        ("vendor-b", "守 二郎", Role::Vendor, Some(vendors[1])),
        ("vendor-c", "雲 三子", Role::Vendor, Some(vendors[2])),
    ];
    // Vendor and department staff beyond the named people, in turn.
    let more = args.accounts.saturating_sub(NAMED_ACCOUNTS);
    let staff: Vec<(String, String, Role, Option<i64>)> = (NAMED_ACCOUNTS + 1..=NAMED_ACCOUNTS + more)
        .map(|n| {
            let k = n as usize / 2;
            let (role, org) = if n.is_multiple_of(2) {
                (Role::Vendor, vendors[k % vendors.len()])
            } else {
                (Role::Department, dept[k % dept.len()])
            };
            (extra_login(n), format!("デモ 利用者{n:04}"), role, Some(org))
        })
        .collect();
    let everyone: Vec<(String, String, Role, Option<i64>)> = people
        .iter()
        .map(|(login, name, role, org)| ((*login).to_owned(), (*name).to_owned(), *role, *org))
        .chain(staff)
        .collect();
    let passwords: Vec<String> = everyone.iter().map(|_| password()).collect();
    let hashes = hash_all(&passwords).await;
    let mut accounts = Vec::new();
    for (((login, name, role, org), pw), password_hash) in everyone.into_iter().zip(passwords).zip(hashes) {
        let new = NewAccount {
            login: Login::parse(&login).expect("a valid demo login"),
            display_name: name,
            email: format!("{login}@example.lg.jp"),
            role,
            organisation_id: org,
            password_hash,
            must_change_password: false,
        };
        store.issue_account(&ctx, &new, "デモデータ").await?;
        if accounts.len() < NAMED_ACCOUNTS as usize {
            accounts.push((login, role.as_str(), pw));
        }
    }
    let reqs = store.catalog_document(catalog).await?.map(|c| c.requirements.clone()).unwrap_or_default();
    let systems: [(&str, usize, usize, Phase, SystemAttributes, SystemStatus); NAMED_SYSTEMS as usize] = [
        ("文書管理システム", 0, 0, Phase::Production, web(true, false), SystemStatus::Approved),
        ("電子申請システム", 3, 0, Phase::Production, web(true, true), SystemStatus::Submitted),
        ("税務総合システム", 1, 1, Phase::Production, onprem(), SystemStatus::Returned),
        ("子育て支援ポータル", 2, 2, Phase::PreProduction, web(true, true), SystemStatus::Answering),
        ("財務会計システム", 0, 0, Phase::Building, onprem(), SystemStatus::NotStarted),
        ("庁内グループウェア", 3, 1, Phase::Production, web(false, true), SystemStatus::Approved),
        ("施設予約システム", 2, 2, Phase::Building, web(false, false), SystemStatus::NotStarted),
        ("住民情報システム", 1, 0, Phase::Production, onprem(), SystemStatus::Submitted),
        ("議事録検索サービス", 3, 2, Phase::PreProduction, web(false, true), SystemStatus::Answering),
        ("旧人事給与システム", 0, 1, Phase::Retired, onprem(), SystemStatus::Returned),
    ];
    let progress = Progress::new(args.systems);
    for (i, (name, d, v, phase, attrs, target)) in systems.into_iter().take(args.systems as usize).enumerate() {
        let input = SystemInput {
            // mamori itself on its default address: the daily scan has a real,
            // local target and contacts nothing outside this machine.
            urls: if attrs.web_system && i < 2 { vec!["https://127.0.0.1:8443/".to_owned()] } else { vec![] },
            // A retired system ran first: it is retired below, as the
            // office would, once its round is under way.
            ..demo_system(name, dept[d], vendors[v], live(phase), attrs, "C21-0001-1")
        };
        let ctx = demo_ctx();
        let id = store.create_system(&ctx, &input, catalog).await?;
        drive(store, &ctx, id, &reqs, (target, phase), false).await?;
        if phase == Phase::Retired {
            retire(store, &ctx, id).await?;
        }
        progress.inc();
    }
    // Beyond the named ten: every applicable item answered, the systems in
    // turn 提出済, 承認, 差戻し and 回答中, over every department and vendor.
    for n in NAMED_SYSTEMS + 1..=args.systems {
        let k = (n - NAMED_SYSTEMS - 1) as usize;
        let target =
            [SystemStatus::Submitted, SystemStatus::Approved, SystemStatus::Returned, SystemStatus::Answering][k % 4];
        let phase =
            [Phase::Production, Phase::Production, Phase::PreProduction, Phase::Production, Phase::Building][k % 5];
        let attrs = [
            web(true, false),
            onprem(),
            web(false, true),
            web(true, true),
            SystemAttributes { availability_high: true, ..onprem() },
            web(false, false),
        ][k / 4 % 6];
        // No addresses: the server's scans of a large sample would only fail.
        let (name, ismap) = (format!("業務システム {n:04}"), format!("C21-{n:04}-1"));
        let (d, v) = (dept[k % dept.len()], vendors[k / dept.len() % vendors.len()]);
        let input = demo_system(&name, d, v, phase, attrs, &ismap);
        let ctx = demo_ctx();
        let id = store.create_system(&ctx, &input, catalog).await?;
        drive(store, &ctx, id, &reqs, (target, phase), true).await?;
        progress.inc();
    }
    progress.finish();
    Ok(Filled { accounts, more })
}

/// The passwords' hashes, in order. Each hash takes a moment (argon2, item
/// 40): a large sample hashes on every core.
async fn hash_all(passwords: &[String]) -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = passwords.len().div_ceil(cores).max(1);
    let tasks: Vec<_> = passwords
        .chunks(chunk)
        .map(|c| {
            let c = c.to_vec();
            tokio::task::spawn_blocking(move || c.iter().map(|pw| hash::hash(pw)).collect::<Vec<String>>())
        })
        .collect();
    let mut hashes = Vec::with_capacity(passwords.len());
    for t in tasks {
        hashes.extend(t.await.expect("hashing a password does not panic"));
    }
    hashes
}

/// A progress bar on the terminal for a large sample (never in a pipe).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(systems: u32) -> Progress {
        use std::io::IsTerminal;
        Progress((systems > NAMED_SYSTEMS && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(u64::from(systems));
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed}") {
                b.set_style(style);
            }
            b
        }))
    }

    fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    fn finish(self) {
        if let Some(b) = self.0 {
            b.finish_and_clear();
        }
    }
}

fn web(external: bool, high: bool) -> SystemAttributes {
    SystemAttributes {
        uses_servers: !external,
        web_system: true,
        external_service: external,
        confidentiality_high: high,
        integrity_high: high,
        availability_high: false,
        cloud_only: false,
        ward_domain: false,
    }
}

fn onprem() -> SystemAttributes {
    SystemAttributes { uses_servers: true, ..SystemAttributes::default() }
}

/// A demo system built by `vendor`; an external service gets the ISMAP
/// number `ismap` and a service in Tokyo.
fn demo_system(
    name: &str,
    department: i64,
    vendor: i64,
    phase: Phase,
    attrs: SystemAttributes,
    ismap: &str,
) -> SystemInput {
    let external = |v: &str| if attrs.external_service { v.to_owned() } else { String::new() };
    SystemInput {
        description: "デモ用のシステムです。".into(),
        vendor_id: Some(vendor),
        phase,
        attrs,
        ismap_number: external(ismap),
        service_name: external("パブリッククラウド"),
        service_region: external("東京リージョン"),
        ..SystemInput::new(name, department)
    }
}

/// The phase a system of the sample is registered in: a retired one ran
/// first.
fn live(phase: Phase) -> Phase {
    if phase == Phase::Retired {
        Phase::Production
    } else {
        phase
    }
}

/// Retires a system as the office does: its disposal record (item 79)
/// approved, then the move to 廃止 (No.79 approved with its evidence).
async fn retire(store: &Store, ctx: &Ctx, id: i64) -> Result<(), StoreError> {
    let kind = RecordKind::Disposal;
    let values = records::parse(kind, |f| {
        match f {
            "what" => "旧サーバ 2 台の HDD",
            "disposed_on" => "2026-03-31",
            "method" => "物理破壊 (破壊証明書あり)",
            _ => "",
        }
        .to_owned()
    })
    .map_err(|_| StoreError::Missing)?;
    let rec = store.save_record(ctx, id, None, kind, &values, mamori_store::records::Keeper::CONSOLE).await?;
    let seen = store.records(id).await?.into_iter().find(|r| r.id == rec).map(|r| r.seen()).unwrap_or_default();
    store.review_record(ctx, (id, rec, &seen), RecordReview::Approved, "").await?;
    let mut input = store.system(id).await?.ok_or(StoreError::Missing)?.input;
    input.phase = Phase::Retired;
    store.update_system(ctx, id, &input).await
}

/// Answers and reviews a system until it reaches `target`, with evidence
/// on the duties of the phase it is `headed` for. A system left 回答中 has
/// half its items answered, or all of them with `all_answered`.
async fn drive(
    store: &Store,
    ctx: &Ctx,
    id: i64,
    reqs: &[RequirementDef],
    (target, headed): (SystemStatus, Phase),
    all_answered: bool,
) -> Result<(), StoreError> {
    if target == SystemStatus::NotStarted {
        return Ok(());
    }
    let s = store.system(id).await?.ok_or(StoreError::Missing)?;
    let applicable: Vec<u32> = checklist::applicable(reqs, &s.input.attrs, &[]).iter().map(|r| r.number).collect();
    let count =
        if target == SystemStatus::Answering && !all_answered { applicable.len() / 2 } else { applicable.len() };
    let later = (ctx.now + time::Duration::days(120)).date();
    for (k, n) in applicable.iter().take(count).enumerate() {
        let input = match k % 7 {
            5 => AnswerInput {
                status: AnswerStatus::Partial,
                measures: "一部の端末で対応済み".into(),
                planned: Some(later),
                reason: String::new(),
            },
            6 => AnswerInput {
                status: AnswerStatus::NotApplicable,
                measures: String::new(),
                planned: None,
                reason: "該当する機器を使用していない".into(),
            },
            _ => AnswerInput::done(format!("No.{n} の対策を実施済み(設定画面の写しを添付)")),
        };
        store.save_answer(ctx, id, *n, &input).await?;
    }
    // Evidence on the first item, and on the duties of the phase the
    // system is headed for: a running system's diagnosis (No.37, 78), or
    // it is flagged as never having passed the gate into production; a
    // retired one's disposal (No.79), or it could not be retired.
    let duties = checklist::phase_duties(headed).iter().filter(|n| applicable.contains(n));
    for (number, name) in
        applicable.first().map(|n| (n, "運用手順書.pdf")).into_iter().chain(duties.map(|n| (n, "証明書.pdf")))
    {
        let pdf = b"%PDF-1.4\n% mamori demo evidence\n%%EOF\n";
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(pdf));
        let e = NewEvidence {
            number: *number,
            original_name: name,
            content_type: "application/pdf",
            sha256: &sha,
            expires_on: None,
            content: pdf,
            replaces: None,
            by: None,
        };
        store.add_evidence(ctx, id, &e).await?;
    }
    if target == SystemStatus::Answering {
        return Ok(());
    }
    store.submit_system(ctx, id).await?;
    if target == SystemStatus::Submitted {
        return Ok(());
    }
    let seen: std::collections::BTreeMap<u32, Seen> =
        store.answers(id, s.round).await?.into_iter().map(|a| (a.number, a.seen())).collect();
    for (k, n) in applicable.iter().enumerate() {
        let seen = seen.get(n).cloned().unwrap_or_default();
        if target == SystemStatus::Returned && k < 2 {
            store.decide(ctx, id, *n, &seen, Review::Returned, "証跡(設定画面の写し)を添付してください").await?;
        } else {
            store.decide(ctx, id, *n, &seen, Review::Approved, "").await?;
        }
    }
    store.finish_review(ctx, id).await.map(drop)
}
