//! The audit log viewer, its exports, sign-in monitoring and log reviews
//! (checklist items 27-29, 54④, 66, 67). Alerts are `alerts`'.

use super::audit_names::Names;
use super::{html, jst};
use crate::auth::CurrentUser;
use crate::download;
use crate::error::AppError;
use crate::forms::FormErrors;
use crate::handlers::sorting::Heading;
use crate::handlers::{Acting, Reply};
use crate::i18n::Tr;
use crate::page::{Page, PageCtx};
use crate::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::Form;
use mamori_app::oversight;
use mamori_core::audit::{Action, Event, Outcome};
use mamori_core::clock::from_unix_micros;
use mamori_core::identity::Login;
use mamori_core::identity::{parse_multiline, Permission};
use mamori_core::jst::jst_day_start;
use mamori_files::audit_export;
use mamori_files::export::{csv_bytes, csv_more, CsvEncoding};
use mamori_store::auditlog::AuditFilter;
use mamori_store::{Store, StoreError};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

const PAGE: i64 = 50;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    pub from: String,
    pub until: String,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub outcome: String,
    pub client: String,
    pub before: Option<i64>,
    /// `asc`: oldest first, from `after`; otherwise newest first, from `before`.
    pub dir: String,
    pub after: Option<i64>,
    pub encoding: Option<String>,
}

impl AuditQuery {
    /// The filter, or the names of the fields that are not dates.
    fn filter(&self) -> Result<AuditFilter, Vec<&'static str>> {
        let mut bad = Vec::new();
        let mut day = |s: &str, field: &'static str| -> Option<OffsetDateTime> {
            if s.trim().is_empty() {
                return None;
            }
            let d = jst_day_start(s);
            if d.is_none() {
                bad.push(field);
            }
            d
        };
        let from = day(&self.from, "from");
        // "until" is inclusive: the day after starts the excluded range
        // (after the last day there is, none is excluded).
        let until = day(&self.until, "until").and_then(|d| d.checked_add(Duration::days(1)));
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty() && s.len() <= 200);
        if !bad.is_empty() {
            return Err(bad);
        }
        Ok(AuditFilter {
            from,
            until,
            // Logins are kept in lower case: one typed otherwise is read as
            // the login it names; anything else (`console:…`) as typed.
            actor_login: opt(&self.actor).map(|a| Login::parse(&a).map_or(a, |l| l.as_str().to_owned())),
            action: opt(&self.action),
            target_type: opt(&self.target_type),
            target_id: opt(&self.target_id),
            outcome: opt(&self.outcome),
            client_addr: opt(&self.client),
            through_seq: None,
        })
    }

    /// The query string of the filters (for the next page and the exports).
    fn query_string(&self) -> String {
        crate::handlers::query_of(&[
            ("from", &self.from),
            ("until", &self.until),
            ("actor", &self.actor),
            ("action", &self.action),
            ("target_type", &self.target_type),
            ("target_id", &self.target_id),
            ("outcome", &self.outcome),
            ("client", &self.client),
        ])
    }
}

pub struct EventRow {
    seq: i64,
    at: String,
    actor: String,
    client: String,
    action: String,
    target: String,
    outcome: String,
    changes: String,
}

/// A stored code in the reader's words (the code itself if mamori no
/// longer knows it: events outlive versions).
fn action_label(t: &Tr, code: &str) -> String {
    Action::parse(code).map_or_else(|| code.to_owned(), |a| t.label(a))
}

fn outcome_label(t: &Tr, code: &str) -> String {
    Outcome::parse(code).map_or_else(|| code.to_owned(), |o| t.label(o))
}

/// Who acted: the login, or mamori itself for what it did on its own.
fn actor(t: &Tr, r: &mamori_core::audit::Record) -> String {
    match r.actor_account_id {
        None if r.actor_login == "system" => t.get("audit-actor-system"),
        _ => r.actor_login.clone(),
    }
}

