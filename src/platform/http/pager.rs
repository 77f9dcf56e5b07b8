//! Pages of a list that can grow: `?page=N` (from 1) picks the page, every other query parameter (the list's
//! filters) is kept in the links to the neighbouring pages. A store query takes `window()` (one row more than a
//! page, so `keep` can tell whether there is a next page without counting).

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};

/// Rows per page of every paginated list.
pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone)]
pub struct Pager {
    /// 1 for the first page.
    pub number: i64,
    pub has_next: bool,
    path: String,
    /// The query's other parameters, already encoded.
    others: Vec<(String, String)>,
}

impl Pager {
    pub fn new(path: &str, query: &str) -> Self {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let number = pairs
            .iter()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .filter(|n| (1..=1_000_000).contains(n))
            .unwrap_or(1);
        Self {
            number,
            has_next: false,
            path: path.to_string(),
            others: pairs.into_iter().filter(|(k, _)| k != "page").collect(),
        }
    }

    pub fn offset(&self) -> i64 {
        (self.number - 1) * PAGE_SIZE
    }

    /// How many rows to fetch: a page and one more.
    fn fetch(&self) -> i64 {
        PAGE_SIZE + 1
    }

    /// The rows to fetch for this page.
    pub fn window(&self) -> crate::platform::db::Window {
        crate::platform::db::Window {
            offset: self.offset(),
            limit: self.fetch(),
        }
    }

    /// Keeps the page's rows of what `fetch` returned, noting whether more follow.
    pub fn keep<T>(&mut self, mut rows: Vec<T>) -> Vec<T> {
        self.has_next = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        rows
    }

    fn link(&self, number: i64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.others {
            query.append_pair(k, v);
        }
        if number > 1 {
            query.append_pair("page", &number.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{query}", self.path)
        }
    }

    pub fn previous(&self) -> Option<String> {
        (self.number > 1).then(|| self.link(self.number - 1))
    }

    pub fn next(&self) -> Option<String> {
        self.has_next.then(|| self.link(self.number + 1))
    }

    /// Whether there is more than this one page (so the pager is worth showing).
    pub fn is_split(&self) -> bool {
        self.number > 1 || self.has_next
    }
}

impl FromRequest for Pager {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Pager::new(req.path(), req.query_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters_and_move_one_page() {
        let mut pager = Pager::new("/admin/partners", "status=approved&page=2&q=a%20b");
        assert_eq!((pager.number, pager.offset()), (2, PAGE_SIZE));
        let rows = pager.keep((0..PAGE_SIZE + 1).collect::<Vec<_>>());
        assert_eq!(rows.len() as i64, PAGE_SIZE);
        assert_eq!(
            pager.previous().as_deref(),
            Some("/admin/partners?status=approved&q=a+b")
        );
        assert_eq!(
            pager.next().as_deref(),
            Some("/admin/partners?status=approved&q=a+b&page=3")
        );
        let mut last = Pager::new("/portal/links", "page=nonsense");
        assert_eq!(last.number, 1);
        last.keep(vec![1, 2]);
        assert!(!last.is_split());
    }
}
