//! Accounts, organisations, the account ledger, access reviews, sign-in
//! attempts and the first-run setup token.

use crate::crypt::Keyring;
use crate::revision::Key;
use crate::{opt_timestamp, parsed, timestamp, with_conn, with_read_conn, Store, StoreError, Tx};
use mamori_core::clock::to_unix_micros;
use mamori_core::identity::{LedgerChange, Login, OrgKind, Role};
use mamori_core::policy::{block_key, LockoutPolicy};
use std::fmt;
use time::OffsetDateTime;

/// Maps a unique-constraint violation to [`StoreError::Taken`].
pub(crate) fn unique(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Taken,
        _ => StoreError::Db(e),
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub organisation_id: Option<i64>,
    pub organisation_name: Option<String>,
    pub password_hash: String,
    pub password_changed_at: OffsetDateTime,
    pub must_change_password: bool,
    pub failed_count: i64,
    pub locked_until: Option<OffsetDateTime>,
    pub disabled_at: Option<OffsetDateTime>,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: i64,
    pub last_signin_at: Option<OffsetDateTime>,
    pub last_signin_addr: Option<String>,
    pub session_generation: i64,
    pub created_at: OffsetDateTime,
}

impl Account {
    /// The mark of the fields an administrator's form changes (name,
    /// e-mail, role, organisation): see [`crate::edit_mark`].
    pub fn edit_mark(&self) -> String {
        let org = self.organisation_id.map(|o| o.to_string()).unwrap_or_default();
        crate::edit_mark(&[&self.display_name, &self.email, self.role.as_str(), &org])
    }
}

/// Never prints the password hash or the TOTP secret.
impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("login", &self.login)
            .field("role", &self.role)
            .field("organisation_id", &self.organisation_id)
            .field("disabled_at", &self.disabled_at)
            .field("locked_until", &self.locked_until)
            .field("password_hash", &"[redacted]")
            .field("totp_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

const SELECT_ACCOUNT: &str = "SELECT a.id, a.login, a.display_name, a.email, a.role, a.organisation_id, \
     o.name AS organisation_name, a.password_hash, a.password_changed_at_us, a.must_change_password, \
     a.failed_count, a.locked_until_us, a.disabled_at_us, a.totp_secret, a.totp_enabled, a.totp_last_step, \
     a.last_signin_at_us, a.last_signin_addr, a.session_generation, a.created_at_us \
     FROM account a LEFT JOIN organisation o ON o.id = a.organisation_id";

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    login: String,
    display_name: String,
    email: String,
    role: String,
    organisation_id: Option<i64>,
    organisation_name: Option<String>,
    password_hash: String,
    password_changed_at_us: i64,
    must_change_password: bool,
    failed_count: i64,
    locked_until_us: Option<i64>,
    disabled_at_us: Option<i64>,
    totp_secret: Option<String>,
    totp_enabled: bool,
    totp_last_step: i64,
    last_signin_at_us: Option<i64>,
    last_signin_addr: Option<String>,
    session_generation: i64,
    created_at_us: i64,
}

