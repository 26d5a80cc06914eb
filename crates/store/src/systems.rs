//! Systems, applicability overrides, answers and review, each change with
//! its history line and audit event in one transaction.

use crate::audit::append;
use crate::identity::Ctx;
use crate::revision::Key;
use crate::{corrupt, parsed, timestamp, with_conn, with_read_conn, Seen, Store, StoreError, Tx};
use mamori_core::audit::{Action, Changes, NewEvent};
use mamori_core::catalog::SystemAttributes;
use mamori_core::checklist::{
    self, AnswerInput, AnswerStatus, HistoryKind, Phase, Review, SystemStatus, WorkflowError,
};
use mamori_core::clock::to_unix_micros;
use mamori_core::identity::Role;
use mamori_core::parties::Parties;
use mamori_core::records::RecordKind;
use mamori_core::scope::Scope;
use std::collections::BTreeSet;
use std::sync::Arc;
use time::{Date, OffsetDateTime};

const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn date_str(d: Option<Date>) -> Option<String> {
    d.map(|d| d.format(DATE).expect("a date formats as YYYY-MM-DD"))
}

pub(crate) fn parse_date(s: Option<String>) -> Result<Option<Date>, StoreError> {
    s.map(|s| Date::parse(&s, DATE).map_err(|_| corrupt("date", &s))).transpose()
}

/// What an officer enters about a system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInput {
    pub name: String,
    pub description: String,
    pub department_id: i64,
    /// The vendor that builds the system (構築事業者).
    pub vendor_id: Option<i64>,
    /// Its maintenance vendor (保守事業者), when another than the builder.
    pub maintenance_id: Option<i64>,
    /// Its cloud provider (クラウド事業者), when another than the builder.
    pub cloud_id: Option<i64>,
    pub phase: Phase,
    pub attrs: SystemAttributes,
    pub ismap_number: String,
    pub service_name: String,
    pub service_region: String,
    pub urls: Vec<String>,
    pub hosts: Vec<String>,
    /// When the current round's answers are due.
    pub due_on: Option<Date>,
}

impl SystemInput {
    /// The mark of what the registration form shows: see [`crate::edit_mark`].
    pub fn edit_mark(&self) -> String {
        let id = |o: Option<i64>| o.map(|o| o.to_string()).unwrap_or_default();
        let (dept, attrs, due) = (self.department_id.to_string(), format!("{:?}", self.attrs), date_str(self.due_on));
        let (urls, hosts) = (self.urls.join("\n"), self.hosts.join("\n"));
        crate::edit_mark(&[
            &self.name,
            &self.description,
            &dept,
            &id(self.vendor_id),
            &id(self.maintenance_id),
            &id(self.cloud_id),
            self.phase.as_str(),
            &attrs,
            &self.ismap_number,
            &self.service_name,
            &self.service_region,
            &urls,
            &hosts,
            due.as_deref().unwrap_or_default(),
        ])
    }
}

impl SystemRecord {
    /// The names of its vendors, builder first, each once.
    pub fn vendor_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for n in [&self.vendor_name, &self.maintenance_name, &self.cloud_name].into_iter().flatten() {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        names
    }
}

impl SystemInput {
    /// A system of `department_id` with nothing else entered yet: being
    /// built, no vendor, no attribute, no description, address or due date.
    pub fn new(name: &str, department_id: i64) -> SystemInput {
        SystemInput {
            name: name.to_owned(),
            description: String::new(),
            department_id,
            vendor_id: None,
            maintenance_id: None,
            cloud_id: None,
            phase: Phase::Building,
            attrs: SystemAttributes::default(),
            ismap_number: String::new(),
            service_name: String::new(),
            service_region: String::new(),
            urls: vec![],
            hosts: vec![],
            due_on: None,
        }
    }

