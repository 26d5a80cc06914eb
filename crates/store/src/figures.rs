//! The figures of many systems at once, for the dashboard: which
//! requirements apply to each and how each is answered and decided.
//!
//! They are kept in memory per system and revision. A request reads the
//! systems (with their revisions) and then, in one query for the answers
//! and one for the overrides, only the systems whose figures are missing
//! or older than their revision. So the number of statements does not grow
//! with the number of systems, and an unchanged ward costs no query at all.
//! Every instance reads the revisions from the database, so a change made
//! through another instance is seen at once.

use crate::systems::{parse_date, SystemRecord};
use crate::{parsed, with_conn, Store, StoreError};
use mamori_core::checklist::{AnswerInput, AnswerStatus, Review};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One applicable requirement of a system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFigure {
    /// Its position in the system's catalog version.
    pub index: usize,
    pub number: u32,
    /// The answer (status and planned date only) and the decision on it.
    pub answer: Option<(AnswerInput, Review)>,
    /// Approved once, and changed since (`AnswerRecord::changed_after_approval`).
    pub changed_after_approval: bool,
    /// Returned by the officer and answered again since
    /// (`AnswerRecord::revised_after_return`).
    pub revised_after_return: bool,
}

/// One system's applicable requirements, in catalog order, at a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemFigures {
    pub revision: i64,
    pub round: i64,
    pub catalog_version_id: i64,
    pub items: Vec<ItemFigure>,
}

pub(crate) type Cache = Mutex<HashMap<i64, Arc<SystemFigures>>>;

#[derive(sqlx::FromRow)]
struct AnswerFigureRow {
    system_id: i64,
    number: i64,
    status: String,
    planned_date: Option<String>,
    review: String,
    revision: i64,
    approved_revision: Option<i64>,
    revised_after_return: bool,
}

#[derive(sqlx::FromRow)]
struct OverrideFigureRow {
    system_id: i64,
    number: i64,
    applies: bool,
}

impl Store {
    /// The figures of `systems`, in the same order.
    pub async fn figures(&self, systems: &[SystemRecord]) -> Result<Vec<Arc<SystemFigures>>, StoreError> {
        let current = |f: &SystemFigures, s: &SystemRecord| {
            f.revision == s.revision && f.round == s.round && f.catalog_version_id == s.catalog_version_id
        };
        let stale: Vec<&SystemRecord> = {
            let cache = self.shared.figures.lock().expect("figures cache poisoned");
            systems.iter().filter(|s| !cache.get(&s.id).is_some_and(|f| current(f, s))).collect()
        };
        if !stale.is_empty() {
            let fresh = self.load_figures(&stale).await?;
            let mut cache = self.shared.figures.lock().expect("figures cache poisoned");
            for (s, f) in stale.iter().zip(fresh) {
                cache.insert(s.id, Arc::new(f));
            }
        }
        let cache = self.shared.figures.lock().expect("figures cache poisoned");
        systems
            .iter()
            .map(|s| {
                cache.get(&s.id).cloned().ok_or_else(|| StoreError::Corrupt(format!("figures of system {}", s.id)))
            })
            .collect()
    }

    async fn load_figures(&self, systems: &[&SystemRecord]) -> Result<Vec<SystemFigures>, StoreError> {
        // The ids are bound as parameters, one placeholder each.
        let list = (1..=systems.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let answers_sql = format!(
            "SELECT a.system_id, a.number, a.status, a.planned_date, a.review, a.revision, a.approved_revision, \
             a.revised_after_return FROM answer a \
             JOIN system s ON s.id = a.system_id AND s.round = a.round WHERE a.system_id IN ({list})"
        );
        let overrides_sql =
            format!("SELECT system_id, number, applies FROM applicability_override WHERE system_id IN ({list})");
        let (answer_rows, override_rows) = self
            .read(async |tx| {
                Ok(with_conn!(tx, c => {
                    let mut q = sqlx::query_as::<_, AnswerFigureRow>(&answers_sql);
                    for s in systems {
                        q = q.bind(s.id);
                    }
                    let answers = q.fetch_all(&mut *c).await?;
                    let mut q = sqlx::query_as::<_, OverrideFigureRow>(&overrides_sql);
                    for s in systems {
                        q = q.bind(s.id);
                    }
                    (answers, q.fetch_all(&mut *c).await?)
                }))
            })
            .await?;
        // (answer and decision, changed after approval, revised after return)
        type Figure = ((AnswerInput, Review), bool, bool);
        let mut answers: HashMap<(i64, u32), Figure> = HashMap::with_capacity(answer_rows.len());
        for r in answer_rows {
            let input = AnswerInput {
                status: parsed("answer status", &r.status, AnswerStatus::parse)?,
                measures: String::new(),
                planned: parse_date(r.planned_date)?,
                reason: String::new(),
            };
            let changed = r.approved_revision.is_some_and(|a| a != r.revision);
            answers.insert(
                (r.system_id, r.number as u32),
                ((input, parsed("review", &r.review, Review::parse)?), changed, r.revised_after_return),
            );
        }
        let mut overrides: HashMap<i64, Vec<(u32, bool)>> = HashMap::new();
        for r in override_rows {
            overrides.entry(r.system_id).or_default().push((r.number as u32, r.applies));
        }
        let mut out = Vec::with_capacity(systems.len());
        for s in systems {
            let conditions = self.catalog_conditions(s.catalog_version_id).await?;
            let ovr = overrides.get(&s.id).map(Vec::as_slice).unwrap_or_default();
            let items = conditions
                .applicable_at(&s.input.attrs, ovr)
                .map(|(index, number)| {
                    let (answer, changed_after_approval, revised_after_return) = match answers.remove(&(s.id, number)) {
                        Some((a, changed, revised)) => (Some(a), changed, revised),
                        None => (None, false, false),
                    };
                    ItemFigure { index, number, answer, changed_after_approval, revised_after_return }
                })
                .collect();
            out.push(SystemFigures {
                revision: s.revision,
                round: s.round,
                catalog_version_id: s.catalog_version_id,
                items,
            });
        }
        Ok(out)
    }
}
