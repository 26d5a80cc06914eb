//! Systems, answers and review (PRODUCT.md steps 2, 3, 5): the closed sets
//! and the workflow, as functions from state and event to a new state or
//! an error.

use crate::catalog::{Applicability, RequirementDef, SystemAttributes};
use time::Date;

/// The requirements that apply to a system: the catalog's condition for
/// each, unless the officer overrode it for this system.
pub fn applicable<'a>(
    reqs: &'a [RequirementDef],
    attrs: &SystemAttributes,
    overrides: &[(u32, bool)],
) -> Vec<&'a RequirementDef> {
    let conditions = Conditions::of(reqs);
    reqs.iter().zip(&conditions.0).filter(|(_, c)| c.applies(attrs, overrides)).map(|(r, _)| r).collect()
}

/// A catalog version's conditions, parsed once: a version never changes, so
/// the store keeps these beside the parsed catalog.
#[derive(Debug, Clone)]
pub struct Conditions(Vec<Condition>);

#[derive(Debug, Clone)]
struct Condition {
    number: u32,
    /// `None`: unparsable (a stored catalog was validated at import); it applies.
    rule: Option<Applicability>,
}

impl Condition {
    fn applies(&self, attrs: &SystemAttributes, overrides: &[(u32, bool)]) -> bool {
        match overrides.iter().find(|(n, _)| *n == self.number) {
            Some((_, applies)) => *applies,
            None => self.rule.as_ref().is_none_or(|a| a.applies(attrs)),
        }
    }
}

impl Conditions {
    pub fn of(reqs: &[RequirementDef]) -> Conditions {
        Conditions(
            reqs.iter()
                .map(|r| Condition { number: r.number, rule: Applicability::parse(&r.applies_when).ok() })
                .collect(),
        )
    }

    /// The numbers of the requirements that apply, in catalog order.
    pub fn applicable(&self, attrs: &SystemAttributes, overrides: &[(u32, bool)]) -> Vec<u32> {
        self.applicable_at(attrs, overrides).map(|(_, n)| n).collect()
    }

    /// The position in the catalog and the number of each requirement that
    /// applies, in catalog order.
    pub fn applicable_at<'a>(
        &'a self,
        attrs: &'a SystemAttributes,
        overrides: &'a [(u32, bool)],
    ) -> impl Iterator<Item = (usize, u32)> + 'a {
        self.0.iter().enumerate().filter(|(_, c)| c.applies(attrs, overrides)).map(|(i, c)| (i, c.number))
    }
}

closed_set!(
    /// Where a system is in its life.
    Phase { Building = "building", PreProduction = "pre_production", Production = "production", Retired = "retired" }
);

closed_set!(
    /// 未着手 → 回答中 → 提出済 → 差戻し / 承認.
    SystemStatus { NotStarted = "not_started", Answering = "answering", Submitted = "submitted", Returned = "returned", Approved = "approved" }
);

closed_set!(
    /// The vendor's answer to one requirement.
    AnswerStatus { Done = "done", Partial = "partial", NotDone = "not_done", NotApplicable = "not_applicable" }
);

closed_set!(
    /// The officer's decision on one answer.
    Review { Pending = "pending", Approved = "approved", Returned = "returned" }
);

closed_set!(
    /// What a line of a system's history records.
    HistoryKind {
        Answer = "answer",
        Evidence = "evidence",
        EvidenceRemoved = "evidence_removed",
        Submit = "submit",
        Approve = "approve",
        Return = "return",
        ReviewFinished = "review_finished",
        RoundStarted = "round_started",
        // Back to review: the item's requirement is worded otherwise in the
        // catalog version the system moved to.
        RequirementChanged = "requirement_changed",
    }
);

/// What is wrong with an answer, field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerProblem {
    /// 対応済 and 一部対応 say what was done.
    MeasuresRequired,
    /// 一部対応 and 未対応 say when it will be done, or, when no date can be
    /// given (what is left is another party's), why not.
    PlannedDateRequired,
    /// 対象外 says why.
    ReasonRequired,
    TooLong,
    /// Control characters (a NUL, an escape sequence) or the marks that
    /// reorder text: what a page or an export shows must be what it is.
    HiddenCharacters,
}

