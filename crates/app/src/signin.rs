//! Signing in with a password and a second factor, signing out, and the
//! first administrator (items 36, 37, 39, 41, 46, 67).
//!
//! Whether a password is checked at all is decided first, in the database,
//! atomically with the lockout and throttle counts; a refusal checks
//! nothing and is padded to the time of a check. Every failure is recorded
//! with its reason, and the person sees one message for all (item 39).

use crate::passwords::{login_digest, Hasher};
use crate::{Op, Refused};
use mamori_core::audit::Outcome;
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Origin};
use mamori_core::identity::{Login, Role};
use mamori_core::monitoring::{Severity, ACCOUNT_LOCKED};
use mamori_core::policy::LockoutPolicy;
use mamori_core::policy::{block_key, source_of};
use mamori_core::totp;
use mamori_store::accounts::{Account, Gate, NewAccount, Reserved};
use mamori_store::identity::Ctx;
use mamori_store::{Store, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::time::Instant;
use time::{Duration, OffsetDateTime};

/// How long the first administrator's setup link stays valid.
const SETUP_VALID: Duration = Duration::minutes(30);

/// One attempt to sign in: from where, when, under which lockout policy.
pub struct Attempt<'a> {
    pub store: &'a Store,
    pub hasher: &'a Hasher,
    pub origin: Origin,
    pub now: OffsetDateTime,
    pub lockout: LockoutPolicy,
}

/// What came of a password or a second-factor code.
#[derive(Debug)]
pub enum Step {
    /// Both factors passed; the sign-in is recorded and audited.
    SignedIn(Account),
    /// The password was right; the account's second factor comes next.
    /// The attempt (its id) stays a failure for the address until the
    /// second factor passes.
    SecondFactor(Account, i64),
    /// A wrong code; the person may try again.
    Retry,
    /// Refused, and recorded; the one message for every failure.
    Refused,
    /// Refused like [`Step::Refused`], past the minute's failures logged
    /// one by one ([`crate::passwords::FAILURES_EACH`]): the caller counts
    /// it with the refused requests of its source and minute.
    RefusedCounted,
    /// Refused unchecked: too many failures from this address.
    Throttled,
    /// Refused unchecked: this account (its id and login) signed in too
    /// often in the window.
    SignedInTooOften(i64, String),
    /// Not checked: too many sign-ins wait for their check
    /// ([`crate::passwords::WAITING_PER_CORE`]); the person tries again.
    Busy,
}

/// Why a sign-in failed: recorded, never shown.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Unknown,
    BadPassword,
    Locked,
    Disabled,
    BadCode,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::Unknown => "unknown_login",
            Failure::BadPassword => "bad_password",
            Failure::Locked => "locked",
            Failure::Disabled => "disabled",
            Failure::BadCode => "bad_code",
        }
    }
}

