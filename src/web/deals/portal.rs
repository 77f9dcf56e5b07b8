//! Deal registration in the partner portal: `/portal/deals` (list with filters and CSV), `/portal/deals/new` (the
//! registration form with its conflict warning, checked live while typing by `/portal/deals/check`), and
//! `/portal/deals/{id}` (the deal, its timeline, and the partner's moves: stage, amount, close date, won, lost,
//! extension). A partner never learns which other partner holds a conflicting registration.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::accounts::role::Role;
use crate::deals::config::{CustomField, Stage};
use crate::deals::form::DealForm;
use crate::deals::rules::{domain_of_email, registrable_domain, CustomerKeys, DealStatus, Quarter};
use crate::deals::{
    Deal, DealError, DealEvent, DealFilter, DealRow, Extension, Progress, Registration, Viewer,
};
use crate::domain::money::Money;
use crate::partners::store::PartnerOverview;
use crate::platform::http::pager::Pager;
use crate::platform::http::{
    csv_field, db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::programs::Program;
use crate::web::guard::CurrentUser;
use crate::web::portal::{Channel, ChannelFeature};
use crate::web::{Ctx, State};

pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/deals", web::get().to(list))
        .route("/deals.csv", web::get().to(csv))
        .route("/deals/new", web::get().to(new_form))
        .route("/deals/new", web::post().to(submit))
        .route("/deals/check", web::get().to(check_live))
        .route("/deals/{id}", web::get().to(show))
        .route("/deals/{id}/edit", web::get().to(edit_form))
        .route("/deals/{id}/edit", web::post().to(edit_submit))
        .route("/deals/{id}/progress", web::post().to(progress))
        .route("/deals/{id}/won", web::post().to(won))
        .route("/deals/{id}/lost", web::post().to(lost))
        .route("/deals/{id}/extension", web::post().to(extension));
}

/// Who is asking, and what the program allows them.
struct Access {
    program: Program,
    org_name: String,
    org_country: String,
    viewer: Viewer,
}

impl ChannelFeature for Access {
    const NAME: &'static str = "Deal registration";

    fn of(user: &CurrentUser, partner: PartnerOverview) -> Self {
        let viewer = Viewer {
            org_id: partner.org.id,
            user_id: user.0.id,
            manages_org: user.role() == Role::PartnerAdmin,
            reps_see_org: partner.program.deal_reps_see_org,
        };
        Access {
            org_name: partner.org.name,
            org_country: partner.org.country,
            program: partner.program,
            viewer,
        }
    }
}

