//! Lists sorted by their column headings: a click sorts by the column, a
//! second click the other way (`?sort=login&dir=desc`); the heading carries
//! `aria-sort` for screen readers and an arrow for the eye.

use crate::handlers::query_of;
use crate::i18n::Tr;
use serde::Deserialize;

/// `?page=N&sort=column&dir=desc` of a list without other filters.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SortQuery {
    pub page: String,
    pub sort: String,
    pub dir: String,
}

impl SortQuery {
    /// The same query, sorted by `column` (`desc` or not) when it names
    /// no column.
    pub fn or_by(mut self, column: &str, desc: bool) -> SortQuery {
        if self.sort.is_empty() {
            self.sort = column.to_owned();
            self.dir = if desc { "desc" } else { "asc" }.to_owned();
        }
        self
    }

    pub fn desc(&self) -> bool {
        self.dir == "desc"
    }

    /// The order as a query string, for the links between pages.
    pub fn order(&self) -> String {
        query_of(&[("sort", &self.sort), ("dir", &self.dir)])
    }
}

/// A column heading: its label, the link that sorts by it (the other way
/// when it is the column sorted by), and its `aria-sort`.
pub struct Heading {
    pub label: String,
    pub href: String,
    pub aria_sort: &'static str,
    pub arrow: &'static str,
}

/// The headings of the list at `path` whose `columns` are (query value,
/// label key), sorted by `sort`; their links keep `filters`.
pub fn headings(t: &Tr, path: &str, columns: &[(&str, &str)], sort: &str, desc: bool, filters: &str) -> Vec<Heading> {
    columns
        .iter()
        .map(|(column, key)| {
            let sorted = sort == *column;
            let dir = if sorted && !desc { "desc" } else { "asc" };
            let sep = if filters.is_empty() { "" } else { "&" };
            Heading {
                label: t.get(key),
                href: format!("{path}?{filters}{sep}sort={column}&dir={dir}"),
                aria_sort: match (sorted, desc) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
                arrow: match (sorted, desc) {
                    (false, _) => "",
                    (true, false) => " ▲",
                    (true, true) => " ▼",
                },
            }
        })
        .collect()
}

/// Sorts `rows` by `key`, keeping the order of equals, the other way round
/// with `desc`.
pub fn sort_rows<T, K: Ord>(rows: &mut [T], desc: bool, key: impl FnMut(&T) -> K) {
    rows.sort_by_key(key);
    if desc {
        rows.reverse();
    }
}
