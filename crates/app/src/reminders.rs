//! Reminders of due dates by mail (items 22, 23, 68): a round's answers
//! and a system's yearly report, 30, 7 and 1 days before and once overdue.
//! A round's reminder goes to the people of each organisation that answers
//! part of it and has not submitted that part; a yearly report's to the
//! system's department and vendors. Never twice for a step, however often
//! the daily job runs or how many instances run it. The subject is fixed;
//! the system's name is only in the body.

use crate::notify::Notifier;
use mamori_core::checklist::{round_due, round_open, RoundDue, SystemStatus};
use mamori_core::jst::JST;
use mamori_core::monitoring::ReminderKind;
use mamori_core::scope::Scope;
use mamori_core::yearly::DueState;
use mamori_store::notify::Reminder;
use mamori_store::systems::{SystemFilter, SystemRecord};
use mamori_store::Store;
use std::collections::BTreeSet;
use time::OffsetDateTime;

/// One reminder due today.
struct Due<'a> {
    reminder: Reminder,
    system: &'a SystemRecord,
    /// Organisations whose people are told.
    orgs: BTreeSet<i64>,
    /// Days left (negative: late).
    days_left: i64,
}

/// How long after a round opens it is announced to those who answer it
/// (the job runs daily; a round opened earlier, before the server mailed,
/// waits for its reminders).
const ANNOUNCED_WITHIN: time::Duration = time::Duration::days(7);

/// Is the round of `s` one just opened, nothing of it with the office yet?
fn opens(s: &SystemRecord) -> bool {
    round_open(s.input.phase).is_ok() && matches!(s.status, SystemStatus::NotStarted | SystemStatus::Answering)
}

/// The step of a reminder `days_left` days before its date: 30, 7 or 1
/// (the day itself is in the last), 0 once overdue.
fn step(days_left: i64) -> i64 {
    match days_left {
        l if l < 0 => 0,
        0..=1 => 1,
        2..=7 => 7,
        _ => 30,
    }
}

/// Sends the reminders due on `now`'s day. `Ok` says what was sent; `Err`
/// when a reminder could not be delivered (the job tries again later; those
/// delivered are not sent again). `report_month` is the ward's default
/// month for yearly reports.
pub async fn send_reminders(
    notifier: &Notifier,
    store: &Store,
    now: OffsetDateTime,
    report_month: u8,
) -> Result<String, String> {
    if !notifier.can_mail() {
        return Ok("メールの設定がありません (no mail configured)".into());
    }
    let err = |e: mamori_store::StoreError| e.to_string();
    let today = now.to_offset(JST).date();
    let systems = store.systems(Scope::All, &SystemFilter::default()).await.map_err(err)?;
    let mut due = Vec::new();
    for s in systems.iter() {
        let Some(due_on) = s.input.due_on else { continue };
        let reminder = match round_due(s.input.phase, s.status, s.input.due_on, today) {
            Some(d) => {
                let days_left = match d {
                    RoundDue::Soon { days_left, .. } => days_left,
                    RoundDue::Overdue { days_late } => -days_late,
                };
                Reminder {
                    kind: ReminderKind::Round,
                    system_id: s.id,
                    round: s.round,
                    due_on: due_on.to_string(),
                    step: step(days_left),
                }
            }
            // Further off: a round opened this week is announced, once
            // (again if its date is changed meanwhile).
            None if opens(s) && now - store.round_opened_at(s).await.map_err(err)? <= ANNOUNCED_WITHIN => Reminder {
                kind: ReminderKind::Opened,
                system_id: s.id,
                round: s.round,
                due_on: due_on.to_string(),
                step: 0,
            },
            None => continue,
        };
        let days_left = (due_on - today).whole_days();
        if store.reminder_sent(&reminder).await.map_err(err)? {
            continue;
        }
        let parts = store.parts(s).await.map_err(err)?;
        let orgs = parts.items.values().map(|(_, org)| *org).filter(|org| !parts.is_submitted(*org)).collect();
        due.push(Due { reminder, system: s, orgs, days_left });
    }
    for y in crate::yearly::due_of(store, &systems, now, report_month).await.map_err(err)? {
        let days_left = match y.state {
            DueState::Soon { days_left } => days_left,
            DueState::Overdue { days_late } => -days_late,
            DueState::Received | DueState::Later => continue,
        };
        let Some(s) = systems.iter().find(|s| s.id == y.system_id) else { continue };
        let reminder = Reminder {
            kind: ReminderKind::Yearly,
            system_id: s.id,
            round: i64::from(y.year),
            due_on: y.due.to_string(),
            step: step(days_left),
        };
        if store.reminder_sent(&reminder).await.map_err(err)? {
            continue;
        }
        // Everyone who may sign its reviews off, the cloud provider too.
        let orgs = [Some(s.input.department_id), s.input.vendor_id, s.input.maintenance_id, s.input.cloud_id]
            .into_iter()
            .flatten()
            .collect();
        due.push(Due { reminder, system: s, orgs, days_left });
    }
    if due.is_empty() {
        return Ok("期限の通知はありません (no reminder due)".into());
    }
    let accounts = store.accounts().await.map_err(err)?;
    let (mut sent, mut failed) = (0, Vec::new());
    for d in &due {
        let to = crate::notices::of_organisations(&accounts, &d.orgs);
        if to.is_empty() {
            continue;
        }
        let (subject, body) = text(notifier.origin(), d);
        let Some(attempt) = notifier.mail_people(&to, &subject, &body).await else { break };
        if attempt.ok {
            sent += 1;
        } else {
            failed.push(format!("{} {}: {}", d.reminder.kind.as_str(), d.system.id, attempt.error));
        }
        store
            .record_reminder(&d.reminder, now, to.len() as i64, &[attempt], &d.system.input.name)
            .await
            .map_err(err)?;
    }
    if failed.is_empty() {
        Ok(format!("{sent} 件の期限通知を送信 (reminders sent)"))
    } else {
        Err(format!("{} 件送れませんでした (not delivered): {}", failed.len(), failed.join("; ")))
    }
}

