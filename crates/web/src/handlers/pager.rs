//! Long lists a page at a time: 50 rows, with links to the neighbouring
//! pages that keep the list's filters and order.

/// Rows shown per page of a list.
pub const PER_PAGE: usize = 50;

/// Where a list is: the page shown and links to its neighbours.
pub struct Pager {
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    /// First and last row shown, from 1 (0 and 0 for an empty list).
    pub from: usize,
    pub to: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Page `asked` (1-based; anything out of range is the first) of
    /// `total` rows, with links that keep `filters`.
    pub fn new(asked: &str, total: usize, filters: &str) -> Pager {
        Pager::sized(asked, total, filters, PER_PAGE)
    }

    /// [`Pager::new`] of `per_page` rows a page.
    pub fn sized(asked: &str, total: usize, filters: &str, per_page: usize) -> Pager {
        let pages = total.div_ceil(per_page).max(1);
        let page = asked.parse().ok().filter(|n| (1..=pages).contains(n)).unwrap_or(1);
        let link = |n: usize| {
            let sep = if filters.is_empty() { "" } else { "&" };
            format!("?{filters}{sep}page={n}")
        };
        Pager {
            page,
            pages,
            total,
            from: if total == 0 { 0 } else { (page - 1) * per_page + 1 },
            to: (page * per_page).min(total),
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }

    /// The links made absolute, on the list's path.
    pub fn at(mut self, path: &str) -> Pager {
        self.prev = self.prev.map(|h| format!("{path}{h}"));
        self.next = self.next.map(|h| format!("{path}{h}"));
        self
    }

    /// The links made to land on the list's section of a longer page.
    pub fn within(mut self, section: &str) -> Pager {
        self.prev = self.prev.map(|h| format!("{h}#{section}"));
        self.next = self.next.map(|h| format!("{h}#{section}"));
        self
    }

    /// The rows of this page.
    pub fn slice<'a, T>(&self, all: &'a [T]) -> &'a [T] {
        &all[self.from.saturating_sub(1).min(all.len())..self.to.min(all.len())]
    }
}
