//! Reminders of a round's due date by mail (items 22, 23): 30, 7 and 1
//! days before and once overdue, to the people of each organisation that
//! answers part of the round and has not submitted it; never twice for a
//! step, however often the daily job runs or how many instances run it.
//! The subject is fixed; the system's name is only in the body.

use crate::notify::Notifier;
use mamori_core::checklist::{round_due, RoundDue};
use mamori_core::identity::Role;
use mamori_core::jst::JST;
use mamori_core::scope::Scope;
use mamori_store::notify::Reminder;
use mamori_store::systems::{SystemFilter, SystemRecord};
use mamori_store::Store;
use std::collections::BTreeSet;
use time::OffsetDateTime;

/// Sends the reminders due today. `Ok` says what was sent; `Err` when a
/// reminder could not be delivered (the job tries again later; those
/// delivered are not sent again).
pub async fn send_round_reminders(notifier: &Notifier, store: &Store, now: OffsetDateTime) -> Result<String, String> {
    if !notifier.can_mail() {
        return Ok("メールの設定がありません (no mail configured)".into());
    }
    let today = now.to_offset(JST).date();
    let systems = store.systems(Scope::All, &SystemFilter::default()).await.map_err(|e| e.to_string())?;
    let mut accounts = None;
    let (mut sent, mut failed) = (0, Vec::new());
    for s in &systems {
        let (Some(due_on), Some(due)) = (s.input.due_on, round_due(s.status, s.input.due_on, today)) else {
            continue;
        };
        let step = match due {
            RoundDue::Soon { step, .. } => i64::from(step),
            RoundDue::Overdue { .. } => 0,
        };
        let r = Reminder { system_id: s.id, round: s.round, due_on: due_on.to_string(), step };
        if store.reminder_sent(&r).await.map_err(|e| e.to_string())? {
            continue;
        }
        let parts = store.parts(s).await.map_err(|e| e.to_string())?;
        let waiting: BTreeSet<i64> =
            parts.items.values().map(|(_, org)| *org).filter(|org| !parts.is_submitted(*org)).collect();
        if accounts.is_none() {
            accounts = Some(store.accounts().await.map_err(|e| e.to_string())?);
        }
        let to: Vec<String> = accounts
            .iter()
            .flatten()
            .filter(|a| a.disabled_at.is_none() && matches!(a.role, Role::Department | Role::Vendor))
            .filter(|a| a.organisation_id.is_some_and(|org| waiting.contains(&org)))
            .map(|a| a.email.clone())
            .collect();
        if to.is_empty() {
            continue;
        }
        let (subject, body) = text(notifier.origin(), s, due);
        let Some(attempt) = notifier.mail_people(&to, &subject, &body).await else {
            return Ok("メールの設定がありません (no mail configured)".into());
        };
        if !attempt.ok {
            failed.push(format!("{}: {}", s.id, attempt.error));
        } else {
            sent += 1;
        }
        store.record_reminder(&r, now, to.len() as i64, &[attempt], &s.input.name).await.map_err(|e| e.to_string())?;
    }
    if failed.is_empty() {
        Ok(format!("{sent} 件の期限通知を送信 (reminders sent)"))
    } else {
        Err(format!("{} 件送れませんでした (not delivered): {}", failed.len(), failed.join("; ")))
    }
}

/// The fixed subject and the body of a reminder.
fn text(origin: &str, s: &SystemRecord, due: RoundDue) -> (String, String) {
    let date = s.input.due_on.map(|d| d.to_string()).unwrap_or_default();
    let (subject, when) = match due {
        RoundDue::Soon { days_left: 0, .. } => {
            ("[mamori] 回答期限は本日です".to_owned(), "本日が期限です。".to_owned())
        }
        RoundDue::Soon { days_left, .. } => {
            (format!("[mamori] 回答期限まであと{days_left}日です"), format!("あと {days_left} 日です。"))
        }
        RoundDue::Overdue { days_late } => {
            ("[mamori] 回答期限を過ぎています".to_owned(), format!("期限を {days_late} 日過ぎています。"))
        }
    };
    let body = format!(
        "セキュリティ要件チェックリストの回答期限のお知らせです。\n\nシステム: {}\n回: 第{}回\n期限: {date}\n{when}\n\nまだ提出されていない回答があります。回答と提出はこちらから:\n{origin}/systems/{}\n\nこのメールは mamori から自動で送信しています。\n",
        s.input.name, s.round, s.id
    );
    (subject, body)
}
