//! Item 68's yearly report of a system: its page (due date, sign-offs,
//! receipt, report month), the print page and the workbook.

use super::system_for;
use crate::download;
use crate::error::AppError;
use crate::forms::FormErrors;
use crate::handlers::{done, html, Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{Html, IntoResponse};
use axum::Form;
use mamori_app::yearly::{self as yearly_op};
use mamori_app::Refused;
use mamori_core::identity::{parse_multiline, Permission};
use mamori_core::jst::JST;
use mamori_core::yearly::{due_state, DueState, Section, SignoffKind, YearlyReport};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct YearQuery {
    year: String,
}

/// The year asked for, or this year (in Japan).
fn year_of(page: &Page, q: &str) -> i32 {
    q.trim()
        .parse()
        .ok()
        .filter(|y| (2000..=9999).contains(y))
        .unwrap_or_else(|| page.clock.now().to_offset(JST).year())
}

#[derive(Template)]
#[template(path = "yearly.html")]
struct YearlyPage<'a> {
    p: PageCtx<'a>,
    r: YearlyReport,
    /// What the report says, for its receipt ([`yearly_op::mark`]).
    mark: String,
    header: Vec<(&'static str, String)>,
    sections: Vec<Section>,
    state: String,
    attention: bool,
    can_sign: bool,
    can_manage: bool,
    kinds: Vec<(&'static str, &'static str)>,
    months: Vec<u8>,
    month: u8,
    errors: FormErrors,
}

async fn yearly_page(page: &Page, who: &Acting, id: i64, year: i32, errors: FormErrors) -> Reply {
    let r = yearly_op::report(&who.op(page), id, year, page.config.report_month).await?;
    let p = page.ctx().await?;
    let today = page.clock.now().to_offset(JST).date();
    let (state, attention) = match due_state(today, r.due, r.received.is_some()) {
        DueState::Received => (p.t.get("yearly-received"), false),
        DueState::Later => (p.t.get("yearly-later"), false),
        DueState::Soon { days_left } => (p.t.with("yearly-soon", &[("days", &days_left.to_string())]), true),
        DueState::Overdue { days_late } => (p.t.with("yearly-overdue", &[("days", &days_late.to_string())]), true),
    };
    html(YearlyPage {
        mark: yearly_op::mark(&r),
        header: r.header(),
        sections: r.sections(),
        state,
        attention,
        can_sign: who.person.can(Permission::SignOffReviews)
            && r.received.is_none()
            && year <= today.year()
            && r.system.phase != mamori_core::checklist::Phase::Retired,
        can_manage: who.person.can(Permission::ManageSystems),
        kinds: SignoffKind::ALL.iter().map(|k| (k.as_str(), k.word())).collect(),
        months: (1..=12).collect(),
        month: page.store.report_month(id).await?.unwrap_or(page.config.report_month),
        errors,
        p,
        r,
    })
}

pub async fn yearly(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<YearQuery>) -> Reply {
    let year = year_of(&page, &q.year);
    yearly_page(&page, &who, id, year, FormErrors::new()).await
}

#[derive(Template)]
#[template(path = "yearly_print.html")]
struct YearlyPrint {
    system: String,
    year: i32,
    header: Vec<(&'static str, String)>,
    sections: Vec<Section>,
    signatures: [&'static str; 3],
    inline_css: Option<&'static str>,
    back: Option<String>,
}

/// The print page of a yearly report.
pub fn yearly_html(r: &YearlyReport, styles: super::Styles) -> Result<String, askama::Error> {
    let inline = styles == super::Styles::Inline;
    YearlyPrint {
        system: r.system.name.clone(),
        year: r.year,
        header: r.header().into_iter().skip(1).collect(),
        sections: r.sections(),
        signatures: mamori_files::yearly::SIGNATURES,
        inline_css: inline.then_some(include_str!("../../../static/report.css")),
        back: (!inline).then(|| format!("/systems/{}/yearly?year={}", r.system.id, r.year)),
    }
    .render()
}

pub async fn yearly_print(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<YearQuery>) -> Reply {
    let op = who.op(&page);
    let r = yearly_op::report(&op, id, year_of(&page, &q.year), page.config.report_month).await?;
    mamori_app::reports::record_export(&op, id, "yearly-html").await?;
    Ok(Html(yearly_html(&r, super::Styles::Linked)?).into_response())
}

pub async fn yearly_xlsx(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<YearQuery>) -> Reply {
    let op = who.op(&page);
    let r = yearly_op::report(&op, id, year_of(&page, &q.year), page.config.report_month).await?;
    let name = format!("yearly-{}-{}-{}.xlsx", r.system.id, r.year, r.system.name);
    // Assembled off the request workers, as every workbook downloaded.
    let bytes = mamori_app::off_the_workers(move || mamori_files::yearly::xlsx(&r))
        .await?
        .map_err(|e| AppError::Internal(format!("xlsx: {e}")))?;
    mamori_app::reports::record_export(&op, id, "yearly-xlsx").await?;
    Ok(download::xlsx(&name, bytes))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignoffForm {
    year: String,
    kind: String,
    comment: String,
}

/// The vendor or the department signs off a review of the year.
pub async fn sign_off(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<SignoffForm>) -> Reply {
    system_for(&page, &who, id).await?;
    let t = page.t();
    let year = year_of(&page, &form.year);
    let mut errors = FormErrors::new();
    let kind = SignoffKind::parse(&form.kind);
    if kind.is_none() {
        errors.add("kind", t.get("yearly-bad-kind"));
    }
    let comment = errors.check(&t, "comment", "field-comment", parse_multiline(&form.comment, 1, 2000));
    if let (Some(kind), Some(comment), true) = (kind, comment, errors.is_empty()) {
        match yearly_op::sign_off(&who.op(&page), id, year, kind, &comment).await {
            Ok(()) => return done(&page, "yearly-signed-off", &format!("/systems/{id}/yearly?year={year}")).await,
            // Received meanwhile: the report does not change afterwards.
            Err(Refused::Taken) => errors.add("kind", t.get("yearly-received-already")),
            Err(Refused::Invalid("year")) => errors.add("kind", t.get("yearly-future-year")),
            Err(Refused::Invalid("retired")) => errors.add("kind", t.get("yearly-retired")),
            Err(e) => return Err(e.into()),
        }
    }
    yearly_page(&page, &who, id, year, errors).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReceiveForm {
    year: String,
    /// The mark of the report as the page showed it ([`yearly_op::mark`]).
    #[serde(default)]
    shown: String,
}

/// The security office records the year's report as received.
pub async fn receive(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<ReceiveForm>) -> Reply {
    let year = year_of(&page, &form.year);
    let back = format!("/systems/{id}/yearly?year={year}");
    match yearly_op::receive(&who.op(&page), id, year, page.config.report_month, &form.shown).await {
        Ok(()) => done(&page, "yearly-received-saved", &back).await,
        Err(Refused::Taken) => done(&page, "yearly-received-already", &back).await,
        Err(Refused::Stale) => done(&page, "yearly-received-stale", &back).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonthForm {
    month: String,
    year: String,
}

/// The security office sets the month the system's report falls due.
pub async fn set_month(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<MonthForm>) -> Reply {
    let year = year_of(&page, &form.year);
    let month = form.month.trim().parse::<u8>().unwrap_or(0);
    match yearly_op::set_month(&who.op(&page), id, month).await {
        Ok(()) => done(&page, "yearly-month-saved", &format!("/systems/{id}/yearly?year={year}")).await,
        Err(Refused::Invalid(_)) => {
            let mut errors = FormErrors::new();
            errors.add("month", page.t().get("yearly-bad-month"));
            yearly_page(&page, &who, id, year, errors).await
        }
        Err(e) => Err(e.into()),
    }
}
