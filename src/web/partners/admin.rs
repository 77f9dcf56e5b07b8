//! `/admin/partners`: the partner list with filters and search, a partner's page, and the decisions on it:
//! approve, reject (with a reason), suspend (with a reason), reinstate, and tier changes (with a reason).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::partner::{PartnerDecision, PartnerKind, PartnerStatus};
use crate::partners::store::{PartnerFilter, PartnerListing, PartnerOverview, TierChange};
use crate::partners::PartnerWriteError;
use crate::platform::audit::{AuditEntry, AuditFilter};
use crate::platform::db::DbConn;
use crate::platform::http::pager::Pager;
use crate::platform::http::{db, page, redirect, render, AppError, PageContext, TypedSession};
use crate::tiers::store::Tier;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/partners", web::get().to(list))
        .route("/partners/{id}", web::get().to(show))
        .route("/partners/{id}/decision", web::post().to(decide))
        .route("/partners/{id}/tier", web::post().to(change_tier))
        .route("/partners/{id}/coupons", web::post().to(assign_coupon));
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "admin/partners.html")]
struct ListPage {
    ctx: PageContext,
    query: ListQuery,
    tiers: Vec<Tier>,
    partners: Vec<PartnerListing>,
    pager: Pager,
    problems: Vec<String>,
}

/// Reads the filter from the query string; a value that names nothing is reported, not silently dropped.
fn parse_filter(query: &ListQuery, problems: &mut Vec<String>) -> PartnerFilter {
    PartnerFilter {
        kind: crate::platform::http::pick_filter::<PartnerKind>(
            &query.kind,
            "partner kind",
            problems,
        ),
        status: crate::platform::http::pick_filter::<PartnerStatus>(
            &query.status,
            "status",
            problems,
        ),
        tier_id: crate::platform::http::pick_filter::<i64>(&query.tier, "tier", problems),
        search: Some(query.q.trim().to_string()).filter(|q| !q.is_empty()),
    }
}

async fn list(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<ListQuery>,
    mut pager: Pager,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let filter = parse_filter(&query, &mut problems);
    let window = pager.window();
    let (tiers, partners) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, diesel::result::Error>((
            crate::tiers::store::list(conn, program.id)?,
            crate::partners::store::list(conn, program.id, &filter, window)?,
        ))
    })
    .await?;
    page(&ListPage {
        ctx,
        query,
        tiers,
        partners: pager.keep(partners),
        pager,
        problems,
    })
}

#[derive(Template)]
#[template(path = "admin/partner.html")]
struct PartnerPage {
    ctx: PageContext,
    partner: PartnerOverview,
    benefits: Option<String>,
    decisions: Vec<PartnerDecision>,
    tiers: Vec<Tier>,
    history: Vec<TierChange>,
    audit: Vec<AuditEntry>,
    /// What the admin typed into a form that was refused, and why.
    decision_error: Option<String>,
    decision_reason: String,
    tier_error: Option<String>,
    tier_reason: String,
    tier_choice: String,
    coupons: Vec<crate::affiliate::store::coupons::Coupon>,
    coupon_error: Option<String>,
    coupon_code: String,
}

impl PartnerPage {
    fn current_tier_value(&self) -> String {
        self.partner
            .org
            .tier_id
            .map(|id| id.to_string())
            .unwrap_or_default()
    }

    fn tier_selected(&self, tier: &Tier) -> bool {
        let choice = if self.tier_choice.is_empty() {
            self.current_tier_value()
        } else {
            self.tier_choice.clone()
        };
        choice == tier.id.to_string()
    }
}

struct PartnerData {
    partner: PartnerOverview,
    tiers: Vec<Tier>,
    history: Vec<TierChange>,
    audit: Vec<AuditEntry>,
    coupons: Vec<crate::affiliate::store::coupons::Coupon>,
}

fn load(conn: &mut DbConn, org_id: i64) -> Result<PartnerData, AppError> {
    let partner = crate::partners::store::overview(conn, org_id)?.ok_or(AppError::NotFound)?;
    let tiers = crate::tiers::store::list(conn, partner.program.id)?;
    let history = crate::partners::store::tier_history(conn, org_id)?;
    let filter = AuditFilter {
        subject_type: Some("partner".into()),
        subject_id: Some(org_id),
        ..Default::default()
    };
    let audit = crate::platform::audit::list(conn, &filter, 0)?;
    let coupons = crate::affiliate::store::coupons::list_for_org(conn, org_id)?;
    Ok(PartnerData {
        partner,
        tiers,
        history,
        audit,
        coupons,
    })
}

impl PartnerPage {
    fn new(ctx: PageContext, data: PartnerData) -> Self {
        let benefits = data
            .partner
            .tier
            .as_ref()
            .map(|t| t.benefits(data.partner.program.currency()));
        let decisions = PartnerDecision::available_from(data.partner.org.status());
        Self {
            ctx,
            benefits,
            decisions,
            partner: data.partner,
            tiers: data.tiers,
            history: data.history,
            audit: data.audit,
            decision_error: None,
            decision_reason: String::new(),
            tier_error: None,
            tier_reason: String::new(),
            tier_choice: String::new(),
            coupons: data.coupons,
            coupon_error: None,
            coupon_code: String::new(),
        }
    }
}

async fn show(Ctx(ctx): Ctx, state: State, path: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let org_id = path.into_inner();
    let data = db(&state.pool, move |conn| load(conn, org_id)).await?;
    page(&PartnerPage::new(ctx, data))
}

