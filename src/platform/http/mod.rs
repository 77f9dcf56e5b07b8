//! HTTP helpers every page and API uses, knowing no feature: the error type and its pages, the page context the
//! layout needs, rendering, redirects, forms' field errors, one CSV response, the client's IP, throttling and the
//! static files.

pub mod assets;
pub mod csrf;
pub mod error;
pub mod pager;
pub mod request_log;
pub mod session;
pub mod throttle;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::platform::db::{DbConn, DbPool};
pub use error::{ApiError, AppError};
use session::Flash;
pub use session::TypedSession;

/// The visitor's IP address: from the socket, or from `X-Forwarded-For` when Concord runs behind a proxy.
pub fn client_ip(req: &HttpRequest, behind_proxy: bool) -> String {
    if !behind_proxy {
        // Straight from the socket: `connection_info` would parse the forwarding headers only to ignore them.
        if let Some(peer) = req.peer_addr() {
            return peer.ip().to_string();
        }
    }
    let info = req.connection_info();
    let address = if behind_proxy {
        info.realip_remote_addr()
    } else {
        info.peer_addr()
    };
    let address = address.unwrap_or("");
    // Strip a port ("1.2.3.4:5678", "[::1]:5678") so one visitor is one address.
    match address.parse::<std::net::SocketAddr>() {
        Ok(socket) => socket.ip().to_string(),
        Err(_) => address.to_string(),
    }
}

/// Runs blocking database work on the blocking thread pool with a pooled connection, for a page or an API answer.
pub async fn db<T, E, F>(pool: &DbPool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    crate::platform::db::with_connection(pool, work)
        .await?
        .map_err(Into::into)
}

/// What the navigation needs to know about the signed-in user.
pub struct NavUser {
    pub name: String,
    pub role_label: &'static str,
    pub is_staff: bool,
    pub is_admin: bool,
}

/// What every page's layout needs: who is signed in, the CSRF token for its forms, and flash messages.
pub struct PageContext {
    pub program_name: String,
    pub user: Option<NavUser>,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    pub path: String,
    pub stylesheet_version: &'static str,
}

impl PageContext {
    /// For error pages, which render without access to the request.
    pub fn bare() -> Self {
        Self {
            program_name: "Concord".into(),
            user: None,
            csrf_token: String::new(),
            flashes: Vec::new(),
            path: String::new(),
            stylesheet_version: assets::stylesheet_version(),
        }
    }

    /// True when the current page lives under `prefix`, for marking the active navigation entry.
    pub fn under(&self, prefix: &str) -> bool {
        self.path == prefix || self.path.starts_with(&format!("{prefix}/"))
    }
}

/// Renders a template with a status code.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AppError> {
    let html = page
        .render()
        .map_err(|e| AppError::caused("a page did not render", e))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

pub fn page(page: &impl Template) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, page)
}

/// A 303 See Other: the answer to a successful form post (POST-redirect-GET).
pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

pub fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Only local paths are followed after sign-in, so a crafted link cannot send someone elsewhere. Browsers drop tabs
/// and newlines from a URL and read `\\` as `/`, so `/\t/evil.test` would leave the site: no control characters,
/// whitespace or backslashes at all.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.contains("://")
            && !n
                .chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    })
    .map(str::to_string)
}

/// Quotes a CSV field when it needs it (RFC 4180), and defuses spreadsheet formulas.
/// A CSV download: `body` as `text/csv` under `file_name` (quoted; callers give plain ASCII names). Rows in the
/// body end with CRLF and their fields go through `csv_field`.
pub fn csv_response(file_name: &str, body: String) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .body(body)
}

pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Reads one list filter from the query string; a value that names nothing is reported in `problems`, not
/// silently dropped.
pub fn pick_filter<T: std::str::FromStr>(
    raw: &str,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    raw.parse()
        .map_err(|_| {
            problems.push(format!(
                "There is no {what} '{raw}'; that filter is ignored."
            ))
        })
        .ok()
}

/// Errors per form field, shown next to the inputs.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }

    /// Adds to the field's message, if it has one, rather than beside it (only the first is shown).
    pub fn append(&mut self, field: &str, message: &str) {
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, existing)) => {
                existing.push(' ');
                existing.push_str(message);
            }
            None => self.add(field, message),
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks a newly chosen password and its confirmation, as every "choose a password" form asks them.
    pub fn check_new_password(&mut self, password: &str, confirmation: &str) {
        if let Err(e) = crate::platform::auth::password::check_policy(password) {
            self.add("password", e);
        } else if password != confirmation {
            self.add("password_confirm", "The two passwords differ.");
        }
    }

    /// A whole number in `range` from a form field; otherwise `message` against the field, and 0 in its place.
    pub fn number_in(
        &mut self,
        field: &str,
        raw: &str,
        range: std::ops::RangeInclusive<i64>,
        message: &str,
    ) -> i64 {
        match raw.trim().parse::<i64>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                self.add(field, message);
                0
            }
        }
    }

    /// Whether a link a form gives is a web address (empty counts when `optional`); otherwise `message`.
    pub fn web_link(&mut self, field: &str, link: &str, optional: bool, message: &str) {
        let is_web = link.starts_with("https://") || link.starts_with("http://");
        if !(is_web || optional && link.is_empty()) {
            self.add(field, message);
        }
    }

    /// Adds refusals that name their field.
    pub fn extend(
        &mut self,
        refusals: impl IntoIterator<Item = (&'static str, impl Into<String>)>,
    ) {
        for (field, message) in refusals {
            self.add(field, message);
        }
    }

    pub fn from_pairs(pairs: Vec<(&'static str, String)>) -> Self {
        Self(pairs.into_iter().map(|(f, m)| (f.to_string(), m)).collect())
    }

    /// Adds validator's messages, one per field.
    pub fn extend_validation(&mut self, errors: &validator::ValidationErrors) {
        for (field, list) in errors.field_errors() {
            if let Some(first) = list.first() {
                let message = first
                    .message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| format!("Check {field}."));
                self.add(&field, message);
            }
        }
    }
}

/// A UTC timestamp as pages show it: "2026-11-23 16:34 UTC".
pub fn when(at: impl Timestamp) -> String {
    at.utc().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Lets `when` take a timestamp however deeply a template has borrowed it.
pub trait Timestamp {
    fn utc(&self) -> chrono::NaiveDateTime;
}

impl Timestamp for chrono::NaiveDateTime {
    fn utc(&self) -> chrono::NaiveDateTime {
        *self
    }
}

impl<T: Timestamp + ?Sized> Timestamp for &T {
    fn utc(&self) -> chrono::NaiveDateTime {
        (**self).utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-12.50"), "-12.50");
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/admin/tiers?x=1")).as_deref(),
            Some("/admin/tiers?x=1")
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "admin",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
    }

    proptest::proptest! {
        /// Whatever `next=` says, what is followed resolves, the way a browser resolves it, to this very site.
        #[test]
        fn a_followed_next_never_leaves_the_site(
            next in proptest::string::string_regex("[/\\\\:.a-z@%?#\t\n \\x00-\\x1f]{0,24}").unwrap(),
        ) {
            if let Some(path) = safe_next(Some(&next)) {
                let base = url::Url::parse("https://concord.test/portal").unwrap();
                let target = base.join(&path).unwrap();
                proptest::prop_assert_eq!(target.host_str(), Some("concord.test"), "{:?}", next);
                proptest::prop_assert_eq!(target.scheme(), "https");
            }
        }
    }
}