impl Attempt<'_> {
    /// The first step: the ID as typed (trimmed, at most `Login::MAX`
    /// characters) and the password. The check runs off the async workers.
    pub async fn password(&self, typed: &str, password: &str) -> Result<Step, StoreError> {
        let started = Instant::now();
        let hashes = mamori_core::password::checks_for(password);
        let account = match Login::parse(typed) {
            Ok(l) => self.store.account_by_login(l.as_str()).await?,
            Err(_) => None,
        };
        // What the records say of the typed ID: the account's login, or a
        // keyed hash of an ID that matches none (people type passwords there).
        let recorded = match &account {
            Some(a) => a.login.clone(),
            None => login_digest(self.hasher.login_key(self.store).await?, typed),
        };
        let source = self.source();
        // Waiting for the block's turn here, not in the database ([`crate::gates`]).
        let turn = self.hasher.blocks.enter(&block_key(&self.addr())).await;
        let gate =
            self.store.open_signin_attempt(self.now, &source, &recorded, account.as_ref().map(|a| a.id), &self.lockout);
        let gate = gate.await?;
        drop(turn);
        let (attempt, reserved) = match gate {
            Gate::Throttled => {
                self.hasher.pad(started, hashes).await;
                return Ok(Step::Throttled);
            }
            Gate::SignedInTooOften => {
                self.hasher.pad(started, hashes).await;
                // Only a known account has signed in at all.
                return Ok(match &account {
                    Some(a) => Step::SignedInTooOften(a.id, a.login.to_string()),
                    None => Step::Throttled,
                });
            }
            // Answered as a checked password is, in the queue's time.
            Gate::Locked { .. } => {
                if self.hasher.wait_as_checked(hashes).await.is_err() {
                    self.hasher.pad(started, hashes).await;
                    return Ok(Step::Busy);
                }
                return self.fail_password(account.as_ref(), &recorded, Failure::Locked, None).await;
            }
            // The account held by a long write of its own: nothing was
            // counted; as a full queue, try again shortly.
            Gate::Busy => {
                self.hasher.pad(started, hashes).await;
                return Ok(Step::Busy);
            }
            Gate::Evaluate { attempt, reserved } => (attempt, reserved),
        };
        let checked = self.hasher.verify_queued(password, account.as_ref().map(|a| a.password_hash.as_str())).await;
        let Ok(ok) = checked else {
            // Not checked: the failure counted in advance against the
            // account is taken back. Against the address it stays.
            if let Some(a) = account.as_ref().filter(|_| reserved.is_some()) {
                self.store.refund_failure(a.id, self.lockout.max_failures).await?;
            }
            // As long as a check: the answer does not tell a known ID
            // (whose count is taken back) from an unknown one.
            self.hasher.pad(started, hashes).await;
            return Ok(Step::Busy);
        };
        let why = match &account {
            None => Failure::Unknown,
            Some(a) if a.disabled_at.is_some() => Failure::Disabled,
            Some(_) if !ok => Failure::BadPassword,
            Some(a) => {
                if !a.totp_enabled {
                    self.store.attempt_succeeded(attempt).await?;
                    self.signed_in(a).await?;
                    return Ok(Step::SignedIn(a.clone()));
                }
                // The password was right: its failure counted in advance
                // against the account is taken back; the second factor
                // counts on its own. Against the address it stays until the
                // second factor passes: someone who has the password alone,
                // sending it again and again, is throttled as a guesser is
                // (each a password check, a session and an attempt kept).
                self.store.refund_failure(a.id, self.lockout.max_failures).await?;
                return Ok(Step::SecondFactor(a.clone(), attempt));
            }
        };
        self.fail_password(account.as_ref(), &recorded, why, reserved).await
    }

    /// A failed password (anyone can send one): logged alone when it was
    /// counted against an account, or while the minute's budget lasts;
    /// else counted by the caller. A lock it causes is logged either way.
    async fn fail_password(
        &self,
        account: Option<&Account>,
        recorded: &str,
        why: Failure,
        reserved: Option<Reserved>,
    ) -> Result<Step, StoreError> {
        if reserved.is_some() || self.hasher.failure_logged_alone(self.now) {
            self.fail(account, recorded, why, reserved).await?;
            return Ok(Step::Refused);
        }
        if let (Some(a), Some(r)) = (account, reserved) {
            let actor = actor(a);
            record_lock(self.store, self.now, &self.origin, actor, a.id, r, &self.lockout).await?;
        }
        Ok(Step::RefusedCounted)
    }

    /// The second step, for the account whose password was right: a code
    /// from the authenticator or a recovery code. At most `max_failures`
    /// codes are checked per lock window (each counted in advance, as
    /// passwords are), and the attempts on one account one at a time.
    /// `Refused` means: start again from the password.
    pub async fn second_factor(
        &self,
        a: &Account,
        (code, recovery_code): (&str, &str),
        password_attempt: Option<i64>,
    ) -> Result<Step, StoreError> {
        let started = Instant::now();
        let _one_at_a_time = self.hasher.one_at_a_time(a.id).await;
        let Some(reserved) = self.store.open_account_attempt(a.id, self.now, &self.lockout).await? else {
            self.fail(Some(a), &a.login, Failure::Locked, None).await?;
            self.hasher.pad(started, 1).await;
            return Ok(Step::Refused);
        };
        let ok = if !recovery_code.trim().is_empty() {
            let ctx = self.ctx(a);
            self.store.spend_recovery_code(&ctx, a.id, &totp::recovery_code_hash(recovery_code)).await?.is_some()
        } else {
            match a.totp_secret.as_deref().and_then(|s| totp::matching_step(s, code, self.now)) {
                // RFC 6238 §5.2: a code already used is refused.
                Some(step) => self.store.accept_totp_step(a.id, step).await?,
                None => false,
            }
        };
        if ok {
            if let Some(attempt) = password_attempt {
                self.store.attempt_succeeded(attempt).await?;
            }
            self.signed_in(a).await?;
            return Ok(Step::SignedIn(a.clone()));
        }
        self.store.record_attempt(self.now, &self.source(), &a.login, false).await?;
        self.fail(Some(a), &a.login, Failure::BadCode, Some(reserved)).await?;
        Ok(if reserved.locks { Step::Refused } else { Step::Retry })
    }

    fn addr(&self) -> String {
        self.origin.client_addr.clone().unwrap_or_default()
    }

    /// What an attempt is counted under for the address throttle: the
    /// address, an IPv6 one by its /64 ([`source_of`]), so that a client
    /// given a /64 cannot take a fresh address for every fifty guesses.
    fn source(&self) -> String {
        self.addr().parse().map_or_else(|_| self.addr(), |ip| source_of(ip).to_string())
    }

    fn ctx(&self, a: &Account) -> Ctx {
        Ctx { now: self.now, actor: actor(a), origin: self.origin.clone(), standing: None }
    }

    /// Records a failure (item 67): the audit event, and the lock when this
    /// failure, counted in advance, reached the limit (item 41).
    async fn fail(
        &self,
        account: Option<&Account>,
        recorded: &str,
        why: Failure,
        reserved: Option<Reserved>,
    ) -> Result<(), StoreError> {
        let actor = account.map_or_else(Actor::anonymous, actor);
        if let (Some(a), Some(r)) = (account, reserved) {
            record_lock(self.store, self.now, &self.origin, actor.clone(), a.id, r, &self.lockout).await?;
        }
        let ev = NewEvent::new(actor, self.origin.clone(), Action::SignInFailure, Outcome::Failure)
            .changes(Changes::new().with("login", recorded).with("why", why.as_str()));
        self.store.audit_record(self.now, ev).await?;
        Ok(())
    }

    async fn signed_in(&self, a: &Account) -> Result<(), StoreError> {
        self.store.record_signin(a.id, self.now, &self.addr()).await?;
        let ev = NewEvent::new(actor(a), self.origin.clone(), Action::SignInSuccess, Outcome::Success)
            .target("account", a.id.to_string());
        self.store.audit_record(self.now, ev).await?;
        Ok(())
    }
}

