//! `mamori demo`: fills an empty data directory with a realistic sample, so
//! a new user can look around in a minute.

use crate::config::GlobalArgs;
use crate::shared::{open_store, outln, EXIT_CONFIG, EXIT_PROBLEM};
use mamori_core::audit::{Actor, Origin};
use mamori_core::catalog::SystemAttributes;
use mamori_core::checklist::{self, AnswerInput, AnswerStatus, Phase, Review, SystemStatus};
use mamori_core::clock::{Clock, SystemClock};
use mamori_core::identity::{Login, OrgKind, Role};
use mamori_core::password::hash;
use mamori_store::accounts::NewAccount;
use mamori_store::evidence::NewEvidence;
use mamori_store::identity::Ctx;
use mamori_store::systems::SystemInput;
use mamori_store::{Store, StoreError};
use rand::Rng;
use std::process::ExitCode;

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

pub async fn run(global: &GlobalArgs) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let code = match fill(&store).await {
        Ok(accounts) => {
            outln!("デモデータを作成しました (demo data created). アカウント (accounts):");
            outln!("{:<14} {:<18} password", "login", "role");
            for (login, role, pw) in accounts {
                outln!("{login:<14} {role:<18} {pw}");
            }
            outln!("システム管理者と情報セキュリティ担当は、初回ログイン時に二要素認証を設定します (admin and officer enrol TOTP at first sign-in).");
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

async fn fill(store: &Store) -> Result<Vec<(String, &'static str, String)>, Refusal> {
    if !store.accounts().await?.is_empty() || !store.organisations().await?.is_empty() {
        return Err(Refusal::NotEmpty);
    }
    let ctx = Ctx {
        now: SystemClock.now(),
        actor: Actor { account_id: None, login: "demo".into() },
        origin: Origin::default(),
    };
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
    let people: [(&str, &str, Role, Option<i64>); 8] = [
        ("admin", "管理 太郎", Role::Admin, None),
        ("officer", "情報 花子", Role::SecurityOfficer, None),
        ("auditor", "監査 次郎", Role::Auditor, None),
        ("soumu", "総務 三郎", Role::Department, Some(dept[0])),
        ("zeimu", "税務 四郎", Role::Department, Some(dept[1])),
        ("vendor-a", "千代田 一郎", Role::Vendor, Some(vendors[0])),
        ("vendor-b", "守 二郎", Role::Vendor, Some(vendors[1])),
        ("vendor-c", "雲 三子", Role::Vendor, Some(vendors[2])),
    ];
    let mut accounts = Vec::new();
    for (login, name, role, org) in people {
        let pw = password();
        let new = NewAccount {
            login: Login::parse(login).expect("a valid demo login"),
            display_name: name.into(),
            email: format!("{login}@example.lg.jp"),
            role,
            organisation_id: org,
            password_hash: hash::hash(&pw),
            must_change_password: false,
        };
        store.issue_account(&ctx, &new, "デモデータ").await?;
        accounts.push((login.to_owned(), role.as_str(), pw));
    }
    let reqs = store.catalog_document(catalog).await?.map(|c| c.requirements.clone()).unwrap_or_default();
    let systems: [(&str, usize, usize, Phase, SystemAttributes, SystemStatus); 10] = [
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
    for (i, (name, d, v, phase, attrs, target)) in systems.into_iter().enumerate() {
        let input = SystemInput {
            name: name.into(),
            description: "デモ用のシステムです。".into(),
            department_id: dept[d],
            vendor_id: Some(vendors[v]),
            phase,
            attrs,
            ismap_number: if attrs.external_service { "C21-0001-1".into() } else { String::new() },
            service_name: if attrs.external_service { "パブリッククラウド".into() } else { String::new() },
            service_region: if attrs.external_service { "東京リージョン".into() } else { String::new() },
            // mamori itself on its default address: the daily scan has a real,
            // local target and contacts nothing outside this machine.
            urls: if attrs.web_system && i < 2 { vec!["https://127.0.0.1:8443/".to_owned()] } else { vec![] },
            hosts: vec![],
        };
        let id = store.create_system(&ctx, &input, catalog).await?;
        drive(store, &ctx, id, &reqs, target).await?;
    }
    Ok(accounts)
}

fn web(external: bool, high: bool) -> SystemAttributes {
    SystemAttributes {
        uses_servers: !external,
        web_system: true,
        external_service: external,
        confidentiality_high: high,
        integrity_high: high,
        availability_high: false,
    }
}

fn onprem() -> SystemAttributes {
    SystemAttributes { uses_servers: true, ..SystemAttributes::default() }
}

/// Answers and reviews a system until it reaches `target`.
async fn drive(
    store: &Store,
    ctx: &Ctx,
    id: i64,
    reqs: &[mamori_core::catalog::RequirementDef],
    target: SystemStatus,
) -> Result<(), StoreError> {
    if target == SystemStatus::NotStarted {
        return Ok(());
    }
    let s = store.system(id).await?.ok_or(StoreError::Missing)?;
    let applicable: Vec<u32> = checklist::applicable(reqs, &s.input.attrs, &[]).iter().map(|r| r.number).collect();
    let count = if target == SystemStatus::Answering { applicable.len() / 2 } else { applicable.len() };
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
            _ => AnswerInput {
                status: AnswerStatus::Done,
                measures: format!("No.{n} の対策を実施済み(設定画面の写しを添付)"),
                planned: None,
                reason: String::new(),
            },
        };
        store.save_answer(ctx, id, *n, &input).await?;
    }
    if let Some(first) = applicable.first() {
        let pdf = b"%PDF-1.4\n% mamori demo evidence\n%%EOF\n";
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(pdf));
        let e = NewEvidence {
            number: *first,
            original_name: "運用手順書.pdf",
            content_type: "application/pdf",
            sha256: &sha,
            expires_on: None,
            content: pdf,
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
    let revisions: std::collections::BTreeMap<u32, i64> =
        store.answers(id, s.round).await?.into_iter().map(|a| (a.number, a.revision)).collect();
    for (k, n) in applicable.iter().enumerate() {
        let revision = revisions.get(n).copied().unwrap_or(1);
        if target == SystemStatus::Returned && k < 2 {
            store.decide(ctx, id, *n, revision, Review::Returned, "証跡(設定画面の写し)を添付してください").await?;
        } else {
            store.decide(ctx, id, *n, revision, Review::Approved, "").await?;
        }
    }
    store.finish_review(ctx, id).await.map(drop)
}