    /// The system's department and vendors, by party.
    pub fn parties(&self) -> Parties {
        Parties {
            department: self.department_id,
            builder: self.vendor_id,
            maintenance: self.maintenance_id,
            cloud: self.cloud_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRecord {
    pub id: i64,
    pub input: SystemInput,
    pub department_name: String,
    pub vendor_name: Option<String>,
    pub maintenance_name: Option<String>,
    pub cloud_name: Option<String>,
    pub catalog_version_id: i64,
    pub status: SystemStatus,
    pub round: i64,
    /// Counts every change to the system, its answers, decisions and
    /// overrides (the key of the figures kept in memory).
    pub revision: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Narrows a list of systems within a person's [`Scope`] (it never widens it).
#[derive(Debug, Clone, Default)]
pub struct SystemFilter {
    pub department_id: Option<i64>,
    pub vendor_id: Option<i64>,
    pub phase: Option<Phase>,
    pub status: Option<SystemStatus>,
    pub name_contains: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub number: u32,
    pub applies: bool,
    pub reason: String,
    pub actor_login: String,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRecord {
    pub number: u32,
    pub input: AnswerInput,
    pub review: Review,
    pub review_comment: String,
    pub revised_after_return: bool,
    pub revision: i64,
    /// What the officer approved last, if anything (this round).
    pub approved: Option<Approved>,
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
}

impl AnswerRecord {
    /// What a review form shows of the answer, for [`Store::decide`].
    pub fn seen(&self) -> Seen {
        let approved = self.approved.as_ref().map(|a| a.revision.to_string()).unwrap_or_default();
        Seen {
            revision: self.revision,
            decision: crate::edit_mark(&[self.review.as_str(), &self.review_comment, &approved]),
        }
    }

    /// The approved content, when the answer changed after it was approved.
    pub fn changed_after_approval(&self) -> Option<&Approved> {
        self.approved.as_ref().filter(|a| a.revision != self.revision)
    }
}

/// One answer to save ([`Store::save_answers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerChange {
    pub number: u32,
    pub input: AnswerInput,
    /// The answer's revision the change was made on (0: no answer yet);
    /// `None`: whatever it is now.
    pub on_revision: Option<i64>,
}

/// An answer as the officer approved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    pub revision: i64,
    pub input: AnswerInput,
}

/// Some lines of a system's history ([`Store::history_lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLines {
    /// The answer revision before the lines of each item they revise.
    pub before: Vec<HistoryEntry>,
    pub lines: Vec<HistoryEntry>,
}

/// One line of a system's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub number: u32,
    pub kind: HistoryKind,
    pub status: String,
    pub measures: String,
    pub planned_date: Option<String>,
    pub reason: String,
    pub comment: String,
    pub actor_login: String,
    pub at: OffsetDateTime,
}

const SELECT_SYSTEM: &str = "SELECT s.*, d.name AS department_name, v.name AS vendor_name, \
     m.name AS maintenance_name, k.name AS cloud_name FROM system s \
     JOIN organisation d ON d.id = s.department_id LEFT JOIN organisation v ON v.id = s.vendor_id \
     LEFT JOIN organisation m ON m.id = s.maintenance_id LEFT JOIN organisation k ON k.id = s.cloud_id";

#[derive(sqlx::FromRow)]
struct SystemRow {
    id: i64,
    name: String,
    description: String,
    department_id: i64,
    vendor_id: Option<i64>,
    maintenance_id: Option<i64>,
    cloud_id: Option<i64>,
    phase: String,
    uses_servers: bool,
    web_system: bool,
    external_service: bool,
    confidentiality_high: bool,
    integrity_high: bool,
    availability_high: bool,
    cloud_only: bool,
    ward_domain: bool,
    ismap_number: String,
    service_name: String,
    service_region: String,
    urls: String,
    hosts: String,
    due_on: Option<String>,
    department_name: String,
    vendor_name: Option<String>,
    maintenance_name: Option<String>,
    cloud_name: Option<String>,
    catalog_version_id: i64,
    status: String,
    round: i64,
    revision: i64,
    created_at_us: i64,
    updated_at_us: i64,
}

impl SystemRow {
    fn into_record(self) -> Result<SystemRecord, StoreError> {
        let lines = |s: String| -> Vec<String> { s.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect() };
        Ok(SystemRecord {
            id: self.id,
            input: SystemInput {
                name: self.name,
                description: self.description,
                department_id: self.department_id,
                vendor_id: self.vendor_id,
                maintenance_id: self.maintenance_id,
                cloud_id: self.cloud_id,
                phase: parsed("phase", &self.phase, Phase::parse)?,
                attrs: SystemAttributes {
                    uses_servers: self.uses_servers,
                    web_system: self.web_system,
                    external_service: self.external_service,
                    confidentiality_high: self.confidentiality_high,
                    integrity_high: self.integrity_high,
                    availability_high: self.availability_high,
                    cloud_only: self.cloud_only,
                    ward_domain: self.ward_domain,
                },
                ismap_number: self.ismap_number,
                service_name: self.service_name,
                service_region: self.service_region,
                urls: lines(self.urls),
                hosts: lines(self.hosts),
                due_on: parse_date(self.due_on)?,
            },
            department_name: self.department_name,
            vendor_name: self.vendor_name,
            maintenance_name: self.maintenance_name,
            cloud_name: self.cloud_name,
            catalog_version_id: self.catalog_version_id,
            status: parsed("status", &self.status, SystemStatus::parse)?,
            round: self.round,
            revision: self.revision,
            created_at: timestamp(self.created_at_us)?,
            updated_at: timestamp(self.updated_at_us)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OverrideRow {
    number: i64,
    applies: bool,
    reason: String,
    actor_login: String,
    at_us: i64,
}

impl OverrideRow {
    fn into_record(self) -> Result<Override, StoreError> {
        Ok(Override {
            number: self.number as u32,
            applies: self.applies,
            reason: self.reason,
            actor_login: self.actor_login,
            at: timestamp(self.at_us)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    id: i64,
    number: i64,
    kind: String,
    status: String,
    measures: String,
    planned_date: Option<String>,
    reason: String,
    comment: String,
    actor_login: String,
    at_us: i64,
}

impl HistoryRow {
    fn into_record(self) -> Result<HistoryEntry, StoreError> {
        Ok(HistoryEntry {
            number: self.number as u32,
            kind: parsed("history kind", &self.kind, HistoryKind::parse)?,
            status: self.status,
            measures: self.measures,
            planned_date: self.planned_date,
            reason: self.reason,
            comment: self.comment,
            actor_login: self.actor_login,
            at: timestamp(self.at_us)?,
        })
    }
}

pub(crate) fn system_event(ctx: &Ctx, action: Action, id: i64) -> NewEvent {
    ctx.event_on(action, "system", id)
}

pub(crate) async fn history_line(
    tx: &mut Tx,
    ctx: &Ctx,
    system: &SystemRecord,
    number: u32,
    kind: HistoryKind,
    answer: Option<&AnswerInput>,
    comment: &str,
) -> Result<(), StoreError> {
    let (system_id, round) = (system.id, system.round);
    let (status, measures, planned, reason) = match answer {
        Some(a) => (a.status.as_str(), a.measures.as_str(), date_str(a.planned), a.reason.as_str()),
        None => ("", "", None, ""),
    };
    with_conn!(tx, c => {
        sqlx::query(
            "INSERT INTO answer_event (system_id, round, number, kind, status, measures, planned_date, reason, comment, actor_login, at_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(system_id).bind(round).bind(i64::from(number)).bind(kind.as_str()).bind(status).bind(measures).bind(planned)
        .bind(reason).bind(comment).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now))
        .execute(c).await?;
    });
    Ok(())
}

/// Moves a system from one status to another, or fails with `Stale` if
/// someone else moved it first.
pub(crate) async fn move_status(
    tx: &mut Tx,
    ctx: &Ctx,
    id: i64,
    from: SystemStatus,
    to: SystemStatus,
) -> Result<(), StoreError> {
    let n = with_conn!(tx, c => {
        sqlx::query("UPDATE system SET status = $3, updated_at_us = $4, revision = revision + 1 WHERE id = $1 AND status = $2")
            .bind(id).bind(from.as_str()).bind(to.as_str()).bind(to_unix_micros(ctx.now)).execute(c).await?.rows_affected()
    });
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Stale)
    }
}

/// Locks the system's row for the rest of the write transaction (a row lock
/// on PostgreSQL; SQLite's write transaction is exclusive already) and
/// reads it as it is now. A person acting (not the console, not mamori
/// itself) who does not see the system as it is now, under the lock, is
/// refused as if it did not exist: their request was checked a moment
/// before, and the system may have gone to another vendor or department
/// since, or they to another organisation.
pub(crate) async fn lock_system(tx: &mut Tx, ctx: &Ctx, id: i64) -> Result<SystemRecord, StoreError> {
    let n = with_conn!(tx, c => {
        sqlx::query("UPDATE system SET revision = revision + 1 WHERE id = $1").bind(id).execute(c).await?.rows_affected()
    });
    if n != 1 {
        return Err(StoreError::Missing);
    }
    seen_in(tx, ctx, id).await
}

/// System `id` as `ctx`'s person may see it now, read in `tx` (the caller
/// holds the system's row): `Missing` when they no longer may (their
/// organisation taken off it, their account disabled or changed) or it
/// does not exist. The console and the server's own jobs see every system.
pub(crate) async fn seen_in(tx: &mut Tx, ctx: &Ctx, id: i64) -> Result<SystemRecord, StoreError> {
    let s = system_in(tx, id).await?.ok_or(StoreError::Missing)?;
    if let Some(account) = ctx.actor.account_id {
        let who: Option<(String, Option<i64>, Option<i64>)> = with_conn!(tx, c => {
            sqlx::query_as("SELECT role, organisation_id, disabled_at_us FROM account WHERE id = $1")
                .bind(account).fetch_optional(c).await?
        });
        let sees = who.is_some_and(|(role, org, disabled)| {
            disabled.is_none() && Role::parse(&role).is_some_and(|r| Scope::of(r, org).allows(&s.input.parties()))
        });
        if !sees {
            return Err(StoreError::Missing);
        }
    }
    Ok(s)
}

/// [`lock_system`] for a change of the system's round (an answer, a
/// submission, a decision, what applies or its catalog version, a new
/// round): refused while the system is retired
/// ([`checklist::round_open`]), judged under the lock.
pub(crate) async fn lock_open_round(tx: &mut Tx, ctx: &Ctx, id: i64) -> Result<SystemRecord, StoreError> {
    let s = lock_system(tx, ctx, id).await?;
    checklist::round_open(s.input.phase).map_err(StoreError::Refused)?;
    Ok(s)
}

/// How many disposal records (item 79) system `id` has, and how many of
/// them the security office has approved.
pub(crate) async fn disposal_records(tx: &mut Tx, id: i64) -> Result<(i64, i64), StoreError> {
    Ok(with_conn!(tx, c => {
        sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN review_state = 'approved' THEN 1 ELSE 0 END), 0) \
             FROM record WHERE system_id = $1 AND kind = $2",
        )
        .bind(id).bind(RecordKind::Disposal.as_str()).fetch_one(c).await?
    }))
}

/// The parties of system `id` as they are in the transaction.
pub(crate) async fn parties_of(tx: &mut Tx, id: i64) -> Result<Option<Parties>, StoreError> {
    Ok(system_in(tx, id).await?.map(|s| s.input.parties()))
}

async fn system_in(tx: &mut Tx, id: i64) -> Result<Option<SystemRecord>, StoreError> {
    let sql = format!("{SELECT_SYSTEM} WHERE s.id = $1");
    let row = with_conn!(tx, c => sqlx::query_as::<_, SystemRow>(&sql).bind(id).fetch_optional(c).await?);
    row.map(SystemRow::into_record).transpose()
}

const SELECT_OVERRIDES: &str =
    "SELECT number, applies, reason, actor_login, at_us FROM applicability_override WHERE system_id = $1 ORDER BY number";

pub(crate) async fn overrides_in(tx: &mut Tx, system_id: i64) -> Result<Vec<Override>, StoreError> {
    let rows = with_conn!(tx, c => {
        sqlx::query_as::<_, OverrideRow>(SELECT_OVERRIDES).bind(system_id).fetch_all(c).await?
    });
    rows.into_iter().map(OverrideRow::into_record).collect()
}

const SELECT_ANSWER: &str = "SELECT number, status, measures, planned_date, reason, review, review_comment, \
     revised_after_return, revision, reviewed_revision, approved_revision, approved_status, approved_measures, \
     approved_planned_date, approved_reason, updated_at_us, updated_by FROM answer";

#[derive(sqlx::FromRow)]
struct AnswerRow {
    number: i64,
    status: String,
    measures: String,
    planned_date: Option<String>,
    reason: String,
    review: String,
    review_comment: String,
    revised_after_return: bool,
    revision: i64,
    reviewed_revision: Option<i64>,
    approved_revision: Option<i64>,
    approved_status: Option<String>,
    approved_measures: Option<String>,
    approved_planned_date: Option<String>,
    approved_reason: Option<String>,
    updated_at_us: i64,
    updated_by: String,
}

impl AnswerRow {
    fn into_record(self) -> Result<AnswerRecord, StoreError> {
        let stored = parsed("review", &self.review, Review::parse)?;
        // A decision counts only for the revision it was made on.
        let review = if self.reviewed_revision == Some(self.revision) { stored } else { Review::Pending };
        let approved = match (self.approved_revision, self.approved_status) {
            (Some(revision), Some(st)) => Some(Approved {
                revision,
                input: AnswerInput {
                    status: parsed("answer status", &st, AnswerStatus::parse)?,
                    measures: self.approved_measures.unwrap_or_default(),
                    planned: parse_date(self.approved_planned_date)?,
                    reason: self.approved_reason.unwrap_or_default(),
                },
            }),
            _ => None,
        };
        Ok(AnswerRecord {
            number: u32::try_from(self.number).map_err(|_| corrupt("number", &self.number.to_string()))?,
            input: AnswerInput {
                status: parsed("answer status", &self.status, AnswerStatus::parse)?,
                measures: self.measures,
                planned: parse_date(self.planned_date)?,
                reason: self.reason,
            },
            review,
            review_comment: self.review_comment,
            revised_after_return: self.revised_after_return,
            revision: self.revision,
            approved,
            updated_at: timestamp(self.updated_at_us)?,
            updated_by: self.updated_by,
        })
    }
}

pub(crate) async fn answers_in(tx: &mut Tx, system_id: i64, round: i64) -> Result<Vec<AnswerRecord>, StoreError> {
    let sql = format!("{SELECT_ANSWER} WHERE system_id = $1 AND round = $2 ORDER BY number");
    let rows = with_conn!(tx, c => {
        sqlx::query_as::<_, AnswerRow>(&sql).bind(system_id).bind(round).fetch_all(c).await?
    });
    rows.into_iter().map(AnswerRow::into_record).collect()
}

async fn answer_in(tx: &mut Tx, s: &SystemRecord, number: u32) -> Result<Option<AnswerRecord>, StoreError> {
    let sql = format!("{SELECT_ANSWER} WHERE system_id = $1 AND round = $2 AND number = $3");
    let row = with_conn!(tx, c => {
        sqlx::query_as::<_, AnswerRow>(&sql).bind(s.id).bind(s.round).bind(i64::from(number)).fetch_optional(c).await?
    });
    row.map(AnswerRow::into_record).transpose()
}

/// The round and catalog version a batch of answers was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MadeFor {
    pub round: i64,
    pub catalog_version: i64,
}

/// An answer `a` of 対応済 approved with evidence attached in its own
/// round (an upload or a library document linked). A plan approved as a
/// plan (未対応 with its date) is no duty met.
const EVER_MET: &str = "a.review = 'approved' AND a.status = 'done' \
     AND (EXISTS (SELECT 1 FROM evidence e WHERE e.system_id = a.system_id AND e.round = a.round AND e.number = a.number) \
     OR EXISTS (SELECT 1 FROM document_link l WHERE l.system_id = a.system_id AND l.round = a.round AND l.number = a.number))";

impl Store {
    pub async fn create_system(
        &self,
        ctx: &Ctx,
        input: &SystemInput,
        catalog_version_id: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let now = to_unix_micros(ctx.now);
        let a = &input.attrs;
        let id: i64 = with_conn!(tx, c => {
            sqlx::query_scalar(
                "INSERT INTO system (name, description, department_id, vendor_id, phase, uses_servers, web_system, external_service, \
                 ismap_number, service_name, service_region, confidentiality_high, integrity_high, availability_high, urls, hosts, \
                 catalog_version_id, status, round, created_at_us, updated_at_us, cloud_only, ward_domain, due_on, maintenance_id, cloud_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'not_started', 1, $18, $18, $19, $20, $21, $22, $23) RETURNING id",
            )
            .bind(&input.name).bind(&input.description).bind(input.department_id).bind(input.vendor_id).bind(input.phase.as_str())
            .bind(a.uses_servers).bind(a.web_system).bind(a.external_service).bind(&input.ismap_number).bind(&input.service_name)
            .bind(&input.service_region).bind(a.confidentiality_high).bind(a.integrity_high).bind(a.availability_high)
            .bind(input.urls.join("\n")).bind(input.hosts.join("\n")).bind(catalog_version_id).bind(now)
            .bind(a.cloud_only).bind(a.ward_domain).bind(date_str(input.due_on)).bind(input.maintenance_id).bind(input.cloud_id)
            .fetch_one(c).await.map_err(crate::accounts::unique)?
        });
        let changes = Changes::new()
            .with("name", input.name.as_str())
            .with("department_id", input.department_id)
            .with("vendor_id", input.vendor_id)
            .with("maintenance_id", input.maintenance_id)
            .with("cloud_id", input.cloud_id)
            .with("phase", input.phase.as_str())
            .with("catalog_version_id", catalog_version_id);
        tx.commit_audited(ctx.now, system_event(ctx, Action::SystemCreated, id).changes(changes)).await?;
        Ok(id)
    }

