//! A system's records (items 8, 10–13, 19–21, 69–79): seen by those who
//! may see the system (the contact chart too, and no one else), kept by
//! the department and the vendors that answer it; dates watched and warned
//! about like support ends.

use crate::checklist::system;
use crate::inventory::keeps;
use crate::{Op, Refused};
use mamori_core::identity::Permission;
use mamori_core::inventory::{support, Support};
use mamori_core::records::{due, RecordKind, RecordReview, Values};
use mamori_store::records::{Editing, Keeper, Record, RecordDocument};
use mamori_store::systems::{SystemFilter, SystemRecord};
use mamori_store::{Seen, StoreError};

/// The most records of one kind a system may have.
pub use mamori_core::records::MAX_PER_KIND;

pub struct Records {
    pub system: SystemRecord,
    pub records: Vec<Record>,
    /// May keep records of the system: add them, and change or remove
    /// those it keeps ([`Records::keeps`]).
    pub editable: bool,
    /// Keeps every record of the system (its department, the console), not
    /// only its organisation's (a vendor).
    pub every_record: bool,
    /// The person's organisation.
    pub organisation_id: Option<i64>,
    /// May approve or return records (the security office).
    pub reviewable: bool,
    /// The ISMAP list as imported (empty: none imported), by number.
    pub ismap: std::collections::HashMap<String, (String, String)>,
    /// The library documents behind the records.
    pub documents: Vec<RecordDocument>,
    /// The person's own library, to choose documents from: id and title
    /// (empty when they keep no records or have no organisation).
    pub library: Vec<(i64, String)>,
}

/// What the ISMAP list says of a record's registration number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsmapCheck {
    /// No number in the record.
    NoNumber,
    /// No list imported yet.
    NoList,
    /// Listed: the service and its provider.
    Listed(String, String),
    NotListed,
}

impl Records {
    /// The person as the keeper of records, linking `documents`.
    pub fn keeper<'a>(&self, documents: &'a [i64]) -> Keeper<'a> {
        Keeper { organisation_id: self.organisation_id, every_record: self.every_record, documents }
    }

    /// May the person change or remove `r`? The department that owns the
    /// system, any of its records; a vendor, its own organisation's (not
    /// another vendor's, nor the department's).
    pub fn keeps(&self, r: &Record) -> bool {
        self.editable && self.keeper(&[]).keeps(r)
    }

    /// The documents behind record `id`.
    pub fn documents_of(&self, id: i64) -> impl Iterator<Item = &RecordDocument> {
        self.documents.iter().filter(move |d| d.record_id == id)
    }

    pub fn ismap_check(&self, r: &Record) -> IsmapCheck {
        let raw = match r.kind {
            RecordKind::Site => r.values.get("ismap_number"),
            RecordKind::Certification if r.values.get("scheme") == "ismap" => r.values.get("cert_number"),
            _ => "",
        };
        let number = mamori_core::records::ismap_number(raw);
        if number.is_empty() {
            IsmapCheck::NoNumber
        } else if self.ismap.is_empty() {
            IsmapCheck::NoList
        } else {
            match self.ismap.get(&number) {
                Some((service, provider)) => IsmapCheck::Listed(service.clone(), provider.clone()),
                None => IsmapCheck::NotListed,
            }
        }
    }
}

pub async fn records(op: &Op<'_>, system_id: i64) -> Result<Records, Refused> {
    let system = system(op, system_id).await?;
    let records = op.store.records(system_id).await?;
    let editable = keeps(op, &system);
    let every_record =
        editable && (op.who.account_id.is_none() || op.who.organisation_id == Some(system.input.department_id));
    let organisation_id = op.who.organisation_id;
    let reviewable = op.who.role.can(Permission::ReviewAnswers);
    let ismap = op.store.ismap_list().await?;
    let documents = op.store.record_documents(system_id).await?;
    let library = match (editable, op.who.organisation_id) {
        (true, Some(org)) => op.store.document_titles(org).await?,
        _ => Vec::new(),
    };
    Ok(Records { system, records, editable, every_record, organisation_id, reviewable, ismap, documents, library })
}

async fn kept(op: &Op<'_>, system_id: i64) -> Result<Records, Refused> {
    let r = records(op, system_id).await?;
    if r.editable {
        Ok(r)
    } else {
        Err(Refused::NotFound)
    }
}

/// Adds a record (`id` None) or changes one of the system's, linked to
/// `documents` of the person's library (links to others' documents stay).
/// A change sets the record back to pending review; one saved since the
/// revision its form showed is [`Refused::Stale`].
pub async fn save(
    op: &Op<'_>,
    system_id: i64,
    id: Option<Editing>,
    kind: RecordKind,
    values: &Values,
    documents: &[i64],
) -> Result<i64, Refused> {
    let r = kept(op, system_id).await?;
    if id.is_some_and(|e| !r.records.iter().any(|x| x.id == e.id && r.keeps(x))) {
        return Err(Refused::NotFound);
    }
    if id.is_none() && r.records.iter().filter(|x| x.kind == kind).count() >= MAX_PER_KIND {
        return Err(Refused::Invalid("too_many_records"));
    }
    if documents.len() > MAX_DOCUMENTS || documents.iter().any(|d| !r.library.iter().any(|(id, _)| id == d)) {
        return Err(Refused::Invalid("documents"));
    }
    match op.store.save_record(&op.ctx(), system_id, id, kind, values, r.keeper(documents)).await {
        // Counted again under the system's lock: adds sent at once each
        // passed the count above.
        Err(StoreError::Limit(_)) => Err(Refused::Invalid("too_many_records")),
        saved => Ok(saved?),
    }
}