impl AccountRow {
    fn into_record(self, keys: &Keyring) -> Result<Account, StoreError> {
        Ok(Account {
            id: self.id,
            login: self.login,
            display_name: keys.open_text("account.display_name", &self.display_name)?,
            email: keys.open_text("account.email", &self.email)?,
            role: parsed("role", &self.role, Role::parse)?,
            organisation_id: self.organisation_id,
            organisation_name: self.organisation_name,
            password_hash: self.password_hash,
            password_changed_at: timestamp(self.password_changed_at_us)?,
            must_change_password: self.must_change_password,
            failed_count: self.failed_count,
            locked_until: opt_timestamp(self.locked_until_us)?,
            disabled_at: opt_timestamp(self.disabled_at_us)?,
            totp_secret: keys.open_opt("account.totp_secret", self.totp_secret)?,
            totp_enabled: self.totp_enabled,
            totp_last_step: self.totp_last_step,
            last_signin_at: opt_timestamp(self.last_signin_at_us)?,
            last_signin_addr: self.last_signin_addr,
            session_generation: self.session_generation,
            created_at: timestamp(self.created_at_us)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: i64,
    pub name: String,
    pub kind: OrgKind,
    pub contact: String,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub login: Login,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub organisation_id: Option<i64>,
    pub password_hash: String,
    /// The person must choose their own password at first sign-in (set when
    /// an administrator chose it for them).
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: i64,
    pub account_id: i64,
    pub account_login: String,
    /// The person's name (氏名) as of this line: a later change of name
    /// does not rewrite what the ledger said of the ID before it.
    pub account_name: String,
    pub at: OffsetDateTime,
    pub actor_login: String,
    pub change: LedgerChange,
    pub before: String,
    pub after: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReview {
    pub id: i64,
    pub reviewed_at: OffsetDateTime,
    pub reviewer_login: String,
    pub accounts: i64,
    pub comment: String,
}

/// Whether a sign-in attempt may be evaluated, decided before any
/// password is checked ([`Store::open_signin_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the password. `reserved`: the failure counted in advance
    /// against a known account.
    Evaluate { attempt: i64, reserved: Option<Reserved> },
    /// The account is locked: refused unchecked.
    Locked { attempt: i64 },
    /// Too many failures from this address: refused unchecked, not recorded.
    Throttled,
    /// The account signed in `account_max_signins` times in the window:
    /// refused unchecked, not recorded.
    SignedInTooOften,
    /// The account's row was held longer than [`SIGNIN_LOCK_WAIT`] (a long
    /// write of the person's own holds it to its commit): nothing recorded;
    /// try again shortly. PostgreSQL only.
    Busy,
}

/// How long a sign-in, holding its address's lock, waits for the account's
/// row on PostgreSQL: everyone signing in from that address (one NAT)
/// waits for it meanwhile.
pub const SIGNIN_LOCK_WAIT: &str = "2s";

/// A failure counted in advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// Consecutive failures, this one included.
    pub failures: i64,
    /// This failure reached the limit and locked the account.
    pub locks: bool,
}

/// One ledger line to write with a change.
pub struct LedgerLine<'a> {
    pub actor_login: &'a str,
    pub change: LedgerChange,
    pub before: &'a str,
    pub after: &'a str,
    pub reason: &'a str,
}

#[derive(sqlx::FromRow)]
struct OrganisationRow {
    id: i64,
    name: String,
    kind: String,
    contact: String,
}

impl OrganisationRow {
    fn into_record(self, keys: &Keyring) -> Result<Organisation, StoreError> {
        Ok(Organisation {
            id: self.id,
            name: self.name,
            kind: parsed("kind", &self.kind, OrgKind::parse)?,
            contact: keys.open_text("organisation.contact", &self.contact)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LedgerRow {
    id: i64,
    account_id: i64,
    login: String,
    display_name: String,
    at_us: i64,
    actor_login: String,
    change: String,
    before: String,
    after: String,
    reason: String,
}

impl LedgerRow {
    fn into_record(self, keys: &Keyring) -> Result<LedgerEntry, StoreError> {
        Ok(LedgerEntry {
            id: self.id,
            account_id: self.account_id,
            account_login: self.login,
            account_name: keys.open_text("account.display_name", &self.display_name)?,
            at: timestamp(self.at_us)?,
            actor_login: self.actor_login,
            change: parsed("ledger change", &self.change, LedgerChange::parse)?,
            before: keys.open_text("account_ledger.before", &self.before)?,
            after: keys.open_text("account_ledger.after", &self.after)?,
            reason: self.reason,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AccessReviewRow {
    id: i64,
    reviewed_at_us: i64,
    reviewer_login: String,
    accounts: i64,
    comment: String,
}

impl AccessReviewRow {
    fn into_record(self) -> Result<AccessReview, StoreError> {
        Ok(AccessReview {
            id: self.id,
            reviewed_at: timestamp(self.reviewed_at_us)?,
            reviewer_login: self.reviewer_login,
            accounts: self.accounts,
            comment: self.comment,
        })
    }
}

// ----- reads -----------------------------------------------------------------

/// Is a sign-in of a login ($4) from an address ($1, an IPv6 one by its
/// /64) in a block ($2, an IPv6 one's /48) held back, and why? The address
/// is once $5 attempts from it failed since $3, the block once $6 from it
/// did; each except for a login that has signed in from it before (from
/// the block: or from the address, for the sign-ins made before blocks
/// were kept): 1. The login is once it signed in $9 times since $3, from
/// anywhere: 2. Neither: 0.
const THROTTLED: &str = "SELECT CASE WHEN ((SELECT COUNT(*) FROM signin_attempt WHERE client_addr = $1 AND at_us >= $3 AND success = $7) >= $5 \
       AND NOT EXISTS (SELECT 1 FROM signin_attempt WHERE client_addr = $1 AND login = $4 AND success = $8)) \
    OR ((SELECT COUNT(*) FROM signin_attempt WHERE client_block = $2 AND at_us >= $3 AND success = $7) >= $6 \
       AND NOT EXISTS (SELECT 1 FROM signin_attempt WHERE (client_block = $2 OR client_addr = $1) AND login = $4 AND success = $8)) THEN 1 \
    WHEN (SELECT COUNT(*) FROM signin_attempt WHERE login = $4 AND at_us >= $3 AND success = $8) >= $9 THEN 2 ELSE 0 END";

/// [`THROTTLED`] on the connection `$c`: the [`Gate`] it holds back with, if any.
macro_rules! throttled {
    ($c:expr, $addr:expr, $block:expr, $since:expr, $login:expr, $policy:expr) => {
        match sqlx::query_scalar::<_, i32>(THROTTLED)
            .bind($addr)
            .bind($block)
            .bind($since)
            .bind($login)
            .bind(i64::from($policy.address_max_failures))
            .bind(i64::from($policy.block_max_failures))
            .bind(false)
            .bind(true)
            .bind(i64::from($policy.account_max_signins))
            .fetch_one($c)
            .await?
        {
            0 => None,
            1 => Some(Gate::Throttled),
            _ => Some(Gate::SignedInTooOften),
        }
    };
}

const INSERT_ATTEMPT: &str =
    "INSERT INTO signin_attempt (at_us, client_addr, client_block, login, success) VALUES ($1, $2, $3, $4, $5)";

impl Store {
    async fn read_accounts(&self, filter: &str, bind: Option<AccountKey<'_>>) -> Result<Vec<Account>, StoreError> {
        let sql = format!("{SELECT_ACCOUNT} {filter}");
        let rows = with_read_conn!(self, c => {
            let q = sqlx::query_as::<_, AccountRow>(&sql);
            let q = match bind {
                Some(AccountKey::Id(id)) => q.bind(id),
                Some(AccountKey::Login(l)) => q.bind(l),
                Some(AccountKey::Before(us)) => q.bind(us),
                None => q,
            };
            q.fetch_all(c).await?
        })?;
        rows.into_iter().map(|r| r.into_record(self.keys())).collect()
    }

    pub async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        let login = login.trim().to_ascii_lowercase();
        Ok(self.read_accounts("WHERE a.login = $1", Some(AccountKey::Login(&login))).await?.pop())
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Option<Account>, StoreError> {
        self.kept(Key::Account(id), async || {
            Ok(self.read_accounts("WHERE a.id = $1", Some(AccountKey::Id(id))).await?.pop())
        })
        .await
    }

    /// Every account, by login.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read_accounts("ORDER BY a.login", None).await
    }

    /// How many accounts there are (the access review records it).
    pub async fn account_count(&self) -> Result<i64, StoreError> {
        with_read_conn!(self, c => sqlx::query_scalar("SELECT COUNT(*) AS n FROM account").fetch_one(c).await?)
    }

    /// Is there an enabled administrator? (First-run setup answers only when not.)
    pub async fn has_admin(&self) -> Result<bool, StoreError> {
        let n: i64 = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) AS n FROM account WHERE role = 'admin' AND disabled_at_us IS NULL")
                .fetch_one(c).await?
        })?;
        Ok(n > 0)
    }

    pub async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        self.kept(Key::Organisations, async || {
            let rows = with_read_conn!(self, c => {
                sqlx::query_as::<_, OrganisationRow>("SELECT id, name, kind, contact FROM organisation ORDER BY kind, name")
                    .fetch_all(c).await?
            })?;
            rows.into_iter().map(|r| r.into_record(self.keys())).collect()
        })
        .await
    }

    /// How many of the account's recovery codes are still unused.
    pub async fn recovery_codes_left(&self, account_id: i64) -> Result<i64, StoreError> {
        self.kept(Key::RecoveryCodesLeft(account_id), async || {
            with_read_conn!(self, c => {
                sqlx::query_scalar("SELECT COUNT(*) AS n FROM recovery_code WHERE account_id = $1 AND used_at_us IS NULL")
                    .bind(account_id).fetch_one(c).await?
            })
        })
        .await
    }

    /// The newest `n` password hashes of an account (item 4: no reuse).
    pub async fn password_history(&self, account_id: i64, n: usize) -> Result<Vec<String>, StoreError> {
        with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT password_hash FROM password_history WHERE account_id = $1 ORDER BY created_at_us DESC LIMIT $2")
                .bind(account_id).bind(n as i64).fetch_all(c).await?
        })
    }

    /// The account ledger (ID管理簿), oldest first.
    pub async fn ledger(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        self.ledger_lines(None).await
    }

    /// The ledger lines of one account, oldest first.
    pub async fn ledger_of(&self, account_id: i64) -> Result<Vec<LedgerEntry>, StoreError> {
        self.ledger_lines(Some(account_id)).await
    }

    async fn ledger_lines(&self, account_id: Option<i64>) -> Result<Vec<LedgerEntry>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, LedgerRow>(
                "SELECT l.id, l.account_id, a.login, a.display_name, l.at_us, l.actor_login, l.change, l.before, l.after, l.reason \
                 FROM account_ledger l JOIN account a ON a.id = l.account_id \
                 WHERE ($1 IS NULL OR l.account_id = $1) ORDER BY l.at_us, l.id",
            ).bind(account_id).fetch_all(c).await?
        })?;
        let mut lines = rows.into_iter().map(|r| r.into_record(self.keys())).collect::<Result<Vec<_>, _>>()?;
        // Read back from the newest line: each change of name gives the
        // name the account bore before it.
        let mut name_then: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
        for line in lines.iter_mut().rev() {
            let name = name_then.entry(line.account_id).or_insert_with(|| line.account_name.clone());
            line.account_name.clone_from(name);
            if line.change == LedgerChange::DisplayName {
                name.clone_from(&line.before);
            }
        }
        Ok(lines)
    }

    pub async fn access_reviews(&self) -> Result<Vec<AccessReview>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, AccessReviewRow>(
                "SELECT id, reviewed_at_us, reviewer_login, accounts, comment FROM access_review ORDER BY reviewed_at_us DESC, id DESC",
            ).fetch_all(c).await?
        })?;
        rows.into_iter().map(AccessReviewRow::into_record).collect()
    }

    /// Removes failed sign-in attempts made before `before` (the audit log
    /// keeps their events): anyone may fail to sign in, and the table would
    /// otherwise grow by their attempts for ever. Successful ones stay: they
    /// tell which users an address has known ([`Store::open_signin_attempt`]).
    pub async fn purge_failed_attempts(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = delete_failed_attempts(&mut tx, before).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Records one sign-in attempt (its own small transaction).
    pub async fn record_attempt(
        &self,
        now: OffsetDateTime,
        addr: &str,
        login: &str,
        success: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let login: String = login.chars().take(Login::MAX).collect();
        with_conn!(tx, c => {
            sqlx::query(INSERT_ATTEMPT)
                .bind(to_unix_micros(now)).bind(addr).bind(block_key(addr)).bind(login).bind(success).execute(c).await?;
        });
        tx.commit().await
    }

    /// Items 39, 41: decides, before any password is checked, whether a
    /// sign-in attempt may be evaluated at all, atomically with the counts
    /// it depends on.
    ///
    /// - The client address is throttled once `address_max_failures`
    ///   attempts from it failed (or are under way) within the window, and
    ///   its block (an IPv6 address's /48) once `block_max_failures` did,
    ///   except for an account that has signed in from that address (that
    ///   block) before: one office's shared address does not lock everyone
    ///   out, and that account keeps its own lockout.
    /// - The attempt is recorded as failed before it is evaluated, and, for
    ///   a known account, counted towards the lock in the same statement
    ///   that checks the lock: of any number of parallel attempts, exactly
    ///   `max_failures` are evaluated; the rest are refused as locked.
    ///   [`Store::attempt_succeeded`] and [`Store::refund_failure`] undo the
    ///   count for an attempt that turns out right.
    ///
    /// An unknown user ID runs the same statements as a known one (the
    /// account update simply matches no row), so the two cannot be told
    /// apart by the database work they cause.
    pub async fn open_signin_attempt(
        &self,
        now: OffsetDateTime,
        addr: &str,
        login_key: &str,
        account_id: Option<i64>,
        policy: &LockoutPolicy,
    ) -> Result<Gate, StoreError> {
        let since = to_unix_micros(now - policy.address_window);
        let login: String = login_key.chars().take(Login::MAX).collect();
        // Told first from a read: a flood of attempts from a throttled
        // address took the one writer (SQLite's) or a write connection each,
        // holding up everyone's writes. Judged again below, in the write.
        let block = block_key(addr);
        if let Some(held) = with_read_conn!(self, c => throttled!(c, addr, &block, since, &login, policy))? {
            return Ok(held);
        }
        let mut tx = self.begin().await?;
        let gate = match self.gate_in(&mut tx, now, addr, &login, account_id, policy).await {
            Err(e) if lock_waited_out(&e) => return Ok(Gate::Busy),
            gate => gate?,
        };
        match gate {
            Gate::Throttled | Gate::SignedInTooOften => tx.rollback().await?,
            _ => match tx.commit().await {
                Err(e) if lock_waited_out(&e) => return Ok(Gate::Busy),
                done => done?,
            },
        }
        Ok(gate)
    }

    /// [`Store::open_signin_attempt`]'s write, in `tx` (its caller commits
    /// it, or rolls a throttled one back).
    async fn gate_in(
        &self,
        tx: &mut Tx,
        now: OffsetDateTime,
        addr: &str,
        login: &str,
        account_id: Option<i64>,
        policy: &LockoutPolicy,
    ) -> Result<Gate, StoreError> {
        let since = to_unix_micros(now - policy.address_window);
        let block = block_key(addr);
        // Serialises attempts from one block (so from one address) across
        // instances, so the counts below are exact there too.
        tx.lock_named(&block).await?;
        // Holding it, this attempt waits a short while at the most for the
        // rest (the account's row above all).
        if tx.backend() == crate::Backend::Postgres {
            let wait = format!("SET LOCAL lock_timeout = '{SIGNIN_LOCK_WAIT}'");
            with_conn!(tx, c => sqlx::query(&wait).execute(c).await?.rows_affected());
        }
        if let Some(held) = with_conn!(tx, c => throttled!(c, addr, &block, since, login, policy)) {
            return Ok(held);
        }
        let attempt: i64 = with_conn!(tx, c => {
            sqlx::query_scalar(&format!("{INSERT_ATTEMPT} RETURNING id"))
                .bind(to_unix_micros(now)).bind(addr).bind(&block).bind(login).bind(false).fetch_one(c).await?
        });
        let reserved = reserve_failure(tx, account_id.unwrap_or(0), now, policy).await?;
        Ok(match (account_id, reserved) {
            (Some(_), None) => Gate::Locked { attempt },
            (_, reserved) => Gate::Evaluate { attempt, reserved },
        })
    }

    /// Item 41 for the second factor and for the current password on the
    /// password page: counts the attempt in advance, as
    /// [`Store::open_signin_attempt`] does; `None` when the account is locked.
    pub async fn open_account_attempt(
        &self,
        account_id: i64,
        now: OffsetDateTime,
        policy: &LockoutPolicy,
    ) -> Result<Option<Reserved>, StoreError> {
        let mut tx = self.begin().await?;
        let reserved = reserve_failure(&mut tx, account_id, now, policy).await?;
        tx.commit().await?;
        Ok(reserved)
    }

    /// The right current password (on the password page): the count of
    /// consecutive failures starts again.
    pub async fn reset_failures(&self, account_id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        unlock(&mut tx, account_id).await?;
        tx.commit().await
    }

    /// The password was right: the attempt counts as a success for the
    /// address throttle.
    pub async fn attempt_succeeded(&self, attempt: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query("UPDATE signin_attempt SET success = $2 WHERE id = $1").bind(attempt).bind(true).execute(c).await?;
        });
        tx.commit().await
    }

    /// The password was right but the second factor is still to come: the
    /// failure counted in advance is taken back (and a lock it caused
    /// lifted), while earlier failures stay counted.
    pub async fn refund_failure(&self, account_id: i64, max_failures: u32) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query(
                "UPDATE account SET failed_count = failed_count - 1, \
                   locked_until_us = CASE WHEN failed_count - 1 < $2 THEN NULL ELSE locked_until_us END \
                 WHERE id = $1 AND failed_count > 0",
            )
            .bind(account_id).bind(i64::from(max_failures)).execute(c).await?;
        });
        tx.commit().await
    }

    /// A successful sign-in: the failure count starts again, the time and
    /// address are kept for "my account" and the inactivity review.
    pub async fn record_signin(&self, account_id: i64, now: OffsetDateTime, addr: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query("UPDATE account SET failed_count = 0, locked_until_us = NULL, last_signin_at_us = $2, last_signin_addr = $3 WHERE id = $1")
                .bind(account_id).bind(to_unix_micros(now)).bind(addr).execute(c).await?;
        });
        tx.commit().await
    }

    /// RFC 6238 §5.2: accepts a TOTP time step only if it is later than the
    /// last one accepted, atomically, so a code is never accepted twice.
    pub async fn accept_totp_step(&self, account_id: i64, step: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let n = with_conn!(tx, c => {
            sqlx::query("UPDATE account SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2")
                .bind(account_id).bind(step).execute(c).await?.rows_affected()
        });
        tx.commit().await?;
        Ok(n == 1)
    }

    /// A secret the server keeps for itself, made from `candidate` the first
    /// time it is asked for (every instance then reads the same one).
    pub async fn server_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        let mut tx = self.begin().await?;
        let value = with_conn!(tx, c => {
            sqlx::query("INSERT INTO server_secret (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name).bind(candidate).execute(&mut *c).await?;
            sqlx::query_scalar("SELECT value FROM server_secret WHERE name = $1").bind(name).fetch_one(&mut *c).await?
        });
        tx.commit().await?;
        Ok(value)
    }

    /// Replaces the first-run setup token (only its hash is stored).
    pub async fn set_setup_token(&self, token_hash: &str, expires: OffsetDateTime) -> Result<(), StoreError> {
        // One statement: instances starting together each replace the
        // token (the last one's holds) instead of colliding on its row.
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO setup_token (id, token_hash, expires_at_us) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, expires_at_us = excluded.expires_at_us",
            )
            .bind(token_hash).bind(to_unix_micros(expires)).execute(&mut *c).await?;
        });
        tx.commit().await
    }

    /// Is this setup token valid now? (Read only; [`take_setup_token`] uses it.)
    pub async fn setup_token_valid(&self, token_hash: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let n: i64 = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) AS n FROM setup_token WHERE token_hash = $1 AND expires_at_us > $2")
                .bind(token_hash).bind(to_unix_micros(now)).fetch_one(c).await?
        })?;
        Ok(n == 1)
    }

    /// Accounts not signed in since `before` (never signed in: since
    /// created), nor enabled again or given a new password by an
    /// administrator since ([`RETURNED`]).
    pub async fn inactive_accounts(&self, before: OffsetDateTime) -> Result<Vec<Account>, StoreError> {
        let sql = format!(
            "WHERE a.disabled_at_us IS NULL AND COALESCE(a.last_signin_at_us, a.created_at_us) < $1 \
             AND NOT EXISTS ({RETURNED}) ORDER BY a.login"
        );
        self.read_accounts(&sql, Some(AccountKey::Before(to_unix_micros(before)))).await
    }
}