    /// Changes a system's registration, from the system as it stands under
    /// its lock (the audit names what this change changed, not what another
    /// did meanwhile). A change of phase is a moment of the checklist: it
    /// waits, in this transaction, for the items tied to it to be approved
    /// with their evidence ([`checklist::enter_phase`]), and 廃止 for the
    /// disposal record (item 79) among the system's records. A change of
    /// what applies or who answers it waits until no answer it touches is
    /// with the officer ([`checklist::can_change_scope`]).
    pub async fn update_system(&self, ctx: &Ctx, id: i64, input: &SystemInput) -> Result<(), StoreError> {
        self.update_system_seen(ctx, id, input, None).await
    }

    /// Of `candidates` (system, item), those never met: in no round was the
    /// item approved with evidence attached in that round (what the gate
    /// into a phase counts as met). One query per item number, whatever
    /// the number of systems.
    pub async fn never_met(&self, candidates: &[(i64, u32)]) -> Result<Vec<(i64, u32)>, StoreError> {
        let mut numbers: Vec<u32> = candidates.iter().map(|(_, n)| *n).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let mut left = candidates.to_vec();
        for n in numbers {
            let sql = format!("SELECT DISTINCT a.system_id FROM answer a WHERE a.number = $1 AND {EVER_MET}");
            let met: Vec<i64> =
                with_read_conn!(self, c => sqlx::query_scalar(&sql).bind(i64::from(n)).fetch_all(c).await?)?;
            left.retain(|(id, m)| *m != n || !met.contains(id));
        }
        Ok(left)
    }

