//! `/admin/mdf`: the queues of MDF requests and claims, a request's page where staff approve (all or part),
//! decline or return it and review its claim; `/admin/mdf/budgets` (funds, allocations per tier or partner,
//! accrual, the program's reimbursement rules; admins only); and `/admin/reports/mdf` with CSV.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::money::{percent_text, BasisPoints, Currency, Money};
use crate::mdf::forms::{MdfSettings, SettingsForm};
use crate::mdf::rules::{parse_period, Decision, FundPosition, RequestStatus};
use crate::mdf::{
    AllocationTarget, AllocationView, Expiry, Fund, MdfError, MdfRequest, NewFund, OrgPosition,
    RequestRow,
};
use crate::platform::db::{self, DbConn};
use crate::platform::http::{
    csv_field, db, page, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::programs::Program;
use crate::tiers::store::Tier;
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::mdf::portal::RequestDetails;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/mdf", web::get().to(queue))
        .route("/mdf/budgets", web::get().to(budgets))
        .route("/mdf/budgets", web::post().to(create_fund))
        .route("/mdf/settings", web::post().to(save_settings))
        .route("/mdf/budgets/{id}", web::get().to(fund_page))
        .route(
            "/mdf/budgets/{id}/allocations",
            web::post().to(set_allocation),
        )
        .route(
            "/mdf/budgets/{id}/allocations/{allocation}/remove",
            web::post().to(remove_allocation),
        )
        .route("/mdf/proof/{id}", web::get().to(proof))
        .route("/mdf/{id}", web::get().to(show))
        .route("/mdf/{id}/decision", web::post().to(decide))
        .route("/mdf/{id}/claim", web::post().to(decide_claim))
        .route("/reports/mdf", web::get().to(report))
        .route("/reports/mdf.csv", web::get().to(report_csv));
}

fn notifier(
    base_url: String,
) -> impl Fn(
    &mut DbConn,
    &MdfRequest,
    &crate::mdf::MdfNotice,
) -> Result<(), crate::platform::mail::NotifyError> {
    move |conn, request, notice| crate::mdf::notices::mdf_notice(conn, &base_url, request, notice)
}

// ---------------------------------------------------------------------------------------------------------------
// Queues and a request's page

#[derive(Template)]
#[template(path = "admin/mdf.html")]
struct QueuePage {
    ctx: PageContext,
    requests: Vec<RequestRow>,
    claims: Vec<RequestRow>,
    all: Vec<RequestRow>,
    pager: crate::platform::http::pager::Pager,
}

async fn queue(
    Ctx(ctx): Ctx,
    state: State,
    mut pager: crate::platform::http::pager::Pager,
) -> Result<HttpResponse, AppError> {
    let window = pager.window();
    let (requests, claims, all) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let (requests, claims) = crate::mdf::queue(conn, program.id)?;
        let all = crate::mdf::all_requests(conn, program.id, window)?;
        Ok::<_, diesel::result::Error>((requests, claims, all))
    })
    .await?;
    page(&QueuePage {
        ctx,
        requests,
        claims,
        all: pager.keep(all),
        pager,
    })
}

#[derive(Deserialize, Default)]
struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    approved: String,
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "admin/mdf_request.html")]
struct RequestPage {
    ctx: PageContext,
    d: RequestDetails,
    typed: DecisionForm,
    error: Option<String>,
    reimbursement: String,
    proof_base: &'static str,
}

impl RequestPage {
    fn awaiting_decision(&self) -> bool {
        self.d.request.status() == RequestStatus::Submitted
    }

    fn claim_awaiting_review(&self) -> bool {
        self.d.claim_status() == Some(crate::mdf::rules::ClaimStatus::Submitted)
    }

    fn approved_value(&self) -> String {
        if self.typed.approved.is_empty() {
            self.d.request.requested().amount_text()
        } else {
            self.typed.approved.clone()
        }
    }
}

