//! A system's records (items 8, 10–13, 19–21, 69–79): the list by kind,
//! one form for every kind drawn from the kind's fields, and the records
//! coming due across the systems a person sees.

use crate::forms::{field_message, FormErrors, Pairs};
use crate::handlers::{done, html, jst, Acting, Reply};
use crate::i18n::Label;
use crate::page::{Page, PageCtx};
use crate::record_labels::{record_choice_key, record_field_key};
use askama::Template;
use axum::extract::{Path, Query};
use axum::Form;
use mamori_app::records as ops;
use mamori_app::Refused;
use mamori_core::checklist::WorkflowError;
use mamori_core::inventory::Support;
use mamori_core::records::{parse, FieldType, RecordKind, RecordReview, Values};
use mamori_store::records::{Editing, Record};
use mamori_store::Seen;
use serde::Deserialize;
use std::collections::HashMap;

/// A field as the form shows it.
pub struct FieldView {
    name: &'static str,
    label: String,
    /// `text`, `textarea`, `date`, `url`, `tel`, `number`, `select`.
    input: &'static str,
    value: String,
    options: Vec<(&'static str, String)>,
    required: bool,
    max: usize,
}

fn fields(page: &Page, kind: RecordKind, values: &(dyn Fn(&str) -> String + Sync)) -> Vec<FieldView> {
    let t = page.t();
    kind.fields()
        .iter()
        .map(|f| {
            let (input, options, max): (&'static str, Vec<(&'static str, String)>, usize) = match f.ty {
                FieldType::Text(max) => ("text", vec![], max),
                FieldType::Multiline(max) => ("textarea", vec![], max),
                FieldType::Date => ("date", vec![], 10),
                FieldType::Url => ("url", vec![], 2_000),
                FieldType::Phone => ("tel", vec![], 30),
                FieldType::Email => ("email", vec![], 254),
                FieldType::Number(_, _) => ("number", vec![], 10),
                FieldType::Choice(codes) => {
                    ("select", codes.iter().map(|c| (*c, t.get(record_choice_key(c)))).collect(), 0)
                }
                FieldType::YesNo => {
                    ("select", ["yes", "no"].iter().map(|c| (*c, t.get(record_choice_key(c)))).collect(), 0)
                }
            };
            FieldView {
                name: f.name,
                label: t.get(record_field_key(f.name)),
                input,
                value: values(f.name),
                options,
                required: f.required,
                max,
            }
        })
        .collect()
}

/// A record as a list shows it: its values in words.
pub struct RecordRow {
    id: i64,
    revision: i64,
    /// The mark of the decision it bears ([`Record::seen`]).
    decided: String,
    system_id: i64,
    system: String,
    kind_key: &'static str,
    title: String,
    /// (label, value) of every field with a value.
    values: Vec<(String, String)>,
    due: String,
    /// `ended`, `ending` or empty.
    state: &'static str,
    state_text: String,
    updated: String,
    /// What the ISMAP list says of its number, and whether that calls for attention.
    ismap: Option<(String, bool)>,
    /// `pending`, `approved` or `returned`, and in words with who decided.
    review: &'static str,
    review_text: String,
    review_note: String,
    /// Library documents behind it: title, revision to download, removed from the library.
    documents: Vec<(String, i64, bool)>,
    /// The person may change it (the department's or their own organisation's).
    editable: bool,
}

fn shown(page: &Page, kind: RecordKind, v: &Values) -> Vec<(String, String)> {
    let t = page.t();
    kind.fields()
        .iter()
        .filter(|f| !v.get(f.name).is_empty())
        .map(|f| {
            let raw = v.get(f.name);
            let value = match f.ty {
                FieldType::Choice(_) | FieldType::YesNo => t.get(record_choice_key(raw)),
                _ => raw.to_owned(),
            };
            (t.get(record_field_key(f.name)), value)
        })
        .collect()
}

