//! Changes to accounts, each with its ledger line (ID管理簿) and audit event
//! in one transaction: used by the web screens, the CLI and first-run setup
//! alike, so every path records the same way.

use crate::accounts::{self, Account, LedgerLine, NewAccount};
use crate::{Store, StoreError, Tx};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::identity::{LedgerChange, OrgKind, Role};
use mamori_core::monitoring::{Severity, CREDENTIALS_RESET, PRIVILEGE_GRANTED};
use time::OffsetDateTime;

/// The new values of an account's changeable fields.
#[derive(Debug, Clone, Copy)]
pub struct AccountChange<'a> {
    pub display_name: &'a str,
    pub email: &'a str,
    pub role: mamori_core::identity::Role,
    /// Id and name.
    pub organisation: Option<(i64, &'a str)>,
    /// [`Account::edit_mark`] of the account as the form showed it: a
    /// change made meanwhile by someone else is not overwritten unseen.
    pub seen: &'a str,
}

pub use crate::context::{Ctx, Standing};

impl Ctx {
    /// The audit event of `action` done by the acting person on `target_kind`
    /// number `target_id`.
    pub(crate) fn event_on(&self, action: Action, target_kind: &'static str, target_id: i64) -> NewEvent {
        NewEvent::new(self.actor.clone(), self.origin.clone(), action, Outcome::Success)
            .target(target_kind, target_id.to_string())
    }

    fn event(&self, action: Action, target_id: i64) -> NewEvent {
        self.event_on(action, "account", target_id)
    }

    /// The audit event of `action` on account `id`, with the reason given for it.
    fn event_because(&self, action: Action, id: i64, reason: &str) -> NewEvent {
        self.event(action, id).changes(Changes::new().with("reason", reason))
    }

    /// A ledger line by the acting person that records a step, not a change
    /// of value (no before and after).
    async fn ledger_note(&self, tx: &mut Tx, id: i64, change: LedgerChange, reason: &str) -> Result<(), StoreError> {
        let line = LedgerLine { actor_login: &self.actor.login, change, before: "", after: "", reason };
        accounts::add_ledger(tx, self.now, id, &line).await
    }
}

fn org_label(a: &Account) -> String {
    a.organisation_name.clone().unwrap_or_default()
}

impl Store {
    /// Issues an account (item 3): the account, its ledger line and the audit
    /// event, or nothing.
    pub async fn issue_account(&self, ctx: &Ctx, new: &NewAccount, reason: &str) -> Result<i64, StoreError> {
        // The administrators' lock: an access review signed off meanwhile
        // counts the accounts under it.
        let mut tx = self.begin_administering(ctx).await?;
        let id = accounts::create_account(&mut tx, ctx.now, new).await?;
        let after =
            format!("{} / {}", new.role.as_str(), new.organisation_id.map(|o| o.to_string()).unwrap_or_default());
        accounts::add_ledger(
            &mut tx,
            ctx.now,
            id,
            &LedgerLine {
                actor_login: &ctx.actor.login,
                change: LedgerChange::Issued,
                before: "",
                after: &after,
                reason,
            },
        )
        .await?;
        let changes = Changes::new()
            .with("login", new.login.as_str())
            .with("display_name", new.display_name.as_str())
            .with("email", new.email.as_str())
            .with("role", new.role.as_str())
            .with("organisation_id", new.organisation_id)
            .with("reason", reason);
        privilege_granted(&mut tx, ctx, new.login.as_str(), new.role, Granted::Issued).await?;
        tx.commit_audited(ctx.now, ctx.event(Action::AccountCreated, id).changes(changes)).await?;
        Ok(id)
    }

    /// First-run setup: spends the token and issues the first administrator,
    /// atomically. `None` when the token is not (or no longer) valid.
    pub async fn complete_setup(
        &self,
        ctx: &Ctx,
        token_hash: &str,
        new: &NewAccount,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        if !accounts::take_setup_token(&mut tx, token_hash, ctx.now).await? {
            return Ok(None);
        }
        let id = accounts::create_account(&mut tx, ctx.now, new).await?;
        accounts::add_ledger(
            &mut tx,
            ctx.now,
            id,
            &LedgerLine {
                actor_login: "setup",
                change: LedgerChange::Issued,
                before: "",
                after: "admin",
                reason: "初回セットアップ",
            },
        )
        .await?;
        let changes = Changes::new().with("login", new.login.as_str()).with("role", "admin");
        tx.commit_audited(ctx.now, ctx.event(Action::SetupCompleted, id).changes(changes)).await?;
        Ok(Some(id))
    }

