//! The audit viewer's words for what an event is about: each account,
//! system, organisation and document of a page of events, looked up once.

use crate::error::AppError;
use crate::i18n::Tr;
use crate::page::Page;
use mamori_core::audit::Event;
use std::collections::{BTreeSet, HashMap};

/// The names of the accounts, systems, organisations and documents a page of events
/// is about, each looked up once.
#[derive(Default)]
pub(crate) struct Names {
    accounts: HashMap<i64, String>,
    systems: HashMap<i64, String>,
    organisations: HashMap<i64, String>,
    documents: HashMap<i64, String>,
}

impl Names {
    pub(crate) async fn of(page: &Page, events: &[Event]) -> Result<Names, AppError> {
        let ids = |kind: &str| -> BTreeSet<i64> {
            events
                .iter()
                .filter(|e| e.record.target_type.as_deref() == Some(kind))
                .filter_map(|e| e.record.target_id.as_deref()?.parse().ok())
                .collect()
        };
        let mut names = Names::default();
        for id in ids("account") {
            if let Some(a) = page.store.account_by_id(id).await? {
                names.accounts.insert(id, format!("{} ({})", a.display_name, a.login));
            }
        }
        for id in ids("system") {
            if let Some(s) = page.store.system(id).await? {
                names.systems.insert(id, s.input.name);
            }
        }
        for id in ids("document") {
            if let Some(d) = page.store.document(id).await? {
                names.documents.insert(id, d.title);
            }
        }
        if !ids("organisation").is_empty() {
            names.organisations = page.store.organisations().await?.into_iter().map(|o| (o.id, o.name)).collect();
        }
        Ok(names)
    }

    /// What an event is about, in words: 「システム: 文書管理システム」.
    pub(crate) fn target(&self, t: &Tr, r: &mamori_core::audit::Record) -> String {
        let (Some(kind), Some(id)) = (r.target_type.as_deref(), r.target_id.as_deref()) else {
            return String::new();
        };
        let label = crate::labels::target_kind_key(kind).map_or_else(|| kind.to_owned(), |k| t.get(k));
        let name = id.parse::<i64>().ok().and_then(|n| match kind {
            "account" => self.accounts.get(&n),
            "system" => self.systems.get(&n),
            "organisation" => self.organisations.get(&n),
            "document" => self.documents.get(&n),
            _ => None,
        });
        match name {
            Some(name) => format!("{label}: {name}"),
            None => format!("{label} {id}"),
        }
    }
}
