//! The filled checklist of one system as a document: what the Excel
//! workbook, the CSV and the print page show, in the ward's layout. Built
//! by the operations layer from the store; written out by `mamori-files`
//! (Excel, CSV) and the web pages (print).
//!
//! The words of the document (対応状況, 審査…) are the ward's form, in
//! Japanese whatever the reader's screen language, and are read back when
//! a vendor uploads the workbook: they are a file format, kept here.

use crate::checklist::{AnswerStatus, Phase, Review, SystemStatus};
use crate::verification::{CheckId, Verdict};
use time::{Date, OffsetDateTime};

/// The columns of the checklist, in order (the print page, the workbook
/// and the CSV alike).
pub const COLUMNS: [&str; 13] = [
    "No",
    "大項目",
    "中項目",
    "内容",
    "対応状況",
    "対応内容",
    "予定日",
    "理由",
    "証跡",
    "自動確認",
    "審査",
    "審査コメント",
    "回答者",
];

/// A column after the document's own, for the office's attention: what the
/// other cells say only between them (a plan past its date, an answer the
/// scan contradicts). Kept out of [`COLUMNS`], so a workbook or file made
/// before it was added reads back the same.
pub const NOTE_COLUMN: &str = "注意";

/// The document's word for an answer's status (the workbook's drop-down).
pub fn status_word(s: AnswerStatus) -> &'static str {
    match s {
        AnswerStatus::Done => "対応済",
        AnswerStatus::Partial => "一部対応",
        AnswerStatus::NotDone => "未対応",
        AnswerStatus::NotApplicable => "対象外",
    }
}

/// The status a word of the document stands for.
pub fn status_of_word(w: &str) -> Option<AnswerStatus> {
    AnswerStatus::ALL.iter().copied().find(|s| status_word(*s) == w)
}

pub fn review_word(r: Review) -> &'static str {
    match r {
        Review::Pending => "審査待ち",
        Review::Approved => "承認",
        Review::Returned => "差戻し",
    }
}

pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "適合",
        Verdict::Warn => "要確認",
        Verdict::Error => "確認できず",
        Verdict::Fail => "不適合",
    }
}

/// A scanner check by its name in the ward's documents.
pub fn check_word(c: CheckId) -> &'static str {
    match c {
        CheckId::TlsVersions => "TLSのバージョン",
        CheckId::TlsCertificate => "サーバ証明書",
        CheckId::HttpsRedirect => "HTTPSへの転送とHSTS",
        CheckId::Clickjacking => "クリックジャッキング対策",
        CheckId::Disclosure => "ソフトウェアのバージョン表示",
        CheckId::Cookies => "Cookieの属性",
        CheckId::SessionInUrl => "URL中のセッションID",
        CheckId::CredentialsInUrl => "URL中の認証情報",
        CheckId::Listing => "ディレクトリ一覧の表示",
        CheckId::Exposed => "公開されてはならないファイル",
        CheckId::Admin => "管理画面の公開",
        CheckId::ErrorDetail => "エラーの詳細表示",
        CheckId::Ports => "開いているポート",
        CheckId::PasswordField => "パスワード欄の扱い",
        CheckId::CsrfToken => "CSRF対策のトークン",
        CheckId::SessionIdStrength => "セッションIDの強度",
    }
}

pub fn phase_word(p: Phase) -> &'static str {
    match p {
        Phase::Building => "構築中",
        Phase::PreProduction => "本番前",
        Phase::Production => "運用中",
        Phase::Retired => "廃止",
    }
}

pub fn system_status_word(s: SystemStatus) -> &'static str {
    match s {
        SystemStatus::NotStarted => "未着手",
        SystemStatus::Answering => "回答中",
        SystemStatus::Submitted => "提出済",
        SystemStatus::Returned => "差戻し",
        SystemStatus::Approved => "承認",
    }
}