    /// Changes name, e-mail, role and organisation (items 6, 7). A change of
    /// role or organisation ends the person's sessions at once.
    pub async fn change_account(
        &self,
        ctx: &Ctx,
        id: i64,
        change: &AccountChange<'_>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let AccountChange { display_name, email, role, organisation, seen } = *change;
        let mut tx = self.begin_administering(ctx).await?;
        // Compared as it is now, under the lock: the ledger's "before" is
        // what was replaced, and a form shown before another change is
        // refused rather than undoing it.
        let before = &accounts::account_in(&mut tx, id).await?.ok_or(StoreError::Missing)?;
        if before.edit_mark() != seen {
            return Err(StoreError::Stale);
        }
        let was_administrator = accounts::enabled_administrator(&mut tx, before.id).await?;
        let org_id = organisation.map(|(id, _)| id);
        accounts::update_account(&mut tx, ctx.now, before.id, display_name, email, role, org_id).await?;
        if was_administrator && role != Role::Admin {
            accounts::keep_an_administrator(&mut tx).await?;
        }
        let mut changes = Changes::new().with("reason", reason);
        let mut lines: Vec<(LedgerChange, String, String)> = Vec::new();
        if before.role != role {
            privilege_granted(&mut tx, ctx, &before.login, role, Granted::Role).await?;
            lines.push((LedgerChange::Role, before.role.as_str().to_owned(), role.as_str().to_owned()));
            changes = changes.with("role", format!("{} -> {}", before.role.as_str(), role.as_str()));
        }
        if before.organisation_id != org_id {
            let after = organisation.map(|(_, n)| n.to_owned()).unwrap_or_default();
            changes = changes.with("organisation", format!("{} -> {}", org_label(before), after));
            lines.push((LedgerChange::Organisation, org_label(before), after));
        }
        if before.display_name != display_name {
            changes = changes.with("display_name", format!("{} -> {}", before.display_name, display_name));
            lines.push((LedgerChange::DisplayName, before.display_name.clone(), display_name.to_owned()));
        }
        if before.email != email {
            changes = changes.with("email", format!("{} -> {}", before.email, email));
            lines.push((LedgerChange::Email, before.email.clone(), email.to_owned()));
        }
        for (change, b, a) in lines.iter().map(|(c, b, a)| (*c, b, a)) {
            accounts::add_ledger(
                &mut tx,
                ctx.now,
                before.id,
                &LedgerLine { actor_login: &ctx.actor.login, change, before: b, after: a, reason },
            )
            .await?;
        }
        tx.commit_audited(ctx.now, ctx.event(Action::AccountUpdated, before.id).changes(changes)).await
    }

    /// Disables (true) or enables (false) an account, with its reason;
    /// `Stale` when, read in the write, it is so already (two
    /// administrators pressing the same button: one line in the ledger).
    pub async fn set_account_disabled(
        &self,
        ctx: &Ctx,
        id: i64,
        disabled: bool,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_administering(ctx).await?;
        let now = accounts::account_in(&mut tx, id).await?.ok_or(StoreError::Missing)?;
        if now.disabled_at.is_some() == disabled {
            return Err(StoreError::Stale);
        }
        switch(tx, ctx, id, disabled, reason).await
    }

    /// Lifts a lock, with its reason in the ledger (item 3) and the audit log.
    /// `Stale` when there is nothing to lift (no lock, no failure counted):
    /// two administrators pressing "unlock" at once wrote two ledger lines.
    pub async fn unlock_account(&self, ctx: &Ctx, id: i64, reason: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_administering(ctx).await?;
        let now = accounts::account_in(&mut tx, id).await?.ok_or(StoreError::Missing)?;
        if now.failed_count == 0 && now.locked_until.is_none_or(|t| t <= ctx.now) {
            return Err(StoreError::Stale);
        }
        accounts::unlock(&mut tx, id).await?;
        ctx.ledger_note(&mut tx, id, LedgerChange::Unlocked, reason).await?;
        tx.commit_audited(ctx.now, ctx.event_because(Action::AccountUnlocked, id, reason)).await
    }