fn row(t: &Tr, names: &Names, e: &Event) -> EventRow {
    let r = &e.record;
    EventRow {
        seq: r.seq,
        at: jst(from_unix_micros(r.occurred_at_us)),
        actor: actor(t, r),
        client: r.client_addr.clone().unwrap_or_default(),
        action: action_label(t, &r.action),
        target: names.target(t, r),
        outcome: outcome_label(t, &r.outcome),
        changes: r.changes.chars().take(200).collect(),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    p: PageCtx<'a>,
    q: AuditQuery,
    rows: Vec<EventRow>,
    next: Option<String>,
    exports: String,
    /// Code and label of every action, target kind and outcome.
    actions: Vec<(&'static str, String)>,
    target_kinds: Vec<(&'static str, String)>,
    outcomes: Vec<(&'static str, String)>,
    errors: FormErrors,
    time_heading: Heading,
    oldest_first: bool,
}

pub async fn viewer(page: Page, Query(q): Query<AuditQuery>) -> Reply {
    let t = page.t();
    let mut errors = FormErrors::new();
    let oldest_first = q.dir == "asc";
    let rows: Vec<Event> = match q.filter() {
        Ok(f) if oldest_first => page.store.audit_page_oldest_first(&f, q.after, PAGE + 1).await?,
        Ok(f) => page.store.audit_page(&f, q.before, PAGE + 1).await?,
        Err(bad) => {
            for f in bad {
                errors.add(f, t.get("answer-bad-date"));
            }
            vec![]
        }
    };
    let qs = q.query_string();
    let sep = if qs.is_empty() { "" } else { "&" };
    let next = (rows.len() as i64 > PAGE).then(|| {
        let last = rows[PAGE as usize - 1].record.seq;
        if oldest_first {
            format!("?{qs}{sep}dir=asc&after={last}")
        } else {
            format!("?{qs}{sep}before={last}")
        }
    });
    // The time heading turns the order round (from the start of the list).
    let time_heading = Heading {
        label: t.get("ledger-at"),
        href: if oldest_first { format!("/audit?{qs}") } else { format!("/audit?{qs}{sep}dir=asc") },
        aria_sort: if oldest_first { "ascending" } else { "descending" },
        arrow: if oldest_first { " ▲" } else { " ▼" },
    };
    let shown = &rows[..rows.len().min(PAGE as usize)];
    let names = Names::of(&page, shown).await?;
    let p = page.ctx().await?;
    html(AuditPage {
        rows: shown.iter().map(|e| row(&p.t, &names, e)).collect(),
        time_heading,
        oldest_first,
        target_kinds: crate::labels::TARGET_KINDS.iter().map(|(k, key)| (*k, p.t.get(key))).collect(),
        next,
        exports: qs,
        actions: Action::ALL.iter().map(|a| (a.as_str(), p.t.label(*a))).collect(),
        outcomes: Outcome::ALL.iter().map(|o| (o.as_str(), p.t.label(*o))).collect(),
        p,
        q,
        errors,
    })
}

#[derive(Template)]
#[template(path = "audit_event.html")]
struct EventPage<'a> {
    p: PageCtx<'a>,
    e: Event,
    action: String,
    outcome: String,
    at: String,
    changes: String,
    actor: String,
    target: String,
}

pub async fn event(page: Page, Path(seq): Path<i64>) -> Reply {
    let e = page.store.audit_event(seq).await?.ok_or(AppError::NotFound)?;
    let changes = serde_json::from_str::<serde_json::Value>(&e.record.changes)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| e.record.changes.clone());
    let names = Names::of(&page, std::slice::from_ref(&e)).await?;
    let p = page.ctx().await?;
    let (action, outcome) = (action_label(&p.t, &e.record.action), outcome_label(&p.t, &e.record.outcome));
    let (actor, target) = (actor(&p.t, &e.record), names.target(&p.t, &e.record));
    let at = jst(from_unix_micros(e.record.occurred_at_us));
    html(EventPage { p, at, changes, action, outcome, actor, target, e })
}

pub async fn export_csv(State(state): State<AppState>, who: Acting, Query(q): Query<AuditQuery>) -> Reply {
    let f = q.filter().map_err(|_| AppError::BadRequest)?;
    let enc = CsvEncoding::from_query(q.encoding.as_deref());
    let f = oversight::begin_audit_export(&who.op(&state), f, enc.format_name()).await?;
    let headers: Vec<String> = audit_export::CSV_HEADERS.iter().map(|s| (*s).to_owned()).collect();
    let first = csv_bytes(&headers, &[], enc);
    let part = move |page: &[Event]| csv_more(&page.iter().map(audit_export::csv_row).collect::<Vec<_>>(), enc);
    Ok(download::file(enc.content_type(), "audit-log.csv", events_body(state.store.clone(), f, first, part)))
}

pub async fn export_jsonl(State(state): State<AppState>, who: Acting, Query(q): Query<AuditQuery>) -> Reply {
    let f = q.filter().map_err(|_| AppError::BadRequest)?;
    let f = oversight::begin_audit_export(&who.op(&state), f, "jsonl").await?;
    let part = |page: &[Event]| {
        let mut out = String::new();
        for e in page {
            out.push_str(&audit_export::json(e).to_string());
            out.push('\n');
        }
        out.into_bytes()
    };
    let body = events_body(state.store.clone(), f, Vec::new(), part);
    Ok(download::file("application/x-ndjson; charset=utf-8", "audit-log.jsonl", body))
}

/// Events an export holds in memory at once.
const EXPORT_PAGE: i64 = 1000;

/// The events `f` selects, oldest first, as a body written a page at a
/// time (`first`, then `part` of each page): two years of log are never
/// held whole. A failure part way ends the download short, and is logged.
fn events_body<P>(store: Store, f: AuditFilter, first: Vec<u8>, part: P) -> Body
where
    P: Fn(&[Event]) -> Vec<u8> + Copy + Send + 'static,
{
    let pages = futures_util::stream::try_unfold((Some(first), 0), move |(first, after)| {
        let (store, f) = (store.clone(), f.clone());
        async move {
            if let Some(first) = first {
                return Ok(Some((first, (None, after))));
            }
            let page = store.audit_page_oldest_first(&f, Some(after), EXPORT_PAGE).await.inspect_err(|e| {
                tracing::error!(error = %e, "audit export cut short");
            })?;
            Ok::<_, StoreError>(page.last().map(|last| (part(&page), (None, last.record.seq))))
        }
    });
    Body::from_stream(pages)
}

// ----- sign-in monitoring and log reviews -------------------------------------------------

pub struct HourBar {
    x: u32,
    h: u32,
    label: String,
}

#[derive(Template)]
#[template(path = "signins.html")]
struct SigninsPage<'a> {
    p: PageCtx<'a>,
    bars: Vec<HourBar>,
    /// Midnights on the time axis: x and the date (M/D).
    ticks: Vec<(u32, String)>,
    max: i64,
    total: i64,
    by_address: Vec<(String, i64, i64)>,
    by_login: Vec<(String, i64, i64)>,
    lockouts: Vec<EventRow>,
    new_addresses: Vec<(String, String, String)>,
    reviews: Vec<(String, String, String, String)>,
    can_review: bool,
    errors: FormErrors,
    form: ReviewForm,
}

const HOURS: i64 = 24 * 7;

async fn signins_page(page: &Page, user: &CurrentUser, form: ReviewForm, errors: FormErrors) -> Reply {
    let now = page.clock.now();
    let since = now - Duration::hours(HOURS);
    let hourly = page.store.failures_per_hour(since).await?;
    let max = hourly.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let start_hour = mamori_core::clock::to_unix_micros(since) / 3_600_000_000;
    let bars = hourly
        .iter()
        .map(|(hour_us, n)| {
            let i = (hour_us / 3_600_000_000 - start_hour).clamp(0, HOURS) as u32;
            HourBar {
                x: i * 4,
                h: if max == 0 { 0 } else { (*n * 120 / max) as u32 },
                label: format!("{} {n}", jst(from_unix_micros(*hour_us))),
            }
        })
        .collect();
    // The time axis: a tick at each midnight (JST) in the week shown.
    let ticks = (0..HOURS)
        .filter_map(|i| {
            let hour_us = (start_hour + i) * 3_600_000_000;
            let at = from_unix_micros(hour_us)?.to_offset(mamori_core::jst::JST);
            (at.hour() == 0).then(|| (i as u32 * 4, format!("{}/{}", u8::from(at.month()), at.day())))
        })
        .collect();
    let filter = AuditFilter {
        action: Some(Action::AccountLocked.as_str().to_owned()),
        from: Some(since),
        ..AuditFilter::default()
    };
    let t = page.t();
    let locked = page.store.audit_page(&filter, None, 50).await?;
    let names = Names::of(page, &locked).await?;
    let lockouts = locked.iter().map(|e| row(&t, &names, e)).collect();
    let new_addresses = page
        .store
        .new_address_signins(since)
        .await?
        .into_iter()
        .map(|(at, login, addr)| (jst(Some(at)), login, addr))
        .collect();
    let reviews = page
        .store
        .log_reviews()
        .await?
        .into_iter()
        .map(|r| {
            (format!("{} 〜 {}", r.period_from, r.period_to), r.reviewer_login, jst(Some(r.reviewed_at)), r.findings)
        })
        .collect();
    let p = page.ctx().await?;
    html(SigninsPage {
        ticks,
        p,
        bars,
        max,
        total: hourly.iter().map(|(_, n)| n).sum(),
        by_address: page.store.top_failures(since, true, 10).await?,
        by_login: page.store.top_failures(since, false, 10).await?,
        lockouts,
        new_addresses,
        reviews,
        can_review: user.can(Permission::ReviewLogs),
        errors,
        form,
    })
}

pub async fn signins(page: Page, user: CurrentUser) -> Reply {
    signins_page(&page, &user, ReviewForm::default(), FormErrors::new()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    pub from: String,
    pub to: String,
    pub findings: String,
}

pub async fn sign_off(page: Page, who: Acting, Form(form): Form<ReviewForm>) -> Reply {
    let user = &who.user;
    let t = page.t();
    let mut errors = FormErrors::new();
    let from = jst_day_start(&form.from);
    let to = jst_day_start(&form.to);
    if from.is_none() {
        errors.add("from", t.get("answer-bad-date"));
    }
    if to.is_none() {
        errors.add("to", t.get("answer-bad-date"));
    }
    if let (Some(a), Some(b)) = (from, to) {
        if b < a {
            errors.add("to", t.get("log-review-order"));
        }
    }
    let findings = errors.check(&t, "findings", "log-review-findings", parse_multiline(&form.findings, 1, 2000));
    if let (Some(findings), true) = (findings, errors.is_empty()) {
        let op = who.op(&page);
        mamori_app::oversight::sign_off_log_review(&op, form.from.trim(), form.to.trim(), &findings).await?;
        return super::done(&page, "log-review-saved", "/audit/signins").await;
    }
    signins_page(&page, user, form, errors).await
}