/// The value bound to a filter's `$1`.
enum AccountKey<'a> {
    Id(i64),
    Login(&'a str),
    /// A time, in microseconds.
    Before(i64),
}

// ----- writes in the caller's transaction ----------------------------------------

/// Item 41: counts one failure in advance and locks the account at the
/// limit, in one statement, only if the account is not locked now; `None`
/// when it is (or, for id 0, when there is no such account). Concurrent
/// attempts serialise on the row, so the lock falls at exactly
/// `max_failures`. After a lock has run out, counting starts again from one.
async fn reserve_failure(
    tx: &mut Tx,
    account_id: i64,
    now: OffsetDateTime,
    policy: &LockoutPolicy,
) -> Result<Option<Reserved>, StoreError> {
    let lock_until = to_unix_micros(now + policy.lock_for);
    let row: Option<(i64, Option<i64>)> = with_conn!(tx, c => {
        sqlx::query_as(
            "UPDATE account SET \
               failed_count = CASE WHEN locked_until_us IS NOT NULL THEN 1 ELSE failed_count + 1 END, \
               locked_until_us = CASE WHEN (CASE WHEN locked_until_us IS NOT NULL THEN 1 ELSE failed_count + 1 END) >= $2 \
                                      THEN $3 ELSE NULL END \
             WHERE id = $1 AND (locked_until_us IS NULL OR locked_until_us <= $4) \
             RETURNING failed_count, locked_until_us",
        )
        .bind(account_id)
        .bind(i64::from(policy.max_failures))
        .bind(lock_until)
        .bind(to_unix_micros(now))
        .fetch_optional(c)
        .await?
    });
    Ok(row.map(|(failures, locked)| Reserved { failures, locks: locked.is_some() }))
}