/// An answer as the vendor gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerInput {
    pub status: AnswerStatus,
    pub measures: String,
    pub planned: Option<Date>,
    pub reason: String,
}

/// The longest a measures or reason text may be, in characters: room for a
/// page of explanation in Japanese, well inside an Excel cell (32,767).
pub const MAX_ANSWER_TEXT: usize = 10_000;

impl AnswerInput {
    /// 対応済, with what was done.
    pub fn done(measures: impl Into<String>) -> AnswerInput {
        AnswerInput { status: AnswerStatus::Done, measures: measures.into(), planned: None, reason: String::new() }
    }

    /// Every problem at once, with the field it belongs to.
    pub fn problems(&self) -> Vec<(&'static str, AnswerProblem)> {
        use AnswerStatus::*;
        let mut p = Vec::new();
        if matches!(self.status, Done | Partial) && self.measures.trim().is_empty() {
            p.push(("measures", AnswerProblem::MeasuresRequired));
        }
        if matches!(self.status, Partial | NotDone) && self.planned.is_none() && self.reason.trim().is_empty() {
            p.push(("planned_date", AnswerProblem::PlannedDateRequired));
        }
        if self.status == NotApplicable && self.reason.trim().is_empty() {
            p.push(("reason", AnswerProblem::ReasonRequired));
        }
        for (field, text) in [("measures", &self.measures), ("reason", &self.reason)] {
            if text.chars().count() > MAX_ANSWER_TEXT {
                p.push((field, AnswerProblem::TooLong));
            } else if text.chars().any(crate::text::hidden_in_lines) {
                p.push((field, AnswerProblem::HiddenCharacters));
            }
        }
        p
    }

    /// A planned date that has passed while the item is still not done.
    pub fn overdue(&self, today: Date) -> bool {
        matches!(self.status, AnswerStatus::Partial | AnswerStatus::NotDone) && self.planned.is_some_and(|d| d < today)
    }
}

/// How far one system's assessment has come. Counted here alone, for the
/// dashboard, the systems list and the system page alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub applicable: usize,
    pub answered: usize,
    pub approved: usize,
    pub returned: usize,
    pub not_done: usize,
    pub overdue: usize,
}

impl Progress {
    /// Counts one applicable requirement, with its answer and the decision
    /// on it, if answered.
    pub fn count(&mut self, answer: Option<(&AnswerInput, Review)>, today: Date) {
        self.applicable += 1;
        let Some((a, review)) = answer else { return };
        self.answered += 1;
        self.approved += usize::from(review == Review::Approved);
        self.returned += usize::from(review == Review::Returned);
        self.not_done += usize::from(a.status == AnswerStatus::NotDone);
        self.overdue += usize::from(a.overdue(today));
    }
}

/// Why a workflow step is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkflowError {
    /// The system is not in a state that allows it (e.g. editing after submission).
    NotNow(SystemStatus),
    /// These applicable requirements have no answer yet (or a returned one not re-answered).
    Unanswered(Vec<u32>),
    /// The review is not finished: these answers have no decision yet.
    Undecided(Vec<u32>),
    /// The system cannot enter this phase before these items, tied to
    /// that moment, are approved with their evidence attached.
    PhaseDuties(Phase, Vec<u32>),
    /// The system cannot enter this phase without a record of this kind
    /// (廃止 without the disposal record).
    MissingRecord(Phase, crate::records::RecordKind),
    /// The records of this kind are there, but the security office has
    /// approved none of them (廃止 on a disposal record still 確認待ち or
    /// returned).
    UnapprovedRecord(Phase, crate::records::RecordKind),
    /// A record the security office approved (now or before its last
    /// change) is removed by the office only: its keepers change it.
    RecordApproved,
    /// These items would start or stop applying, or change who answers
    /// them, while their answers are with the officer.
    ScopeSubmitted(Vec<u32>),
    /// The system is retired (廃止): its round is closed as it stood.
    Retired,
}

/// What a round's due date calls for on a given day, while the answers
/// are not yet submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundDue {
    /// Due within 30 days; `step` is the reminder it is at (30, 7 or 1
    /// days before), and 0 days left is the day itself.
    Soon {
        days_left: i64,
        step: u8,
    },
    Overdue {
        days_late: i64,
    },
}