fn actor(a: &Account) -> Actor {
    Actor { account_id: Some(a.id), login: a.login.clone() }
}

/// The audit event of a failure that reached the limit and locked the
/// account (item 41); nothing when it did not.
pub(crate) async fn record_lock(
    store: &Store,
    now: OffsetDateTime,
    origin: &Origin,
    actor: Actor,
    account_id: i64,
    reserved: Reserved,
    lockout: &LockoutPolicy,
) -> Result<(), StoreError> {
    if !reserved.locks {
        return Ok(());
    }
    let minutes = lockout.lock_for.whole_minutes();
    let detail = format!(
        "{} failures, the last from {}; locked for {minutes} minutes",
        reserved.failures,
        origin.client_addr.as_deref().unwrap_or("-")
    );
    let login = actor.login.clone();
    let ev = NewEvent::new(actor, origin.clone(), Action::AccountLocked, Outcome::Success)
        .target("account", account_id.to_string())
        .changes(Changes::new().with("failures", reserved.failures).with("minutes", minutes));
    store.audit_record(now, ev).await?;
    store.raise_alert(now, ACCOUNT_LOCKED, Severity::Warning, &login, &detail).await?;
    Ok(())
}

/// Item 46: the sign-out, audited (the session itself ends in the web layer).
pub async fn sign_out(op: &Op<'_>) -> Result<(), StoreError> {
    let mut ev = NewEvent::new(op.who.actor(), op.origin.clone(), Action::SignOut, Outcome::Success);
    if let Some(id) = op.who.account_id {
        ev = ev.target("account", id.to_string());
    }
    op.store.audit_record(op.now, ev).await?;
    Ok(())
}

// ----- the first administrator (item 37: no default account ever exists) -----

fn setup_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// While no administrator exists: a new single-use setup token, valid 30
/// minutes (the one before it no longer is). `None` once one exists.
pub async fn issue_setup_token(store: &Store, now: OffsetDateTime) -> Result<Option<String>, StoreError> {
    if store.has_admin().await? {
        return Ok(None);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    store.set_setup_token(&setup_token_hash(&token), now + SETUP_VALID).await?;
    Ok(Some(token))
}

/// Whether `token` opens the setup page now: no administrator yet and the
/// token valid.
pub async fn setup_open(store: &Store, now: OffsetDateTime, token: &str) -> Result<bool, StoreError> {
    Ok(!store.has_admin().await? && store.setup_token_valid(&setup_token_hash(token), now).await?)
}

/// The first administrator, with the password they chose; the token is
/// spent in the same transaction. `None` when the token no longer opens
/// setup.
pub async fn set_up(
    attempt: &Attempt<'_>,
    token: &str,
    login: Login,
    display_name: String,
    email: String,
    password: &str,
) -> Result<Option<i64>, Refused> {
    let password_hash = attempt.hasher.hash(password).await.ok_or(Refused::Internal("password hashing failed"))?;
    let new = NewAccount {
        login,
        display_name,
        email,
        role: Role::Admin,
        organisation_id: None,
        password_hash,
        must_change_password: false,
    };
    let ctx = Ctx {
        now: attempt.now,
        actor: Actor { account_id: None, login: "setup".to_owned() },
        origin: attempt.origin.clone(),
        standing: None,
    };
    Ok(attempt.store.complete_setup(&ctx, &setup_token_hash(token), &new).await?)
}