/// Uses (deletes) the setup token if valid; false if not.
pub async fn take_setup_token(tx: &mut Tx, token_hash: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
    let n = with_conn!(tx, c => {
        sqlx::query("DELETE FROM setup_token WHERE token_hash = $1 AND expires_at_us > $2")
            .bind(token_hash).bind(to_unix_micros(now)).execute(c).await?.rows_affected()
    });
    Ok(n == 1)
}

pub async fn create_organisation(
    tx: &mut Tx,
    now: OffsetDateTime,
    name: &str,
    kind: OrgKind,
    contact: &str,
) -> Result<i64, StoreError> {
    let contact = tx.keys().seal("organisation.contact", contact);
    with_conn!(tx, c => {
        Ok(sqlx::query_scalar("INSERT INTO organisation (name, kind, contact, created_at_us) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(name).bind(kind.as_str()).bind(contact).bind(to_unix_micros(now))
            .fetch_one(c).await.map_err(unique)?)
    })
}

pub async fn add_ledger(
    tx: &mut Tx,
    now: OffsetDateTime,
    account_id: i64,
    line: &LedgerLine<'_>,
) -> Result<(), StoreError> {
    let before = tx.keys().seal("account_ledger.before", line.before);
    let after = tx.keys().seal("account_ledger.after", line.after);
    with_conn!(tx, c => {
        sqlx::query(
            "INSERT INTO account_ledger (account_id, at_us, actor_login, change, before, after, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(account_id).bind(to_unix_micros(now)).bind(line.actor_login).bind(line.change.as_str())
        .bind(&before).bind(&after).bind(line.reason)
        .execute(c).await?;
    });
    Ok(())
}

/// Creates an account with its first password in the history. The ledger
/// line and the audit event are the caller's, in the same transaction.
pub async fn create_account(tx: &mut Tx, now: OffsetDateTime, new: &NewAccount) -> Result<i64, StoreError> {
    let now_us = to_unix_micros(now);
    let name = tx.keys().seal("account.display_name", &new.display_name);
    let email = tx.keys().seal("account.email", &new.email);
    let id: i64 = with_conn!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO account (login, display_name, email, role, organisation_id, password_hash, \
             password_changed_at_us, must_change_password, created_at_us, updated_at_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $7) RETURNING id",
        )
        .bind(new.login.as_str()).bind(&name).bind(&email).bind(new.role.as_str())
        .bind(new.organisation_id).bind(&new.password_hash).bind(now_us).bind(new.must_change_password)
        .fetch_one(c).await.map_err(unique)?
    });
    push_history(tx, id, &new.password_hash, now).await?;
    Ok(id)
}

