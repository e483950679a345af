//! Pagination for long lists: pages never load a whole table or the whole ledger.
//!
//! A list handler asks the store for `limit + 1` rows after an offset (or a cursor), shows
//! `limit` of them, and knows from the extra row whether there is a next page. [`Pager`] is what
//! the `pager` macro in `macros.html` renders: previous/next links that keep the rest of the
//! query string.

use serde::{Deserialize, Serialize};

/// The largest page size a visitor may ask for.
pub const MAX_PAGE_SIZE: u64 = 200;
/// The page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u64 = 50;

/// The `?page=&per_page=` query of a list page; out-of-range values are clamped, never errors.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PageQuery {
    /// 1-based page number.
    pub page: Option<u64>,
    /// Rows per page.
    pub per_page: Option<u64>,
}

impl PageQuery {
    /// The page number, at least 1 and small enough that the offset cannot overflow.
    #[must_use]
    pub fn page(self) -> u64 {
        self.page
            .unwrap_or(1)
            .clamp(1, u64::MAX / MAX_PAGE_SIZE / 2)
    }

    /// Rows per page, within 1..=[`MAX_PAGE_SIZE`].
    #[must_use]
    pub fn limit(self) -> u64 {
        self.per_page
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }

    /// Rows to skip.
    #[must_use]
    pub fn offset(self) -> u64 {
        (self.page() - 1) * self.limit()
    }
}

/// Links to the neighbouring pages, for the `pager` macro.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pager {
    /// The current 1-based page.
    pub page: u64,
    /// The previous page's URL, if there is one.
    pub prev: Option<String>,
    /// The next page's URL, if there is one.
    pub next: Option<String>,
}

impl Pager {
    /// The pager for `query` on `path`, where the store said whether more rows follow.
    /// `keep` are the other query parameters to carry over (already URL-encoded values).
    #[must_use]
    pub fn new(path: &str, query: PageQuery, has_more: bool, keep: &[(&str, String)]) -> Self {
        let page = query.page();
        let limit = query.limit();
        let url = |p: u64| {
            let mut q: Vec<String> = keep.iter().map(|(k, v)| format!("{k}={v}")).collect();
            q.push(format!("page={p}"));
            if limit != DEFAULT_PAGE_SIZE {
                q.push(format!("per_page={limit}"));
            }
            format!("{path}?{}", q.join("&"))
        };
        Pager {
            page,
            prev: (page > 1).then(|| url(page - 1)),
            next: has_more.then(|| url(page + 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_clamped() {
        let q = PageQuery {
            page: Some(0),
            per_page: Some(100_000),
        };
        assert_eq!((q.page(), q.limit(), q.offset()), (1, MAX_PAGE_SIZE, 0));
        let q = PageQuery {
            page: Some(u64::MAX),
            per_page: None,
        };
        assert!(q.offset() < u64::MAX);
        assert_eq!(PageQuery::default().limit(), DEFAULT_PAGE_SIZE);
    }

    #[test]
    fn links_keep_the_filter() {
        let q = PageQuery {
            page: Some(2),
            per_page: None,
        };
        let p = Pager::new("/reports", q, true, &[("status", "late".to_owned())]);
        assert_eq!(p.prev.as_deref(), Some("/reports?status=late&page=1"));
        assert_eq!(p.next.as_deref(), Some("/reports?status=late&page=3"));
        let p = Pager::new("/reports", PageQuery::default(), false, &[]);
        assert_eq!((p.prev, p.next), (None, None));
    }
}