/// The reminder of a round due on `due` for a system in `phase` and
/// `status`, on `today`: none once the answers are submitted, none more
/// than 30 days before, and none for a retired system (its yearly report
/// is not asked for either).
pub fn round_due(phase: Phase, status: SystemStatus, due: Option<Date>, today: Date) -> Option<RoundDue> {
    if phase == Phase::Retired
        || !matches!(status, SystemStatus::NotStarted | SystemStatus::Answering | SystemStatus::Returned)
    {
        return None;
    }
    let left = (due? - today).whole_days();
    match left {
        l if l < 0 => Some(RoundDue::Overdue { days_late: -l }),
        l if l <= 1 => Some(RoundDue::Soon { days_left: l, step: 1 }),
        l if l <= 7 => Some(RoundDue::Soon { days_left: l, step: 7 }),
        l if l <= 30 => Some(RoundDue::Soon { days_left: l, step: 30 }),
        _ => None,
    }
}

/// The items tied to the moment a system enters `phase`: the
/// vulnerability diagnosis (37) and its report (78) before it goes into
/// production, the disposal record (79) before it is retired.
pub fn phase_duties(phase: Phase) -> &'static [u32] {
    match phase {
        Phase::Production => &[37, 78],
        Phase::Retired => &[79],
        Phase::Building | Phase::PreProduction => &[],
    }
}

/// May a system go from phase `from` to `to`? Only when every duty of `to`
/// that applies to it is in `met` (対応済 approved, with evidence attached).
pub fn enter_phase(from: Phase, to: Phase, applicable: &[u32], met: &[u32]) -> Result<(), WorkflowError> {
    if from == to {
        return Ok(());
    }
    let missing: Vec<u32> =
        phase_duties(to).iter().copied().filter(|n| applicable.contains(n) && !met.contains(n)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(WorkflowError::PhaseDuties(to, missing))
    }
}

/// The duties of 本稼働 (No.37, No.78) a running system has never had
/// approved with evidence, in any round (`ever_met`), of those that apply
/// to it now. The gate of [`enter_phase`] holds when a system moves into
/// 本稼働; a system registered as already running, or one that became a web
/// system while running, passed no gate, and this names what it skipped.
pub fn unproven_duties(phase: Phase, applicable: &[u32], ever_met: &[u32]) -> Vec<u32> {
    if phase != Phase::Production {
        return Vec::new();
    }
    phase_duties(phase).iter().copied().filter(|n| applicable.contains(n) && !ever_met.contains(n)).collect()
}

/// Is a system's round still open, by its phase? A retired (廃止)
/// system's round is closed as it stood when it was retired: nothing in it
/// is answered, submitted, moved or decided any more, and no new round
/// starts (its servers are gone, with the disposal record of item 79).
/// Moving the system back to another phase opens it again.
pub fn round_open(phase: Phase) -> Result<(), WorkflowError> {
    match phase {
        Phase::Retired => Err(WorkflowError::Retired),
        Phase::Building | Phase::PreProduction | Phase::Production => Ok(()),
    }
}

/// May the vendor change answers now? Only while answering or returned.
pub fn can_answer(status: SystemStatus) -> Result<(), WorkflowError> {
    match status {
        SystemStatus::NotStarted | SystemStatus::Answering | SystemStatus::Returned => Ok(()),
        s => Err(WorkflowError::NotNow(s)),
    }
}

/// Whether what applies to a system, or who answers it, may change: the
/// items `changed` would start or stop applying or go to another party,
/// and `in_submitted` are those of them whose part (before or after) is
/// submitted. Refused while any of them is with the officer: the whole
/// system submitted, or the part submitted (an item added to it could be
/// answered by no one, and the review could not end). An approved round
/// stands as it was decided; the change is answered in the next round.
pub fn can_change_scope(status: SystemStatus, changed: &[u32], in_submitted: &[u32]) -> Result<(), WorkflowError> {
    match status {
        SystemStatus::Approved => Ok(()),
        SystemStatus::Submitted if !changed.is_empty() => Err(WorkflowError::ScopeSubmitted(changed.to_vec())),
        _ if !in_submitted.is_empty() => Err(WorkflowError::ScopeSubmitted(in_submitted.to_vec())),
        _ => Ok(()),
    }
}