/// The system a document is about, as it was when the document was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemHeading {
    pub id: i64,
    pub name: String,
    pub department: String,
    pub vendor: Option<String>,
    pub phase: Phase,
    pub status: SystemStatus,
    pub round: i64,
}

impl SystemHeading {
    /// The first lines of a document's header block.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        vec![
            ("システム名", self.name.clone()),
            ("所管課", self.department.clone()),
            ("事業者", self.vendor.clone().unwrap_or_else(|| "-".into())),
            ("段階", phase_word(self.phase).to_owned()),
            ("状態", system_status_word(self.status).to_owned()),
            ("回", format!("第{}回", self.round)),
        ]
    }
}

/// The filled checklist of one system, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistReport {
    pub system: SystemHeading,
    /// The last submission and the last finished review of this round.
    pub submitted_at: Option<OffsetDateTime>,
    pub reviewed_at: Option<OffsetDateTime>,
    /// The catalog's title and version, and mamori's number for it.
    pub catalog: String,
    pub catalog_version_id: i64,
    /// The system's revision when the report was made (an uploaded
    /// workbook names the revision it was made from).
    pub revision: i64,
    pub generated_at: OffsetDateTime,
    /// When the scan the 自動確認 column comes from finished.
    pub scanned_at: Option<OffsetDateTime>,
    /// Every requirement of the catalog version, in its order.
    pub rows: Vec<ReportRow>,
}

/// One requirement of the checklist.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub number: u32,
    pub major: String,
    pub middle: String,
    pub text: String,
    /// `None` when the requirement applies; otherwise why it does not.
    pub not_applicable: Option<String>,
    pub answer: Option<ReportAnswer>,
    /// File names and their SHA-256, oldest first.
    pub evidence: Vec<(String, String)>,
    pub auto: Option<ReportAuto>,
    /// Who answers it: the organisation and its party (empty when it does
    /// not apply).
    pub answerer: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAnswer {
    pub status: AnswerStatus,
    pub measures: String,
    pub planned: Option<Date>,
    pub reason: String,
    pub review: Review,
    pub comment: String,
    pub overdue: bool,
    /// The answer's revision (a vendor's workbook names the revision of
    /// each answer it was made from).
    pub revision: i64,
}

/// What the latest scan says of the requirement's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAuto {
    pub verdict: Verdict,
    /// The sub-points the checks verify (`45①`…); the rest is for the answer.
    pub points: Vec<String>,
}

impl ReportRow {
    /// The 証跡 cell: one file a line, name and SHA-256.
    pub fn evidence_text(&self) -> String {
        self.evidence.iter().map(|(name, sha)| format!("{name} (SHA-256: {sha})")).collect::<Vec<_>>().join("\n")
    }

    /// The 自動確認 cell: verdict, the sub-points it covers, and the date.
    pub fn auto_text(&self, scanned_at: Option<OffsetDateTime>) -> String {
        let Some(a) = &self.auto else { return String::new() };
        let mut s = verdict_word(a.verdict).to_owned();
        if !a.points.is_empty() {
            s.push_str(&format!(" ({})", a.points.join("・")));
        }
        if let Some(at) = scanned_at {
            s.push_str(&format!(" {}", crate::jst::format_jst_date(at)));
        }
        s
    }

    /// Answered 対応済 while the scan says the server fails its checks.
    pub fn contradicted(&self) -> bool {
        self.not_applicable.is_none()
            && self.answer.as_ref().is_some_and(|a| a.status == AnswerStatus::Done)
            && self.auto.as_ref().is_some_and(|a| a.verdict == Verdict::Fail)
    }

    /// The [`NOTE_COLUMN`] cell: 期限超過 (a plan past its date), 自動確認と矛盾
    /// (answered 対応済, the scan says 不適合), both, or nothing.
    pub fn note(&self) -> String {
        let overdue = self.not_applicable.is_none() && self.answer.as_ref().is_some_and(|a| a.overdue);
        let notes = [(overdue, "期限超過"), (self.contradicted(), "自動確認と矛盾")];
        notes.iter().filter(|(on, _)| *on).map(|(_, w)| *w).collect::<Vec<_>>().join("・")
    }