fn record_row(page: &Page, r: &Record, system: &str, s: Support) -> RecordRow {
    let t = page.t();
    let (state, state_text) = match s {
        Support::Ended { .. } => ("ended", t.get("records-overdue")),
        Support::Ending { days, .. } => ("ending", t.with("inventory-days-left", &[("days", &days.to_string())])),
        _ => ("", String::new()),
    };
    let title =
        if r.kind == RecordKind::Contact { format!("{} {}", t.get("rf-order"), r.title) } else { r.title.clone() };
    RecordRow {
        id: r.id,
        revision: r.revision,
        decided: r.seen().decision,
        system_id: r.system_id,
        system: system.to_owned(),
        kind_key: r.kind.key(),
        title,
        values: shown(page, r.kind, &r.values),
        due: r.due_on.map(|d| d.to_string()).unwrap_or_default(),
        state,
        state_text,
        updated: format!("{} {}", jst(Some(r.updated_at)), r.updated_by),
        ismap: None,
        review: r.review.as_str(),
        review_text: review_text(page, r),
        review_note: r.review_note.clone(),
        documents: Vec::new(),
        editable: false,
    }
}

fn review_text(page: &Page, r: &Record) -> String {
    let t = page.t();
    let by = r.reviewed.as_ref().map(|(by, at)| format!("{} {by}", jst(Some(*at)))).unwrap_or_default();
    match r.review {
        RecordReview::Pending if r.changed_after_approval => t.get("records-changed-after-approval"),
        RecordReview::Pending => t.get("records-pending"),
        RecordReview::Approved => t.with("records-approved", &[("by", &by)]),
        RecordReview::Returned => t.with("records-returned", &[("by", &by)]),
    }
}

fn ismap_text(page: &Page, c: ops::IsmapCheck) -> Option<(String, bool)> {
    let t = page.t();
    match c {
        ops::IsmapCheck::NoNumber => None,
        ops::IsmapCheck::NoList => Some((t.get("ismap-no-list"), false)),
        ops::IsmapCheck::Listed(service, provider) => {
            Some((t.with("ismap-listed", &[("service", &service), ("provider", &provider)]), false))
        }
        ops::IsmapCheck::NotListed => Some((t.get("ismap-not-listed"), true)),
    }
}

/// A kind's section of the list.
pub struct KindSection {
    code: &'static str,
    key: &'static str,
    items: String,
    rows: Vec<RecordRow>,
}

fn items(kind: RecordKind) -> String {
    kind.items().iter().map(|n| format!("No.{n}")).collect::<Vec<_>>().join("、")
}

#[derive(Template)]
#[template(path = "records.html")]
struct RecordsPage<'a> {
    p: PageCtx<'a>,
    system_id: i64,
    system: String,
    sections: Vec<KindSection>,
    editable: bool,
    reviewable: bool,
}

pub async fn records(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let r = ops::records(&who.op(&page), id).await?;
    let now = page.clock.now();
    let sections = RecordKind::ALL
        .iter()
        .map(|k| KindSection {
            code: k.as_str(),
            key: k.key(),
            items: items(*k),
            rows: r
                .records
                .iter()
                .filter(|x| x.kind == *k)
                .map(|x| RecordRow {
                    ismap: ismap_text(&page, r.ismap_check(x)),
                    documents: r.documents_of(x.id).map(|d| (d.title.clone(), d.revision_id, d.deleted)).collect(),
                    editable: r.keeps(x),
                    ..record_row(&page, x, &r.system.input.name, ops::state_now(x, now))
                })
                .collect(),
        })
        .collect();
    let p = page.ctx().await?;
    html(RecordsPage {
        p,
        system_id: id,
        system: r.system.input.name.clone(),
        sections,
        editable: r.editable,
        reviewable: r.reviewable,
    })
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordForm<'a> {
    p: PageCtx<'a>,
    system_id: i64,
    system: String,
    /// The record changed, or none for a new one.
    id: Option<i64>,
    kind: &'static str,
    kind_key: &'static str,
    items: String,
    fields: Vec<FieldView>,
    /// The person's library: document id, title, linked to this record.
    library: Vec<(i64, String, bool)>,
    /// The record's revision the form shows (empty for a new one).
    revision: String,
    errors: FormErrors,
}