#[derive(Deserialize)]
struct DecisionForm {
    decision: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    Ctx(ctx): Ctx,
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let org_id = path.into_inner();
    let form = form.into_inner();
    let decision: PartnerDecision = form
        .decision
        .parse()
        .map_err(|_| AppError::BadRequest(format!("Unknown decision '{}'.", form.decision)))?;
    let actor = user.actor();
    let reason = form.reason.clone();
    let base_url = state.settings.base_url.clone();
    let outcome = db(&state.pool, move |conn| {
        let program_id = crate::programs::current(conn)?.id;
        Ok::<_, AppError>(crate::partners::apply_decision(
            conn,
            program_id,
            org_id,
            decision,
            Some(&reason),
            &actor,
            &base_url,
        ))
    })
    .await?;
    match outcome {
        Ok(status) => {
            // The redirect caches whether a link's partner is approved; a suspension must take effect at once.
            state.tracking.invalidate_settings();
            session.success(format!("Partner {}.", status.label().to_lowercase()));
            Ok(redirect(&format!("/admin/partners/{org_id}")))
        }
        Err(PartnerWriteError::Refused(message) | PartnerWriteError::Field(_, message)) => {
            let data = db(&state.pool, move |conn| load(conn, org_id)).await?;
            let mut page = PartnerPage::new(ctx, data);
            page.decision_error = Some(message);
            page.decision_reason = form.reason;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct TierForm {
    #[serde(default)]
    tier_id: String,
    #[serde(default)]
    hold_until: String,
    #[serde(default)]
    reason: String,
}

async fn change_tier(
    Ctx(ctx): Ctx,
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<TierForm>,
) -> Result<HttpResponse, AppError> {
    let org_id = path.into_inner();
    let form = form.into_inner();
    // "auto" hands the org back to automatic placement; anything else is a manual placement that holds until
    // the optional date.
    if form.tier_id.trim() == "auto" {
        let actor = user.actor();
        let found = db(&state.pool, move |conn| {
            let program_id = crate::programs::current(conn)?.id;
            crate::placement::return_to_automatic(conn, program_id, org_id, &actor)
        })
        .await?;
        if !found {
            return Err(AppError::NotFound);
        }
        session.success("The tier is placed automatically again from the next recalculation.");
        return Ok(redirect(&format!("/admin/partners/{org_id}")));
    }
    let to_tier = match form.tier_id.trim() {
        "" => None,
        raw => Some(
            raw.parse::<i64>()
                .map_err(|_| AppError::BadRequest(format!("'{raw}' is not a tier.")))?,
        ),
    };
    let hold_until = match form.hold_until.trim() {
        "" => None,
        raw => match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(date) => Some(date.and_hms_opt(0, 0, 0).expect("midnight")),
            Err(_) => {
                let data = db(&state.pool, move |conn| load(conn, org_id)).await?;
                let mut page = PartnerPage::new(ctx, data);
                page.tier_error = Some(format!("'{raw}' is not a date like 2026-12-31."));
                page.tier_reason = form.reason;
                page.tier_choice = form.tier_id;
                return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
            }
        },
    };
    let actor = user.actor();
    let reason = form.reason.clone();
    let outcome = db(&state.pool, move |conn| {
        Ok::<_, AppError>(crate::placement::place_by_hand(
            conn, org_id, to_tier, &reason, hold_until, &actor,
        ))
    })
    .await?;
    match outcome {
        Ok(()) => {
            session.success("Tier changed. The placement holds until its end date; automatic placement leaves it alone until then.");
            Ok(redirect(&format!("/admin/partners/{org_id}")))
        }
        Err(PartnerWriteError::Refused(message) | PartnerWriteError::Field(_, message)) => {
            let data = db(&state.pool, move |conn| load(conn, org_id)).await?;
            let mut page = PartnerPage::new(ctx, data);
            page.tier_error = Some(message);
            page.tier_reason = form.reason;
            page.tier_choice = form.tier_id;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct CouponForm {
    #[serde(default)]
    code: String,
}

async fn assign_coupon(
    Ctx(ctx): Ctx,
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<CouponForm>,
) -> Result<HttpResponse, AppError> {
    use crate::affiliate::store::coupons::CouponError;
    let org_id = path.into_inner();
    let typed = form.into_inner().code;
    let refusal = match crate::affiliate::rules::check_coupon(&typed) {
        Err(message) => Some(message),
        Ok((code, key)) => {
            let actor = user.actor();
            let assigned = db(&state.pool, move |conn| {
                let program_id = crate::programs::current(conn)?.id;
                let partner = crate::partners::store::find(conn, program_id, org_id)?
                    .ok_or(AppError::NotFound)?;
                Ok::<_, AppError>(crate::affiliate::store::coupons::assign(
                    conn,
                    org_id,
                    &partner.org.name,
                    &code,
                    &key,
                    &actor,
                ))
            })
            .await?;
            match assigned {
                Ok(_) => None,
                Err(e @ CouponError::Taken(_)) => {
                    Some(crate::domain::refusal::Refusal::new(e.to_string()))
                }
                Err(CouponError::Database(e)) => return Err(e.into()),
            }
        }
    };
    match refusal {
        None => {
            session.success(format!("Coupon {} assigned.", typed.trim()));
            Ok(redirect(&format!("/admin/partners/{org_id}")))
        }
        Some(message) => {
            let data = db(&state.pool, move |conn| load(conn, org_id)).await?;
            let mut page = PartnerPage::new(ctx, data);
            page.coupon_error = Some(message.into());
            page.coupon_code = typed;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