    /// [`Store::update_system`] from a form that showed the registration
    /// with mark `seen` ([`SystemInput::edit_mark`]): `Stale` when it no
    /// longer bears it (`None`: the console, which shows no form).
    pub async fn update_system_seen(
        &self,
        ctx: &Ctx,
        id: i64,
        input: &SystemInput,
        seen: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let before = &lock_system(&mut tx, ctx, id).await?;
        if seen.is_some_and(|seen| seen != before.input.edit_mark()) {
            return Err(StoreError::Stale);
        }
        // What applies and who answers it, as the new registration has them.
        let s = &SystemRecord { input: input.clone(), ..before.clone() };
        let (items, after) = self.parts_in(&mut tx, s).await?;
        let (_, parts) = self.parts_in(&mut tx, before).await?;
        let (changed, in_submitted) = parts.changed_to(&after);
        checklist::can_change_scope(before.status, &changed, &in_submitted).map_err(StoreError::Refused)?;
        // A retired system's round is closed as it stood: staying retired,
        // no item starts or stops applying (another vendor may take the
        // system over, its answers kept as they were given).
        let stays_retired = before.input.phase == Phase::Retired && input.phase == Phase::Retired;
        if stays_retired && !parts.items.keys().eq(after.items.keys()) {
            return Err(StoreError::Refused(checklist::WorkflowError::Retired));
        }
        if before.input.phase != input.phase {
            // Judged on the registration the phase is entered with: the
            // items that apply are those of the new attributes.
            if input.phase == Phase::Retired {
                let (records, approved) = disposal_records(&mut tx, s.id).await?;
                let (kind, phase) = (RecordKind::Disposal, Phase::Retired);
                if records == 0 {
                    return Err(StoreError::Refused(checklist::WorkflowError::MissingRecord(phase, kind)));
                }
                if approved == 0 {
                    return Err(StoreError::Refused(checklist::WorkflowError::UnapprovedRecord(phase, kind)));
                }
            }
            let with_evidence: Vec<i64> = with_conn!(tx, c => {
                sqlx::query_scalar(
                    "SELECT number FROM evidence WHERE system_id = $1 AND round = $2 \
                     UNION SELECT number FROM document_link WHERE system_id = $1 AND round = $2",
                )
                    .bind(s.id).bind(s.round).fetch_all(&mut *c).await?
            });
            // A duty is met by 対応済 approved: a plan approved as a plan
            // (未対応 or 一部対応, with the schedule attached) is not the
            // diagnosis made or the data erased.
            let done: Vec<i64> = with_conn!(tx, c => {
                sqlx::query_scalar("SELECT number FROM answer WHERE system_id = $1 AND round = $2 AND status = 'done'")
                    .bind(s.id).bind(s.round).fetch_all(&mut *c).await?
            });
            let applicable: Vec<u32> = items.iter().map(|i| i.number).collect();
            let met: Vec<u32> = items
                .iter()
                .filter(|i| i.review == Review::Approved)
                .filter(|i| with_evidence.contains(&i64::from(i.number)) && done.contains(&i64::from(i.number)))
                .map(|i| i.number)
                .collect();
            checklist::enter_phase(before.input.phase, input.phase, &applicable, &met).map_err(StoreError::Refused)?;
        }
        let a = &input.attrs;
        with_conn!(tx, c => {
            sqlx::query(
                "UPDATE system SET name = $2, description = $3, department_id = $4, vendor_id = $5, phase = $6, uses_servers = $7, \
                 web_system = $8, external_service = $9, ismap_number = $10, service_name = $11, service_region = $12, \
                 confidentiality_high = $13, integrity_high = $14, availability_high = $15, urls = $16, hosts = $17, updated_at_us = $18, \
                 cloud_only = $19, ward_domain = $20, due_on = $21, maintenance_id = $22, cloud_id = $23, revision = revision + 1 \
                 WHERE id = $1",
            )
            .bind(before.id).bind(&input.name).bind(&input.description).bind(input.department_id).bind(input.vendor_id)
            .bind(input.phase.as_str()).bind(a.uses_servers).bind(a.web_system).bind(a.external_service).bind(&input.ismap_number)
            .bind(&input.service_name).bind(&input.service_region).bind(a.confidentiality_high).bind(a.integrity_high)
            .bind(a.availability_high).bind(input.urls.join("\n")).bind(input.hosts.join("\n")).bind(to_unix_micros(ctx.now))
            .bind(a.cloud_only).bind(a.ward_domain).bind(date_str(input.due_on)).bind(input.maintenance_id).bind(input.cloud_id)
            .execute(c).await.map_err(crate::accounts::unique)?;
        });
        let b = &before.input;
        let mut changes = Changes::new();
        if b.name != input.name {
            changes = changes.with("name", format!("{} -> {}", b.name, input.name));
        }
        if b.vendor_id != input.vendor_id {
            changes = changes.with("vendor_id", format!("{:?} -> {:?}", b.vendor_id, input.vendor_id));
        }
        if b.maintenance_id != input.maintenance_id {
            changes = changes.with("maintenance_id", format!("{:?} -> {:?}", b.maintenance_id, input.maintenance_id));
        }
        if b.cloud_id != input.cloud_id {
            changes = changes.with("cloud_id", format!("{:?} -> {:?}", b.cloud_id, input.cloud_id));
        }
        if b.department_id != input.department_id {
            changes = changes.with("department_id", format!("{} -> {}", b.department_id, input.department_id));
        }
        if b.phase != input.phase {
            changes = changes.with("phase", format!("{} -> {}", b.phase.as_str(), input.phase.as_str()));
        }
        if b.due_on != input.due_on {
            changes = changes.with("due_on", format!("{:?} -> {:?}", b.due_on, input.due_on));
        }
        if b.attrs != input.attrs {
            changes = changes.with("attributes", format!("{:?} -> {:?}", b.attrs, input.attrs));
        }
        if b.urls != input.urls || b.hosts != input.hosts {
            changes = changes.with(
                "targets",
                format!(
                    "{} -> {}",
                    b.urls.join(" ") + " " + &b.hosts.join(" "),
                    input.urls.join(" ") + " " + &input.hosts.join(" ")
                ),
            );
        }
        tx.commit_audited(ctx.now, system_event(ctx, Action::SystemUpdated, before.id).changes(changes)).await
    }