async fn push_history(tx: &mut Tx, account_id: i64, hash: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query("INSERT INTO password_history (account_id, password_hash, created_at_us) VALUES ($1, $2, $3)")
            .bind(account_id).bind(hash).bind(to_unix_micros(now)).execute(c).await?;
    });
    Ok(())
}

/// Sets a new password. `must_change`: an administrator set it, so the
/// person must choose their own at the next sign-in; every session ends.
pub async fn set_password(
    tx: &mut Tx,
    account_id: i64,
    hash: &str,
    now: OffsetDateTime,
    must_change: bool,
) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query(
            "UPDATE account SET password_hash = $2, password_changed_at_us = $3, must_change_password = $4, \
             session_generation = session_generation + (CASE WHEN $4 THEN 1 ELSE 0 END), updated_at_us = $3 WHERE id = $1",
        )
        .bind(account_id).bind(hash).bind(to_unix_micros(now)).bind(must_change)
        .execute(c).await?;
    });
    push_history(tx, account_id, hash, now).await
}

/// Changes name, e-mail, role and organisation. A change of role or
/// organisation ends every session of the account (item 7).
pub async fn update_account(
    tx: &mut Tx,
    now: OffsetDateTime,
    account_id: i64,
    display_name: &str,
    email: &str,
    role: Role,
    organisation_id: Option<i64>,
) -> Result<(), StoreError> {
    let display_name = &tx.keys().seal("account.display_name", display_name);
    let email = &tx.keys().seal("account.email", email);
    with_conn!(tx, c => {
        sqlx::query(
            "UPDATE account SET display_name = $2, email = $3, \
             session_generation = session_generation + (CASE WHEN role <> $4 OR COALESCE(organisation_id, 0) <> COALESCE($5, 0) THEN 1 ELSE 0 END), \
             role = $4, organisation_id = $5, updated_at_us = $6 WHERE id = $1",
        )
        .bind(account_id).bind(display_name).bind(email).bind(role.as_str()).bind(organisation_id).bind(to_unix_micros(now))
        .execute(c).await?;
    });
    Ok(())
}

