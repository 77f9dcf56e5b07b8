//! The web layer: one module per area, routes registered here. Handlers stay thin: extract, authorize, call one
//! domain or repository function (through `db`), render.

pub mod admin;
pub mod affiliate;
pub mod api;
pub mod assets;
pub mod auth;
pub mod content;
pub mod deals;
pub mod earnings;
pub mod mdf;
pub mod password;
pub mod payouts;
pub mod portal;
pub mod public;
pub mod reseller;
pub mod setup;
pub mod team;
pub mod throttle;
pub mod tracking;
pub mod training;
pub mod webhooks;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use std::future::Future;
use std::pin::Pin;

use crate::auth::guard::{load_user, NavUser};
use crate::auth::session::Flash;
use crate::auth::TypedSession;
use crate::config::Settings;
use crate::error::AppError;
use crate::platform::db::{DbConn, DbPool};

pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
    pub tracking: crate::tracking::Tracking,
    /// Records API conversions in batches (group commit).
    pub conversions: crate::group_commit::GroupCommit<api::ConversionJob, api::RecordedConversion>,
    /// Self-serve signups per IP address.
    pub signups: throttle::IpThrottle,
    /// Pays Stripe payout batches; `None` when Stripe is not configured.
    pub payer: Option<crate::payouts::Payer>,
}

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

pub type State = web::Data<AppState>;

/// Runs blocking database work on the blocking thread pool with a pooled connection.
pub async fn db<T, E, F>(pool: &DbPool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        work(&mut conn).map_err(Into::into)
    })
    .await
    .map_err(AppError::internal)?
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

/// Extractor for `PageContext`. Takes the flash messages out of the session, so only handlers that render take it.
pub struct Ctx(pub PageContext);

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = load_user(&req).await?;
            let state = req
                .app_data::<State>()
                .expect("AppState is registered")
                .clone();
            let program = db(&state.pool, crate::db::programs::current).await?;
            let session = TypedSession::of(&req);
            Ok(Ctx(PageContext {
                program_name: program.name,
                user: user.as_ref().map(NavUser::from),
                csrf_token: session.csrf_token(),
                flashes: session.take_flashes(),
                path: req.path().to_string(),
                stylesheet_version: assets::stylesheet_version(),
            }))
        })
    }
}

/// Renders a template with a status code.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AppError> {
    let html = page.render().map_err(AppError::internal)?;
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

/// The screening in front of self-serve signup forms: a flood from one address gets a 429, and a filled honeypot
/// field (which people never see) gets a quiet redirect that creates nothing. `Ok(Some(answer))` ends the request.
pub fn screen_signup(
    req: &HttpRequest,
    state: &State,
    honeypot: &str,
    what: &str,
) -> Result<Option<HttpResponse>, AppError> {
    if let Err(minutes) = state
        .signups
        .attempt(&client_ip(req, state.settings.behind_proxy))
    {
        return Err(AppError::TooManyRequests(format!(
            "Too many {what} from your network. Try again in {minutes} minutes."
        )));
    }
    if !honeypot.is_empty() {
        tracing::info!("signup honeypot filled; ignored");
        return Ok(Some(redirect("/")));
    }
    Ok(None)
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
        if let Err(e) = crate::auth::password::check_policy(password) {
            self.add("password", e);
        } else if password != confirmation {
            self.add("password_confirm", "The two passwords differ.");
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

/// Every route that runs behind the session and CSRF middleware. The tracked redirect (`tracking::routes`) is
/// mounted apart, in `startup`, ahead of them.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(public::routes)
        .configure(assets::routes)
        .configure(auth::routes)
        .configure(password::routes)
        .configure(team::public_routes)
        .configure(affiliate::public_routes)
        .configure(reseller::public_routes)
        .configure(training::public_routes)
        .configure(setup::routes)
        .configure(api::routes)
        .configure(webhooks::routes)
        .configure(portal::routes)
        .configure(admin::routes);
}

/// Anything no route matched: a 404 page, or a JSON 404 under `/api/`.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    if req.path().starts_with("/api/") {
        Err(crate::error::ApiError(AppError::NotFound).into())
    } else {
        Err(AppError::NotFound.into())
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
