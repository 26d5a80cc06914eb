//! Item 68: the report of the state of the measures, when the system is
//! built and at least once a year. Each system's yearly report falls due
//! at the end of its report month; reminders start [`REMIND_DAYS`] days
//! before, and a report not received by its due date is overdue.

use time::{Date, Month};

/// How many days before the due date the reminders start.
pub const REMIND_DAYS: i64 = 30;

crate::closed_set!(
    /// What the vendor or the department signs off for the year.
    SignoffKind { AdminAccounts = "admin_accounts", Logs = "logs" }
);

impl SignoffKind {
    /// The document's words.
    pub fn word(self) -> &'static str {
        match self {
            SignoffKind::AdminAccounts => "管理者アカウントの棚卸し",
            SignoffKind::Logs => "ログの確認",
        }
    }
}

/// The due date of the report of `year`: the last day of `month`.
pub fn due_date(year: i32, month: u8) -> Option<Date> {
    let month = Month::try_from(month).ok()?;
    Date::from_calendar_date(year, month, month.length(year)).ok()
}

/// Where a year's report stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueState {
    /// Received by the security office.
    Received,
    /// More than [`REMIND_DAYS`] days away.
    Later,
    /// Due within [`REMIND_DAYS`] days (0: today).
    Soon { days_left: i64 },
    /// Past the due date and not received.
    Overdue { days_late: i64 },
}

pub fn due_state(today: Date, due: Date, received: bool) -> DueState {
    let left = (due - today).whole_days();
    match (received, left) {
        (true, _) => DueState::Received,
        (false, l) if l < 0 => DueState::Overdue { days_late: -l },
        (false, l) if l <= REMIND_DAYS => DueState::Soon { days_left: l },
        _ => DueState::Later,
    }
}

/// The years whose report a reminder may concern on `today`: last year's
/// (overdue if never received) and this year's.
pub fn years_to_watch(today: Date) -> [i32; 2] {
    [today.year() - 1, today.year()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn due_at_the_end_of_the_report_month() {
        assert_eq!(due_date(2027, 4), Some(date!(2027 - 04 - 30)));
        assert_eq!(due_date(2028, 2), Some(date!(2028 - 02 - 29)));
        assert_eq!(due_date(2027, 13), None);
        assert_eq!(due_date(2027, 0), None);
    }

    #[test]
    fn reminders_start_thirty_days_before_and_overdue_after_the_day() {
        let due = date!(2027 - 04 - 30);
        assert_eq!(due_state(date!(2027 - 03 - 30), due, false), DueState::Later);
        assert_eq!(due_state(date!(2027 - 03 - 31), due, false), DueState::Soon { days_left: 30 });
        assert_eq!(due_state(due, due, false), DueState::Soon { days_left: 0 });
        assert_eq!(due_state(date!(2027 - 05 - 01), due, false), DueState::Overdue { days_late: 1 });
        assert_eq!(due_state(date!(2027 - 05 - 01), due, true), DueState::Received);
    }
}

/// The yearly report of one system (item 68), as a document.
#[derive(Debug, Clone, PartialEq)]
pub struct YearlyReport {
    pub system: crate::report::SystemHeading,
    pub year: i32,
    pub due: Date,
    /// Who recorded the report as received, and when.
    pub received: Option<(String, time::OffsetDateTime)>,
    pub signoffs: Vec<YearlySignoff>,
    /// The latest finished scan: when, and its lines.
    pub scan: Option<(time::OffsetDateTime, Vec<ScanLine>)>,
    /// Files of item 78 (the vulnerability diagnosis), uploaded or linked from
    /// the library: name, SHA-256, uploaded, and where the office's review
    /// of the answer they belong to stands (a file uploaded is no diagnosis
    /// the office accepted until it approves it).
    pub diagnosis: Vec<(String, String, time::OffsetDateTime, crate::checklist::Review)>,
    /// 未対応 and 一部対応 items of the current round.
    pub open_items: Vec<OpenItem>,
    /// The day the report's inventory and records stand on: the day the
    /// office received it, or the day it is made.
    pub as_of: Date,
    /// The software inventory as it stood on `as_of` (items 62, 68): kind,
    /// name, version, place, last day of support, its state that day, why
    /// not the newest.
    pub software: Vec<[String; 7]>,
    /// Advisories still open against it (item 63): advisory, CVSS,
    /// software, how it was matched.
    pub open_vulns: Vec<[String; 4]>,
    /// The system's records as they stood on `as_of` (items 8–13, 19,
    /// 69–79): kind, name, date watched, facts.
    pub records: Vec<[String; 4]>,
    pub generated_at: time::OffsetDateTime,
    /// What the report said when the office received it: shown in place
    /// of what it would say now ([`YearlyReport::header`],
    /// [`YearlyReport::sections`]).
    pub frozen: Option<Frozen>,
}

/// A report's words when it was received: the values of its header and
/// the rows of its sections, in order. Kept with the receipt, so that a
/// received report does not change afterwards.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Frozen {
    pub header: Vec<String>,
    pub sections: Vec<Vec<Vec<String>>>,
}

/// The place of the latest scan among [`YearlyReport::sections`].
pub const SCAN_SECTION: usize = 2;

/// What a report says in place of the open ports to a person who may not
/// see them (which ports are open is a map of the network).
pub const PORTS_HIDDEN: &str = "開いているポートの詳細は、情報セキュリティ担当者だけに表示されます。";

