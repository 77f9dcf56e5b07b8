//! The signed-in user, loaded once per request from the server-side session, and the guards on `/admin` (staff
//! only) and `/portal` (partner users only).

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use std::future::Future;
use std::pin::Pin;

use crate::accounts::role::Role;
use crate::accounts::store::users::User;
use crate::partners::PortalGate;
use crate::platform::auth::token::hash_token;
use crate::platform::db;
use crate::platform::http::{db, AppError, TypedSession};
use crate::web::State;

/// The result of looking up the session, cached in the request's extensions.
#[derive(Clone)]
struct LoadedUser(Option<User>);

pub async fn load_user(req: &HttpRequest) -> Result<Option<User>, AppError> {
    if let Some(LoadedUser(user)) = req.extensions().get::<LoadedUser>() {
        return Ok(user.clone());
    }
    let user = match TypedSession::of(req).session_token() {
        None => None,
        Some(token) => {
            let state = req
                .app_data::<State>()
                .expect("AppState is registered")
                .clone();
            let token_hash = hash_token(&token);
            db(&state.pool, move |conn| {
                crate::accounts::store::sessions::find_user(conn, &token_hash, db::now())
            })
            .await?
        }
    };
    req.extensions_mut().insert(LoadedUser(user.clone()));
    Ok(user)
}

/// A signed-in, active user. Extracting it where nobody is signed in asks them to sign in.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl CurrentUser {
    pub fn role(&self) -> Role {
        self.0.role()
    }

    /// The org of a partner user. Partner pages sit behind `require_partner`, so a missing org is a broken
    /// invariant, not a visitor's mistake.
    pub fn partner_org_id(&self) -> Result<i64, AppError> {
        self.0
            .partner_org_id
            .ok_or_else(|| AppError::internal("partner user without an org"))
    }

    pub fn actor(&self) -> crate::platform::audit::Actor {
        crate::platform::audit::Actor {
            user_id: Some(self.0.id),
            label: self.0.email.clone(),
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load_user(&req).await? {
                Some(user) => Ok(CurrentUser(user)),
                None => Err(AppError::LoginRequired {
                    next: path_and_query(&req),
                }),
            }
        })
    }
}

/// The signed-in user if there is one, for pages anyone may see.
pub struct MaybeUser(pub Option<User>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(load_user(&req).await?)) })
    }
}

impl From<&User> for crate::platform::http::NavUser {
    fn from(user: &User) -> Self {
        let role = user.role();
        Self {
            name: user.name().to_string(),
            role_label: role.label(),
            is_staff: role.is_staff(),
            is_admin: role == Role::Admin,
        }
    }
}

fn path_and_query(req: &HttpRequest) -> String {
    req.uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| "/".into())
}

async fn require(
    req: ServiceRequest,
    next: Next<BoxBody>,
    allowed: fn(Role) -> bool,
    refusal: &str,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Refusals are answered here as responses, not passed up as errors, so the outer middleware (security
    // headers) still sees them.
    let user = match load_user(req.request()).await {
        Ok(user) => user,
        Err(e) => return Ok(req.error_response(e)),
    };
    match user {
        None => {
            let next = path_and_query(req.request());
            Ok(req.error_response(AppError::LoginRequired { next }))
        }
        Some(user) if !allowed(user.role()) => {
            Ok(req.error_response(AppError::Forbidden(refusal.to_string())))
        }
        Some(_) => next.call(req).await,
    }
}

/// Guard for `/admin`: staff only.
pub async fn require_staff(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    require(
        req,
        next,
        Role::is_staff,
        "These pages are for program staff. Your account is a partner account.",
    )
    .await
}

/// Guard for `/portal`, the one check every portal page relies on: partner users only; while their org is not
/// approved (applied, rejected, suspended), only the status page (`/portal`, which says where the org stands);
/// and until an approved org has accepted the current partner agreement, only the agreement page.
pub async fn require_partner(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    const AGREEMENT: &str = "/portal/agreement";
    let user = match load_user(req.request()).await {
        Ok(user) => user,
        Err(e) => return Ok(req.error_response(e)),
    };
    let user = match user {
        None => {
            let next = path_and_query(req.request());
            return Ok(req.error_response(AppError::LoginRequired { next }));
        }
        Some(user) if !user.role().is_partner() => {
            return Ok(req.error_response(AppError::Forbidden(
                "The partner portal is for partner accounts. Staff work from the admin pages."
                    .into(),
            )))
        }
        Some(user) => user,
    };
    const STATUS_PAGE: &str = "/portal";
    let Some(org_id) = user.partner_org_id else {
        return Ok(req.error_response(AppError::Forbidden(
            "This account belongs to no partner organisation.".into(),
        )));
    };
    let state = req
        .app_data::<State>()
        .expect("AppState is registered")
        .clone();
    let gate = match db(&state.pool, move |conn| {
        crate::partners::portal_gate(conn, org_id)
    })
    .await
    {
        Ok(gate) => gate,
        Err(e) => return Ok(req.error_response(e)),
    };
    match gate {
        PortalGate::Closed(status) if req.path() != STATUS_PAGE => Ok(req.error_response(
            AppError::Forbidden(crate::partners::rules::closed_portal_message(status).into()),
        )),
        PortalGate::AgreementDue if req.path() != AGREEMENT => {
            let response = actix_web::HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, AGREEMENT))
                .finish();
            Ok(req.into_response(response))
        }
        _ => next.call(req).await,
    }
}