/// The status after a draft answer is saved.
pub fn after_answer(status: SystemStatus) -> Result<SystemStatus, WorkflowError> {
    can_answer(status)?;
    Ok(match status {
        SystemStatus::NotStarted => SystemStatus::Answering,
        s => s,
    })
}

/// Any change to an answer (its text, its status or its evidence) while
/// the vendor may answer: the system's next status, and the item's review.
/// An item the officer approved or returned goes back to 審査待ち, so no
/// content reaches 承認 without a decision on exactly that content.
pub fn after_change(status: SystemStatus, review: Review) -> Result<(SystemStatus, Review), WorkflowError> {
    let next = after_answer(status)?;
    let review = match review {
        Review::Pending | Review::Approved | Review::Returned => Review::Pending,
    };
    Ok((next, review))
}

/// One applicable requirement as the workflow sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemState {
    pub number: u32,
    pub answered: bool,
    /// The decision on the answer's current revision; `Pending` when the
    /// decision was made on an earlier revision.
    pub review: Review,
}

/// The workflow's view of each applicable requirement, from the decisions
/// on the answers given so far (an unanswered item has none).
pub fn item_states(applicable: &[u32], decided: &std::collections::BTreeMap<u32, Review>) -> Vec<ItemState> {
    applicable
        .iter()
        .map(|n| match decided.get(n) {
            Some(review) => ItemState { number: *n, answered: true, review: *review },
            None => ItemState { number: *n, answered: false, review: Review::Pending },
        })
        .collect()
}

/// Submitting the whole system: every applicable item answered, and no
/// item still returned (a returned item is answered again before it goes
/// back to the officer).
pub fn submit(status: SystemStatus, items: &[ItemState]) -> Result<SystemStatus, WorkflowError> {
    can_answer(status)?;
    let missing: Vec<u32> =
        items.iter().filter(|i| !i.answered || i.review == Review::Returned).map(|i| i.number).collect();
    if !missing.is_empty() {
        return Err(WorkflowError::Unanswered(missing));
    }
    Ok(SystemStatus::Submitted)
}

/// May the items of one part change now? While the system may be answered
/// and the part is not submitted (a submitted part waits for the officer,
/// as a submitted system does).
pub fn can_change_part(status: SystemStatus, part_submitted: bool) -> Result<(), WorkflowError> {
    can_answer(status)?;
    if part_submitted {
        return Err(WorkflowError::NotNow(SystemStatus::Submitted));
    }
    Ok(())
}

/// One organisation submits its part: every item of it answered, none
/// still returned, not twice. The system is submitted when this was the
/// last part out (`others_open` false); otherwise it goes on being answered.
pub fn submit_part(
    status: SystemStatus,
    part: &[ItemState],
    part_submitted: bool,
    others_open: bool,
) -> Result<SystemStatus, WorkflowError> {
    can_change_part(status, part_submitted)?;
    submit(status, part)?;
    if others_open {
        after_answer(status)
    } else {
        Ok(SystemStatus::Submitted)
    }
}

/// The officer may decide on an item once it is theirs: the whole system
/// submitted, or the item's part submitted, reviewed as it arrives.
pub fn can_review_item(status: SystemStatus, part_submitted: bool) -> Result<(), WorkflowError> {
    match status {
        SystemStatus::Submitted => Ok(()),
        SystemStatus::Answering | SystemStatus::Returned if part_submitted => Ok(()),
        s => Err(WorkflowError::NotNow(s)),
    }
}

/// The officer may decide on items only while the system is submitted.
pub fn can_review(status: SystemStatus) -> Result<(), WorkflowError> {
    match status {
        SystemStatus::Submitted => Ok(()),
        s => Err(WorkflowError::NotNow(s)),
    }
}

/// Finishing the review: any returned item sends the system back to the
/// vendor; otherwise, once every item is approved, it is approved.
pub fn finish_review(status: SystemStatus, items: &[ItemState]) -> Result<SystemStatus, WorkflowError> {
    can_review(status)?;
    let undecided: Vec<u32> = items.iter().filter(|i| i.review == Review::Pending).map(|i| i.number).collect();
    if items.iter().any(|i| i.review == Review::Returned) {
        return Ok(SystemStatus::Returned);
    }
    if !undecided.is_empty() {
        return Err(WorkflowError::Undecided(undecided));
    }
    Ok(SystemStatus::Approved)
}