async fn form_page(
    page: &Page,
    who: &Acting,
    id: i64,
    rid: Option<i64>,
    kind: RecordKind,
    values: &(dyn Fn(&str) -> String + Sync),
    errors: FormErrors,
) -> Reply {
    let r = ops::records(&who.op(page), id).await?;
    if !r.editable || rid.is_some_and(|rid| !r.records.iter().any(|x| x.id == rid && r.keeps(x))) {
        return Err(Refused::NotFound.into());
    }
    let fields = fields(page, kind, values);
    let chosen = values("document_ids");
    let library = r
        .library
        .iter()
        .map(|(id, title)| {
            let linked = match rid {
                _ if !chosen.is_empty() => chosen.split(',').any(|c| c == id.to_string()),
                Some(rid) => r.documents_of(rid).any(|x| x.document_id == *id),
                None => false,
            };
            (*id, title.clone(), linked)
        })
        .collect();
    // The revision posted with the form when it comes back with a
    // problem, else the record's own.
    let revision = match (rid, values("revision")) {
        (Some(_), posted) if !posted.is_empty() => posted,
        (Some(rid), _) => r.records.iter().find(|x| x.id == rid).map(|x| x.revision.to_string()).unwrap_or_default(),
        (None, _) => String::new(),
    };
    let p = page.ctx_form().await?;
    html(RecordForm {
        p,
        system_id: id,
        system: r.system.input.name.clone(),
        id: rid,
        kind: kind.as_str(),
        kind_key: kind.key(),
        items: items(kind),
        fields,
        library,
        revision,
        errors,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct KindQuery {
    kind: String,
}

/// Refuses, as unknown, one who may not keep the system's records, or
/// record `rid` of them; the form's own problems come after.
async fn keeper(page: &Page, who: &Acting, id: i64, rid: Option<i64>) -> Result<(), Refused> {
    let r = ops::records(&who.op(page), id).await?;
    if r.editable && rid.is_none_or(|rid| r.records.iter().any(|x| x.id == rid && r.keeps(x))) {
        Ok(())
    } else {
        Err(Refused::NotFound)
    }
}

pub async fn new_record(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<KindQuery>) -> Reply {
    keeper(&page, &who, id, None).await?;
    let kind = RecordKind::parse(&q.kind).ok_or(Refused::Invalid("kind"))?;
    form_page(&page, &who, id, None, kind, &|_| String::new(), FormErrors::new()).await
}

pub async fn record(page: Page, who: Acting, Path((id, rid)): Path<(i64, i64)>) -> Reply {
    let r = ops::records(&who.op(&page), id).await?;
    let rec = r.records.iter().find(|x| x.id == rid && r.keeps(x)).ok_or(Refused::NotFound)?;
    let values = rec.values.clone();
    form_page(&page, &who, id, Some(rid), rec.kind, &|f| values.get(f).to_owned(), FormErrors::new()).await
}

/// The form's fields by name, and the library documents ticked (a
/// checkbox per document, so the name repeats).
fn split_form(form: Vec<(String, String)>) -> Result<(HashMap<String, String>, Vec<i64>), Refused> {
    let mut documents = Vec::new();
    let mut fields = HashMap::new();
    for (k, v) in form {
        if k == "document_id" {
            documents.push(v.parse().map_err(|_| Refused::Invalid("documents"))?);
        } else {
            fields.insert(k, v);
        }
    }
    Ok((fields, documents))
}

async fn save(page: Page, who: Acting, id: i64, rid: Option<i64>, form: Vec<(String, String)>) -> Reply {
    keeper(&page, &who, id, rid).await?;
    let (form, documents) = split_form(form)?;
    let kind = form.get("kind").and_then(|k| RecordKind::parse(k)).ok_or(Refused::Invalid("kind"))?;
    let get = |f: &str| form.get(f).cloned().unwrap_or_default();
    let mut errors = FormErrors::new();
    // A form without the revision it showed saves nothing (-1 is no
    // record's revision).
    let editing = rid.map(|rid| Editing { id: rid, seen: Some(get("revision").trim().parse().unwrap_or(-1)) });
    let mut stale = false;
    match parse(kind, get) {
        Ok(values) => match ops::save(&who.op(&page), id, editing, kind, &values, &documents).await {
            Ok(_) => return done(&page, "records-saved", &format!("/systems/{id}/records#{}", kind.as_str())).await,
            Err(Refused::Invalid("documents")) => errors.add("documents", page.t().get("records-bad-documents")),
            Err(Refused::Invalid(_)) => errors.add(kind.title_field(), page.t().get("records-too-many")),
            // Saved by someone else since the form was shown: what was
            // typed is shown again with the record's revision now, so that
            // saving again replaces it knowingly.
            Err(Refused::Stale) => {
                stale = true;
                errors.add(kind.title_field(), page.t().get("records-changed-meanwhile"));
            }
            Err(e) => return Err(e.into()),
        },
        Err(problems) => {
            let t = page.t();
            for (field, e) in problems {
                errors.add(field, field_message(&t, record_field_key(field), e));
            }
        }
    }
    let ids = documents.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let get = |f: &str| match f {
        "document_ids" => ids.clone(),
        "revision" if stale => String::new(),
        _ => form.get(f).cloned().unwrap_or_default(),
    };
    form_page(&page, &who, id, rid, kind, &get, errors).await
}

pub async fn add_record(page: Page, who: Acting, Path(id): Path<i64>, Pairs(form): Pairs) -> Reply {
    save(page, who, id, None, form).await
}

pub async fn save_record(page: Page, who: Acting, Path((id, rid)): Path<(i64, i64)>, Pairs(form): Pairs) -> Reply {
    save(page, who, id, Some(rid), form).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReviewForm {
    decision: String,
    note: String,
    /// The record's revision the page showed.
    revision: i64,
    /// The mark of the decision it bore ([`Seen`]).
    decided: String,
}

/// The security office approves a record or returns it with a note.
pub async fn review_record(
    page: Page,
    who: Acting,
    Path((id, rid)): Path<(i64, i64)>,
    Form(form): Form<ReviewForm>,
) -> Reply {
    let decision = match form.decision.as_str() {
        "approve" => RecordReview::Approved,
        "return" => RecordReview::Returned,
        _ => return Err(Refused::Invalid("decision").into()),
    };
    let back = format!("/systems/{id}/records#record-{rid}");
    let seen = Seen { revision: form.revision, decision: form.decided };
    match ops::review(&who.op(&page), (id, rid, &seen), decision, &form.note).await {
        Ok(()) => done(&page, "records-reviewed", &back).await,
        Err(Refused::Invalid(_)) => done(&page, "records-note-required", &back).await,
        Err(Refused::Stale) => done(&page, "records-review-stale", &back).await,
        Err(e) => Err(e.into()),
    }
}

pub async fn remove_record(page: Page, who: Acting, Path((id, rid)): Path<(i64, i64)>) -> Reply {
    match ops::remove(&who.op(&page), id, rid).await {
        Ok(()) => done(&page, "records-removed", &format!("/systems/{id}/records")).await,
        Err(Refused::Workflow(WorkflowError::RecordApproved)) => {
            done(&page, "records-approved-kept", &format!("/systems/{id}/records#record-{rid}")).await
        }
        Err(Refused::Workflow(_)) => done(&page, "records-disposal-kept", &format!("/systems/{id}/records")).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "dated.html")]
struct DatedPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<RecordRow>,
}

/// Records with a date across the systems the person sees, soonest first.
pub async fn dated(page: Page, who: Acting) -> Reply {
    let all = ops::dated(&who.op(&page)).await?;
    let rows = all.iter().take(1_000).map(|d| record_row(&page, &d.record, &d.system_name, d.support)).collect();
    let p = page.ctx().await?;
    html(DatedPage { p, rows })
}
