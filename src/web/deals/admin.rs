//! `/admin/deals`: the approval queue ordered by SLA clock (overdue first), extension requests and reported wins
//! waiting for the vendor, every deal with filters and CSV, and a deal's page where the approver sees each
//! conflicting registration or direct account side by side with this one and decides.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::deals::config::Stage;
use crate::deals::rules::{DealDecision, DealStatus, SlaClock};
use crate::deals::{
    ConflictMatch, ConflictWith, Deal, DealError, DealEvent, DealFilter, DealRow, Extension,
};
use crate::platform::db::{self, DbConn};
use crate::platform::http::pager::Pager;
use crate::platform::http::{db, page, redirect, render, AppError, PageContext, TypedSession};
use crate::programs::Program;
use crate::web::deals::portal::{deals_csv, quarter_choices, DealListQuery};
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/deals", web::get().to(queue))
        .route("/deals/all", web::get().to(all))
        .route("/deals.csv", web::get().to(csv))
        .configure(super::admin_settings::routes)
        .route("/deals/{id}", web::get().to(show))
        .route("/deals/{id}/decision", web::post().to(decide))
        .route("/deals/{id}/win", web::post().to(win))
        .route("/deals/{id}/extension", web::post().to(extension));
}

fn notifier(
    base_url: String,
) -> impl Fn(
    &mut DbConn,
    &Deal,
    &crate::deals::DealNotice,
) -> Result<(), crate::platform::mail::NotifyError> {
    move |conn, deal, notice| crate::deals::notices::deal_notice(conn, &base_url, deal, notice)
}

#[derive(Template)]
#[template(path = "admin/deals.html")]
struct QueuePage {
    ctx: PageContext,
    /// (row, SLA clock, conflicts found).
    waiting: Vec<(DealRow, SlaClock, usize)>,
    wins: Vec<DealRow>,
    extensions: Vec<(Extension, Deal)>,
    sla_hours: i64,
}

async fn queue(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    let (waiting, wins, extensions, sla_hours) = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        let at = db::now();
        let mut waiting = Vec::new();
        for row in crate::deals::queue(conn, program.id)? {
            let clock = SlaClock::at(row.deal.submitted_at, at, program.deal_sla_hours);
            let conflicts = crate::deals::conflicts(
                conn,
                program.id,
                row.deal.partner_org_id,
                &row.deal.keys(),
                at,
            )?
            .len();
            waiting.push((row, clock, conflicts));
        }
        let wins = crate::deals::list(
            conn,
            program.id,
            &DealFilter {
                status: Some(DealStatus::WonReported),
                ..Default::default()
            },
            crate::platform::db::Window::ALL,
        )?;
        let extensions = crate::deals::pending_extensions(conn, program.id)?;
        Ok::<_, diesel::result::Error>((waiting, wins, extensions, program.deal_sla_hours))
    })
    .await?;
    page(&QueuePage {
        ctx,
        waiting,
        wins,
        extensions,
        sla_hours,
    })
}

#[derive(Template)]
#[template(path = "admin/deals_all.html")]
struct AllPage {
    ctx: PageContext,
    query: DealListQuery,
    rows: Vec<DealRow>,
    stages: Vec<Stage>,
    partners: Vec<(i64, String)>,
    pager: Pager,
    quarters: Vec<String>,
    problems: Vec<String>,
}

impl AllPage {
    fn statuses(&self) -> &'static [DealStatus] {
        DealStatus::ALL
    }
}

async fn load_all(
    state: &State,
    query: &DealListQuery,
    problems: &mut Vec<String>,
    window: crate::platform::db::Window,
) -> Result<(Vec<DealRow>, Vec<Stage>, Vec<(i64, String)>), AppError> {
    let filter = query.filter(DealFilter::default(), problems);
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let rows = crate::deals::list(conn, program.id, &filter, window)?;
        let stages = crate::deals::config::stages(conn, program.id)?;
        let partners = crate::partners::store::channel_partner_choices(conn, program.id)?;
        Ok::<_, diesel::result::Error>((rows, stages, partners))
    })
    .await
}

async fn all(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<DealListQuery>,
    mut pager: Pager,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let (rows, stages, partners) = load_all(&state, &query, &mut problems, pager.window()).await?;
    page(&AllPage {
        ctx,
        query,
        rows: pager.keep(rows),
        pager,
        stages,
        partners,
        quarters: quarter_choices(),
        problems,
    })
}

async fn csv(state: State, query: web::Query<DealListQuery>) -> Result<HttpResponse, AppError> {
    let (rows, _, _) = load_all(
        &state,
        &query.into_inner(),
        &mut Vec::new(),
        crate::platform::db::Window::ALL,
    )
    .await?;
    Ok(deals_csv(&rows, "deals.csv"))
}