    /// The systems a person of `scope` may see, narrowed by `f`, by name.
    pub async fn systems(&self, scope: Scope, f: &SystemFilter) -> Result<Vec<SystemRecord>, StoreError> {
        if scope == Scope::Nothing {
            return Ok(Vec::new());
        }
        let name = f.name_contains.as_ref().map(|n| n.to_lowercase());
        let all = self.all_systems().await?;
        Ok(all
            .iter()
            .filter(|s| scope.allows(&s.input.parties()))
            .filter(|s| f.department_id.is_none_or(|d| d == s.input.department_id))
            .filter(|s| f.vendor_id.is_none_or(|v| s.input.parties().has_vendor(v)))
            .filter(|s| f.phase.is_none_or(|p| p == s.input.phase))
            .filter(|s| f.status.is_none_or(|st| st == s.status))
            .filter(|s| name.as_ref().is_none_or(|n| s.input.name.to_lowercase().contains(n.as_str())))
            .cloned()
            .collect())
    }

    /// Every system, read again only when one was added or changed: every
    /// change counts up its system's revision, so the count of systems and
    /// the sum of their revisions name the table's state (one row to read
    /// instead of hundreds, which is most of what a list costs).
    async fn all_systems(&self) -> Result<Arc<Vec<SystemRecord>>, StoreError> {
        self.kept(Key::AllSystems, async || self.all_systems_now().await).await
    }

