//! `mamori user …` and `mamori org …`: account administration on the
//! server's console, beside a live server. Every change is audited and in
//! the ledger, as from the web screens.

use crate::settings::GlobalArgs;
use crate::shared::{open_store, outln, EXIT_CONFIG, EXIT_PROBLEM};
use clap::{Subcommand, ValueEnum};
use mamori_app::accounts::{self, Action};
use mamori_app::{Op, Refused};
use mamori_core::identity::{parse_display_name, parse_email, parse_text, FieldError, Login, OrgKind, Role};
use mamori_core::jst::format_jst;
use mamori_core::password::{hash, PasswordPolicy, PasswordProblem};
use mamori_store::accounts::{Account, NewAccount};
use mamori_store::{Store, StoreError};
use std::io::BufRead;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// アカウントを発行する (issue an account); the password is read from standard input
    Create {
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// admin, security-officer, department, vendor, auditor
        #[arg(long)]
        role: String,
        /// 所属組織の名前 (organisation name; department and vendor roles)
        #[arg(long)]
        org: Option<String>,
        /// パスワードを標準入力から読む (required: passwords are never arguments)
        #[arg(long, required = true)]
        password_stdin: bool,
        /// ID管理簿に記録する理由 (reason for the ledger)
        #[arg(long, default_value = "コンソールから発行 (issued on the console)")]
        reason: String,
    },
    /// アカウントの一覧 (list accounts)
    List {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// アカウントを無効にする (disable)
    Disable {
        login: String,
        #[arg(long, default_value = "コンソールから無効化 (disabled on the console)")]
        reason: String,
    },
    /// ロックを解除する (unlock)
    Unlock {
        login: String,
        #[arg(long, default_value = "コンソールからロック解除 (unlocked on the console)")]
        reason: String,
    },
    /// パスワードを再設定する (reset the password; read from standard input)
    ResetPassword {
        login: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long, default_value = "コンソールから再設定 (reset on the console)")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// 組織を登録する (register an organisation)
    Create {
        name: String,
        #[arg(long, value_enum)]
        kind: Kind,
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// 組織の一覧 (list organisations)
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Department,
    Vendor,
}

fn refuse(message: impl AsRef<str>) -> ExitCode {
    eprintln!("mamori: {}", message.as_ref());
    ExitCode::from(EXIT_CONFIG)
}

fn field(name: &str, e: FieldError) -> String {
    match e {
        FieldError::Empty => format!("{name} を指定してください ({name} is empty)"),
        FieldError::TooShort { min } => {
            format!("{name} は{min}文字以上にしてください ({name}: at least {min} characters)")
        }
        FieldError::TooLong { max } => {
            format!("{name} は{max}文字以内にしてください ({name}: at most {max} characters)")
        }
        FieldError::BadCharacters => format!("{name} に使えない文字が含まれています ({name}: characters not allowed)"),
        FieldError::BadFormat => format!("{name} の形式が正しくありません ({name}: bad format)"),
        FieldError::Reserved => {
            format!("{name} はサーバ自身の記録に使う名前のため使えません ({name}: a name the server keeps for itself)")
        }
    }
}

fn password_problem(p: PasswordProblem) -> &'static str {
    match p {
        PasswordProblem::TooShort | PasswordProblem::TooFewClasses => {
            "パスワードは12文字以上で、英大文字・英小文字・数字・記号のうち3種類以上を含めてください (password policy: 12+ characters, 3 of 4 classes)"
        }
        PasswordProblem::TooLong => "パスワードは128文字以内にしてください (at most 128 characters)",
        PasswordProblem::ContainsLogin => "パスワードにユーザIDを含めることはできません (may not contain the login)",
        PasswordProblem::ControlCharacter => "パスワードに使えない文字が含まれています (control characters)",
        PasswordProblem::Reused => "直近5回に使ったパスワードは使えません (reused)",
    }
}