/// A ledger line since `$1` by which an administrator gave account `a`
/// back to its person (enabled it again, set a new password): its unused
/// time counts from there, not from the last sign-in, or the next day's
/// check disabled it again before the person could come back.
const RETURNED: &str = "SELECT 1 FROM account_ledger l WHERE l.account_id = a.id AND l.at_us >= $1 \
                        AND l.change IN ('enabled', 'password_reset')";

/// Is account `id` enabled and unused since `before`, read in `tx`?
pub async fn inactive_in(tx: &mut Tx, id: i64, before: OffsetDateTime) -> Result<bool, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) FROM account a WHERE a.id = $2 AND a.disabled_at_us IS NULL \
         AND COALESCE(a.last_signin_at_us, a.created_at_us) < $1 AND NOT EXISTS ({RETURNED})"
    );
    let n: i64 = with_conn!(tx, c => {
        sqlx::query_scalar(&sql).bind(to_unix_micros(before)).bind(id).fetch_one(c).await?
    });
    Ok(n > 0)
}

/// Did PostgreSQL give up waiting for a lock (`lock_timeout`)?
fn lock_waited_out(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(sqlx::Error::Database(d)) if d.code().as_deref() == Some("55P03"))
}

/// Account `id` as it is in `tx` now.
pub async fn account_in(tx: &mut Tx, id: i64) -> Result<Option<Account>, StoreError> {
    let sql = format!("{SELECT_ACCOUNT} WHERE a.id = $1");
    let row = with_conn!(tx, c => sqlx::query_as::<_, AccountRow>(&sql).bind(id).fetch_optional(c).await?);
    row.map(|r| r.into_record(tx.keys())).transpose()
}