    async fn all_systems_now(&self) -> Result<Arc<Vec<SystemRecord>>, StoreError> {
        let key: (i64, i64) = with_read_conn!(self, c => {
            sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(revision), 0) AS BIGINT) FROM system").fetch_one(c).await?
        })?;
        if let Some((k, all)) = &*self.shared.systems.lock().expect("systems cache poisoned") {
            if *k == key {
                return Ok(all.clone());
            }
        }
        let sql = format!("{SELECT_SYSTEM} ORDER BY s.name, s.id");
        let rows = with_read_conn!(self, c => sqlx::query_as::<_, SystemRow>(&sql).fetch_all(c).await?)?;
        let all = Arc::new(rows.into_iter().map(SystemRow::into_record).collect::<Result<Vec<_>, _>>()?);
        *self.shared.systems.lock().expect("systems cache poisoned") = Some((key, all.clone()));
        Ok(all)
    }

    pub async fn system(&self, id: i64) -> Result<Option<SystemRecord>, StoreError> {
        self.kept(Key::System(id), async || {
            let sql = format!("{SELECT_SYSTEM} WHERE s.id = $1");
            let row =
                with_read_conn!(self, c => sqlx::query_as::<_, SystemRow>(&sql).bind(id).fetch_optional(c).await?)?;
            row.map(SystemRow::into_record).transpose()
        })
        .await
    }

    pub async fn overrides(&self, system_id: i64) -> Result<Vec<Override>, StoreError> {
        self.kept(Key::Overrides(system_id), async || {
            let rows = with_read_conn!(self, c => {
                sqlx::query_as::<_, OverrideRow>(SELECT_OVERRIDES).bind(system_id).fetch_all(c).await?
            })?;
            rows.into_iter().map(OverrideRow::into_record).collect()
        })
        .await
    }

    /// The officer decides that one requirement does (or does not) apply,
    /// with a reason (audited, shown in reports); not for an item whose
    /// answer is with the officer ([`checklist::can_change_scope`]).
    pub async fn set_override(
        &self,
        ctx: &Ctx,
        system_id: i64,
        number: u32,
        applies: bool,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_open_round(&mut tx, ctx, system_id).await?;
        let (_, before) = self.parts_in(&mut tx, &s).await?;
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM applicability_override WHERE system_id = $1 AND number = $2")
                .bind(system_id).bind(i64::from(number)).execute(&mut *c).await?;
            sqlx::query("INSERT INTO applicability_override (system_id, number, applies, reason, actor_login, at_us) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(system_id).bind(i64::from(number)).bind(applies).bind(reason).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now))
                .execute(&mut *c).await?;
        });
        // Judged on the overrides as this transaction now has them; a
        // refusal rolls the change back.
        let (_, after) = self.parts_in(&mut tx, &s).await?;
        let (changed, in_submitted) = before.changed_to(&after);
        checklist::can_change_scope(s.status, &changed, &in_submitted).map_err(StoreError::Refused)?;
        let ev = system_event(ctx, Action::ApplicabilityOverridden, system_id)
            .changes(Changes::new().with("number", number).with("applies", applies).with("reason", reason));
        tx.commit_audited(ctx.now, ev).await
    }

    pub async fn answers(&self, system_id: i64, round: i64) -> Result<Vec<AnswerRecord>, StoreError> {
        self.kept(Key::Answers(system_id, round), async || {
            let sql = format!("{SELECT_ANSWER} WHERE system_id = $1 AND round = $2 ORDER BY number");
            let rows = with_read_conn!(self, c => {
                sqlx::query_as::<_, AnswerRow>(&sql).bind(system_id).bind(round).fetch_all(c).await?
            })?;
            rows.into_iter().map(AnswerRow::into_record).collect()
        })
        .await
    }

    /// One item's answer in the system's current round.
    pub async fn answer(&self, system_id: i64, round: i64, number: u32) -> Result<Option<AnswerRecord>, StoreError> {
        self.kept(Key::Answer(system_id, round, number), async || {
            let sql = format!("{SELECT_ANSWER} WHERE system_id = $1 AND round = $2 AND number = $3");
            let row = with_read_conn!(self, c => {
                sqlx::query_as::<_, AnswerRow>(&sql).bind(system_id).bind(round).bind(i64::from(number)).fetch_optional(c).await?
            })?;
            row.map(AnswerRow::into_record).transpose()
        })
        .await
    }

    /// Saves an answer: a new revision, its history line and audit event.
    /// Whether this person may change this item now is decided inside the
    /// same write transaction, on the system's row as it is then (locked on
    /// PostgreSQL), so nothing racing it (a submission, a review) can slip
    /// through. A decided item (approved or returned) goes back to 審査待ち.
    pub async fn save_answer(
        &self,
        ctx: &Ctx,
        system_id: i64,
        number: u32,
        input: &AnswerInput,
    ) -> Result<(), StoreError> {
        let change = AnswerChange { number, input: input.clone(), on_revision: None };
        self.save_answers(ctx, system_id, std::slice::from_ref(&change)).await
    }

    /// Saves several answers at once, all or none, each as
    /// [`Store::save_answer`] saves one: its own revision, history line and
    /// audit event. An answer changed since the revision the change was
    /// made on refuses the whole batch as `Stale`.
    pub async fn save_answers(&self, ctx: &Ctx, system_id: i64, changes: &[AnswerChange]) -> Result<(), StoreError> {
        self.save_answers_by(ctx, system_id, (None, None), changes).await
    }

    /// [`Store::save_answers`] by organisation `by`: an item another
    /// organisation answers is `Missing`, one of a submitted part refused.
    /// `None`: whoever answers each item (the console, tests). Changes
    /// made for a round and catalog version (a previewed workbook) are
    /// `Stale` once the system is in another.
    pub async fn save_answers_by(
        &self,
        ctx: &Ctx,
        system_id: i64,
        (by, made_for): (Option<i64>, Option<MadeFor>),
        changes: &[AnswerChange],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let mut s = lock_open_round(&mut tx, ctx, system_id).await?;
        if made_for.is_some_and(|m| m.round != s.round || m.catalog_version != s.catalog_version_id) {
            return Err(StoreError::Stale);
        }
        let (_, parts) = self.parts_in(&mut tx, &s).await?;
        for AnswerChange { number, input, on_revision } in changes {
            let number = *number;
            Store::check_change(&s, &parts, number, by)?;
            let before = answer_in(&mut tx, &s, number).await?;
            if on_revision.is_some_and(|r| r != before.as_ref().map_or(0, |a| a.revision)) {
                return Err(StoreError::Stale);
            }
            let review = before.as_ref().map_or(Review::Pending, |a| a.review);
            let (next, _) = checklist::after_change(s.status, review).map_err(StoreError::Refused)?;
            if next != s.status {
                move_status(&mut tx, ctx, s.id, s.status, next).await?;
                s.status = next;
            }
            let now = to_unix_micros(ctx.now);
            with_conn!(tx, c => {
                if before.is_some() {
                    sqlx::query(
                        "UPDATE answer SET status = $4, measures = $5, planned_date = $6, reason = $7, review = 'pending', \
                         revised_after_return = (review = 'returned' OR revised_after_return), revision = revision + 1, \
                         updated_at_us = $8, updated_by = $9 \
                         WHERE system_id = $1 AND round = $2 AND number = $3",
                    )
                    .bind(s.id).bind(s.round).bind(i64::from(number)).bind(input.status.as_str()).bind(&input.measures)
                    .bind(date_str(input.planned)).bind(&input.reason).bind(now).bind(&ctx.actor.login)
                    .execute(&mut *c).await?;
                } else {
                    sqlx::query(
                        "INSERT INTO answer (system_id, round, number, status, measures, planned_date, reason, review, revision, updated_at_us, updated_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 1, $8, $9)",
                    )
                    .bind(s.id).bind(s.round).bind(i64::from(number)).bind(input.status.as_str()).bind(&input.measures)
                    .bind(date_str(input.planned)).bind(&input.reason).bind(now).bind(&ctx.actor.login)
                    .execute(&mut *c).await?;
                }
            });
            history_line(&mut tx, ctx, &s, number, HistoryKind::Answer, Some(input), "").await?;
            let mut audit = Changes::new().with("number", number).with("status", input.status.as_str());
            if review != Review::Pending {
                audit = audit.with("was", review.as_str());
            }
            crate::audit::append(&mut tx, ctx.now, system_event(ctx, Action::AnswerSaved, s.id).changes(audit)).await?;
        }
        tx.commit().await
    }

    /// Evidence added to an answer is a change of that answer: the same
    /// workflow rule as [`Store::save_answer`], in the caller's transaction.
    pub(crate) async fn evidence_changes_answer(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        system_id: i64,
        (number, by): (u32, Option<i64>),
        (kind, name): (HistoryKind, &str),
    ) -> Result<SystemRecord, StoreError> {
        let s = lock_open_round(tx, ctx, system_id).await?;
        let (_, parts) = self.parts_in(tx, &s).await?;
        Store::check_change(&s, &parts, number, by)?;
        let before = answer_in(tx, &s, number).await?;
        let review = before.as_ref().map_or(Review::Pending, |a| a.review);
        let (next, _) = checklist::after_change(s.status, review).map_err(StoreError::Refused)?;
        if next != s.status {
            move_status(tx, ctx, s.id, s.status, next).await?;
        }
        if before.is_some() {
            with_conn!(tx, c => {
                sqlx::query(
                    "UPDATE answer SET review = 'pending', revised_after_return = (review = 'returned' OR revised_after_return), \
                     revision = revision + 1, updated_at_us = $4, updated_by = $5 \
                     WHERE system_id = $1 AND round = $2 AND number = $3",
                )
                .bind(s.id).bind(s.round).bind(i64::from(number)).bind(to_unix_micros(ctx.now)).bind(&ctx.actor.login)
                .execute(c).await?;
            });
        }
        history_line(tx, ctx, &s, number, kind, None, name).await?;
        Ok(s)
    }

    /// The officer's decision on one answer (承認, or 差戻し with a comment),
    /// on the answer as the officer saw it: if it changed since, or another
    /// officer decided on it meanwhile, the decision is refused as stale (it
    /// would undo a return, and its comment, that this officer never saw).
    /// An approval keeps the approved content.
    pub async fn decide(
        &self,
        ctx: &Ctx,
        system_id: i64,
        number: u32,
        seen: &Seen,
        decision: Review,
        comment: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_open_round(&mut tx, ctx, system_id).await?;
        let (_, parts) = self.parts_in(&mut tx, &s).await?;
        checklist::can_review_item(s.status, parts.item_submitted(number)).map_err(StoreError::Refused)?;
        if answer_in(&mut tx, &s, number).await?.is_some_and(|a| a.seen().decision != seen.decision) {
            return Err(StoreError::Stale);
        }
        let d = Decision { number, seen_revision: seen.revision, decision, comment: comment.to_owned() };
        decide_in(&mut tx, ctx, &s, &d).await?;
        tx.commit().await
    }

    /// Approves the answers `numbers` as the officer saw them on the
    /// system's page at `seen_revision` (the system's revision): refused as
    /// stale if anything of the system changed since. One transaction; each
    /// approval is one history line and one audit event; an answer approved
    /// already at its current revision is left as it is. Returns how many
    /// were approved.
    pub async fn approve_seen(
        &self,
        ctx: &Ctx,
        system_id: i64,
        seen_revision: i64,
        numbers: &[u32],
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_open_round(&mut tx, ctx, system_id).await?;
        if s.revision != seen_revision + 1 {
            return Err(StoreError::Stale);
        }
        let (_, parts) = self.parts_in(&mut tx, &s).await?;
        let mut approved = 0;
        for &number in numbers {
            checklist::can_review_item(s.status, parts.item_submitted(number)).map_err(StoreError::Refused)?;
            let a = answer_in(&mut tx, &s, number).await?.ok_or(StoreError::Missing)?;
            if a.approved.as_ref().is_some_and(|ap| ap.revision == a.revision) && a.review == Review::Approved {
                continue;
            }
            let d = Decision { number, seen_revision: a.revision, decision: Review::Approved, comment: String::new() };
            decide_in(&mut tx, ctx, &s, &d).await?;
            approved += 1;
        }
        tx.commit().await?;
        Ok(approved)
    }

    /// Ends the review: 差戻し if any item is returned; 承認 only when every
    /// applicable item's current revision is approved, as read inside this
    /// transaction. Returns the system's new status.
    pub async fn finish_review(&self, ctx: &Ctx, system_id: i64) -> Result<SystemStatus, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_open_round(&mut tx, ctx, system_id).await?;
        let (items, parts) = self.parts_in(&mut tx, &s).await?;
        let to = checklist::finish_review(s.status, &items).map_err(StoreError::Refused)?;
        move_status(&mut tx, ctx, s.id, s.status, to).await?;
        if to == SystemStatus::Returned {
            self.reopen_returned(&mut tx, &s, &items, &parts).await?;
        }
        self.queue_review_notices(&mut tx, ctx.now, &s, to, &items, &parts).await?;
        history_line(&mut tx, ctx, &s, 0, HistoryKind::ReviewFinished, None, to.as_str()).await?;
        append(
            &mut tx,
            ctx.now,
            system_event(ctx, Action::ReviewFinished, s.id).changes(Changes::new().with("status", to.as_str())),
        )
        .await?;
        tx.commit().await?;
        Ok(to)
    }

    /// Starts the next assessment round from an approved one, its answers
    /// due on `due_on`: answers copied (decisions cleared; an answer's
    /// revision goes on rising, so a decision made on the last round's page
    /// cannot land on this round's answer), evidence and the
    /// library's links carried with their original dates, and the system
    /// back to 回答中.
    pub async fn start_round(&self, ctx: &Ctx, system_id: i64, due_on: Option<Date>) -> Result<i64, StoreError> {
        self.start_round_from(ctx, system_id, due_on, false).await
    }

    /// [`Store::start_round`] of a system approved, as judged under its
    /// lock (the rounds started together from the list of approved
    /// systems: one submitted meanwhile is left with the officer).
    pub async fn start_approved_round(
        &self,
        ctx: &Ctx,
        system_id: i64,
        due_on: Option<Date>,
    ) -> Result<i64, StoreError> {
        self.start_round_from(ctx, system_id, due_on, true).await
    }

    async fn start_round_from(
        &self,
        ctx: &Ctx,
        system_id: i64,
        due_on: Option<Date>,
        approved_only: bool,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let system = lock_open_round(&mut tx, ctx, system_id).await?;
        if approved_only && system.status != SystemStatus::Approved {
            return Err(StoreError::Refused(WorkflowError::NotNow(system.status)));
        }
        let to = checklist::start_round(system.status).map_err(StoreError::Refused)?;
        move_status(&mut tx, ctx, system.id, system.status, to).await?;
        let (old, new) = (system.round, system.round + 1);
        with_conn!(tx, c => {
            sqlx::query("UPDATE system SET round = $2, due_on = $3 WHERE id = $1")
                .bind(system.id).bind(new).bind(date_str(due_on)).execute(&mut *c).await?;
            sqlx::query(
                "INSERT INTO answer (system_id, round, number, status, measures, planned_date, reason, review, review_comment, \
                 revised_after_return, revision, updated_at_us, updated_by) \
                 SELECT system_id, $3, number, status, measures, planned_date, reason, 'pending', '', $4, revision + 1, updated_at_us, updated_by \
                 FROM answer WHERE system_id = $1 AND round = $2",
            )
            .bind(system.id).bind(old).bind(new).bind(false).execute(&mut *c).await?;
            let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM evidence WHERE system_id = $1 AND round = $2 ORDER BY id")
                .bind(system.id).bind(old).fetch_all(&mut *c).await?;
            for id in ids {
                let new_id: i64 = sqlx::query_scalar(
                    "INSERT INTO evidence (system_id, round, number, original_name, content_type, size, sha256, expires_on, uploaded_at_us, uploaded_by, organisation_id) \
                     SELECT system_id, $2, number, original_name, content_type, size, sha256, expires_on, uploaded_at_us, uploaded_by, organisation_id \
                     FROM evidence WHERE id = $1 RETURNING id",
                )
                .bind(id).bind(new).fetch_one(&mut *c).await?;
                sqlx::query("INSERT INTO evidence_content (evidence_id, content) SELECT $2, content FROM evidence_content WHERE evidence_id = $1")
                    .bind(id).bind(new_id).execute(&mut *c).await?;
            }
            // A carried file is stored again, and counts again toward its
            // organisation's quota. The library's links are carried as
            // rows; the documents stay.
            sqlx::query(
                "INSERT INTO document_link (document_id, system_id, round, number, pinned_revision, linked_at_us, linked_by) \
                 SELECT document_id, system_id, $3, number, pinned_revision, linked_at_us, linked_by \
                 FROM document_link WHERE system_id = $1 AND round = $2",
            )
            .bind(system.id).bind(old).bind(new).execute(&mut *c).await?;
        });
        let moved = SystemRecord { round: new, ..system.clone() };
        history_line(&mut tx, ctx, &moved, 0, HistoryKind::RoundStarted, None, &old.to_string()).await?;
        append(
            &mut tx,
            ctx.now,
            system_event(ctx, Action::RoundStarted, system.id)
                .changes(Changes::new().with("round", new).with("due_on", date_str(due_on))),
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Moves a system to another catalog version, on purpose, while
    /// nothing of it is with the officer ([`checklist::can_change_catalog`],
    /// checked under the system's lock).
    ///
    /// An item approved in the open round whose requirement is worded
    /// otherwise in the new version goes back to 審査待ち, with a line in its
    /// history: the approval was of an answer to other words.
    pub async fn change_catalog_version(&self, ctx: &Ctx, system_id: i64, version_id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let system = lock_open_round(&mut tx, ctx, system_id).await?;
        let (_, parts) = self.parts_in(&mut tx, &system).await?;
        checklist::can_change_catalog(system.status, !parts.submitted.is_empty()).map_err(StoreError::Refused)?;
        let (from, to) = (self.catalog(system.catalog_version_id).await?, self.catalog(version_id).await?);
        let mut reopened = Vec::new();
        for number in mamori_core::catalog::diff(&from.requirements, &to.requirements).reworded() {
            let n = with_conn!(tx, c => {
                sqlx::query(
                    "UPDATE answer SET review = 'pending' WHERE system_id = $1 AND round = $2 AND number = $3 AND review = 'approved'",
                )
                .bind(system.id).bind(system.round).bind(i64::from(number)).execute(c).await?.rows_affected()
            });
            if n == 1 {
                history_line(&mut tx, ctx, &system, number, HistoryKind::RequirementChanged, None, "").await?;
                reopened.push(number);
            }
        }
        with_conn!(tx, c => {
            sqlx::query("UPDATE system SET catalog_version_id = $2, updated_at_us = $3, revision = revision + 1 WHERE id = $1")
                .bind(system.id).bind(version_id).bind(to_unix_micros(ctx.now)).execute(c).await?;
        });
        let ev = system_event(ctx, Action::CatalogVersionChanged, system.id).changes(
            Changes::new().with("from", system.catalog_version_id).with("to", version_id).with("reopened", reopened),
        );
        tx.commit_audited(ctx.now, ev).await
    }

    /// When a system's round was last submitted and its review last
    /// finished (the lines of the whole system in [`Store::history`]).
    pub async fn workflow_dates(
        &self,
        system_id: i64,
        round: i64,
    ) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), StoreError> {
        let rows: Vec<(String, i64)> = with_read_conn!(self, c => {
            sqlx::query_as(
                "SELECT kind, MAX(at_us) FROM answer_event WHERE system_id = $1 AND round = $2 AND number = 0 \
                 AND kind IN ($3, $4) GROUP BY kind",
            )
            .bind(system_id).bind(round).bind(HistoryKind::Submit.as_str()).bind(HistoryKind::ReviewFinished.as_str())
            .fetch_all(c).await?
        })?;
        let at =
            |kind: HistoryKind| rows.iter().find(|(k, _)| k == kind.as_str()).map(|(_, us)| timestamp(*us)).transpose();
        Ok((at(HistoryKind::Submit)?, at(HistoryKind::ReviewFinished)?))
    }

    /// Every answer revision and decision of a system's round, oldest first.
    pub async fn history(&self, system_id: i64, round: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        self.kept(Key::History(system_id, round), async || self.history_of(system_id, round, None).await).await
    }

    /// When the system's current round opened: the start of the round, or
    /// the system's registration for its first.
    pub async fn round_opened_at(&self, s: &SystemRecord) -> Result<OffsetDateTime, StoreError> {
        let at: Option<i64> = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT MAX(at_us) FROM answer_event WHERE system_id = $1 AND round = $2 AND kind = $3")
                .bind(s.id).bind(s.round).bind(HistoryKind::RoundStarted.as_str()).fetch_one(c).await?
        })?;
        at.map_or(Ok(s.created_at), timestamp)
    }

    /// One item's lines of [`Store::history`] (its index ends in the item
    /// number, so only those lines are read).
    pub async fn item_history(&self, system_id: i64, round: i64, number: u32) -> Result<Vec<HistoryEntry>, StoreError> {
        let key = Key::ItemHistory(system_id, round, number);
        self.kept(key, async || self.history_of(system_id, round, Some(number)).await).await
    }

    /// How many lines [`Store::history`] (of one item: [`Store::item_history`])
    /// holds.
    pub async fn history_len(&self, system_id: i64, round: i64, number: Option<u32>) -> Result<usize, StoreError> {
        self.kept(Key::HistoryLen(system_id, round, number), async || {
            let n: i64 = with_read_conn!(self, c => {
                sqlx::query_scalar("SELECT COUNT(*) FROM answer_event WHERE system_id = $1 AND round = $2 AND ($3 IS NULL OR number = $3)")
                    .bind(system_id).bind(round).bind(number.map(i64::from)).fetch_one(c).await?
            })?;
            Ok(n as usize)
        })
        .await
    }

    /// The lines `range` of [`Store::history`] (of one item: `number`),
    /// read alone (a round's history runs to thousands of lines of up to
    /// ten thousand characters each), with the answer revision before them
    /// of each item they revise, what the first of them changed against.
    pub async fn history_lines(
        &self,
        system_id: i64,
        round: i64,
        number: Option<u32>,
        range: std::ops::Range<usize>,
    ) -> Result<HistoryLines, StoreError> {
        let key = Key::HistoryLines(system_id, round, number, range.start, range.end);
        self.kept(key, async || {
            let limit = range.end.saturating_sub(range.start) as i64;
            let rows = with_read_conn!(self, c => {
                sqlx::query_as::<_, HistoryRow>(
                    "SELECT * FROM answer_event WHERE system_id = $1 AND round = $2 AND ($3 IS NULL OR number = $3) \
                     ORDER BY id LIMIT $4 OFFSET $5",
                )
                .bind(system_id).bind(round).bind(number.map(i64::from)).bind(limit).bind(range.start as i64)
                .fetch_all(c).await?
            })?;
            let first = rows.first().map_or(0, |r| r.id);
            let answer = HistoryKind::Answer.as_str();
            let revised: BTreeSet<i64> = rows.iter().filter(|r| r.kind == answer).map(|r| r.number).collect();
            let mut before = Vec::new();
            for n in revised {
                let row = with_read_conn!(self, c => {
                    sqlx::query_as::<_, HistoryRow>(
                        "SELECT * FROM answer_event WHERE system_id = $1 AND round = $2 AND number = $3 AND kind = $4 \
                         AND id < $5 ORDER BY id DESC LIMIT 1",
                    )
                    .bind(system_id).bind(round).bind(n).bind(answer).bind(first).fetch_optional(c).await?
                })?;
                before.extend(row.map(HistoryRow::into_record).transpose()?);
            }
            let lines = rows.into_iter().map(HistoryRow::into_record).collect::<Result<_, _>>()?;
            Ok(HistoryLines { before, lines })
        })
        .await
    }

    async fn history_of(
        &self,
        system_id: i64,
        round: i64,
        number: Option<u32>,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, HistoryRow>(
                "SELECT * FROM answer_event WHERE system_id = $1 AND round = $2 AND ($3 IS NULL OR number = $3) ORDER BY id",
            )
            .bind(system_id).bind(round).bind(number.map(i64::from)).fetch_all(c).await?
        })?;
        rows.into_iter().map(HistoryRow::into_record).collect()
    }
}

