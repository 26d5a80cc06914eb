//! The alerts page: open ones first, acknowledgement, and the notifier's
//! delivery attempts with its test button (items 22, 23, 28, 67).

use super::{html, jst};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::handlers::pager::Pager;
use crate::handlers::sorting::SortQuery;
use crate::handlers::Reply;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::{Form, Path, Query};
use mamori_core::identity::Permission;
use mamori_core::monitoring::{NoticeKind, Severity};

pub struct AlertRow {
    id: i64,
    kind: String,
    severity: String,
    subject: String,
    detail: String,
    first: String,
    last: String,
    count: i64,
    acknowledged: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<AlertRow>,
    pager: Pager,
    can_ack: bool,
    /// Is a notifier configured, and may this person send a test message?
    notify: bool,
    can_test: bool,
    deliveries: Vec<DeliveryRow>,
}

/// One delivery attempt of a notification.
pub struct DeliveryRow {
    at: String,
    channel: String,
    recipient: String,
    alert: String,
    ok: bool,
    error: String,
}

/// The alerts, open ones first, newest first, 50 a page.
pub async fn alerts(page: Page, user: CurrentUser, Query(q): Query<SortQuery>) -> Reply {
    // A page read from the database: every alert is on one page or
    // another, however many are open.
    let total = page.store.alert_count().await?;
    let pager = Pager::new(&q.page, usize::try_from(total).unwrap_or(0), "").at("/alerts");
    let list = page.store.alerts_page(pager.from.saturating_sub(1)..pager.to).await?;
    let p = page.ctx().await?;
    let rows = list
        .into_iter()
        .map(|a| AlertRow {
            id: a.id,
            kind: crate::labels::alert_kind_key(&a.kind).map_or(a.kind, |k| p.t.get(k)),
            severity: Severity::parse(&a.severity).map_or(a.severity, |x| p.t.label(x)),
            subject: a.subject,
            detail: a.detail,
            first: jst(Some(a.first_seen)),
            last: jst(Some(a.last_seen)),
            count: a.count,
            acknowledged: match (a.acknowledged_by, a.acknowledged_at) {
                (Some(by), Some(at)) => format!("{} {by}", jst(Some(at))),
                _ => String::new(),
            },
        })
        .collect();
    let notifier = page.state.config.notifier.as_ref().filter(|n| n.configured());
    let deliveries = page
        .store
        .deliveries(20)
        .await?
        .into_iter()
        .map(|d| DeliveryRow {
            at: jst(Some(d.at)),
            channel: d.channel,
            recipient: d.recipient,
            alert: match (d.alert_id, d.notice, d.about.as_str()) {
                (Some(id), _, _) => format!("#{id}"),
                (None, Some(NoticeKind::Returned), system) => p.t.with("alerts-notify-returned", &[("system", system)]),
                (None, Some(NoticeKind::Submitted), system) => {
                    p.t.with("alerts-notify-submitted", &[("system", system)])
                }
                (None, Some(NoticeKind::Approved), system) => p.t.with("alerts-notify-approved", &[("system", system)]),
                (None, None, "") => p.t.get("alerts-notify-test-alert"),
                (None, None, system) => p.t.with("alerts-notify-reminder", &[("system", system)]),
            },
            ok: d.ok,
            error: d.error,
        })
        .collect();
    let can_ack = user.can(Permission::ManageAlerts);
    html(AlertsPage {
        p,
        rows,
        pager,
        can_ack,
        notify: notifier.is_some(),
        can_test: can_ack && notifier.is_some(),
        deliveries,
    })
}

/// Sends a test message on every channel (items 22, 23).
pub async fn notify_test(page: Page, who: super::Acting) -> Reply {
    let Some(notifier) = page.state.config.notifier.clone() else {
        return Err(AppError::NotFound);
    };
    mamori_app::oversight::test_notification(&who.op(&page), &notifier).await?;
    super::done(&page, "notify-tested", "/alerts").await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct AckForm {
    /// How many times the alert had occurred on the page acknowledged from.
    count: String,
}

pub async fn acknowledge(page: Page, who: super::Acting, Path(id): Path<i64>, Form(form): Form<AckForm>) -> Reply {
    // The page sends what it showed; a request without it is taken as
    // acknowledging whatever the alert holds now.
    let seen = form.count.trim().parse::<i64>().ok();
    match mamori_app::oversight::acknowledge_alert(&who.op(&page), id, seen).await {
        Ok(()) => super::done(&page, "alert-acknowledged", "/alerts").await,
        Err(mamori_app::Refused::Stale) => super::done(&page, "alert-ack-stale", "/alerts").await,
        Err(e) => Err(e.into()),
    }
}
