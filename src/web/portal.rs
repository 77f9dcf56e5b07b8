//! The partner portal. Every page here is for partner users only (see `auth::guard::require_partner`) and shows
//! only the signed-in user's own org.

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::{Ctx, State};
use crate::affiliate::stats::{performance, ConversionRow, Performance};
use crate::domain::conversion::{ConversionKind, ReviewStatus};
use crate::domain::partner::{PartnerKind, PartnerStatus};
use crate::partners::store::PartnerOverview;
use crate::platform::http::{db, page, AppError, PageContext};
use crate::web::guard::{require_partner, CurrentUser};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/portal")
            .wrap(from_fn(require_partner))
            .route("", web::get().to(dashboard))
            .configure(crate::web::accounts::team::portal_routes)
            .configure(super::affiliate::portal::portal_routes)
            .configure(super::ledger::earnings::portal_routes)
            .configure(super::partners::apply::portal_routes)
            .configure(crate::web::training::portal::portal_routes)
            .configure(super::assets::portal::portal_routes)
            .configure(super::deals::portal::portal_routes)
            .configure(super::mdf::portal::portal_routes)
            .configure(super::payouts::portal::portal_routes),
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
    pipeline: Option<super::deals::pipeline::Pipeline>,
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
    let org_id = user.partner_org_id()?;
    state.tracking.settle().await;
    // One trip to the database for the org, its tier progress and its figures.
    let (partner, next_tier, performance) = db(&state.pool, move |conn| {
        let partner = crate::partners::store::overview(conn, org_id)?.ok_or(AppError::NotFound)?;
        let approved = partner.org.status() == PartnerStatus::Approved;
        let next_tier = if approved {
            next_tier(conn, &partner)?
        } else {
            None
        };
        let performance = if approved && partner.org.kind() == PartnerKind::Affiliate {
            Some(affiliate_performance(conn, org_id)?)
        } else {
            None
        };
        Ok::<_, AppError>((partner, next_tier, performance))
    })
    .await?;
    let benefits = partner
        .tier
        .as_ref()
        .map(|t| t.benefits(partner.program.currency()));
    let pipeline = if partner.org.kind() != PartnerKind::Affiliate
        && partner.org.status() == PartnerStatus::Approved
    {
        let viewer = crate::deals::Viewer {
            org_id,
            user_id: user.0.id,
            manages_org: user.role() == crate::accounts::role::Role::PartnerAdmin,
            reps_see_org: partner.program.deal_reps_see_org,
        };
        Some(super::deals::pipeline::run(&state, Some(viewer)).await?)
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
        crate::partners::store::overview(conn, org_id)
    })
    .await?
    .ok_or(AppError::NotFound)
}

/// The signed-in user's org when it is a reseller or referral partner: what deal registration and MDF are for
/// (`require_partner` already let in only approved orgs). `feature` names the page in the refusal ("Deal registration", "Market development funds").
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
    Ok(partner)
}

/// What a channel-partner feature keeps of the asking user's org. The feature's pages take `Channel<Self>`, an
/// extractor that lets in only an approved reseller or referral partner and refuses the others naming the feature.
pub trait ChannelFeature: Sized + 'static {
    /// Names the feature in the refusal ("Deal registration is for reseller and referral partners.").
    const NAME: &'static str;
    fn of(user: &CurrentUser, partner: PartnerOverview) -> Self;
}

/// A channel-partner feature's view of the request (`A`) and the signed-in user asking.
pub struct Channel<A>(pub A, pub CurrentUser);

impl<A: ChannelFeature> actix_web::FromRequest for Channel<A> {
    type Error = AppError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AppError>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        let state = req.app_data::<State>().cloned();
        Box::pin(async move {
            let user = user.await?;
            let state = state.ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("the channel extractor found no app state"))
            })?;
            let partner = own_channel_partner(&state, &user, A::NAME).await?;
            Ok(Channel(A::of(&user, partner), user))
        })
    }
}

const DASHBOARD_DAYS: i64 = 30;

/// The tier above the org's own, with each criterion in words and whether the org meets it.
type NextTier = (String, Vec<(String, bool)>);

/// What the org needs for the tier above its own, and how far it is.
fn next_tier(
    conn: &mut crate::platform::db::DbConn,
    partner: &PartnerOverview,
) -> diesel::QueryResult<Option<NextTier>> {
    let criteria: Vec<_> = crate::tiers::store::list(conn, partner.program.id)?
        .iter()
        .map(|t| t.criteria())
        .collect();
    let metrics = crate::placement::metrics(
        conn,
        partner.org.id,
        &partner.program.currency,
        crate::platform::db::now(),
    )?;
    let rank = partner.tier.as_ref().map(|t| t.rank);
    Ok(
        crate::tiers::placement::next_above(&criteria, rank).map(|next| {
            (
                next.name.clone(),
                next.progress(&metrics, partner.program.currency()),
            )
        }),
    )
}

fn affiliate_performance(
    conn: &mut crate::platform::db::DbConn,
    org_id: i64,
) -> diesel::QueryResult<Performance> {
    let today = crate::platform::db::now().date();
    let since = (today - chrono::Duration::days(DASHBOARD_DAYS - 1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    let clicks = crate::affiliate::store::clicks::daily_counts(conn, org_id, since)?;
    let conversions = crate::affiliate::conversions::for_partner_since(conn, org_id, since)?;
    let rows: Vec<ConversionRow<'_>> = conversions
        .iter()
        .filter(|(c, _)| c.review_status != ReviewStatus::Rejected)
        .map(|(c, refunded)| ConversionRow {
            occurred_at: c.occurred_at,
            is_sale: c.kind == ConversionKind::Sale,
            amount_minor: c.amount_minor,
            refunded_minor: *refunded,
            currency: &c.currency,
        })
        .collect();
    Ok(performance(&clicks, &rows, today, DASHBOARD_DAYS))
}