/// One review decision on the answer revision the officer saw.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decision {
    number: u32,
    seen_revision: i64,
    decision: Review,
    comment: String,
}

async fn decide_in(tx: &mut Tx, ctx: &Ctx, s: &SystemRecord, d: &Decision) -> Result<(), StoreError> {
    let approve = d.decision == Review::Approved;
    let n = with_conn!(tx, c => {
        sqlx::query(
            "UPDATE answer SET review = $4, review_comment = $5, reviewed_revision = revision, revised_after_return = $7, \
             approved_revision = CASE WHEN $6 THEN revision ELSE approved_revision END, \
             approved_status = CASE WHEN $6 THEN status ELSE approved_status END, \
             approved_measures = CASE WHEN $6 THEN measures ELSE approved_measures END, \
             approved_planned_date = CASE WHEN $6 THEN planned_date ELSE approved_planned_date END, \
             approved_reason = CASE WHEN $6 THEN reason ELSE approved_reason END \
             WHERE system_id = $1 AND round = $2 AND number = $3 AND revision = $8",
        )
        .bind(s.id).bind(s.round).bind(i64::from(d.number)).bind(d.decision.as_str()).bind(&d.comment).bind(approve)
        .bind(false).bind(d.seen_revision)
        .execute(c).await?.rows_affected()
    });
    if n != 1 {
        return Err(if answer_in(tx, s, d.number).await?.is_some() { StoreError::Stale } else { StoreError::Missing });
    }
    let kind = if approve { HistoryKind::Approve } else { HistoryKind::Return };
    history_line(tx, ctx, s, d.number, kind, None, &d.comment).await?;
    let ev = system_event(ctx, Action::AnswerReviewed, s.id).changes(
        Changes::new()
            .with("number", d.number)
            .with("revision", d.seen_revision)
            .with("decision", d.decision.as_str())
            .with("comment", d.comment.as_str()),
    );
    append(tx, ctx.now, ev).await?;
    Ok(())
}