    /// An administrator sets a password for someone: they must choose their
    /// own at the next sign-in, and their sessions end. The office is
    /// alerted ([`CREDENTIALS_RESET`]).
    pub async fn reset_password(&self, ctx: &Ctx, id: i64, hash: &str, reason: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_administering(ctx).await?;
        accounts::set_password(&mut tx, id, hash, ctx.now, true).await?;
        ctx.ledger_note(&mut tx, id, LedgerChange::PasswordReset, reason).await?;
        credentials_reset(&mut tx, ctx, id, "パスワード").await?;
        tx.commit_audited(ctx.now, ctx.event_because(Action::PasswordReset, id, reason)).await
    }

    /// A person changes their own password in a session of generation
    /// `seen`. Every session of the account ends; returns the new session
    /// generation, so the caller can keep the one session the change was
    /// made in. `Stale` (nothing changed) when that session was ended
    /// since its request was checked.
    pub async fn change_own_password(&self, ctx: &Ctx, id: i64, hash: &str, seen: i64) -> Result<i64, StoreError> {
        let mut tx = self.begin_as_self(ctx).await?;
        let generation = accounts::end_sessions_from(&mut tx, id, seen).await?;
        accounts::set_password(&mut tx, id, hash, ctx.now, false).await?;
        tx.commit_audited(ctx.now, ctx.event(Action::PasswordChanged, id)).await?;
        Ok(generation)
    }

    /// A person ends every other session of their account (a browser left
    /// signed in elsewhere, a session they fear was taken) from a session
    /// of generation `seen`; returns the new session generation, so the
    /// caller keeps the one it was done in. `Stale` when that session was
    /// itself ended since its request was checked: a taken session must
    /// not outlive the change that ended it by ending the others.
    pub async fn end_other_sessions(&self, ctx: &Ctx, id: i64, seen: i64) -> Result<i64, StoreError> {
        let mut tx = self.begin_as_self(ctx).await?;
        let generation = accounts::end_sessions_from(&mut tx, id, seen).await?;
        tx.commit_audited(ctx.now, ctx.event(Action::SessionsEnded, id)).await?;
        Ok(generation)
    }

    /// Clears a person's second factor (they enrol again at next sign-in).
    /// Every session of the account ends. The office is alerted
    /// ([`CREDENTIALS_RESET`]).
    pub async fn reset_totp(&self, ctx: &Ctx, id: i64, reason: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_administering(ctx).await?;
        accounts::clear_totp(&mut tx, id).await?;
        accounts::end_sessions(&mut tx, id).await?;
        ctx.ledger_note(&mut tx, id, LedgerChange::TotpReset, reason).await?;
        credentials_reset(&mut tx, ctx, id, "二要素認証").await?;
        tx.commit_audited(ctx.now, ctx.event_because(Action::TotpReset, id, reason)).await
    }

    /// [`accounts::enable_totp`] with `secret`, from a session of
    /// generation `seen`, with its audit event. Every other session of the
    /// account ends (one begun on the password alone, before the second
    /// factor was asked for, must not carry on as if it had given it);
    /// returns the new session generation, for the session it was done in.
    /// `Stale` when it was confirmed meanwhile, or that session was ended.
    pub async fn confirm_totp(
        &self,
        ctx: &Ctx,
        (id, seen): (i64, i64),
        (secret, step): (&str, i64),
        recovery_hashes: &[String],
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_as_self(ctx).await?;
        let generation = accounts::end_sessions_from(&mut tx, id, seen).await?;
        accounts::enable_totp(&mut tx, id, secret, step, recovery_hashes).await?;
        tx.commit_audited(ctx.now, ctx.event(Action::TotpEnrolled, id)).await?;
        Ok(generation)
    }