/// The program may require a valid certification before a rep registers deals.
async fn require_certification(state: &State, access: &Access) -> Result<(), AppError> {
    if !access.program.deal_requires_certification {
        return Ok(());
    }
    let user_id = access.viewer.user_id;
    let certified = db(&state.pool, move |conn| {
        crate::deals::user_is_certified(conn, user_id, crate::platform::db::now())
    })
    .await?;
    if certified {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "The program asks for a valid certification before you register deals. Pass a course under Training first."
                .into(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Lists

/// The list filters of the portal and admin deal lists, as typed in the query string.
#[derive(Deserialize, Default, Clone)]
pub struct DealListQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub quarter: String,
    #[serde(default)]
    pub partner: String,
}

impl DealListQuery {
    /// Narrows `base` by the query; a value that names nothing is reported, not silently dropped.
    pub fn filter(&self, mut base: DealFilter, problems: &mut Vec<String>) -> DealFilter {
        base.status =
            crate::platform::http::pick_filter::<DealStatus>(&self.status, "status", problems);
        base.stage_id = crate::platform::http::pick_filter::<i64>(&self.stage, "stage", problems);
        if let Some(owner) =
            crate::platform::http::pick_filter::<i64>(&self.owner, "owner", problems)
        {
            // The base may already limit a rep to their own deals; a filter never widens it.
            base.owner_user_id = match base.owner_user_id {
                // A rep limited to their own deals sees nothing of a colleague's.
                Some(own) if own != owner => Some(-1),
                _ => Some(owner),
            };
        }
        if base.org_id.is_none() {
            base.org_id =
                crate::platform::http::pick_filter::<i64>(&self.partner, "partner", problems);
        }
        if !self.quarter.trim().is_empty() {
            match Quarter::parse(&self.quarter) {
                Ok(q) => base.close_between = Some((q.first_day(), q.end())),
                Err(e) => problems.push(format!("{e} That filter is ignored.")),
            }
        }
        base
    }

    pub fn query_string(&self) -> String {
        format!(
            "status={}&stage={}&owner={}&quarter={}&partner={}",
            crate::platform::http::url_encode(&self.status),
            crate::platform::http::url_encode(&self.stage),
            crate::platform::http::url_encode(&self.owner),
            crate::platform::http::url_encode(&self.quarter),
            crate::platform::http::url_encode(&self.partner)
        )
    }
}

/// The quarters a close-date filter offers: two back, four ahead.
pub fn quarter_choices() -> Vec<String> {
    let mut quarter = Quarter::of(crate::platform::db::now().date())
        .previous()
        .previous();
    (0..7)
        .map(|_| {
            let text = quarter.to_string();
            quarter = quarter.next();
            text
        })
        .collect()
}

/// The deal list as CSV, for the portal and the admin pages alike.
pub fn deals_csv(rows: &[DealRow], file_name: &str) -> HttpResponse {
    let mut out = String::from(
        "deal_id,partner,customer,customer_domain,contact_name,contact_email,country,amount,currency,expected_close,status,stage,owner,protection_until,won_amount,registered_at\r\n",
    );
    for row in rows {
        let deal = &row.deal;
        let decimal = |minor: i64| {
            Money::new(minor, deal.currency())
                .amount_text()
                .replace(',', "")
        };
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            deal.id,
            csv_field(&row.partner_name),
            csv_field(&deal.customer_name),
            csv_field(&deal.customer_domain),
            csv_field(&deal.contact_name),
            csv_field(&deal.contact_email),
            csv_field(&deal.country),
            decimal(deal.amount_minor),
            deal.currency,
            deal.expected_close_date,
            deal.status,
            csv_field(row.stage_name.as_deref().unwrap_or("")),
            csv_field(&row.owner_email),
            deal.protection_until
                .map(|p| p.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            deal.won_amount_minor.map(decimal).unwrap_or_default(),
            deal.created_at.format("%Y-%m-%d %H:%M"),
        ));
    }
    crate::platform::http::csv_response(file_name, out)
}

#[derive(Template)]
#[template(path = "portal/deals.html")]
struct DealList {
    ctx: PageContext,
    query: DealListQuery,
    rows: Vec<DealRow>,
    stages: Vec<Stage>,
    /// (user id, name) of the org's people, for partner admins' owner filter.
    owners: Vec<(i64, String)>,
    pager: Pager,
    quarters: Vec<String>,
    problems: Vec<String>,
}

impl DealList {
    fn statuses(&self) -> &'static [DealStatus] {
        DealStatus::ALL
    }
}

async fn load_list(
    state: &State,
    access: &Access,
    query: &DealListQuery,
    problems: &mut Vec<String>,
    window: crate::platform::db::Window,
) -> Result<(Vec<DealRow>, Vec<Stage>, Vec<(i64, String)>), AppError> {
    let filter = query.filter(access.viewer.filter(), problems);
    let (program_id, org_id, show_owners) = (
        access.program.id,
        access.viewer.org_id,
        access.viewer.manages_org || access.viewer.reps_see_org,
    );
    db(&state.pool, move |conn| {
        let rows = crate::deals::list(conn, program_id, &filter, window)?;
        let stages = crate::deals::config::stages(conn, program_id)?;
        let owners = if show_owners {
            crate::accounts::store::users::list_for_org(conn, org_id)?
                .into_iter()
                .map(|u| (u.id, u.name().to_string()))
                .collect()
        } else {
            Vec::new()
        };
        Ok::<_, diesel::result::Error>((rows, stages, owners))
    })
    .await
}

