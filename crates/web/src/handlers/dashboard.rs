//! The dashboard: counts and charts of the systems a person may see.
//!
//! It stays the same size as the ward grows: the charts and the table show
//! the systems that need attention most ([`SHOWN`] of them), the lists the
//! first [`SHOWN`] items each, with how many more there are; the systems
//! list (`/systems`) shows every system.

use crate::handlers::html;
use crate::handlers::Reply;
use crate::handlers::{filtered, org_choices, today, ListQuery};
use crate::i18n::Label;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::i18n::Tr;
use crate::page::{Page, PageCtx};
use crate::AppState;
use askama::Template;
use mamori_core::checklist::{self, Phase, Progress, Review, RoundDue, SystemStatus};
use mamori_core::identity::{OrgKind, Permission};
use mamori_core::yearly::DueState;
use mamori_store::systems::SystemRecord;
use std::sync::Arc;

// ----- dashboard -----------------------------------------------------------------------------

/// One bar of a chart: a label and shares of 100.
pub struct Bar {
    pub label: String,
    /// The label cut to fit the chart (full label in the tooltip).
    pub short: String,
    pub approved_pct: u32,
    pub answered_pct: u32,
    pub summary: String,
    pub y: u32,
    pub approved_w: u32,
    pub answered_w: u32,
}

pub struct BoardRow {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub progress: Progress,
}

/// The dashboard's figures for the systems a person may see.
pub struct Board {
    /// The systems needing attention most, at most [`SHOWN`].
    pub rows: Vec<BoardRow>,
    /// How many systems the figures count.
    pub systems_total: usize,
    pub by_system: Vec<Bar>,
    pub by_category: Vec<Bar>,
    pub system_chart_height: u32,
    pub category_chart_height: u32,
    /// What this person has to do next, most pressing first: words and a link.
    pub next_steps: Shown<(String, String)>,
    pub returned_items: Shown<(i64, String, u32)>,
    pub overdue_items: Shown<(i64, String, u32)>,
    /// Evidence expired or expiring within 30 days: system, name, item, file, date, expired.
    pub expiring: Shown<(i64, String, u32, String, String, bool)>,
    /// Documents of the reader's library expired or expiring within 30
    /// days: id, title, date, expired.
    pub library_expiring: Shown<(i64, String, String, bool)>,
    /// Rounds due within 30 days or overdue, for those who answer and
    /// follow (overdue only, for the security office): system, name,
    /// words, pressing (7 days or less, or overdue).
    pub round_due: Shown<(i64, String, String, bool)>,
    /// Items due before 運用中 that a running system never had approved
    /// with evidence (it passed no gate into 運用中): system, name, item.
    pub unproven: Shown<(i64, String, u32)>,
    /// The filter as a query string, for the link to the systems list.
    pub list_query: String,
    pub departments: Vec<(String, String)>,
    pub vendors: Vec<(String, String)>,
    pub phases: Vec<(String, String)>,
}

/// Systems, and items of each list, the dashboard shows at most.
pub const SHOWN: usize = 20;

/// The first [`SHOWN`] of a list, and how many more there are.
pub struct Shown<T> {
    pub items: Vec<T>,
    pub more: usize,
}

impl<T> Shown<T> {
    fn of(mut all: Vec<T>) -> Shown<T> {
        let more = all.len().saturating_sub(SHOWN);
        all.truncate(SHOWN);
        Shown { items: all, more }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

const BAR_WIDTH: u32 = 300;
const BAR_STEP: u32 = 28;

/// (label, applicable, answered, approved) → bars with their geometry.
fn bars(t: &Tr, items: Vec<(String, usize, usize, usize)>) -> (Vec<Bar>, u32) {
    let n = items.len() as u32;
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, total, answered, approved))| {
            let pct = |x: usize| (x * 100).checked_div(total).unwrap_or(0) as u32;
            Bar {
                summary: t.with(
                    "chart-summary",
                    &[
                        ("approved", &approved.to_string()),
                        ("answered", &answered.to_string()),
                        ("total", &total.to_string()),
                    ],
                ),
                short: if label.chars().count() > 15 {
                    label.chars().take(14).collect::<String>() + "…"
                } else {
                    label.clone()
                },
                label,
                approved_pct: pct(approved),
                answered_pct: pct(answered),
                y: i as u32 * BAR_STEP,
                approved_w: pct(approved) * BAR_WIDTH / 100,
                answered_w: pct(answered) * BAR_WIDTH / 100,
            }
        })
        .collect();
    (bars, n * BAR_STEP + 4)
}

