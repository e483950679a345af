//! Pagination for long lists: pages never load a whole table or the whole ledger.
//!
//! Lists are paginated by key (leaf index or audit id), as the store reads them
//! (`insyn_store::Page`): a page is "the next `limit` rows after key `after`". That stays fast
//! at any depth, unlike offsets. A list handler asks the store for one row more than it shows
//! ([`PageQuery::store_page`]) to learn whether a next page exists, then builds a [`Pager`],
//! which the `pager` macro in `macros.html` renders as "first page" / "next page" links that keep
//! the rest of the query string.

use serde::{Deserialize, Serialize};

/// The largest page size a visitor may ask for.
pub const MAX_PAGE_SIZE: u64 = 200;
/// The page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u64 = 50;

/// The `?after=&per_page=` query of a list page; out-of-range values are clamped, never errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct PageQuery {
    /// Show rows with a key strictly greater than this; `None` starts at the beginning.
    pub after: Option<u64>,
    /// Rows per page.
    pub per_page: Option<u64>,
}

impl PageQuery {
    /// Rows per page, within 1..=[`MAX_PAGE_SIZE`].
    #[must_use]
    pub fn limit(self) -> u64 {
        self.per_page
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }

    /// What to ask the store for: one row more than the page shows.
    #[must_use]
    pub fn store_page(self) -> insyn_store::Page {
        insyn_store::Page {
            after: self.after,
            limit: self.limit() + 1,
        }
    }

    /// Cuts the store's rows to the page and builds its pager. `key` gives a row's key.
    pub fn split<T>(
        self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> u64,
        path: &str,
        keep: &[(&str, String)],
    ) -> (Vec<T>, Pager) {
        let limit = usize::try_from(self.limit()).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let last = rows.last().map(&key);
        let pager = Pager::new(path, self, last.filter(|_| has_more), keep);
        (rows, pager)
    }
}

/// Links from one page of a list, for the `pager` macro.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pager {
    /// The first page's URL, when this is not the first page.
    pub first: Option<String>,
    /// The next page's URL, when more rows follow.
    pub next: Option<String>,
}

impl Pager {
    /// The pager for `query` on `path`; `next_after` is the last shown key when more rows
    /// follow. `keep` are the other query parameters to carry over (already URL-encoded).
    #[must_use]
    pub fn new(
        path: &str,
        query: PageQuery,
        next_after: Option<u64>,
        keep: &[(&str, String)],
    ) -> Self {
        let limit = query.limit();
        let url = |after: Option<u64>| {
            let mut q: Vec<String> = keep.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if let Some(a) = after {
                q.push(format!("after={a}"));
            }
            if limit != DEFAULT_PAGE_SIZE {
                q.push(format!("per_page={limit}"));
            }
            if q.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", q.join("&"))
            }
        };
        Pager {
            first: query.after.is_some().then(|| url(None)),
            next: next_after.map(|a| url(Some(a))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_clamped_and_the_store_is_asked_for_one_more() {
        let q = PageQuery {
            after: Some(7),
            per_page: Some(100_000),
        };
        assert_eq!(q.limit(), MAX_PAGE_SIZE);
        assert_eq!(q.store_page().limit, MAX_PAGE_SIZE + 1);
        assert_eq!(q.store_page().after, Some(7));
        assert_eq!(PageQuery::default().limit(), DEFAULT_PAGE_SIZE);
        let q = PageQuery {
            after: None,
            per_page: Some(0),
        };
        assert_eq!(q.limit(), 1);
    }

    #[test]
    fn split_cuts_the_extra_row_and_links_on() {
        let q = PageQuery {
            after: Some(10),
            per_page: Some(3),
        };
        let (rows, pager) = q.split(
            vec![11, 12, 13, 14],
            |r| *r,
            "/reports",
            &[("status", "late".into())],
        );
        assert_eq!(rows, [11, 12, 13]);
        assert_eq!(
            pager.next.as_deref(),
            Some("/reports?status=late&after=13&per_page=3")
        );
        assert_eq!(
            pager.first.as_deref(),
            Some("/reports?status=late&per_page=3")
        );

        let (rows, pager) = PageQuery::default().split(vec![1, 2], |r| *r, "/reports", &[]);
        assert_eq!(rows, [1, 2]);
        assert_eq!(
            pager,
            Pager {
                first: None,
                next: None
            }
        );
    }
}