async fn list(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, _): Channel<Access>,
    query: web::Query<DealListQuery>,
    mut pager: Pager,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let (rows, stages, owners) =
        load_list(&state, &access, &query, &mut problems, pager.window()).await?;
    render(
        StatusCode::OK,
        &DealList {
            ctx,
            query,
            rows: pager.keep(rows),
            pager,
            stages,
            owners,
            quarters: quarter_choices(),
            problems,
        },
    )
}

async fn csv(
    state: State,
    Channel(access, _): Channel<Access>,
    query: web::Query<DealListQuery>,
) -> Result<HttpResponse, AppError> {
    let (rows, _, _) = load_list(
        &state,
        &access,
        &query.into_inner(),
        &mut Vec::new(),
        crate::platform::db::Window::ALL,
    )
    .await?;
    Ok(deals_csv(&rows, "deals.csv"))
}

#[derive(Template)]
#[template(path = "portal/deal_form.html")]
struct FormPage {
    ctx: PageContext,
    /// `None` for a new registration, the deal's id when correcting one.
    deal_id: Option<i64>,
    form: DealForm,
    errors: FieldErrors,
    products: Vec<String>,
    fields: Vec<CustomField>,
    /// Conflict detection found a possible earlier registration (whose owner stays hidden).
    possible_conflict: bool,
    info_request: Option<String>,
}

impl FormPage {
    fn action(&self) -> String {
        match self.deal_id {
            Some(id) => format!("/portal/deals/{id}/edit"),
            None => "/portal/deals/new".into(),
        }
    }

    fn chosen(&self, product: &str) -> bool {
        self.form.products.iter().any(|p| p == product)
    }

    fn value(&self, field: &CustomField) -> String {
        self.form.custom_value(&field.input_name()).to_string()
    }

    fn error(&self, field: &CustomField) -> Option<String> {
        self.errors.get(&field.input_name()).map(str::to_string)
    }
}

struct FormData {
    products: Vec<String>,
    fields: Vec<CustomField>,
}

async fn form_data(state: &State, program_id: i64) -> Result<FormData, AppError> {
    db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>(FormData {
            products: crate::deals::config::products(conn, program_id)?,
            fields: crate::deals::config::custom_fields(conn, program_id)?,
        })
    })
    .await
}

async fn new_form(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, _): Channel<Access>,
) -> Result<HttpResponse, AppError> {
    require_certification(&state, &access).await?;
    let data = form_data(&state, access.program.id).await?;
    let form = DealForm {
        currency: access.program.currency.clone(),
        country: access.org_country.clone(),
        ..Default::default()
    };
    render(
        StatusCode::OK,
        &FormPage {
            ctx,
            deal_id: None,
            form,
            errors: FieldErrors::default(),
            products: data.products,
            fields: data.fields,
            possible_conflict: false,
            info_request: None,
        },
    )
}

/// Whether the customer of a registration claims someone else's: another partner's open or protected deal, or
/// a direct account.
async fn possible_conflict(
    state: &State,
    access: &Access,
    registration: &Registration,
) -> Result<bool, AppError> {
    let keys = CustomerKeys::of(&registration.customer_name, &registration.customer_domain);
    let (program_id, org_id) = (access.program.id, access.viewer.org_id);
    let found = db(&state.pool, move |conn| {
        crate::deals::conflicts(conn, program_id, org_id, &keys, crate::platform::db::now())
    })
    .await?;
    Ok(!found.is_empty())
}