/// What comes next for a system, for the party whose turn it is: each
/// party answers, fixes and submits its part (`mine`: the progress of the
/// reader's part and whether it is in); the security office reviews; the
/// department follows its systems. `(urgency, words, link)`.
fn next_step(
    t: &Tr,
    user: &CurrentUser,
    s: &SystemRecord,
    p: &Progress,
    mine: Option<(&Progress, bool)>,
) -> Option<(u8, String, String)> {
    let name = s.input.name.as_str();
    let n = |x: usize| x.to_string();
    let link = |q: &str| format!("/systems/{}{q}", s.id);
    let answering = matches!(s.status, SystemStatus::NotStarted | SystemStatus::Answering | SystemStatus::Returned);
    if let Some((p, _)) = mine.filter(|(_, part_in)| answering && !part_in) {
        if p.returned > 0 {
            let words = t.with("next-returned", &[("name", name), ("count", &n(p.returned))]);
            return Some((0, words, link("?show=returned#list")));
        }
        let unanswered = p.applicable.saturating_sub(p.answered);
        if unanswered > 0 {
            return Some((1, t.with("next-unanswered", &[("name", name), ("count", &n(unanswered))]), link("")));
        }
        return Some((2, t.with("next-submit", &[("name", name)]), link("")));
    }
    if matches!(user.scope(), mamori_core::scope::Scope::Vendor(_)) {
        // A vendor's turn is its own part only.
        return None;
    }
    if user.can(Permission::ReviewAnswers) {
        if s.status != SystemStatus::Submitted {
            return None;
        }
        let pending = p.answered.saturating_sub(p.approved + p.returned);
        let words = t.with("next-review", &[("name", name), ("count", &n(pending))]);
        return Some((0, words, link("?show=pending#list")));
    }
    if user.can(Permission::SignOffReviews) {
        let words = t.with(
            "next-follow",
            &[
                ("name", name),
                ("status", &t.label(s.status)),
                ("approved", &n(p.approved)),
                ("total", &n(p.applicable)),
            ],
        );
        return Some((u8::from(s.status == SystemStatus::Approved) + 1, words, link("")));
    }
    None
}

