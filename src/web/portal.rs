//! The partner portal. Every page here is for partner users only (see `auth::guard::require_partner`) and shows
//! only the signed-in user's own org.

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{db, page, Ctx, PageContext, State};
use crate::auth::guard::require_partner;
use crate::auth::CurrentUser;
use crate::db::partners::PartnerOverview;
use crate::domain::partner::{PartnerKind, PartnerStatus};
use crate::domain::stats::{performance, ConversionRow, Performance};
use crate::error::AppError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/portal")
            .wrap(from_fn(require_partner))
            .route("", web::get().to(dashboard))
            .configure(super::team::portal_routes)
            .configure(super::affiliate::portal_routes)
            .configure(super::earnings::portal_routes)
            .configure(super::reseller::portal_routes)
            .configure(super::training::portal_routes)
            .configure(super::content::portal_routes)
            .configure(super::deals::portal_routes)
            .configure(super::mdf::portal_routes)
            .configure(super::payouts::portal_routes),
    );
}

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct Dashboard {
    ctx: PageContext,
    partner: PartnerOverview,
    benefits: Option<String>,
    /// The last 30 days, for approved affiliates.
    performance: Option<Performance>,
    /// What the next tier needs and how far the org is: (tier name, [(line, met)]).
    next_tier: Option<(String, Vec<(String, bool)>)>,
    /// Deal pipeline, for approved reseller and referral orgs.
    pipeline: Option<super::admin::pipeline::Pipeline>,
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
    let partner = own_partner(&state, &user).await?;
    let org_id = partner.org.id;
    let benefits = partner
        .tier
        .as_ref()
        .map(|t| t.benefits(partner.program.currency()));
    let next_tier = if partner.org.status() == PartnerStatus::Approved {
        let (currency, rank) = (
            partner.program.currency.clone(),
            partner.tier.as_ref().map(|t| t.rank),
        );
        let program_currency = partner.program.currency();
        db(&state.pool, move |conn| {
            let program = crate::db::programs::current(conn)?;
            let criteria: Vec<_> = crate::db::tiers::list(conn, program.id)?
                .iter()
                .map(|t| t.criteria())
                .collect();
            let metrics = crate::db::placement::metrics(conn, org_id, &currency, crate::db::now())?;
            Ok::<_, diesel::result::Error>(
                crate::domain::tier_placement::next_above(&criteria, rank)
                    .map(|next| (next.name.clone(), next.progress(&metrics, program_currency))),
            )
        })
        .await?
    } else {
        None
    };
    let performance = if partner.org.kind() == PartnerKind::Affiliate
        && partner.org.status() == PartnerStatus::Approved
    {
        Some(affiliate_performance(&state, org_id).await?)
    } else {
        None
    };
    let pipeline = if partner.org.kind() != PartnerKind::Affiliate
        && partner.org.status() == PartnerStatus::Approved
    {
        Some(super::admin::pipeline::run(&state, Some(org_id)).await?)
    } else {
        None
    };
    page(&Dashboard {
        pipeline,
        ctx,
        partner,
        benefits,
        performance,
        next_tier,
    })
}

/// The signed-in partner user's own org, with its tier, program and people.
pub async fn own_partner(state: &State, user: &CurrentUser) -> Result<PartnerOverview, AppError> {
    let org_id = user.partner_org_id()?;
    db(&state.pool, move |conn| {
        crate::db::partners::overview(conn, org_id)
    })
    .await?
    .ok_or(AppError::NotFound)
}

/// The signed-in user's org when it is an approved reseller or referral partner: what deal registration and
/// MDF are for. `feature` names the page in the refusal ("Deal registration", "Market development funds").
pub async fn own_channel_partner(
    state: &State,
    user: &CurrentUser,
    feature: &str,
) -> Result<PartnerOverview, AppError> {
    let partner = own_partner(state, user).await?;
    if partner.org.kind() == crate::domain::partner::PartnerKind::Affiliate {
        return Err(AppError::Forbidden(format!(
            "{feature} is for reseller and referral partners."
        )));
    }
    if partner.org.status() != crate::domain::partner::PartnerStatus::Approved {
        return Err(AppError::Forbidden(format!(
            "{feature} opens once your organisation is approved."
        )));
    }
    Ok(partner)
}

const DASHBOARD_DAYS: i64 = 30;

async fn affiliate_performance(state: &State, org_id: i64) -> Result<Performance, AppError> {
    let today = crate::db::now().date();
    let since = (today - chrono::Duration::days(DASHBOARD_DAYS - 1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    let (clicks, conversions) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            crate::db::clicks::times_and_filters(conn, org_id, since)?,
            crate::db::conversions::for_partner_since(conn, org_id, since)?,
        ))
    })
    .await?;
    let rows: Vec<ConversionRow> = conversions
        .iter()
        .filter(|c| c.review_status != "rejected")
        .map(|c| ConversionRow {
            occurred_at: c.occurred_at,
            is_sale: c.kind == "sale",
            amount_minor: c.amount_minor,
            currency: &c.currency,
        })
        .collect();
    Ok(performance(&clicks, &rows, today, DASHBOARD_DAYS))
}
