//! `GET /r/{code}`: the tracked redirect. One cached lookup, one click journaled (and stored with its neighbours), then
//! a 302 to the destination with the click id appended and a first-party cookie for the cookie window.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::affiliate::rules::ClickFilter;
use crate::affiliate::store::clicks::NewClick;
use crate::affiliate::tracking::Visit;
use crate::platform::http::{client_ip, AppError};
use crate::web::State;

pub const CLICK_COOKIE: &str = "concord_click";

/// `/r/{code}`, matched as a static prefix: actix's router matches a `{code}` segment with a regular expression,
/// which was a visible share of the redirect's time.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/r").default_service(web::to(follow)));
}

/// The link code of a `/r/{code}` request, for GET and HEAD only; anything else is not a redirect.
fn requested_code(req: &HttpRequest) -> Option<String> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let code = req.match_info().unprocessed().strip_prefix('/')?;
    (!code.is_empty() && !code.contains('/')).then(|| code.to_ascii_lowercase())
}

fn header_text(req: &HttpRequest, name: header::HeaderName, max: usize) -> String {
    let value = req
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    value.chars().take(max).collect()
}

async fn follow(req: HttpRequest, state: State) -> Result<HttpResponse, AppError> {
    let code = requested_code(&req).ok_or(AppError::NotFound)?;
    let cached = state
        .tracking
        .link(&state.pool, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let (target, link) = (&cached.target, &cached.target.link);
    if !target.partner_approved {
        // The visitor still gets where they wanted to go; a partner that is not approved earns nothing.
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, link.destination_url.clone()))
            .finish());
    }

    let settings = state.tracking.settings(&state.pool).await?;
    let now = crate::platform::db::now();
    let ip = client_ip(&req, state.settings.behind_proxy);
    let ip_hash = state.tracking.hash_ip(&ip);
    let user_agent = header_text(&req, header::USER_AGENT, 512);
    let filter = state.tracking.classify(
        &Visit {
            head: req.method() == Method::HEAD,
            user_agent: &user_agent,
            ip: &ip,
            ip_hash: &ip_hash,
            link_id: link.id,
            at: now,
        },
        &settings,
    );
    let prior_click_id = req
        .cookie(CLICK_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()));
    let click_id = crate::affiliate::tracking::new_click_id();
    let click = NewClick {
        click_id: click_id.clone(),
        link_id: link.id,
        partner_org_id: link.partner_org_id,
        clicked_at: now,
        ip_hash,
        user_agent,
        referrer: header_text(&req, header::REFERER, 1024),
        sub_id: link.sub_id.clone(),
        prior_click_id,
        filtered_reason: filter,
    };
    state
        .tracking
        .record(click)
        .await
        .map_err(|e| AppError::Unavailable(format!("{e:#}")))?;

    let mut response = HttpResponse::Found();
    response.insert_header((header::LOCATION, cached.destination.with_click(&click_id)));
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if !matches!(filter, Some(ClickFilter::Bot) | Some(ClickFilter::Head)) {
        let cookie = Cookie::build(CLICK_COOKIE, click_id)
            .path("/")
            .http_only(true)
            .secure(state.settings.cookie_secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(
                settings.cookie_window_days,
            ))
            .finish();
        response.cookie(cookie);
    }
    Ok(response.finish())
}