/// One line from standard input, without its line end.
fn read_password() -> Result<String, ExitCode> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| refuse(format!("標準入力を読めません (cannot read standard input): {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn check_password(password: &str, login: &str) -> Result<(), ExitCode> {
    match PasswordPolicy::default().check(password, login).first() {
        Some(p) => Err(refuse(password_problem(*p))),
        None => Ok(()),
    }
}

async fn find(store: &Store, login: &str) -> Result<Account, ExitCode> {
    match store.account_by_login(login).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(refuse(format!("ユーザID {login} のアカウントはありません (no such account)"))),
        Err(e) => Err(problem(e)),
    }
}

/// An account operation by the operator at the console, as administrator.
fn admin_op<'a>(store: &'a Store, console: &'a mamori_app::Person) -> Op<'a> {
    let ctx = crate::shared::console_ctx();
    Op { store, who: console, origin: ctx.origin, now: ctx.now }
}

fn refused(e: Refused) -> ExitCode {
    match e {
        Refused::Store(e) => problem(e),
        Refused::Invalid("last_administrator") => refuse(
            "有効な管理者が 1 人もいなくなるため、この変更はできません (this would leave no enabled administrator)",
        ),
        Refused::Invalid("already") => refuse("アカウントはすでにその状態です (the account is so already)"),
        other => refuse(format!("操作できません (refused): {other}")),
    }
}

fn problem(e: StoreError) -> ExitCode {
    eprintln!("mamori: データベースの操作に失敗しました (database error): {e}");
    ExitCode::from(EXIT_PROBLEM)
}

pub async fn run_user(global: &GlobalArgs, cmd: UserCommand) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let code = match user(&store, cmd).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    };
    store.close().await;
    code
}