#[derive(Template)]
#[template(path = "admin/deal.html")]
struct DealPage {
    ctx: PageContext,
    deal: Deal,
    partner_name: String,
    tier: Option<(String, i64)>,
    owner: String,
    stage_name: Option<String>,
    clock: SlaClock,
    conflicts: Vec<ConflictMatch>,
    events: Vec<DealEvent>,
    extension: Option<Extension>,
    protection_days: i64,
    error: Option<String>,
    typed_reason: String,
    /// Whether the approver ticked "approve over that protection" (kept when the page comes back with an error).
    typed_over_protection: bool,
    /// When the page was made: protection is judged at this moment.
    at: chrono::NaiveDateTime,
}

impl DealPage {
    /// Other partners' registrations that protect this customer now: approving needs an override with a reason.
    fn protected_by(&self) -> Vec<String> {
        let at = self.at;
        self.conflicts
            .iter()
            .filter_map(|m| match &m.found {
                ConflictWith::Deal {
                    deal, partner_name, ..
                } if crate::deals::rules::protects_customer(
                    deal.status(),
                    deal.protection_until,
                    at,
                ) =>
                {
                    Some(crate::deals::rules::protection_text(
                        deal.id,
                        partner_name,
                        deal.protection_until,
                    ))
                }
                _ => None,
            })
            .collect()
    }

    fn waiting(&self) -> bool {
        self.deal.status() == DealStatus::Submitted
    }

    fn win_to_confirm(&self) -> bool {
        self.deal.status() == DealStatus::WonReported
    }

    fn extension_open(&self) -> bool {
        self.extension
            .as_ref()
            .is_some_and(|x| x.decided_at.is_none())
    }

    fn decisions(&self) -> &'static [DealDecision] {
        DealDecision::ALL
    }

    fn margin_preview(&self) -> String {
        match self.deal.won_amount() {
            Some(won) => {
                crate::deals::rules::margin(won, self.tier.as_ref().map(|(n, b)| (n.as_str(), *b)))
                    .1
            }
            None => String::new(),
        }
    }
}

/// A conflict's columns for the side-by-side table.
pub struct ConflictColumn {
    pub heading: String,
    pub who: String,
    pub when: String,
    pub stage: String,
    pub protection: String,
    pub company: String,
    pub domain: String,
    pub matched: String,
    pub link: Option<String>,
}

impl DealPage {
    fn columns(&self) -> Vec<ConflictColumn> {
        self.conflicts
            .iter()
            .map(|m| match &m.found {
                ConflictWith::Deal {
                    deal,
                    partner_name,
                    stage_name,
                } => ConflictColumn {
                    heading: format!("Deal #{}", deal.id),
                    who: partner_name.clone(),
                    when: crate::platform::http::when(deal.created_at),
                    stage: format!(
                        "{}{}",
                        deal.status().label(),
                        stage_name
                            .as_ref()
                            .map(|s| format!(" · {s}"))
                            .unwrap_or_default()
                    ),
                    protection: deal
                        .protection_until
                        .map(crate::platform::http::when)
                        .unwrap_or_else(|| "not protected yet".into()),
                    company: deal.customer_name.clone(),
                    domain: deal.customer_domain.clone(),
                    matched: m.fields_text(),
                    link: Some(format!("/admin/deals/{}", deal.id)),
                },
                ConflictWith::DirectAccount {
                    company_name,
                    domain,
                    owner,
                    since,
                } => ConflictColumn {
                    heading: "Direct account".into(),
                    who: if owner.is_empty() {
                        "Direct sales".into()
                    } else {
                        format!("Direct sales ({owner})")
                    },
                    when: crate::platform::http::when(since),
                    stage: "Existing direct customer".into(),
                    protection: "always".into(),
                    company: company_name.clone(),
                    domain: domain.clone(),
                    matched: m.fields_text(),
                    link: None,
                },
            })
            .collect()
    }
}

/// What the approver typed, kept when the page comes back with an error.
#[derive(Default)]
struct Typed {
    reason: String,
    over_protection: bool,
}

async fn load(
    ctx: PageContext,
    state: &State,
    deal_id: i64,
    error: Option<String>,
    typed: Typed,
) -> Result<DealPage, AppError> {
    let data = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let Some(deal) = crate::deals::find(conn, program.id, deal_id)? else {
            return Ok(None);
        };
        let at = db::now();
        let partner = crate::partners::store::overview(conn, deal.partner_org_id)?;
        let owner = crate::accounts::store::users::find(conn, deal.registered_by_user_id)?
            .map(|u| format!("{} <{}>", u.name(), u.email))
            .unwrap_or_default();
        let stage_name = crate::deals::config::stages(conn, program.id)?
            .into_iter()
            .find(|s| Some(s.id) == deal.stage_id)
            .map(|s| s.name);
        let conflicts = crate::deals::conflicts(
            conn,
            program.id,
            deal.partner_org_id,
            &deal.keys(),
            at,
        )?
        .into_iter()
        .filter(
            |m| !matches!(&m.found, ConflictWith::Deal { deal: other, .. } if other.id == deal.id),
        )
        .collect();
        let events = crate::deals::events(conn, deal_id)?;
        let extension = crate::deals::extension(conn, deal_id)?;
        Ok::<_, diesel::result::Error>(Some((
            program, deal, partner, owner, stage_name, conflicts, events, extension, at,
        )))
    })
    .await?;
    let Some((program, deal, partner, owner, stage_name, conflicts, events, extension, at)) = data
    else {
        return Err(AppError::NotFound);
    };
    let program: Program = program;
    Ok(DealPage {
        ctx,
        clock: SlaClock::at(deal.submitted_at, at, program.deal_sla_hours),
        partner_name: partner
            .as_ref()
            .map(|p| p.org.name.clone())
            .unwrap_or_default(),
        tier: partner
            .as_ref()
            .and_then(|p| p.tier.as_ref())
            .map(|t| (t.name.clone(), t.margin_bps)),
        deal,
        owner,
        stage_name,
        conflicts,
        events,
        extension,
        protection_days: program.deal_protection_days,
        error,
        typed_reason: typed.reason,
        typed_over_protection: typed.over_protection,
        at,
    })
}