async fn board(state: &AppState, user: &CurrentUser, q: &ListQuery, t: Tr<'_>) -> Result<Board, AppError> {
    let filter = filtered(q);
    let mut systems = state.store.systems(user.scope(), &filter).await?;
    // The systems in use: a retired (廃止) system's round is closed as it
    // stood, and nothing in it is anyone's to do; it is shown when the
    // phase filter asks for 廃止.
    if filter.phase != Some(Phase::Retired) {
        systems.retain(|s| s.input.phase != Phase::Retired);
    }
    let today = today(state);
    let mut rows = Vec::new();
    // 大項目 in catalog order, as first met.
    let mut categories: Vec<(String, Progress)> = Vec::new();
    let mut returned_items = Vec::new();
    let mut overdue_items = Vec::new();
    let mut next_steps = Vec::new();
    let mut round_due = Vec::new();
    let mut duties: Vec<(i64, u32)> = Vec::new();
    let answers_or_follows = user.can(Permission::AnswerChecklist) || user.can(Permission::SignOffReviews);
    // Set-based: the figures of every system come from two queries at most,
    // and from memory while nothing changed (`mamori_store::figures`).
    let figures = state.store.figures(&systems).await?;
    // Per catalog version: each requirement's 大項目 as a position in
    // `categories`, found once rather than for every item of every system.
    let mut versions: Vec<(i64, std::sync::Arc<mamori_core::catalog::CatalogFile>, Vec<usize>)> = Vec::new();
    for (s, f) in systems.iter().zip(&figures) {
        let v = match versions.iter().position(|(id, ..)| *id == s.catalog_version_id) {
            Some(v) => v,
            None => {
                let catalog = state.store.catalog(s.catalog_version_id).await?;
                let mut places = Vec::with_capacity(catalog.requirements.len());
                for r in &catalog.requirements {
                    places.push(match categories.iter().position(|(k, _)| *k == r.major) {
                        Some(p) => p,
                        None => {
                            categories.push((r.major.clone(), Progress::default()));
                            categories.len() - 1
                        }
                    });
                }
                versions.push((s.catalog_version_id, catalog, places));
                versions.len() - 1
            }
        };
        let (_, catalog, places) = &versions[v];
        let mut progress = Progress::default();
        // The reader's own part, when the reader answers items here.
        let parts = match user.answers_for() {
            Some(_) => Some(state.store.parts(s).await?),
            None => None,
        };
        let mut my_progress = Progress::default();
        for item in &f.items {
            let (Some(r), Some(&pos)) = (catalog.requirements.get(item.index), places.get(item.index)) else {
                continue;
            };
            let answer = item.answer.as_ref().map(|(a, review)| (a, *review));
            progress.count(answer, today);
            if let (Some(parts), Some(org)) = (&parts, user.answers_for()) {
                if parts.answerer(r.number) == Some(org) {
                    my_progress.count(answer, today);
                }
            }
            categories[pos].1.count(answer, today);
            if let Some((a, review)) = answer {
                if review == Review::Returned {
                    returned_items.push((s.id, s.input.name.clone(), r.number));
                }
                if a.overdue(today) {
                    overdue_items.push((s.id, s.input.name.clone(), r.number));
                }
            }
        }
        let mine = match (&parts, user.answers_for()) {
            (Some(parts), Some(org)) if my_progress.applicable > 0 => Some((&my_progress, parts.is_submitted(org))),
            _ => None,
        };
        let applicable: Vec<u32> = f.items.iter().map(|i| i.number).collect();
        duties.extend(checklist::unproven_duties(s.input.phase, &applicable, &[]).into_iter().map(|n| (s.id, n)));
        next_steps.extend(next_step(&t, user, s, &progress, mine));
        if let Some(due) = checklist::round_due(s.input.phase, s.status, s.input.due_on, today) {
            let date = s.input.due_on.map(|d| d.to_string()).unwrap_or_default();
            let (order, words) = match due {
                RoundDue::Overdue { days_late } => {
                    (-days_late, t.with("dashboard-due-overdue", &[("date", &date), ("days", &days_late.to_string())]))
                }
                RoundDue::Soon { days_left: 0, .. } => (0, t.with("dashboard-due-today", &[("date", &date)])),
                RoundDue::Soon { days_left, .. } => {
                    (days_left, t.with("dashboard-due-soon", &[("date", &date), ("days", &days_left.to_string())]))
                }
            };
            let pressing = !matches!(due, RoundDue::Soon { step: 30, .. });
            let overdue = matches!(due, RoundDue::Overdue { .. });
            if answers_or_follows || (overdue && user.can(Permission::ReviewAnswers)) {
                round_due.push((order, (s.id, s.input.name.clone(), words, pressing)));
            }
        }
        rows.push(BoardRow { id: s.id, name: s.input.name.clone(), status: t.label(s.status), progress });
    }
    // Needing attention first: items past their date, then returned items,
    // then the smallest share approved; by name among equals (the order
    // the systems came in).
    let systems_total = rows.len();
    let share = |p: &Progress| (p.approved * 1000).checked_div(p.applicable).unwrap_or(1000);
    rows.sort_by(|a, b| {
        (b.progress.overdue, b.progress.returned, share(&a.progress)).cmp(&(
            a.progress.overdue,
            a.progress.returned,
            share(&b.progress),
        ))
    });
    rows.truncate(SHOWN);
    let sys_bars = rows
        .iter()
        .map(|r| (r.name.clone(), r.progress.applicable, r.progress.answered, r.progress.approved))
        .collect();
    let (by_system, system_chart_height) = bars(&t, sys_bars);
    // Only the 大項目 with something that applies, as before.
    let cat_items = categories
        .into_iter()
        .filter(|(_, p)| p.applicable > 0)
        .map(|(k, p)| (k, p.applicable, p.answered, p.approved))
        .collect();
    let (by_category, category_chart_height) = bars(&t, cat_items);
    let soon = (today + time::Duration::days(30)).to_string();
    let today_s = today.to_string();
    let expiring = state
        .store
        .evidence_expiring(&soon)
        .await?
        .into_iter()
        .filter_map(|e| {
            let s = systems.iter().find(|s| s.id == e.system_id && s.round == e.round)?;
            let date = e.expires_on.unwrap_or_default();
            let expired = date < today_s;
            Some((s.id, s.input.name.clone(), e.number, e.original_name, date, expired))
        })
        .collect();
    let library_expiring = match user.answers_for() {
        Some(org) => state
            .store
            .documents_expiring(&soon)
            .await?
            .into_iter()
            .filter(|(d, _)| d.organisation_id == org)
            .map(|(d, r)| {
                let date = r.expires_on.unwrap_or_default();
                let expired = date < today_s;
                (d.id, d.title, date, expired)
            })
            .collect(),
        None => Vec::new(),
    };
    // Of the duties the running systems have, those met once in some
    // round are not named.
    let names: std::collections::HashMap<i64, &str> = systems.iter().map(|s| (s.id, s.input.name.as_str())).collect();
    let unproven: Vec<(i64, String, u32)> = if duties.is_empty() {
        Vec::new()
    } else {
        let left = state.store.never_met(&duties).await?;
        left.into_iter().map(|(id, n)| (id, names.get(&id).copied().unwrap_or_default().to_owned(), n)).collect()
    };
    let orgs = if user.scope().is_all() { state.store.organisations().await? } else { vec![] };
    let list_query = q.filters();
    Ok(Board {
        rows,
        systems_total,
        list_query,
        by_system,
        by_category,
        system_chart_height,
        category_chart_height,
        next_steps: Shown::of({
            // Most pressing first; by name among equals (the order the systems came in).
            next_steps.sort_by_key(|(urgency, ..)| *urgency);
            next_steps.into_iter().map(|(_, words, link)| (words, link)).collect()
        }),
        returned_items: Shown::of(returned_items),
        unproven: Shown::of(unproven),
        overdue_items: Shown::of(overdue_items),
        expiring: Shown::of(expiring),
        library_expiring: Shown::of(library_expiring),
        round_due: Shown::of({
            // Most overdue first, then the nearest.
            round_due.sort_by_key(|(order, _)| *order);
            round_due.into_iter().map(|(_, row)| row).collect()
        }),
        departments: org_choices(&orgs, OrgKind::Department),
        vendors: org_choices(&orgs, OrgKind::Vendor),
        phases: Phase::ALL.iter().map(|x| (x.as_str().to_owned(), t.label(*x))).collect(),
    })
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    p: PageCtx<'a>,
    role_key: &'static str,
    /// Whether the reader has a turn in the workflow (answers, reviews or
    /// follows systems), and so a 次にすること section.
    has_turn: bool,
    board: Option<Arc<Board>>,
    /// Yearly reports due within 30 days or overdue: system id, name, year, words, overdue.
    yearly: Vec<(i64, String, i32, String, bool)>,
    q: ListQuery,
}