async fn submit(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    pairs: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    require_certification(&state, &access).await?;
    let form = DealForm::from_pairs(pairs.into_inner());
    let data = form_data(&state, access.program.id).await?;
    let registration = match form.check(
        &data.products,
        &data.fields,
        crate::platform::db::now().date(),
    ) {
        Ok(registration) => registration,
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &FormPage {
                    ctx,
                    deal_id: None,
                    form,
                    errors,
                    products: data.products,
                    fields: data.fields,
                    possible_conflict: false,
                    info_request: None,
                },
            )
        }
    };
    if !form.acknowledged && possible_conflict(&state, &access, &registration).await? {
        // Nothing is stored yet: the partner sees the warning, may add a justification, and submits again.
        return render(
            StatusCode::OK,
            &FormPage {
                ctx,
                deal_id: None,
                form,
                errors: FieldErrors::default(),
                products: data.products,
                fields: data.fields,
                possible_conflict: true,
                info_request: None,
            },
        );
    }
    let (program, org_id, actor, base_url) = (
        access.program.clone(),
        access.viewer.org_id,
        user.actor(),
        state.settings.base_url.clone(),
    );
    let (deal, _) = db(&state.pool, move |conn| {
        let notify = |conn: &mut crate::platform::db::DbConn, deal: &_, notice: &_| {
            crate::deals::notices::deal_notice(conn, &base_url, deal, notice)
        };
        crate::deals::register(conn, &program, org_id, &registration, &actor, &notify)
    })
    .await?;
    session.success(crate::deals::rules::registered_message(
        deal.status(),
        deal.protection_until,
    ));
    Ok(redirect(&format!("/portal/deals/{}", deal.id)))
}

#[derive(Deserialize)]
struct CheckQuery {
    #[serde(default)]
    customer_name: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    contact_email: String,
}

/// The live conflict check behind the registration form: answers only whether a conflict may exist.
async fn check_live(
    state: State,
    Channel(access, _): Channel<Access>,
    query: web::Query<CheckQuery>,
) -> Result<HttpResponse, AppError> {
    let domain = registrable_domain(&query.website)
        .ok()
        .filter(|d| !d.is_empty())
        .or_else(|| domain_of_email(&query.contact_email))
        .unwrap_or_default();
    let keys = CustomerKeys::of(&query.customer_name, &domain);
    let (program_id, org_id) = (access.program.id, access.viewer.org_id);
    let found = if keys.company_key.chars().count() < 2 && keys.domain.is_empty() {
        false
    } else {
        !db(&state.pool, move |conn| {
            crate::deals::conflicts(conn, program_id, org_id, &keys, crate::platform::db::now())
        })
        .await?
        .is_empty()
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "possible_conflict": found })))
}

async fn edit_form(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, _): Channel<Access>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let deal = find_deal(&state, &access, path.into_inner()).await?;
    if !editable(&deal) || !access.viewer.may_change(&deal) {
        return Err(AppError::Forbidden(
            "This registration cannot be edited now.".into(),
        ));
    }
    let data = form_data(&state, access.program.id).await?;
    render(
        StatusCode::OK,
        &FormPage {
            ctx,
            deal_id: Some(deal.id),
            form: DealForm::from_deal(&deal),
            errors: FieldErrors::default(),
            products: data.products,
            fields: data.fields,
            possible_conflict: false,
            info_request: info_request(&deal),
        },
    )
}

fn editable(deal: &Deal) -> bool {
    matches!(
        deal.status(),
        DealStatus::Submitted | DealStatus::InfoRequested
    )
}

fn info_request(deal: &Deal) -> Option<String> {
    (deal.status() == DealStatus::InfoRequested)
        .then(|| deal.status_reason.clone().unwrap_or_default())
}

async fn edit_submit(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    path: web::Path<i64>,
    pairs: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let deal = find_deal(&state, &access, path.into_inner()).await?;
    let form = DealForm::from_pairs(pairs.into_inner());
    let data = form_data(&state, access.program.id).await?;
    let today = crate::platform::db::now()
        .date()
        .min(deal.expected_close_date);
    let registration = match form.check(&data.products, &data.fields, today) {
        Ok(registration) => registration,
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &FormPage {
                    ctx,
                    deal_id: Some(deal.id),
                    form,
                    errors,
                    products: data.products,
                    fields: data.fields,
                    possible_conflict: false,
                    info_request: info_request(&deal),
                },
            )
        }
    };
    let (viewer, actor, deal_id) = (access.viewer, user.actor(), deal.id);
    db(&state.pool, move |conn| {
        crate::deals::correct(conn, &viewer, deal_id, &registration, &actor)
    })
    .await?;
    session.success("Registration updated and submitted for approval.");
    Ok(redirect(&format!("/portal/deals/{deal_id}")))
}