    /// The 予定日 cell.
    pub fn planned_text(&self) -> String {
        self.answer.as_ref().and_then(|a| a.planned).map(|d| d.to_string()).unwrap_or_default()
    }

    /// The row as the document's thirteen cells, in [`COLUMNS`] order. A
    /// requirement that does not apply says so in 対応状況 and gives the
    /// reason in 理由.
    pub fn cells(&self, scanned_at: Option<OffsetDateTime>) -> [String; 13] {
        let a = self.answer.as_ref();
        let status = match (&self.not_applicable, a) {
            (Some(_), _) => "適用外".to_owned(),
            (None, Some(a)) => status_word(a.status).to_owned(),
            (None, None) => "未回答".to_owned(),
        };
        let reason = match &self.not_applicable {
            Some(why) => why.clone(),
            None => a.map(|a| a.reason.clone()).unwrap_or_default(),
        };
        [
            self.number.to_string(),
            self.major.clone(),
            self.middle.clone(),
            self.text.clone(),
            status,
            a.map(|a| a.measures.clone()).unwrap_or_default(),
            self.planned_text(),
            reason,
            self.evidence_text(),
            self.auto_text(scanned_at),
            a.map(|a| review_word(a.review).to_owned()).unwrap_or_default(),
            a.map(|a| a.comment.clone()).unwrap_or_default(),
            self.answerer.clone(),
        ]
    }
}

/// Counts of one group of requirements (a 大項目, or all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub name: String,
    pub total: usize,
    pub applicable: usize,
    /// By [`AnswerStatus`], in `AnswerStatus::ALL` order.
    pub by_status: [usize; 4],
    pub unanswered: usize,
    pub approved: usize,
    pub returned: usize,
    pub pending: usize,
    pub overdue: usize,
    /// Answered 対応済 while the scan says 不適合 ([`ReportRow::contradicted`]).
    pub contradicted: usize,
}

impl Tally {
    fn add(&mut self, r: &ReportRow) {
        self.total += 1;
        if r.not_applicable.is_some() {
            return;
        }
        self.contradicted += usize::from(r.contradicted());
        self.applicable += 1;
        let Some(a) = &r.answer else {
            self.unanswered += 1;
            return;
        };
        if let Some(i) = AnswerStatus::ALL.iter().position(|s| *s == a.status) {
            self.by_status[i] += 1;
        }
        match a.review {
            Review::Approved => self.approved += 1,
            Review::Returned => self.returned += 1,
            Review::Pending => self.pending += 1,
        }
        self.overdue += usize::from(a.overdue);
    }

    /// The summary's column names, in the order of [`Tally::figures`].
    pub const HEADERS: [&'static str; 13] = [
        "区分",
        "項目数",
        "適用",
        "対応済",
        "一部対応",
        "未対応",
        "対象外",
        "未回答",
        "承認",
        "差戻し",
        "審査待ち",
        "期限超過",
        "自動確認と矛盾",
    ];

    /// The counts, in the order of [`Tally::HEADERS`] after the name.
    pub fn figures(&self) -> [usize; 12] {
        let s = self.by_status;
        [
            self.total,
            self.applicable,
            s[0],
            s[1],
            s[2],
            s[3],
            self.unanswered,
            self.approved,
            self.returned,
            self.pending,
            self.overdue,
            self.contradicted,
        ]
    }
}