impl Store {
    /// [`Store::begin_as`] for a change of accounts: the administrators'
    /// lock is taken first, then the acting person's row as in
    /// [`Store::begin_as_self`] (they may change their own). Two
    /// administrators changing each other's accounts at once go one after
    /// the other, never each holding their own row while waiting for the
    /// other's.
    pub async fn begin_administering(&self, ctx: &crate::identity::Ctx) -> Result<Tx, StoreError> {
        let mut tx = self.begin().await?;
        lock_administrators(&mut tx).await?;
        tx.stand(ctx, "FOR NO KEY UPDATE").await?;
        Ok(tx)
    }
}

/// Every account, by login, read in `tx`; on PostgreSQL each row held
/// shared until `tx` ends (a person enrolling their own second factor
/// changes their row without the administrators' lock).
pub async fn every_account_held(tx: &mut Tx) -> Result<Vec<Account>, StoreError> {
    let hold = if tx.backend() == crate::Backend::Postgres { " FOR SHARE OF a" } else { "" };
    let sql = format!("{SELECT_ACCOUNT} ORDER BY a.login{hold}");
    let rows = with_conn!(tx, c => sqlx::query_as::<_, AccountRow>(&sql).fetch_all(c).await?);
    rows.into_iter().map(|r| r.into_record(tx.keys())).collect()
}

/// Disables (ending every session) or enables an account.
/// Takes the lock under which who administers changes (PostgreSQL: two
/// administrators each disabling the other at once would otherwise both
/// see the other still there; SQLite writes one at a time anyway).
pub async fn lock_administrators(tx: &mut Tx) -> Result<(), StoreError> {
    tx.lock_named("mamori.administrators").await
}

/// Is account `id` an enabled administrator (read in `tx`, under
/// [`lock_administrators`], before a change)?
pub async fn enabled_administrator(tx: &mut Tx, id: i64) -> Result<bool, StoreError> {
    let n: i64 = with_conn!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM account WHERE id = $1 AND role = $2 AND disabled_at_us IS NULL")
            .bind(id).bind(Role::Admin.as_str()).fetch_one(c).await?
    });
    Ok(n > 0)
}

/// Refuses, after a change in `tx`, to leave no enabled administrator:
/// nobody could manage accounts any more, and first-run setup would open.
pub async fn keep_an_administrator(tx: &mut Tx) -> Result<(), StoreError> {
    let n: i64 = with_conn!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM account WHERE role = $1 AND disabled_at_us IS NULL")
            .bind(Role::Admin.as_str()).fetch_one(c).await?
    });
    if n == 0 {
        return Err(StoreError::LastAdministrator);
    }
    Ok(())
}

pub async fn set_disabled(tx: &mut Tx, now: OffsetDateTime, account_id: i64, disabled: bool) -> Result<(), StoreError> {
    let at = disabled.then(|| to_unix_micros(now));
    with_conn!(tx, c => {
        sqlx::query(
            "UPDATE account SET disabled_at_us = $2, session_generation = session_generation + 1, updated_at_us = $3 WHERE id = $1",
        )
        .bind(account_id).bind(at).bind(to_unix_micros(now)).execute(c).await?;
    });
    Ok(())
}

pub async fn unlock(tx: &mut Tx, account_id: i64) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query("UPDATE account SET failed_count = 0, locked_until_us = NULL WHERE id = $1")
            .bind(account_id).execute(c).await?;
    });
    Ok(())
}

/// Ends every session of an account (sessions carry the generation they
/// began with); returns the new generation.
pub async fn end_sessions(tx: &mut Tx, account_id: i64) -> Result<i64, StoreError> {
    with_conn!(tx, c => {
        Ok(sqlx::query_scalar("UPDATE account SET session_generation = session_generation + 1 WHERE id = $1 RETURNING session_generation")
            .bind(account_id).fetch_one(c).await?)
    })
}

/// [`end_sessions`] from a session of generation `seen`, which carries on
/// with the new one: `Stale` when the account's sessions were ended since
/// that session's request was checked (it is one of those ended, and must
/// not take up the new generation).
pub async fn end_sessions_from(tx: &mut Tx, account_id: i64, seen: i64) -> Result<i64, StoreError> {
    let generation: Option<i64> = with_conn!(tx, c => {
        sqlx::query_scalar(
            "UPDATE account SET session_generation = session_generation + 1 \
             WHERE id = $1 AND session_generation = $2 RETURNING session_generation",
        )
        .bind(account_id).bind(seen).fetch_optional(c).await?
    });
    generation.ok_or(StoreError::Stale)
}

/// Clears the account's second factor and its recovery codes.
pub async fn clear_totp(tx: &mut Tx, account_id: i64) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query("UPDATE account SET totp_secret = NULL, totp_enabled = $2, totp_last_step = 0 WHERE id = $1")
            .bind(account_id).bind(false).execute(&mut *c).await?;
        sqlx::query("DELETE FROM recovery_code WHERE account_id = $1").bind(account_id).execute(&mut *c).await?;
    });
    Ok(())
}

