//! The partner portal. Every page here is for partner users only (see `auth::guard::require_partner`) and shows
//! only the signed-in user's own org.

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{db, page, Ctx, PageContext, State};
use crate::auth::guard::require_partner;
use crate::auth::CurrentUser;
use crate::db::partners::PartnerOverview;
use crate::domain::partner::PartnerStatus;
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/portal")
            .wrap(from_fn(require_partner))
            .route("", web::get().to(dashboard))
            .configure(super::team::portal_routes),
    );
}

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct Dashboard {
    ctx: PageContext,
    partner: PartnerOverview,
    benefits: Option<String>,
}

impl Dashboard {
    fn under_review(&self) -> bool {
        self.partner.org.status() == PartnerStatus::Applied
    }
}

async fn dashboard(
    Ctx(ctx): Ctx,
    user: CurrentUser,
    state: State,
) -> Result<HttpResponse, AppError> {
    let org_id = user
        .0
        .partner_org_id
        .ok_or_else(|| AppError::internal("partner user without an org"))?;
    let partner = db(&state.pool, move |conn| {
        crate::db::partners::overview(conn, org_id)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let benefits = partner
        .tier
        .as_ref()
        .map(|t| t.benefits(partner.program.currency()));
    page(&Dashboard {
        ctx,
        partner,
        benefits,
    })
}