impl ChecklistReport {
    /// One tally per 大項目 in catalog order, then the total (named 合計).
    pub fn tallies(&self) -> Vec<Tally> {
        let mut groups: Vec<Tally> = Vec::new();
        let mut all = Tally { name: "合計".into(), ..Tally::default() };
        for r in &self.rows {
            let i = match groups.iter().position(|g| g.name == r.major) {
                Some(i) => i,
                None => {
                    groups.push(Tally { name: r.major.clone(), ..Tally::default() });
                    groups.len() - 1
                }
            };
            groups[i].add(r);
            all.add(r);
        }
        groups.push(all);
        groups
    }

    /// The header block: label and value, in the document's order.
    pub fn header(&self) -> Vec<(&'static str, String)> {
        let date = |t: Option<OffsetDateTime>| t.map(crate::jst::format_jst).unwrap_or_else(|| "-".into());
        let mut lines = self.system.lines();
        lines.extend([
            ("提出日", date(self.submitted_at)),
            ("審査日", date(self.reviewed_at)),
            ("要件の版", self.catalog.clone()),
            ("作成日時", crate::jst::format_jst(self.generated_at)),
        ]);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(number: u32, major: &str, na: Option<&str>, answer: Option<(AnswerStatus, Review)>) -> ReportRow {
        ReportRow {
            number,
            major: major.into(),
            middle: String::new(),
            text: String::new(),
            not_applicable: na.map(Into::into),
            answer: answer.map(|(status, review)| ReportAnswer {
                status,
                measures: "m".into(),
                planned: None,
                reason: String::new(),
                review,
                comment: String::new(),
                overdue: status == AnswerStatus::NotDone,
                revision: 1,
            }),
            evidence: vec![],
            auto: None,
            answerer: String::new(),
        }
    }

    #[test]
    fn every_status_has_a_word_that_reads_back() {
        for s in AnswerStatus::ALL {
            assert_eq!(status_of_word(status_word(*s)), Some(*s));
        }
        assert_eq!(status_of_word("適用外"), None);
        assert_eq!(status_of_word("対応済 "), None);
    }

    #[test]
    fn tallies_count_by_major_item_and_in_total() {
        use AnswerStatus::*;
        let mut r = ChecklistReport {
            system: SystemHeading {
                id: 1,
                name: "s".into(),
                department: "d".into(),
                vendor: None,
                phase: Phase::Building,
                status: SystemStatus::Answering,
                round: 1,
            },
            submitted_at: None,
            reviewed_at: None,
            catalog: "c".into(),
            catalog_version_id: 1,
            revision: 1,
            generated_at: OffsetDateTime::UNIX_EPOCH,
            scanned_at: None,
            rows: vec![
                row(1, "A", None, Some((Done, Review::Approved))),
                row(2, "A", Some("web only"), None),
                row(3, "B", None, Some((NotDone, Review::Returned))),
                row(4, "B", None, None),
                row(5, "B", None, Some((Done, Review::Approved))),
                row(6, "B", None, Some((Partial, Review::Pending))),
            ],
        };
        let fail = ReportAuto { verdict: Verdict::Fail, points: vec![] };
        // Answered 対応済 and approved, the scan says 不適合: counted apart,
        // and said in the row. A partial answer the scan fails is no news.
        r.rows[4].auto = Some(fail.clone());
        r.rows[5].auto = Some(fail);
        let t = r.tallies();
        assert_eq!(t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["A", "B", "合計"]);
        assert_eq!(t[0].figures(), [2, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(t[1].figures(), [4, 4, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
        assert_eq!(t[2].figures(), [6, 5, 2, 1, 1, 0, 1, 2, 1, 1, 1, 1]);
        assert_eq!(Tally::HEADERS.len(), t[2].figures().len() + 1);
        let notes: Vec<String> = r.rows.iter().map(ReportRow::note).collect();
        assert_eq!(notes, ["", "", "期限超過", "", "自動確認と矛盾", ""]);
        assert_eq!(r.rows[1].cells(None)[4], "適用外");
        assert_eq!(r.rows[1].cells(None)[7], "web only");
        assert_eq!(r.rows[3].cells(None)[4], "未回答");
    }
}