/// The most documents behind one record.
pub const MAX_DOCUMENTS: usize = 20;

/// The security office approves a record or returns it with a note (a
/// note is required to return).
/// The office's decision on record `id` of system `system_id` as it was
/// shown (`seen`): one saved since, or decided on by another officer
/// meanwhile, is [`Refused::Stale`].
pub async fn review(
    op: &Op<'_>,
    (system_id, id, seen): (i64, i64, &Seen),
    decision: RecordReview,
    note: &str,
) -> Result<(), Refused> {
    op.require(Permission::ReviewAnswers)?;
    system(op, system_id).await?;
    let note = note.trim();
    if decision == RecordReview::Pending
        || (decision == RecordReview::Returned && note.is_empty())
        || note.chars().count() > 1000
        || note.chars().any(mamori_core::text::hidden_in_lines)
    {
        return Err(Refused::Invalid("review_note"));
    }
    Ok(op.store.review_record(&op.ctx(), (system_id, id, seen), decision, note).await?)
}

/// Removes a record: one who keeps it ([`Records::keeps`]), if the office
/// has not approved it; the security office, any.
pub async fn remove(op: &Op<'_>, system_id: i64, id: i64) -> Result<(), Refused> {
    if op.who.can(Permission::ReviewAnswers) {
        system(op, system_id).await?;
        return Ok(op.store.remove_record(&op.ctx(), system_id, id, None).await?);
    }
    // Only who may keep the system's records, and this one.
    let r = kept(op, system_id).await?;
    if !r.records.iter().any(|x| x.id == id && r.keeps(x)) {
        return Err(Refused::NotFound);
    }
    Ok(op.store.remove_record(&op.ctx(), system_id, id, Some(r.keeper(&[]))).await?)
}

/// A record with its system's name and how close its date is.
pub struct DatedRecord {
    pub system_name: String,
    pub record: Record,
    pub support: Support,
}

fn state_of(r: &Record, today: time::Date) -> Support {
    match due(r.kind, &r.values) {
        Some((date, before)) => support(Some(date), today, before.max(0) as u32),
        None => Support::Unknown,
    }
}

/// How close a record's date is today.
pub fn state_now(r: &Record, now: time::OffsetDateTime) -> Support {
    state_of(r, mamori_core::jst::day(now))
}

/// The dated records of the systems the person sees, soonest first.
pub async fn dated(op: &Op<'_>) -> Result<Vec<DatedRecord>, Refused> {
    let systems = crate::checklist::systems(op, &SystemFilter::default()).await?;
    let names: std::collections::HashMap<i64, &str> = systems.iter().map(|s| (s.id, s.input.name.as_str())).collect();
    let today = mamori_core::jst::day(op.now);
    Ok(op
        .store
        .dated_records(crate::inventory::seen_ids(op, &systems).as_deref())
        .await?
        .into_iter()
        .filter_map(|r| {
            let system_name = (*names.get(&r.system_id)?).to_owned();
            Some(DatedRecord { system_name, support: state_of(&r, today), record: r })
        })
        .collect())
}

/// The daily check (a job): an alert for each record whose date comes
/// within its warning window (`record.due_soon`) and once it has passed
/// (`record.overdue`, critical), once per step and date.
pub async fn warn_records(store: &mamori_store::Store, now: time::OffsetDateTime) -> Result<usize, StoreError> {
    use mamori_core::monitoring::{Severity, RECORD_DUE_SOON, RECORD_OVERDUE};
    let names = crate::system_names(store).await?;
    let today = mamori_core::jst::day(now);
    let mut raised = 0;
    for r in store.dated_records(None).await? {
        let s = state_of(&r, today);
        let (kind, severity, detail) = match s {
            Support::Ending { on, days } => {
                (RECORD_DUE_SOON, Severity::Warning, format!("期日まで {days} 日 ({on}) (due in {days} days)"))
            }
            Support::Ended { on } => {
                (RECORD_OVERDUE, Severity::Critical, format!("期日を過ぎました ({on} から) (overdue)"))
            }
            Support::Unknown | Support::Supported { .. } => continue,
        };
        if !s.newly_due(r.warned) {
            continue;
        }
        let system = names.get(&r.system_id).map_or("", String::as_str);
        // A backup is watched by its restore test: say so.
        let what = if r.kind == RecordKind::Backup { "バックアップ (復元テスト)" } else { r.kind.word() };
        let (subject, key) = mamori_store::auditlog::about_system(r.system_id, system, &format!("{what} {}", r.title));
        let alert =
            mamori_store::auditlog::Raise { now, kind, severity, subject: &subject, detail: &detail, key: Some(&key) };
        if store.mark_record_warned(r.id, s.state(), &alert).await? {
            raised += 1;
        }
    }
    Ok(raised)
}