/// Enrols `secret` (the one the code was checked against, kept until now
/// in the enrolling person's session): the secret becomes active, the
/// confirming step is spent, and the recovery codes (hashes) replace any
/// earlier ones. `Stale`, changing nothing, when the enrolment was
/// confirmed meanwhile (the button pressed twice: each replaced the other's
/// recovery codes, so those shown could be void).
pub async fn enable_totp(
    tx: &mut Tx,
    account_id: i64,
    secret: &str,
    step: i64,
    recovery_hashes: &[String],
) -> Result<(), StoreError> {
    let sealed = tx.keys().seal("account.totp_secret", secret);
    let n = with_conn!(tx, c => {
        sqlx::query("UPDATE account SET totp_enabled = $2, totp_secret = $3, totp_last_step = $4 WHERE id = $1 AND totp_enabled = $5")
            .bind(account_id).bind(true).bind(sealed).bind(step).bind(false).execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(StoreError::Stale);
    }
    replace_recovery_codes(tx, account_id, recovery_hashes).await
}

/// The account's recovery codes become `recovery_hashes`, the earlier ones
/// void, used or not.
pub async fn replace_recovery_codes(
    tx: &mut Tx,
    account_id: i64,
    recovery_hashes: &[String],
) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query("DELETE FROM recovery_code WHERE account_id = $1").bind(account_id).execute(&mut *c).await?;
        for h in recovery_hashes {
            sqlx::query("INSERT INTO recovery_code (account_id, code_hash) VALUES ($1, $2)")
                .bind(account_id).bind(h).execute(&mut *c).await?;
        }
    });
    Ok(())
}

/// Spends the authenticator's `step` on an account whose second factor is
/// on, in the caller's transaction: false when that step or a later one
/// was used already (RFC 6238 §5.2), or the second factor is off.
pub async fn spend_totp_step(tx: &mut Tx, account_id: i64, step: i64) -> Result<bool, StoreError> {
    let n = with_conn!(tx, c => {
        sqlx::query("UPDATE account SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2 AND totp_enabled = $3")
            .bind(account_id).bind(step).bind(true).execute(c).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Spends a recovery code; false if unknown or used.
pub async fn use_recovery_code(
    tx: &mut Tx,
    account_id: i64,
    code_hash: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n = with_conn!(tx, c => {
        sqlx::query("UPDATE recovery_code SET used_at_us = $3 WHERE account_id = $1 AND code_hash = $2 AND used_at_us IS NULL")
            .bind(account_id).bind(code_hash).bind(to_unix_micros(now)).execute(c).await?.rows_affected()
    });
    Ok(n == 1)
}

pub async fn add_access_review(
    tx: &mut Tx,
    now: OffsetDateTime,
    reviewer_id: i64,
    reviewer_login: &str,
    accounts: i64,
    comment: &str,
) -> Result<i64, StoreError> {
    with_conn!(tx, c => {
        Ok(sqlx::query_scalar(
            "INSERT INTO access_review (reviewed_at_us, reviewer_id, reviewer_login, accounts, comment) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(to_unix_micros(now)).bind(reviewer_id).bind(reviewer_login).bind(accounts).bind(comment)
        .fetch_one(c).await?)
    })
}

/// Remaining unused recovery codes of an account.
pub async fn unused_recovery_codes(tx: &mut Tx, account_id: i64) -> Result<i64, StoreError> {
    with_conn!(tx, c => {
        Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM recovery_code WHERE account_id = $1 AND used_at_us IS NULL")
            .bind(account_id).fetch_one(c).await?)
    })
}

/// Successful sign-ins no longer needed, in a transaction of the caller's.
/// They tell the address throttle that an address is a person's own, and
/// the sign-in watch whether a sign-in came from a new address: for each
/// address and login the first and the last are kept, and every one since
/// `recent`. The others go, and so does a pair's first and last once the
/// last is older than `unused` (the address is then new again). One row per
/// sign-in was kept for good before.
pub(crate) async fn delete_old_successes(
    tx: &mut Tx,
    recent: OffsetDateTime,
    unused: OffsetDateTime,
) -> Result<u64, StoreError> {
    let same = "e.success = $1 AND e.login = signin_attempt.login AND e.client_addr = signin_attempt.client_addr";
    Ok(with_conn!(tx, c => {
        let between = sqlx::query(&format!(
            "DELETE FROM signin_attempt WHERE success = $1 AND at_us < $2 \
             AND EXISTS (SELECT 1 FROM signin_attempt e WHERE {same} AND e.at_us < signin_attempt.at_us) \
             AND EXISTS (SELECT 1 FROM signin_attempt e WHERE {same} AND e.at_us > signin_attempt.at_us)"
        ))
        .bind(true).bind(to_unix_micros(recent)).execute(&mut *c).await?.rows_affected();
        let unused = sqlx::query(&format!(
            "DELETE FROM signin_attempt WHERE success = $1 AND at_us < $2 \
             AND NOT EXISTS (SELECT 1 FROM signin_attempt e WHERE {same} AND e.at_us >= $2)"
        ))
        .bind(true).bind(to_unix_micros(unused)).execute(&mut *c).await?.rows_affected();
        between + unused
    }))
}

/// [`Store::purge_failed_attempts`] in a transaction of the caller's.
pub(crate) async fn delete_failed_attempts(tx: &mut Tx, before: OffsetDateTime) -> Result<u64, StoreError> {
    Ok(with_conn!(tx, c => {
        sqlx::query("DELETE FROM signin_attempt WHERE success = $1 AND at_us < $2")
            .bind(false).bind(to_unix_micros(before)).execute(c).await?.rows_affected()
    }))
}