async fn user(store: &Store, cmd: UserCommand) -> Result<(), ExitCode> {
    // Account commands go through the same operations as the web pages.
    let console = crate::shared::console_person(Role::Admin);
    match cmd {
        UserCommand::Create { login, name, email, role, org, password_stdin: _, reason } => {
            let login = Login::parse_new(&login).map_err(|e| refuse(field("--login", e)))?;
            let name = parse_display_name(&name).map_err(|e| refuse(field("--name", e)))?;
            let email = parse_email(&email).map_err(|e| refuse(field("--email", e)))?;
            let reason = parse_text(&reason, 1, 500).map_err(|e| refuse(field("--reason", e)))?;
            let role = Role::parse(&role).ok_or_else(|| {
                refuse(format!(
                    "--role は admin, security-officer, department, vendor, auditor のいずれかにしてください (unknown role \"{role}\")"
                ))
            })?;
            let organisation_id = match (role.organisation_kind(), org) {
                (Some(kind), Some(name)) => {
                    let orgs = store.organisations().await.map_err(problem)?;
                    let o = orgs.iter().find(|o| o.name == name).ok_or_else(|| {
                        refuse(format!("組織 \"{name}\" は登録されていません。mamori org create で登録してください (no such organisation)"))
                    })?;
                    if o.kind != kind {
                        return Err(refuse(format!(
                            "組織 \"{name}\" の種別は {} です。役割 {} には {} の組織が必要です (organisation kind does not fit the role)",
                            o.kind.as_str(),
                            role.as_str(),
                            kind.as_str()
                        )));
                    }
                    Some(o.id)
                }
                (Some(_), None) => {
                    return Err(refuse(format!("役割 {} には --org が必要です (--org is required)", role.as_str())))
                }
                (None, Some(_)) => {
                    return Err(refuse(format!(
                        "役割 {} には --org を指定しないでください (no --org for this role)",
                        role.as_str()
                    )))
                }
                (None, None) => None,
            };
            let password = read_password()?;
            check_password(&password, login.as_str())?;
            let new = NewAccount {
                login: login.clone(),
                display_name: name,
                email,
                role,
                organisation_id,
                password_hash: hash::hash(&password),
                // The operator chose it and hands it over: the person chooses
                // their own at the first sign-in, as after an administrator
                // issues an account on the web.
                must_change_password: true,
            };
            match accounts::issue(&admin_op(store, &console), &new, &reason).await {
                Ok(id) => {
                    outln!("アカウント {login} を発行しました (account {id} issued)");
                    Ok(())
                }
                Err(Refused::Taken) => Err(refuse(format!("ユーザID {login} は既に使われています (login taken)"))),
                Err(e) => Err(refused(e)),
            }
        }
        UserCommand::List { format } => {
            let accounts = store.accounts().await.map_err(problem)?;
            match format {
                Format::Json => {
                    let list: Vec<_> = accounts
                        .iter()
                        .map(|a| {
                            serde_json::json!({
                                "id": a.id, "login": a.login, "name": a.display_name, "email": a.email,
                                "role": a.role.as_str(), "organisation": a.organisation_name,
                                "disabled": a.disabled_at.is_some(), "totp": a.totp_enabled,
                                "last_signin": a.last_signin_at.map(mamori_core::jst::format_rfc3339_jst),
                            })
                        })
                        .collect();
                    outln!("{}", serde_json::Value::Array(list));
                }
                Format::Text => {
                    for a in &accounts {
                        outln!(
                            "{}\t{}\t{}\t{}\t{}\t{}",
                            a.login,
                            a.display_name,
                            a.role.as_str(),
                            a.organisation_name.as_deref().unwrap_or("-"),
                            if a.disabled_at.is_some() { "disabled" } else { "active" },
                            a.last_signin_at.map(format_jst).unwrap_or_else(|| "-".into())
                        );
                    }
                }
            }
            Ok(())
        }
        UserCommand::Disable { login, reason } => {
            let reason = parse_text(&reason, 1, 500).map_err(|e| refuse(field("--reason", e)))?;
            let a = find(store, &login).await?;
            accounts::act(&admin_op(store, &console), a.id, Action::Disable, &reason).await.map_err(refused)?;
            outln!("アカウント {} を無効にしました (disabled)", a.login);
            Ok(())
        }
        UserCommand::Unlock { login, reason } => {
            let reason = parse_text(&reason, 1, 500).map_err(|e| refuse(field("--reason", e)))?;
            let a = find(store, &login).await?;
            accounts::act(&admin_op(store, &console), a.id, Action::Unlock, &reason).await.map_err(refused)?;
            outln!("アカウント {} のロックを解除しました (unlocked)", a.login);
            Ok(())
        }
        UserCommand::ResetPassword { login, password_stdin: _, reason } => {
            let reason = parse_text(&reason, 1, 500).map_err(|e| refuse(field("--reason", e)))?;
            let a = find(store, &login).await?;
            let password = read_password()?;
            check_password(&password, &a.login)?;
            let hash = hash::hash(&password);
            accounts::act(&admin_op(store, &console), a.id, Action::ResetPassword(&hash), &reason)
                .await
                .map_err(refused)?;
            outln!(
                "アカウント {} のパスワードを再設定しました。次回ログイン時に変更が必要です (password reset)",
                a.login
            );
            Ok(())
        }
    }
}

pub async fn run_org(global: &GlobalArgs, cmd: OrgCommand) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = match cmd {
        OrgCommand::Create { name, kind, contact } => {
            let kind = match kind {
                Kind::Department => OrgKind::Department,
                Kind::Vendor => OrgKind::Vendor,
            };
            match (parse_text(&name, 1, 100), parse_text(&contact, 0, 200)) {
                (Ok(name), Ok(contact)) => {
                    let console = crate::shared::console_person(Role::Admin);
                    match mamori_app::oversight::create_organisation(&admin_op(&store, &console), &name, kind, &contact)
                        .await
                    {
                        Ok(id) => {
                            outln!("組織 {name} を登録しました (organisation {id})");
                            Ok(())
                        }
                        Err(Refused::Taken) => Err(refuse(format!("組織 {name} は既に登録されています (exists)"))),
                        Err(e) => Err(refused(e)),
                    }
                }
                (Err(e), _) => Err(refuse(field("NAME", e))),
                (_, Err(e)) => Err(refuse(field("--contact", e))),
            }
        }
        OrgCommand::List => store.organisations().await.map_err(problem).map(|orgs| {
            for o in orgs {
                outln!("{}\t{}\t{}", o.name, o.kind.as_str(), o.contact);
            }
        }),
    };
    store.close().await;
    result.err().unwrap_or(ExitCode::SUCCESS)
}