/// A new assessment round (the yearly re-check) starts from an approved
/// one, or from the answers as last submitted when the review never ended
/// (the year has turned); never from answers being changed.
pub fn start_round(status: SystemStatus) -> Result<SystemStatus, WorkflowError> {
    match status {
        SystemStatus::Approved | SystemStatus::Submitted => Ok(SystemStatus::Answering),
        s => Err(WorkflowError::NotNow(s)),
    }
}

/// A system moves to another catalog version only while nothing is with
/// the officer: not submitted, and no party's part submitted (its answers
/// were given to the requirements of the version it has). Nor once
/// approved: the approved round stands as it was answered and approved,
/// and the next round (decisions cleared) may move. Items already approved
/// in an open round whose requirement is worded otherwise in the new
/// version go back to review ([`crate::catalog::CatalogDiff::reworded`]).
pub fn can_change_catalog(status: SystemStatus, parts_submitted: bool) -> Result<(), WorkflowError> {
    match status {
        SystemStatus::Submitted | SystemStatus::Approved => Err(WorkflowError::NotNow(status)),
        _ if parts_submitted => Err(WorkflowError::NotNow(status)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
    use AnswerStatus::*;
    use SystemStatus::*;

    fn item(number: u32, answered: bool, review: Review) -> ItemState {
        ItemState { number, answered, review }
    }

    #[test]
    fn overrides_win_over_the_catalog() {
        let reqs = crate::catalog::CatalogFile::shipped().requirements;
        let plain = SystemAttributes::default();
        let base: Vec<u32> = applicable(&reqs, &plain, &[]).iter().map(|r| r.number).collect();
        assert_eq!(base.len(), 29, "1-12, 15-30, 79");
        let with: Vec<u32> = applicable(&reqs, &plain, &[(13, true), (79, false)]).iter().map(|r| r.number).collect();
        assert!(with.contains(&13) && !with.contains(&79));
        let web = SystemAttributes { web_system: true, ..plain };
        assert_eq!(applicable(&reqs, &web, &[]).len(), 29 + 37, "31-40, 42-57, 62-71, 78");
    }

    #[test]
    fn rounds_start_from_approval_or_the_last_submission() {
        assert_eq!(start_round(Approved), Ok(Answering));
        assert_eq!(start_round(Submitted), Ok(Answering), "from the answers as last submitted");
        for s in [NotStarted, Answering, Returned] {
            assert_eq!(start_round(s), Err(WorkflowError::NotNow(s)));
        }
        assert!(can_change_catalog(Submitted, false).is_err() && can_change_catalog(Approved, false).is_err());
        assert!(can_change_catalog(Returned, false).is_ok() && can_change_catalog(Returned, true).is_err());
        assert!(can_change_catalog(Answering, true).is_err() && can_change_catalog(Answering, false).is_ok());
    }

    #[test]
    fn what_applies_changes_only_outside_a_submitted_part() {
        let scope = WorkflowError::ScopeSubmitted;
        assert_eq!(can_change_scope(Submitted, &[13], &[]), Err(scope(vec![13])), "a new party's item too");
        assert_eq!(can_change_scope(Answering, &[13, 15], &[15]), Err(scope(vec![15])));
        assert_eq!(can_change_scope(Returned, &[15], &[15]), Err(scope(vec![15])));
        for s in [NotStarted, Answering, Returned] {
            assert_eq!(can_change_scope(s, &[13], &[]), Ok(()), "{s:?}");
        }
        assert_eq!(can_change_scope(Approved, &[13, 15], &[13, 15]), Ok(()), "answered in the next round");
        assert_eq!(can_change_scope(Submitted, &[], &[]), Ok(()), "nothing changes");
    }

    #[test]
    fn codes_round_trip() {
        for s in SystemStatus::ALL {
            assert_eq!(SystemStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(AnswerStatus::parse("done"), Some(Done));
        assert_eq!(Phase::parse("x"), None);
    }

    #[test]
    fn answer_rules_table() {
        type Case<'a> = (AnswerStatus, &'a str, Option<Date>, &'a str, &'a [&'a str]);
        let cases: &[Case] = &[
            (Done, "TLS1.2以上のみ", None, "", &[]),
            (Done, " ", None, "", &["measures"]),
            (Partial, "一部", Some(date!(2027 - 03 - 31)), "", &[]),
            (Partial, "", None, "", &["measures", "planned_date"]),
            (NotDone, "", Some(date!(2027 - 03 - 31)), "", &[]),
            (NotDone, "", None, "", &["planned_date"]),
            (NotDone, "", None, " ", &["planned_date"]),
            (NotDone, "", None, "運用者が対応する項目", &[]),
            (Partial, "一部", None, "残りは運用者が対応する", &[]),
            (NotApplicable, "", None, "クラウドを使わない", &[]),
            (NotApplicable, "", None, "", &["reason"]),
        ];
        for (status, measures, planned, reason, want) in cases {
            let a = AnswerInput {
                status: *status,
                measures: (*measures).into(),
                planned: *planned,
                reason: (*reason).into(),
            };
            let got: Vec<&str> = a.problems().into_iter().map(|(f, _)| f).collect();
            assert_eq!(got, *want, "{status:?}");
        }
    }

    #[test]
    fn a_retired_system_s_round_is_closed_and_every_other_phase_s_open() {
        assert_eq!(super::round_open(Phase::Retired), Err(WorkflowError::Retired));
        for phase in [Phase::Building, Phase::PreProduction, Phase::Production] {
            assert_eq!(super::round_open(phase), Ok(()), "{phase:?}");
        }
    }

    #[test]
    fn round_reminders_fall_30_7_and_1_days_before_and_stop_at_submission_or_retirement() {
        let due = Some(date!(2027 - 03 - 31));
        let round_due = |s, due, d| round_due(Phase::Production, s, due, d);
        let on = |d: Date| round_due(Answering, due, d);
        assert_eq!(on(date!(2027 - 02 - 28)), None, "31 days before");
        assert_eq!(on(date!(2027 - 03 - 01)), Some(RoundDue::Soon { days_left: 30, step: 30 }));
        assert_eq!(on(date!(2027 - 03 - 23)), Some(RoundDue::Soon { days_left: 8, step: 30 }));
        assert_eq!(on(date!(2027 - 03 - 24)), Some(RoundDue::Soon { days_left: 7, step: 7 }));
        assert_eq!(on(date!(2027 - 03 - 30)), Some(RoundDue::Soon { days_left: 1, step: 1 }));
        assert_eq!(on(date!(2027 - 03 - 31)), Some(RoundDue::Soon { days_left: 0, step: 1 }));
        assert_eq!(on(date!(2027 - 04 - 02)), Some(RoundDue::Overdue { days_late: 2 }));
        for s in [Submitted, Approved] {
            assert_eq!(round_due(s, due, date!(2027 - 04 - 02)), None, "{s:?}: submitted, nothing to remind");
        }
        assert_eq!(round_due(Returned, due, date!(2027 - 04 - 02)), Some(RoundDue::Overdue { days_late: 2 }));
        assert_eq!(round_due(Answering, None, date!(2027 - 04 - 02)), None, "no due date, no reminder");
        for phase in [Phase::Building, Phase::PreProduction] {
            assert!(super::round_due(phase, Answering, due, date!(2027 - 04 - 02)).is_some(), "{phase:?}");
        }
        for d in [date!(2027 - 03 - 24), date!(2027 - 04 - 02)] {
            assert_eq!(super::round_due(Phase::Retired, Answering, due, d), None, "retired: nothing to remind");
        }
    }

    #[test]
    fn phases_wait_for_their_duties_approved_with_evidence() {
        use Phase::*;
        let web: Vec<u32> = (1..=79).collect();
        let plain: Vec<u32> = (1..=30).chain([79]).collect();
        assert_eq!(
            enter_phase(Building, Production, &web, &[]),
            Err(WorkflowError::PhaseDuties(Production, vec![37, 78]))
        );
        assert_eq!(
            enter_phase(Building, Production, &web, &[37]),
            Err(WorkflowError::PhaseDuties(Production, vec![78]))
        );
        assert_eq!(enter_phase(PreProduction, Production, &web, &[37, 78]), Ok(()));
        assert_eq!(enter_phase(Building, Production, &plain, &[]), Ok(()), "37 and 78 are web items");
        assert_eq!(
            enter_phase(Production, Retired, &plain, &[37, 78]),
            Err(WorkflowError::PhaseDuties(Retired, vec![79]))
        );
        assert_eq!(enter_phase(Production, Retired, &plain, &[79]), Ok(()));
        assert_eq!(enter_phase(Building, PreProduction, &web, &[]), Ok(()), "no duty before acceptance testing");
        assert_eq!(enter_phase(Production, Production, &web, &[]), Ok(()), "no move, no gate");
    }

    #[test]
    fn a_running_web_system_names_the_duties_of_production_it_never_had_approved() {
        use Phase::*;
        let web: Vec<u32> = (1..=79).collect();
        let plain: Vec<u32> = (1..=30).chain([79]).collect();
        assert_eq!(unproven_duties(Production, &web, &[]), vec![37, 78]);
        assert_eq!(unproven_duties(Production, &web, &[78]), vec![37]);
        assert_eq!(unproven_duties(Production, &web, &[37, 78]), Vec::<u32>::new());
        assert_eq!(unproven_duties(Production, &plain, &[]), Vec::<u32>::new(), "37 and 78 are web items");
        for before in [Building, PreProduction, Retired] {
            assert_eq!(unproven_duties(before, &web, &[]), Vec::<u32>::new(), "{before:?}: no gate passed or skipped");
        }
    }

    #[test]
    fn answers_hold_ten_thousand_characters_and_no_more() {
        let at = |n: usize| AnswerInput {
            status: NotApplicable,
            measures: "対".repeat(n),
            planned: None,
            reason: "理".repeat(n.max(1)),
        };
        assert!(at(10_000).problems().is_empty());
        let got: Vec<(&str, AnswerProblem)> = at(10_001).problems();
        assert_eq!(got, vec![("measures", AnswerProblem::TooLong), ("reason", AnswerProblem::TooLong)]);
    }

    #[test]
    fn answers_hold_line_ends_and_tabs_but_no_control_characters_or_reordering_marks() {
        let with = |measures: &str, reason: &str| AnswerInput {
            status: NotApplicable,
            measures: measures.into(),
            planned: None,
            reason: reason.into(),
        };
        assert!(with("一行目\n二行目\r\n\t三行目", "理由").problems().is_empty());
        for bad in ["a\0b", "a\u{1b}[2Jb", "請求書\u{202E}fdp.exe", "\u{2066}x"] {
            let got = with(bad, &format!("理由{bad}")).problems();
            let want = vec![("measures", AnswerProblem::HiddenCharacters), ("reason", AnswerProblem::HiddenCharacters)];
            assert_eq!(got, want, "{bad:?}");
        }
    }

    #[test]
    fn progress_counts_each_item_once() {
        let today = date!(2026 - 11 - 28);
        let late = AnswerInput {
            status: NotDone,
            measures: String::new(),
            planned: Some(date!(2026 - 11 - 01)),
            reason: String::new(),
        };
        let done = AnswerInput { status: Done, measures: "x".into(), planned: None, reason: String::new() };
        let mut p = Progress::default();
        p.count(None, today);
        p.count(Some((&late, Review::Returned)), today);
        p.count(Some((&done, Review::Approved)), today);
        p.count(Some((&done, Review::Pending)), today);
        assert_eq!(p, Progress { applicable: 4, answered: 3, approved: 1, returned: 1, not_done: 1, overdue: 1 });
    }

    #[test]
    fn overdue_only_when_not_done_and_past() {
        let a = AnswerInput {
            status: NotDone,
            measures: String::new(),
            planned: Some(date!(2026 - 11 - 01)),
            reason: String::new(),
        };
        assert!(a.overdue(date!(2026 - 11 - 28)));
        assert!(!a.overdue(date!(2026 - 10 - 28)));
        let done = AnswerInput { status: Done, ..a };
        assert!(!done.overdue(date!(2026 - 11 - 28)));
    }

    #[test]
    fn any_change_puts_a_decided_item_back_to_pending() {
        for review in [Review::Pending, Review::Approved, Review::Returned] {
            assert_eq!(after_change(Returned, review), Ok((Returned, Review::Pending)), "{review:?}");
            assert_eq!(after_change(Answering, review), Ok((Answering, Review::Pending)));
            assert_eq!(after_change(NotStarted, review), Ok((Answering, Review::Pending)));
            assert_eq!(after_change(Submitted, review), Err(WorkflowError::NotNow(Submitted)));
            assert_eq!(after_change(Approved, review), Err(WorkflowError::NotNow(Approved)));
        }
    }

    #[test]
    fn each_part_is_submitted_on_its_own_and_the_last_one_submits_the_system() {
        let done = [item(7, true, Review::Pending), item(15, true, Review::Pending)];
        assert_eq!(submit_part(NotStarted, &done, false, true), Ok(Answering), "others still answer");
        assert_eq!(submit_part(Answering, &done, false, false), Ok(Submitted), "the last part out");
        assert_eq!(submit_part(Answering, &done, true, true), Err(WorkflowError::NotNow(Submitted)), "not twice");
        let half = [item(7, true, Review::Pending), item(15, false, Review::Pending)];
        assert_eq!(submit_part(Answering, &half, false, false), Err(WorkflowError::Unanswered(vec![15])));
        let returned = [item(7, true, Review::Returned)];
        assert_eq!(submit_part(Returned, &returned, false, false), Err(WorkflowError::Unanswered(vec![7])));
        assert_eq!(submit_part(Returned, &done, false, true), Ok(Returned), "back with the others");
        assert_eq!(submit_part(Approved, &done, false, false), Err(WorkflowError::NotNow(Approved)));

        assert_eq!(can_change_part(Answering, false), Ok(()));
        assert_eq!(can_change_part(Answering, true), Err(WorkflowError::NotNow(Submitted)), "a part sent is frozen");
        assert_eq!(can_change_part(Submitted, false), Err(WorkflowError::NotNow(Submitted)));

        assert_eq!(can_review_item(Submitted, false), Ok(()));
        assert_eq!(can_review_item(Answering, true), Ok(()), "a part reviewed as it arrives");
        assert_eq!(can_review_item(Returned, true), Ok(()));
        assert_eq!(can_review_item(Answering, false), Err(WorkflowError::NotNow(Answering)));
        assert_eq!(can_review_item(Approved, true), Err(WorkflowError::NotNow(Approved)));
        assert_eq!(can_review_item(NotStarted, true), Err(WorkflowError::NotNow(NotStarted)));
    }

    #[test]
    fn workflow_table() {
        assert_eq!(after_answer(NotStarted), Ok(Answering));
        assert_eq!(after_answer(Returned), Ok(Returned));
        assert_eq!(after_answer(Submitted), Err(WorkflowError::NotNow(Submitted)));
        assert_eq!(after_answer(Approved), Err(WorkflowError::NotNow(Approved)));

        let all = [item(1, true, Review::Pending), item(2, true, Review::Pending)];
        assert_eq!(submit(Answering, &all), Ok(Submitted));
        assert_eq!(
            submit(Answering, &[item(1, true, Review::Pending), item(2, false, Review::Pending)]),
            Err(WorkflowError::Unanswered(vec![2]))
        );
        assert_eq!(submit(Submitted, &all), Err(WorkflowError::NotNow(Submitted)));

        // Returned items must be answered again before resubmitting; an
        // answered-again item is pending.
        let returned = [item(1, true, Review::Approved), item(2, true, Review::Returned)];
        assert_eq!(submit(Returned, &returned), Err(WorkflowError::Unanswered(vec![2])));
        let revised = [item(1, true, Review::Approved), item(2, true, Review::Pending)];
        assert_eq!(submit(Returned, &revised), Ok(Submitted));

        assert_eq!(
            finish_review(Submitted, &[item(1, true, Review::Approved), item(2, true, Review::Returned)]),
            Ok(Returned)
        );
        assert_eq!(
            finish_review(Submitted, &[item(1, true, Review::Approved), item(2, true, Review::Approved)]),
            Ok(Approved)
        );
        assert_eq!(
            finish_review(Submitted, &[item(1, true, Review::Approved), item(2, true, Review::Pending)]),
            Err(WorkflowError::Undecided(vec![2]))
        );
        assert_eq!(finish_review(Answering, &all), Err(WorkflowError::NotNow(Answering)));
    }
}