    /// A person with their second factor on takes new recovery codes,
    /// given the authenticator's code of `step`: the step is spent, the
    /// codes replace every earlier one, with the event, in one
    /// transaction. `Stale`, changing nothing, when that step was used
    /// already (a code replayed, or the button pressed twice) or the
    /// second factor was reset meanwhile.
    pub async fn renew_recovery_codes(
        &self,
        ctx: &Ctx,
        id: i64,
        step: i64,
        recovery_hashes: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as_self(ctx).await?;
        if !accounts::spend_totp_step(&mut tx, id, step).await? {
            return Err(StoreError::Stale);
        }
        accounts::replace_recovery_codes(&mut tx, id, recovery_hashes).await?;
        let ev = ctx
            .event(Action::TotpRecoveryRenewed, id)
            .changes(Changes::new().with("left", recovery_hashes.len() as i64));
        tx.commit_audited(ctx.now, ev).await
    }

    /// Spends a recovery code; returns the number left, or `None` if the code
    /// was not valid.
    pub async fn spend_recovery_code(&self, ctx: &Ctx, id: i64, code_hash: &str) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_as_self(ctx).await?;
        if !accounts::use_recovery_code(&mut tx, id, code_hash, ctx.now).await? {
            return Ok(None);
        }
        let left = accounts::unused_recovery_codes(&mut tx, id).await?;
        tx.commit_audited(ctx.now, ctx.event(Action::TotpRecoveryUsed, id).changes(Changes::new().with("left", left)))
            .await?;
        Ok(Some(left))
    }

    pub async fn create_organisation_audited(
        &self,
        ctx: &Ctx,
        name: &str,
        kind: OrgKind,
        contact: &str,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let id = accounts::create_organisation(&mut tx, ctx.now, name, kind, contact).await?;
        let ev = ctx
            .event_on(Action::OrganisationCreated, "organisation", id)
            .changes(Changes::new().with("name", name).with("kind", kind.as_str()));
        tx.commit_audited(ctx.now, ev).await?;
        Ok(id)
    }

    pub async fn sign_off_access_review(
        &self,
        ctx: &Ctx,
        reviewer_id: i64,
        comment: &str,
        as_shown: impl FnOnce(&[Account]) -> bool,
    ) -> Result<i64, StoreError> {
        // Under the administrators' lock, which every issue and change of
        // an account takes, the rows held: read before this transaction, an
        // account issued between that read and the commit was signed off
        // unseen.
        let mut tx = self.begin_administering(ctx).await?;
        let every = accounts::every_account_held(&mut tx).await?;
        if !as_shown(&every) {
            return Err(StoreError::Stale);
        }
        let accounts = every.len() as i64;
        // The same one sent again within a minute is answered with the first.
        let since = tx.signoff_window("access_review", &ctx.actor.login, ctx.now).await?;
        let again: Option<i64> = crate::with_conn!(tx, c => {
            sqlx::query_scalar(
                "SELECT id FROM access_review WHERE reviewer_id = $1 AND reviewed_at_us > $2 \
                 AND accounts = $3 AND comment = $4 ORDER BY id LIMIT 1",
            )
            .bind(reviewer_id).bind(since).bind(accounts).bind(comment).fetch_optional(c).await?
        });
        if let Some(id) = again {
            return Ok(id);
        }
        let id =
            accounts::add_access_review(&mut tx, ctx.now, reviewer_id, &ctx.actor.login, accounts, comment).await?;
        let ev = ctx
            .event_on(Action::AccessReviewSignedOff, "access_review", id)
            .changes(Changes::new().with("accounts", accounts).with("comment", comment));
        tx.commit_audited(ctx.now, ev).await?;
        Ok(id)
    }

    /// Items 3, 65: disables every account unused since `before`, but the
    /// last enabled administrator (without one nobody could enable the
    /// others again); returns the logins disabled.
    pub async fn disable_inactive(
        &self,
        ctx: &Ctx,
        before: OffsetDateTime,
        reason: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut done = Vec::new();
        for a in self.inactive_accounts(before).await? {
            match self.disable_if_inactive(ctx, a.id, before, reason).await {
                Ok(true) => done.push(a.login),
                Ok(false) | Err(StoreError::LastAdministrator) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Disables account `id` if, read in the write, it is still enabled
    /// and unused since `before` (a person who signs in while the daily
    /// job runs keeps their account); whether it did.
    pub async fn disable_if_inactive(
        &self,
        ctx: &Ctx,
        id: i64,
        before: OffsetDateTime,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_administering(ctx).await?;
        if !accounts::inactive_in(&mut tx, id, before).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        switch(tx, ctx, id, true, reason).await?;
        Ok(true)
    }
}

/// Disables or enables account `id` in `tx`, taken under
/// [`accounts::lock_administrators`] and after the caller's checks: not
/// leaving the last administrator disabled, with its ledger line and audit
/// event, committed.
async fn switch(mut tx: Tx, ctx: &Ctx, id: i64, disabled: bool, reason: &str) -> Result<(), StoreError> {
    let was_administrator = accounts::enabled_administrator(&mut tx, id).await?;
    accounts::set_disabled(&mut tx, ctx.now, id, disabled).await?;
    if !disabled {
        if let Some(a) = accounts::account_in(&mut tx, id).await? {
            privilege_granted(&mut tx, ctx, &a.login, a.role, Granted::Enabled).await?;
        }
    }
    if was_administrator && disabled {
        accounts::keep_an_administrator(&mut tx).await?;
    }
    let (change, action) = if disabled {
        (LedgerChange::Disabled, Action::AccountDisabled)
    } else {
        (LedgerChange::Enabled, Action::AccountEnabled)
    };
    ctx.ledger_note(&mut tx, id, change, reason).await?;
    tx.commit_audited(ctx.now, ctx.event_because(action, id, reason)).await
}

/// The alert of a reset of account `id`'s `what` (its password, its second
/// factor) by the acting administrator, in the reset's transaction: the
/// account's login as its subject, who did it in its detail.
async fn credentials_reset(tx: &mut Tx, ctx: &Ctx, id: i64, what: &str) -> Result<(), StoreError> {
    let login = accounts::account_in(tx, id).await?.map(|a| a.login).unwrap_or_default();
    let detail = format!("{what}を {} が再設定しました", ctx.actor.login);
    let raise = crate::auditlog::Raise {
        now: ctx.now,
        kind: CREDENTIALS_RESET,
        severity: Severity::Warning,
        subject: &login,
        detail: &detail,
        key: None,
    };
    crate::auditlog::raise_in(tx, &raise).await.map(drop)
}

/// How an account came to hold a privileged role.
#[derive(Clone, Copy)]
enum Granted {
    Issued,
    Role,
    Enabled,
}

/// The alert of an account given a role that reaches what others may not
/// (accounts, the review, everything read): whoever holds an
/// administrator's session could issue one, or promote an account whose
/// password they chose, and sign in as it. The office hears of every one
/// made by a signed-in person, in the change's transaction. Other roles
/// raise nothing; nor does the console, whose operator holds the server
/// itself (and whose changes the ledger and the audit log name).
async fn privilege_granted(tx: &mut Tx, ctx: &Ctx, login: &str, role: Role, how: Granted) -> Result<(), StoreError> {
    if ctx.actor.account_id.is_none() {
        return Ok(());
    }
    let label = match role {
        Role::Admin => "システム管理者",
        Role::SecurityOfficer => "情報セキュリティ担当",
        Role::Auditor => "監査",
        Role::Department | Role::Vendor => return Ok(()),
    };
    let actor = &ctx.actor.login;
    let detail = match how {
        Granted::Issued => format!("{label}のアカウントを {actor} が発行しました"),
        Granted::Role => format!("{label}の権限を {actor} が付与しました"),
        Granted::Enabled => format!("{label}のアカウントを {actor} が再び有効にしました"),
    };
    let raise = crate::auditlog::Raise {
        now: ctx.now,
        kind: PRIVILEGE_GRANTED,
        severity: Severity::Warning,
        subject: login,
        detail: &detail,
        key: None,
    };
    crate::auditlog::raise_in(tx, &raise).await.map(drop)
}