async fn show(Ctx(ctx): Ctx, state: State, path: web::Path<i64>) -> Result<HttpResponse, AppError> {
    page(&load(ctx, &state, path.into_inner(), None, Typed::default()).await?)
}

/// Runs a staff decision; refused, the deal page again with the reason and what was typed.
async fn staff_move(
    ctx: PageContext,
    state: &State,
    session: &TypedSession,
    deal_id: i64,
    typed: Typed,
    work: impl FnOnce(&mut DbConn, &Program) -> Result<String, DealError> + Send + 'static,
) -> Result<HttpResponse, AppError> {
    let outcome = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, AppError>(work(conn, &program))
    })
    .await?;
    match outcome {
        Ok(message) => {
            session.success(message);
            Ok(redirect(&format!("/admin/deals/{deal_id}")))
        }
        Err(DealError::Refused(message)) => {
            let page = load(ctx, state, deal_id, Some(message), typed).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    days: String,
    /// "on" when the approver approves over another partner's protection.
    #[serde(default)]
    over_protection: Option<String>,
}

async fn decide(
    Ctx(ctx): Ctx,
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let deal_id = path.into_inner();
    let form = form.into_inner();
    let decision: DealDecision = form
        .decision
        .parse()
        .map_err(|_| AppError::BadRequest(format!("Unknown decision '{}'.", form.decision)))?;
    let over_protection = form.over_protection.is_some();
    let (actor, reason, base_url) = (
        user.actor(),
        form.reason.clone(),
        state.settings.base_url.clone(),
    );
    staff_move(
        ctx,
        &state,
        &session,
        deal_id,
        Typed {
            reason: form.reason,
            over_protection,
        },
        move |conn, program| {
            let notify = notifier(base_url);
            let after = crate::deals::decide(
                conn,
                program,
                deal_id,
                decision,
                &reason,
                over_protection,
                &actor,
                &notify,
            )?;
            Ok(format!("Registration {}.", after.label().to_lowercase()))
        },
    )
    .await
}

async fn win(
    Ctx(ctx): Ctx,
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let deal_id = path.into_inner();
    let form = form.into_inner();
    let (actor, reason, base_url) = (
        user.actor(),
        form.reason.clone(),
        state.settings.base_url.clone(),
    );
    let confirm = match form.decision.as_str() {
        "confirm" => true,
        "send_back" => false,
        other => return Err(AppError::BadRequest(format!("Unknown decision '{other}'."))),
    };
    staff_move(
        ctx,
        &state,
        &session,
        deal_id,
        Typed {
            reason: form.reason,
            ..Typed::default()
        },
        move |conn, program| {
            let notify = notifier(base_url);
            if confirm {
                Ok(crate::deals::confirm_win(
                    conn, program, deal_id, &actor, &notify,
                )?)
            } else {
                crate::deals::send_back_win(conn, program, deal_id, &reason, &actor, &notify)?;
                Ok("The win went back to the partner.".into())
            }
        },
    )
    .await
}

async fn extension(
    Ctx(ctx): Ctx,
    user: CurrentUser,
    state: State,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let deal_id = path.into_inner();
    let form = form.into_inner();
    let grant = match form.decision.as_str() {
        "grant" => match form.days.trim().parse::<i64>() {
            Ok(days) => Some(days),
            Err(_) => {
                let page = load(
                    ctx,
                    &state,
                    deal_id,
                    Some(format!("'{}' is not a number of days.", form.days.trim())),
                    Typed {
                        reason: form.reason,
                        ..Typed::default()
                    },
                )
                .await?;
                return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
            }
        },
        "refuse" => None,
        other => return Err(AppError::BadRequest(format!("Unknown decision '{other}'."))),
    };
    let (actor, reason, base_url) = (
        user.actor(),
        form.reason.clone(),
        state.settings.base_url.clone(),
    );
    staff_move(
        ctx,
        &state,
        &session,
        deal_id,
        Typed {
            reason: form.reason,
            ..Typed::default()
        },
        move |conn, program| {
            let notify = notifier(base_url);
            crate::deals::decide_extension(
                conn, program, deal_id, grant, &reason, &actor, &notify,
            )?;
            Ok(if grant.is_some() {
                "Extension granted.".into()
            } else {
                "Extension refused.".into()
            })
        },
    )
    .await
}
