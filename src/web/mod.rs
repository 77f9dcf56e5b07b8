//! The web layer: one module per area, routes registered here. Handlers stay thin: extract, authorize, call one
//! domain or repository function (through `db`), render.

pub mod accounts;
pub mod admin;
pub mod affiliate;
pub mod api;
pub mod assets;
pub mod commissions;
pub mod deals;
pub mod guard;
pub mod ledger;
pub mod mdf;
pub mod partners;
pub mod payouts;
pub mod portal;
pub mod public;
pub mod reports;
pub mod tiers;
pub mod training;
pub mod webhooks;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;

use crate::config::Settings;
use crate::platform::db::DbPool;
use crate::platform::http::{
    client_ip, redirect, throttle, AppError, NavUser, PageContext, TypedSession,
};
use crate::web::guard::load_user;

pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
    pub tracking: crate::affiliate::tracking::Tracking,
    /// Records API conversions in batches (group commit).
    pub conversions:
        crate::platform::group_commit::GroupCommit<api::ConversionJob, api::RecordedConversion>,
    /// Self-serve signups per IP address.
    pub signups: throttle::IpThrottle,
    /// Pays Stripe payout batches; `None` when Stripe is not configured.
    pub payer: Option<crate::payouts::Payer>,
    /// The periodic jobs, for `/admin/jobs`.
    pub jobs: std::sync::Arc<crate::platform::jobs::Jobs>,
}

pub type State = web::Data<AppState>;

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
            let program = crate::platform::http::db(&state.pool, crate::programs::current).await?;
            let session = TypedSession::of(&req);
            Ok(Ctx(PageContext {
                program_name: program.name,
                user: user.as_ref().map(NavUser::from),
                csrf_token: session.csrf_token(),
                flashes: session.take_flashes(),
                path: req.path().to_string(),
                stylesheet_version: crate::platform::http::assets::stylesheet_version(),
            }))
        })
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

/// Every route that runs behind the session and CSRF middleware. The tracked redirect (`tracking::routes`) is
/// mounted apart, in `startup`, ahead of them.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(public::routes)
        .configure(crate::platform::http::assets::routes)
        .configure(accounts::login::routes)
        .configure(accounts::password::routes)
        .configure(accounts::team::public_routes)
        .configure(affiliate::portal::public_routes)
        .configure(partners::apply::public_routes)
        .configure(training::portal::public_routes)
        .configure(accounts::setup::routes)
        .configure(api::routes)
        .configure(payouts::stripe_webhook::routes)
        .configure(portal::routes)
        .configure(admin::routes);
}

/// Anything no route matched: a 404 page, or a JSON 404 under `/api/`.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    if req.path().starts_with("/api/") {
        Err(crate::platform::http::ApiError(AppError::NotFound).into())
    } else {
        Err(AppError::NotFound.into())
    }
}