pub async fn dashboard(
    page: Page,
    user: CurrentUser,
    meta: crate::handlers::Meta,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Reply {
    let yearly = if user.can(mamori_core::identity::Permission::ViewSystems) {
        // Kept like the board: computed again only after a change or on another day.
        let who = crate::handlers::Acting::new(&user, &meta);
        let key = format!("{:?}", (user.scope(), today(&page), page.config.report_month));
        let due = async || mamori_app::yearly::due_reports(&who.op(&page), page.config.report_month).await;
        page.store.remember("yearly-due", key, due).await?
    } else {
        Vec::new()
    };
    let board = if user.can(mamori_core::identity::Permission::ViewSystems) {
        // Computed once per &page of the data for each scope, filter, day
        // and language (`mamori_store::revision`).
        // The next steps depend on the role, not only on the scope.
        let key = format!("{:?}", (user.scope(), user.account().role, q.filters(), today(&page), page.lang));
        Some(
            page.store
                .remember("dashboard", key, async || board(&page, &user, &q, page.t()).await.map(Arc::new))
                .await?,
        )
    } else {
        None
    };
    let p = page.ctx().await?;
    let yearly = yearly
        .into_iter()
        .map(|d| {
            let date = d.due.to_string();
            let (words, overdue) = match d.state {
                DueState::Overdue { days_late } => {
                    (p.t.with("dashboard-yearly-overdue", &[("date", &date), ("days", &days_late.to_string())]), true)
                }
                DueState::Soon { days_left } => {
                    (p.t.with("dashboard-yearly-soon", &[("date", &date), ("days", &days_left.to_string())]), false)
                }
                DueState::Received | DueState::Later => (date, false),
            };
            (d.system_id, d.system, d.year, words, overdue)
        })
        .collect();
    let has_turn = [Permission::AnswerChecklist, Permission::ReviewAnswers, Permission::SignOffReviews]
        .into_iter()
        .any(|x| user.can(x));
    html(Dashboard { p, role_key: user.account().role.key(), has_turn, board, yearly, q })
}