/// One check of a scan: target, check, verdict, summary.
pub type ScanLine = (String, String, crate::verification::Verdict, String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearlySignoff {
    pub kind: SignoffKind,
    pub comment: String,
    pub by: String,
    pub at: time::OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenItem {
    pub number: u32,
    pub middle: String,
    /// `None`: not answered this round (未回答).
    pub status: Option<crate::checklist::AnswerStatus>,
    pub measures: String,
    pub planned: Option<Date>,
    pub overdue: bool,
}

/// One part of the document: a title, its columns and rows (a note when
/// there is nothing to show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub empty: &'static str,
}

impl YearlyReport {
    /// What the report says now, to be kept with its receipt.
    pub fn freeze(&self) -> Frozen {
        Frozen {
            header: self.header().into_iter().map(|(_, v)| v).collect(),
            sections: self.sections().into_iter().map(|s| s.rows).collect(),
        }
    }

    /// The header block: label and value.
    pub fn header(&self) -> Vec<(&'static str, String)> {
        let mut lines = self.header_now();
        if let Some(f) = self.frozen.as_ref().filter(|f| f.header.len() == lines.len()) {
            for (line, value) in lines.iter_mut().zip(&f.header) {
                line.1.clone_from(value);
            }
        }
        lines
    }

    /// The document's parts, in order.
    pub fn sections(&self) -> Vec<Section> {
        let mut sections = self.sections_now();
        if let Some(f) = self.frozen.as_ref().filter(|f| f.sections.len() == sections.len()) {
            for (section, rows) in sections.iter_mut().zip(&f.sections) {
                section.rows.clone_from(rows);
            }
        }
        sections
    }

    fn header_now(&self) -> Vec<(&'static str, String)> {
        use crate::jst::{format_jst, format_jst_date};
        let mut lines = self.system.lines();
        lines.truncate(4);
        lines.extend([
            ("対象年", format!("{}年", self.year)),
            ("報告期限", self.due.to_string()),
            (
                "受領",
                self.received.as_ref().map_or_else(|| "未受領".into(), |(by, at)| format!("{} {by}", format_jst(*at))),
            ),
            ("作成日", format_jst_date(self.generated_at)),
            ("基準日 (構成・記録)", self.as_of.to_string()),
        ]);
        lines
    }

    fn sections_now(&self) -> Vec<Section> {
        use crate::jst::{format_jst, format_jst_date};
        let signoffs = SignoffKind::ALL
            .iter()
            .map(|k| {
                let last = self.signoffs.iter().rev().find(|s| s.kind == *k);
                vec![
                    k.word().to_owned(),
                    last.map_or_else(|| "未実施".into(), |s| format_jst_date(s.at)),
                    last.map(|s| s.by.clone()).unwrap_or_default(),
                    last.map(|s| s.comment.clone()).unwrap_or_default(),
                ]
            })
            .collect();
        let scan = match &self.scan {
            None => vec![],
            Some((at, rows)) => rows
                .iter()
                .map(|(target, check, v, summary)| {
                    vec![
                        format_jst(*at),
                        target.clone(),
                        check.clone(),
                        crate::report::verdict_word(*v).into(),
                        summary.clone(),
                    ]
                })
                .collect(),
        };
        vec![
            Section {
                title: "1. ソフトウェアの一覧 (No.62: 名称・バージョン・サポート終了・最新でない理由)",
                columns: vec![
                    "種別",
                    "名称",
                    "バージョン",
                    "稼働場所",
                    "サポート終了日",
                    "基準日の状態",
                    "最新でない理由",
                ],
                rows: self.software.iter().map(|r| r.to_vec()).collect(),
                empty: "登録されていません (システムの「ソフトウェア構成」で登録します)",
            },
            Section {
                title: "2. 管理者アカウントの棚卸しとログの確認",
                columns: vec!["確認", "実施日", "実施者", "所見"],
                rows: signoffs,
                empty: "",
            },
            Section {
                title: "3. 最新の自動確認",
                columns: vec!["日時", "対象", "確認", "結果", "内容"],
                rows: scan,
                empty: "自動確認の結果はありません",
            },
            Section {
                title: "4. 脆弱性診断の報告書 (No.78)",
                columns: vec!["ファイル", "SHA-256", "登録日", "審査"],
                rows: self
                    .diagnosis
                    .iter()
                    .map(|(name, sha, at, review)| {
                        vec![name.clone(), sha.clone(), format_jst_date(*at), crate::report::review_word(*review).into()]
                    })
                    .collect(),
                empty: "登録されていません",
            },
            Section {
                title: "5. 未対応・一部対応・未回答の項目",
                columns: vec!["No", "中項目", "対応状況", "対応内容", "予定日", "期限超過"],
                rows: self
                    .open_items
                    .iter()
                    .map(|i| {
                        vec![
                            i.number.to_string(),
                            i.middle.clone(),
                            i.status.map_or("未回答", crate::report::status_word).into(),
                            i.measures.clone(),
                            i.planned.map(|d| d.to_string()).unwrap_or_default(),
                            if i.overdue { "超過".into() } else { String::new() },
                        ]
                    })
                    .collect(),
                empty: "ありません",
            },
            Section {
                title: "6. 未対応の脆弱性情報 (No.63)",
                columns: vec!["脆弱性情報", "CVSS", "ソフトウェア", "照合"],
                rows: self.open_vulns.iter().map(|r| r.to_vec()).collect(),
                empty: "ありません",
            },
            Section {
                title: "7. 記録 (No.8・10〜13・19〜21・69〜79: 保守契約・連絡体制・設置場所・認証・バックアップ・廃棄・ドメイン)",
                columns: vec!["種類", "名称", "期日", "内容"],
                rows: self.records.iter().map(|r| r.to_vec()).collect(),
                empty: "登録されていません (システムの「記録」で登録します)",
            },
        ]
    }
}