// ---------------------------------------------------------------------------------------------------------------
// One deal

async fn find_deal(state: &State, access: &Access, id: i64) -> Result<Deal, AppError> {
    let viewer = access.viewer;
    db(&state.pool, move |conn| {
        crate::deals::find_for(conn, &viewer, id)
    })
    .await?
    .ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "portal/deal.html")]
struct DealPage {
    ctx: PageContext,
    deal: Deal,
    org_name: String,
    stages: Vec<Stage>,
    events: Vec<DealEvent>,
    extension: Option<Extension>,
    may_change: bool,
    /// A refused move, and what was typed, so nothing is lost.
    error: Option<String>,
    typed: PartnerMoves,
}

#[derive(Deserialize, Default, Clone)]
struct PartnerMoves {
    #[serde(default)]
    stage_id: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    expected_close: String,
    #[serde(default)]
    won_amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    justification: String,
}

impl DealPage {
    fn stage_name(&self) -> String {
        self.deal
            .stage_id
            .and_then(|id| self.stages.iter().find(|s| s.id == id))
            .map(|s| format!("{} ({}%)", s.name, s.probability_percent))
            .unwrap_or_else(|| "—".into())
    }

    fn stage_selected(&self, stage: &Stage) -> bool {
        match self.typed.stage_id.parse::<i64>() {
            Ok(id) => id == stage.id,
            Err(_) => self.deal.stage_id == Some(stage.id),
        }
    }

    fn is_approved(&self) -> bool {
        self.deal.status() == DealStatus::Approved
    }

    fn editable(&self) -> bool {
        self.may_change && editable(&self.deal)
    }

    fn amount_value(&self) -> String {
        if self.typed.amount.is_empty() {
            self.deal.amount().amount_text()
        } else {
            self.typed.amount.clone()
        }
    }

    fn close_value(&self) -> String {
        if self.typed.expected_close.is_empty() {
            self.deal.expected_close_date.to_string()
        } else {
            self.typed.expected_close.clone()
        }
    }
}

async fn deal_page(
    ctx: PageContext,
    state: &State,
    access: &Access,
    deal_id: i64,
    error: Option<String>,
    typed: PartnerMoves,
) -> Result<HttpResponse, AppError> {
    let deal = find_deal(state, access, deal_id).await?;
    let program_id = access.program.id;
    let (stages, events, extension) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            crate::deals::config::stages(conn, program_id)?,
            crate::deals::events(conn, deal_id)?,
            crate::deals::extension(conn, deal_id)?,
        ))
    })
    .await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &DealPage {
            ctx,
            may_change: access.viewer.may_change(&deal),
            deal,
            org_name: access.org_name.clone(),
            stages,
            events,
            extension,
            error,
            typed,
        },
    )
}

async fn show(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, _): Channel<Access>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    deal_page(
        ctx,
        &state,
        &access,
        path.into_inner(),
        None,
        PartnerMoves::default(),
    )
    .await
}