async fn request_page(
    ctx: PageContext,
    state: &State,
    id: i64,
    typed: DecisionForm,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (d, program) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let request = crate::mdf::find_request(conn, program.id, id)?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>((RequestDetails::load(conn, request)?, program))
    })
    .await?;
    render(
        status,
        &RequestPage {
            ctx,
            d,
            typed,
            error,
            reimbursement: percent_text(program.mdf_reimbursement_bps),
            proof_base: "/admin/mdf/proof",
        },
    )
}

async fn show(Ctx(ctx): Ctx, state: State, path: web::Path<i64>) -> Result<HttpResponse, AppError> {
    request_page(
        ctx,
        &state,
        path.into_inner(),
        DecisionForm::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// Runs a staff decision; a refusal re-renders the request with the message and what was typed.
async fn staff_move(
    ctx: PageContext,
    state: &State,
    session: &TypedSession,
    id: i64,
    form: DecisionForm,
    work: impl FnOnce(&mut DbConn, &Program) -> Result<String, MdfError> + Send + 'static,
) -> Result<HttpResponse, AppError> {
    let result = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, AppError>(work(conn, &program))
    })
    .await?;
    match result {
        Ok(message) => {
            session.success(message);
            Ok(redirect(&format!("/admin/mdf/{id}")))
        }
        Err(MdfError::Refused(message) | MdfError::Field(_, message)) => {
            request_page(
                ctx,
                state,
                id,
                form,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

fn parse_decision(raw: &str) -> Result<Decision, AppError> {
    raw.parse().map_err(|_| {
        AppError::BadRequest("Choose approve, decline or return for more information.".into())
    })
}

async fn decide(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    web::Form(form): web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let decision = parse_decision(&form.decision)?;
    let (approved_raw, reason) = (form.approved.clone(), form.reason.clone());
    let actor = user.actor();
    let notify = notifier(state.settings.base_url.clone());
    staff_move(ctx, &state, &session, id, form, move |conn, program| {
        let approved = if decision == Decision::Approve {
            let request =
                crate::mdf::find_request(conn, program.id, id)?.ok_or(MdfError::NotFound)?;
            Some(
                Money::parse(&approved_raw, request.currency())
                    .map_err(|e| MdfError::Field("approved", e.into()))?,
            )
        } else {
            None
        };
        let status = crate::mdf::decide_request(
            conn, program, id, decision, approved, &reason, &actor, &notify,
        )?;
        Ok(format!("Request {}.", status.label().to_lowercase()))
    })
    .await
}

async fn decide_claim(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    web::Form(form): web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let decision = parse_decision(&form.decision)?;
    let reason = form.reason.clone();
    let actor = user.actor();
    let notify = notifier(state.settings.base_url.clone());
    staff_move(ctx, &state, &session, id, form, move |conn, program| {
        let status =
            crate::mdf::decide_claim(conn, program, id, decision, &reason, &actor, &notify)?;
        Ok(format!("{}.", status.label()))
    })
    .await
}

async fn proof(state: State, path: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let program = db(&state.pool, crate::programs::current).await?;
    crate::web::mdf::portal::serve_proof(&state, program.id, None, path.into_inner()).await
}

// ---------------------------------------------------------------------------------------------------------------
// Budgets

#[derive(Deserialize, Default)]
struct FundForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    quarter: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    accrual_percent: String,
    /// Fill the tier allocations from each tier's MDF allowance.
    #[serde(default)]
    from_tiers: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/mdf_budgets.html")]
struct BudgetsPage {
    ctx: PageContext,
    funds: Vec<(Fund, FundPosition)>,
    form: FundForm,
    settings: SettingsForm,
    errors: FieldErrors,
    quarters: Vec<String>,
}

async fn budgets_page(
    ctx: PageContext,
    state: &State,
    form: Option<FundForm>,
    settings: Option<SettingsForm>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (funds, program) = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        let mut funds = Vec::new();
        for fund in crate::mdf::funds(conn, program.id)? {
            let mut total = FundPosition::default();
            for org in crate::mdf::positions(conn, &fund, None)? {
                total.add(&org.position);
            }
            funds.push((fund, total));
        }
        Ok::<_, diesel::result::Error>((funds, program))
    })
    .await?;
    let this_quarter = crate::deals::rules::Quarter::of(db::now().date());
    render(
        status,
        &BudgetsPage {
            ctx,
            funds,
            form: form.unwrap_or_else(|| FundForm {
                currency: program.currency.clone(),
                quarter: this_quarter.to_string(),
                accrual_percent: "0".into(),
                from_tiers: Some("on".into()),
                ..Default::default()
            }),
            settings: settings.unwrap_or_else(|| SettingsForm {
                reimbursement_percent: percent_text(program.mdf_reimbursement_bps)
                    .trim_end_matches('%')
                    .to_string(),
                claim_days: program.mdf_claim_days.to_string(),
            }),
            errors,
            quarters: vec![
                this_quarter.to_string(),
                this_quarter.next().to_string(),
                this_quarter.next().next().to_string(),
            ],
        },
    )
}

async fn budgets(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    budgets_page(
        ctx,
        &state,
        None,
        None,
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn create_fund(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    web::Form(form): web::Form<FundForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut errors = FieldErrors::default();
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add(
            "name",
            "Name the fund, e.g. \"Q1 2027 MDF\" (up to 100 characters).",
        );
    }
    let currency = Currency::parse(&form.currency)
        .map_err(|e| errors.add("currency", e))
        .ok();
    let period = parse_period(&form.quarter, &form.starts_on, &form.ends_on)
        .map_err(|(field, message)| errors.add(field, message))
        .ok();
    let accrual = if form.accrual_percent.trim().is_empty() {
        Some(0)
    } else {
        BasisPoints::parse_percent(&form.accrual_percent)
            .map(BasisPoints::value)
            .map_err(|e| errors.add("accrual_percent", e))
            .ok()
    };
    let (Some(currency), Some((starts_on, ends_on)), Some(accrual_bps)) =
        (currency, period, accrual)
    else {
        return budgets_page(
            ctx,
            &state,
            Some(form),
            None,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if !errors.is_empty() {
        return budgets_page(
            ctx,
            &state,
            Some(form),
            None,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let from_tiers = form.from_tiers.is_some();
    let actor = user.actor();
    let created = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let fund = NewFund {
            name: &name,
            currency,
            starts_on,
            ends_on,
            accrual_bps,
        };
        Ok::<_, AppError>(crate::mdf::create_fund(
            conn, program.id, &fund, from_tiers, &actor,
        ))
    })
    .await?;
    match created {
        Ok(id) => {
            session.success("Fund created. Set or adjust its allocations below.");
            Ok(redirect(&format!("/admin/mdf/budgets/{id}")))
        }
        Err(MdfError::Field(field, message)) => {
            errors.add(field, message);
            budgets_page(
                ctx,
                &state,
                Some(form),
                None,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn save_settings(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    web::Form(form): web::Form<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let settings = match MdfSettings::try_from(&form) {
        Ok(settings) => settings,
        Err(errors) => {
            return budgets_page(
                ctx,
                &state,
                None,
                Some(form),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let (bps, days) = (settings.reimbursement_bps, settings.claim_days);
    let actor = user.actor();
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::mdf::save_settings(conn, &program, bps, days, &actor)
    })
    .await?;
    session.success("MDF rules saved.");
    Ok(redirect("/admin/mdf/budgets"))
}

#[derive(Deserialize, Default)]
struct AllocationForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    amount: String,
}

#[derive(Template)]
#[template(path = "admin/mdf_fund.html")]
struct FundPage {
    ctx: PageContext,
    fund: Fund,
    allocations: Vec<AllocationView>,
    positions: Vec<OrgPosition>,
    total: FundPosition,
    expiries: Vec<(Expiry, String)>,
    tiers: Vec<Tier>,
    partners: Vec<(i64, String)>,
    form: AllocationForm,
    errors: FieldErrors,
}

async fn fund_page_with(
    ctx: PageContext,
    state: &State,
    id: i64,
    form: AllocationForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let fund = crate::mdf::find_fund(conn, program.id, id)?.ok_or(AppError::NotFound)?;
        let positions = crate::mdf::positions(conn, &fund, None)?;
        let mut total = FundPosition::default();
        for p in &positions {
            total.add(&p.position);
        }
        let partners = crate::partners::store::channel_partner_choices(conn, program.id)?;
        Ok::<_, AppError>(FundPage {
            ctx,
            allocations: crate::mdf::allocations(conn, fund.id)?,
            expiries: crate::mdf::expiries(conn, fund.id)?,
            tiers: crate::tiers::store::list(conn, program.id)?,
            partners,
            positions,
            total,
            fund,
            form,
            errors,
        })
    })
    .await?;
    render(status, &page)
}

async fn fund_page(
    Ctx(ctx): Ctx,
    state: State,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    fund_page_with(
        ctx,
        &state,
        path.into_inner(),
        AllocationForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn set_allocation(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    web::Form(form): web::Form<AllocationForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let mut errors = FieldErrors::default();
    let target = match form.target.split_once(':') {
        Some(("tier", t)) => t.parse().ok().map(AllocationTarget::Tier),
        Some(("partner", p)) => p.parse().ok().map(AllocationTarget::Partner),
        _ => None,
    };
    if target.is_none() {
        errors.add("target", "Choose a tier or a partner.");
    }
    let (amount_raw, actor) = (form.amount.clone(), user.actor());
    let result = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let fund = crate::mdf::find_fund(conn, program.id, id)?.ok_or(AppError::NotFound)?;
        let amount = match Money::parse(&amount_raw, fund.currency()) {
            Ok(m) if m.minor >= 0 => m,
            Ok(_) => {
                return Ok(Err(MdfError::Field(
                    "amount",
                    "An allocation cannot be negative.".into(),
                )))
            }
            Err(e) => return Ok(Err(MdfError::Field("amount", e.into()))),
        };
        let Some(target) = target else {
            return Ok(Err(MdfError::Field(
                "target",
                "Choose a tier or a partner.".into(),
            )));
        };
        Ok::<_, AppError>(crate::mdf::set_allocation(
            conn,
            &fund,
            target,
            amount.minor,
            &actor,
        ))
    })
    .await?;
    match result {
        Ok(()) => {
            session.success("Allocation saved.");
            Ok(redirect(&format!("/admin/mdf/budgets/{id}")))
        }
        Err(MdfError::Field(field, message)) => {
            if errors.get(field).is_none() {
                errors.add(field, message);
            }
            fund_page_with(
                ctx,
                &state,
                id,
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn remove_allocation(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let (id, allocation) = path.into_inner();
    let actor = user.actor();
    let removed = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let fund = crate::mdf::find_fund(conn, program.id, id)?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>(crate::mdf::remove_allocation(
            conn, &fund, allocation, &actor,
        )?)
    })
    .await?;
    if !removed {
        return Err(AppError::NotFound);
    }
    session.success("Allocation removed.");
    Ok(redirect(&format!("/admin/mdf/budgets/{id}")))
}

// ---------------------------------------------------------------------------------------------------------------
// Report

#[derive(Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    fund: String,
}

/// Every fund's totals, and for the chosen fund its totals per tier and per partner.
struct MdfReport {
    funds: Vec<(Fund, FundPosition)>,
    chosen: Option<Fund>,
    by_tier: Vec<(String, FundPosition)>,
    by_partner: Vec<OrgPosition>,
}

impl MdfReport {
    /// Bars per partner: (name, allocated width, used width, used text), scaled to the largest allocation.
    fn partner_bars(&self) -> Vec<(String, i64, i64, String)> {
        let Some(fund) = &self.chosen else {
            return Vec::new();
        };
        let largest = self
            .by_partner
            .iter()
            .map(|p| {
                p.position
                    .allocated
                    .max(p.position.claimed + p.position.paid)
            })
            .max()
            .unwrap_or(0)
            .max(1);
        let width = |v: i64| crate::domain::money::share(380, v.max(0), largest);
        self.by_partner
            .iter()
            .map(|p| {
                let used = p.position.claimed + p.position.paid;
                (
                    p.org_name.clone(),
                    width(p.position.allocated),
                    width(used),
                    format!(
                        "{} used of {} ({})",
                        fund.money(used),
                        fund.money(p.position.allocated),
                        p.position.utilization_text()
                    ),
                )
            })
            .collect()
    }
}

async fn load_report(state: &State, query: &ReportQuery) -> Result<MdfReport, AppError> {
    let wanted = query.fund.trim().parse::<i64>().ok();
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let mut funds = Vec::new();
        let mut chosen = None;
        let mut by_partner = Vec::new();
        for fund in crate::mdf::funds(conn, program.id)? {
            let positions = crate::mdf::positions(conn, &fund, None)?;
            let mut total = FundPosition::default();
            for p in &positions {
                total.add(&p.position);
            }
            // The chosen fund, or else the newest.
            if chosen.is_none() && wanted.is_none_or(|w| w == fund.id) {
                chosen = Some(fund.clone());
                by_partner = positions;
            }
            funds.push((fund, total));
        }
        let mut by_tier: Vec<(String, FundPosition)> = Vec::new();
        for p in &by_partner {
            let tier = p.tier_name.clone().unwrap_or_else(|| "No tier".into());
            match by_tier.iter_mut().find(|(name, _)| *name == tier) {
                Some((_, total)) => total.add(&p.position),
                None => by_tier.push((tier, p.position)),
            }
        }
        Ok::<_, diesel::result::Error>(MdfReport {
            funds,
            chosen,
            by_tier,
            by_partner,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "admin/mdf_report.html")]
struct ReportPage {
    ctx: PageContext,
    report: MdfReport,
}

async fn report(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let report = load_report(&state, &query).await?;
    page(&ReportPage { ctx, report })
}

async fn report_csv(
    state: State,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let report = load_report(&state, &query).await?;
    let mut out = String::from(
        "level,name,currency,allocated,awaiting_review,reserved,claimed,paid,expired,available,utilization_percent,linked_won_revenue,roi\r\n",
    );
    let mut line = |level: &str, name: &str, currency: Currency, p: &FundPosition| {
        let decimal = |minor: i64| Money::new(minor, currency).amount_text().replace(',', "");
        out.push_str(&format!(
            "{level},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            csv_field(name),
            currency,
            decimal(p.allocated),
            decimal(p.awaiting),
            decimal(p.reserved),
            decimal(p.claimed),
            decimal(p.paid),
            decimal(p.expired),
            decimal(p.available()),
            p.utilization_bps()
                .map(|b| percent_text(b).trim_end_matches('%').to_string())
                .unwrap_or_default(),
            decimal(p.linked_won),
            p.roi_hundredths()
                .map(|h| format!("{}.{:02}", h / 100, h % 100))
                .unwrap_or_default(),
        ));
    };
    for (fund, total) in &report.funds {
        line("fund", &fund.name, fund.currency(), total);
    }
    if let Some(fund) = &report.chosen {
        for (tier, p) in &report.by_tier {
            line("tier", tier, fund.currency(), p);
        }
        for p in &report.by_partner {
            line("partner", &p.org_name, fund.currency(), &p.position);
        }
    }
    Ok(crate::platform::http::csv_response("mdf.csv", out))
}