/// The fixed subject and the body of the request to answer a round just
/// opened.
fn request(origin: &str, d: &Due) -> (String, String) {
    let subject = "[mamori] チェックリストの回答をお願いします".to_owned();
    let body = format!(
        "チェックリストの回答のお願いです。新しい評価ラウンドが始まりました。\n\nシステム: {}\n対象: 第{}回\n期限: {} (あと {} 日)\n\n回答はこちらから:\n{origin}/systems/{}\n\nこのメールは mamori から自動で送信しています。\n",
        d.system.input.name, d.reminder.round, d.reminder.due_on, d.days_left, d.system.id
    );
    (subject, body)
}

/// The fixed subject and the body of a reminder.
fn text(origin: &str, d: &Due) -> (String, String) {
    let (what, path, of) = match d.reminder.kind {
        ReminderKind::Opened => return request(origin, d),
        ReminderKind::Yearly => (
            "年次報告 (対策の実施状況の報告)",
            format!("/systems/{}/yearly", d.system.id),
            format!("{}年の報告", d.reminder.round),
        ),
        ReminderKind::Round => {
            ("チェックリストの回答", format!("/systems/{}", d.system.id), format!("第{}回", d.reminder.round))
        }
    };
    let (subject, when) = match d.days_left {
        0 => (format!("[mamori] {what}の期限は本日です"), "本日が期限です。".to_owned()),
        l if l > 0 => (format!("[mamori] {what}の期限まであと{l}日です"), format!("あと {l} 日です。")),
        l => (format!("[mamori] {what}の期限を過ぎています"), format!("期限を {} 日過ぎています。", -l)),
    };
    let body = format!(
        "{what}の期限のお知らせです。\n\nシステム: {}\n対象: {of}\n期限: {}\n{when}\n\nまだ済んでいません。こちらから:\n{origin}{path}\n\nこのメールは mamori から自動で送信しています。\n",
        d.system.input.name, d.reminder.due_on
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reminders_fall_30_7_and_1_days_before_and_once_overdue() {
        let steps: Vec<i64> = [45, 30, 8, 7, 2, 1, 0, -1, -30].map(super::step).to_vec();
        assert_eq!(steps, [30, 30, 30, 7, 7, 1, 1, 0, 0]);
    }
}