/// Runs a partner's move on a deal: on success back to the deal with a message; refused, the deal page again with
/// the reason and what was typed.
#[allow(clippy::too_many_arguments)]
async fn partner_move(
    ctx: PageContext,
    state: &State,
    access: &Access,
    session: &TypedSession,
    deal_id: i64,
    typed: PartnerMoves,
    done: &str,
    work: impl FnOnce(&mut crate::platform::db::DbConn, &Viewer) -> Result<(), DealError>
        + Send
        + 'static,
) -> Result<HttpResponse, AppError> {
    let viewer = access.viewer;
    match db(&state.pool, move |conn| {
        Ok::<_, AppError>(work(conn, &viewer))
    })
    .await?
    {
        Ok(()) => {
            session.success(done);
            Ok(redirect(&format!("/portal/deals/{deal_id}")))
        }
        Err(DealError::Refused(message)) => {
            deal_page(ctx, state, access, deal_id, Some(message), typed).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn progress(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<PartnerMoves>,
) -> Result<HttpResponse, AppError> {
    let deal = find_deal(&state, &access, path.into_inner()).await?;
    let typed = form.into_inner();
    let parsed = (|| -> Result<Progress, String> {
        let stage_id = match typed.stage_id.trim() {
            "" => None,
            raw => Some(
                raw.parse::<i64>()
                    .map_err(|_| "Choose one of the program's stages.".to_string())?,
            ),
        };
        let amount_minor = match typed.amount.trim() {
            "" => None,
            raw => {
                let money = Money::parse(raw, deal.currency())?;
                if money.minor <= 0 {
                    return Err("The amount must be more than zero.".into());
                }
                Some(money.minor)
            }
        };
        let expected_close_date = match typed.expected_close.trim() {
            "" => None,
            raw => Some(
                NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .map_err(|_| format!("'{raw}' is not a date like 2027-03-31."))?,
            ),
        };
        Ok(Progress {
            stage_id,
            amount_minor,
            expected_close_date,
        })
    })();
    let progress = match parsed {
        Ok(progress) => progress,
        Err(message) => {
            return deal_page(ctx, &state, &access, deal.id, Some(message), typed).await
        }
    };
    let actor = user.actor();
    let deal_id = deal.id;
    partner_move(
        ctx,
        &state,
        &access,
        &session,
        deal_id,
        typed,
        "Deal updated.",
        move |conn, viewer| {
            crate::deals::update_progress(conn, viewer, deal_id, &progress, &actor).map(|_| ())
        },
    )
    .await
}

async fn won(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<PartnerMoves>,
) -> Result<HttpResponse, AppError> {
    let deal = find_deal(&state, &access, path.into_inner()).await?;
    let typed = form.into_inner();
    let won_minor = match Money::parse(&typed.won_amount, deal.currency()) {
        Ok(money) => money.minor,
        Err(_) if typed.won_amount.trim().is_empty() => {
            let message = "Enter the final amount the customer signed for.".to_string();
            return deal_page(ctx, &state, &access, deal.id, Some(message), typed).await;
        }
        Err(message) => {
            return deal_page(ctx, &state, &access, deal.id, Some(message.into()), typed).await
        }
    };
    let actor = user.actor();
    let deal_id = deal.id;
    partner_move(
        ctx,
        &state,
        &access,
        &session,
        deal_id,
        typed,
        "Marked as won. The program's team confirms the win and your margin follows in Earnings.",
        move |conn, viewer| crate::deals::report_won(conn, viewer, deal_id, won_minor, &actor),
    )
    .await
}

async fn lost(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<PartnerMoves>,
) -> Result<HttpResponse, AppError> {
    let deal_id = path.into_inner();
    let typed = form.into_inner();
    let (actor, reason) = (user.actor(), typed.reason.clone());
    partner_move(
        ctx,
        &state,
        &access,
        &session,
        deal_id,
        typed,
        "Marked as lost.",
        move |conn, viewer| crate::deals::report_lost(conn, viewer, deal_id, &reason, &actor),
    )
    .await
}

async fn extension(
    Ctx(ctx): Ctx,
    state: State,
    Channel(access, user): Channel<Access>,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<PartnerMoves>,
) -> Result<HttpResponse, AppError> {
    let deal_id = path.into_inner();
    let typed = form.into_inner();
    let (actor, justification) = (user.actor(), typed.justification.clone());
    partner_move(
        ctx,
        &state,
        &access,
        &session,
        deal_id,
        typed,
        "Extension requested. You will get an email with the answer.",
        move |conn, viewer| {
            crate::deals::request_extension(conn, viewer, deal_id, &justification, &actor)
        },
    )
    .await
}
