//! `/admin/payouts`: the preview of who a batch pays (by Stripe or by hand) and who it skips and why, the
//! program's payout rules, batches with their progress (a page that refreshes itself while Stripe is paid), and
//! the manual rail's files (PayPal mass pay, bank) and its "paid with reference".

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::money::Money;
use crate::payouts::forms::{PayoutSchedule, SettingsForm};
use crate::payouts::rules::PayoutStatus;
use crate::payouts::rules::{Eligibility, Rail};
use crate::payouts::{Payout, PayoutError, PayoutRun, PreviewLine};
use crate::platform::http::{
    csv_field, db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payouts", web::get().to(overview))
        .route("/payouts/run", web::post().to(start))
        .route("/payouts/settings", web::post().to(save_settings))
        .route("/payouts/runs/{id}", web::get().to(run_page))
        .route("/payouts/runs/{id}/resume", web::post().to(resume))
        .route("/payouts/runs/{id}/settle", web::post().to(settle))
        .route("/payouts/runs/{id}/{format}.csv", web::get().to(batch_file));
}

#[derive(Template)]
#[template(path = "admin/payouts.html")]
struct Overview {
    ctx: PageContext,
    stripe_configured: bool,
    lines: Vec<PreviewLine>,
    runs: Vec<PayoutRun>,
    settings: SettingsForm,
    errors: FieldErrors,
    error: Option<String>,
}

impl Overview {
    fn paid_by(&self, rail: &Rail) -> Vec<&PreviewLine> {
        self.lines
            .iter()
            .filter(|l| l.eligibility == Eligibility::Pay(*rail))
            .collect()
    }

    fn stripe_lines(&self) -> Vec<&PreviewLine> {
        self.paid_by(&Rail::Stripe)
    }

    fn manual_lines(&self) -> Vec<&PreviewLine> {
        self.paid_by(&Rail::Manual)
    }

    fn skipped(&self) -> Vec<(&PreviewLine, &str)> {
        self.lines
            .iter()
            .filter_map(|l| match &l.eligibility {
                Eligibility::Skip(reason) => Some((l, reason.as_str())),
                _ => None,
            })
            .collect()
    }
}

async fn overview_page(
    ctx: PageContext,
    state: &State,
    settings: Option<SettingsForm>,
    errors: FieldErrors,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let stripe_configured = state.payer.is_some();
    let (lines, runs, program) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let lines = crate::payouts::preview(
            conn,
            &program,
            stripe_configured,
            crate::platform::db::now(),
        )?;
        let runs = crate::payouts::runs(conn, program.id)?;
        Ok::<_, diesel::result::Error>((lines, runs, program))
    })
    .await?;
    let settings = settings.unwrap_or_else(|| SettingsForm {
        minimum: Money::new(program.payout_minimum_minor, program.currency()).amount_text(),
        day: program
            .payout_day
            .map(|d| d.to_string())
            .unwrap_or_default(),
    });
    render(
        status,
        &Overview {
            ctx,
            stripe_configured,
            lines,
            runs,
            settings,
            errors,
            error,
        },
    )
}

async fn overview(Ctx(ctx): Ctx, state: State) -> Result<HttpResponse, AppError> {
    overview_page(
        ctx,
        &state,
        None,
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct RunForm {
    rail: String,
}

/// Starts a batch. A Stripe batch starts paying at once; a manual one waits for its file to be paid.
async fn start(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    web::Form(form): web::Form<RunForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let rail: Rail = form
        .rail
        .parse()
        .map_err(|_| AppError::BadRequest("Choose Stripe or the manual rail.".into()))?;
    if rail == Rail::Stripe && state.payer.is_none() {
        return Err(AppError::BadRequest(
            "Stripe is not configured (CONCORD_STRIPE_SECRET_KEY); use the manual rail.".into(),
        ));
    }
    let stripe_configured = state.payer.is_some();
    let actor = user.actor();
    let started = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, AppError>(crate::payouts::start_run(
            conn,
            &program,
            rail,
            stripe_configured,
            &actor,
        ))
    })
    .await?;
    match started {
        Ok((run_id, _)) => {
            if let (Rail::Stripe, Some(payer)) = (rail, state.payer.clone()) {
                actix_web::rt::spawn(async move {
                    if let Err(e) = payer.process_run(run_id).await {
                        tracing::error!(run_id, "payout batch stopped: {e:#}");
                    }
                });
            }
            Ok(redirect(&format!("/admin/payouts/runs/{run_id}")))
        }
        Err(e @ (PayoutError::AlreadyRunning(_) | PayoutError::Refused(_))) => {
            overview_page(
                ctx,
                &state,
                None,
                FieldErrors::default(),
                Some(e.to_string()),
                StatusCode::CONFLICT,
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
    let program = db(&state.pool, crate::programs::current).await?;
    let schedule = match PayoutSchedule::try_from((&form, program.currency())) {
        Ok(schedule) => schedule,
        Err(errors) => {
            return overview_page(
                ctx,
                &state,
                Some(form),
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let (minimum, day) = (schedule.minimum_minor, schedule.day);
    let actor = user.actor();
    db(&state.pool, move |conn| {
        crate::payouts::save_settings(conn, &program, minimum, day, &actor)
    })
    .await?;
    session.success("Payout rules saved.");
    Ok(redirect("/admin/payouts"))
}

#[derive(Template)]
#[template(path = "admin/payout_run.html")]
struct RunPage {
    ctx: PageContext,
    run: PayoutRun,
    payouts: Vec<(Payout, String, String)>,
    error: Option<String>,
}

impl RunPage {
    fn count(&self, status: &str) -> usize {
        self.payouts
            .iter()
            .filter(|(p, _, _)| p.status.as_str() == status)
            .count()
    }

    /// Refresh while Stripe is being paid, so the page shows progress without JavaScript.
    fn refreshing(&self) -> bool {
        self.run.running() && self.run.rail() == Rail::Stripe
    }

    fn totals(&self) -> Vec<String> {
        let mut totals: Vec<Money> = Vec::new();
        for (p, _, _) in self
            .payouts
            .iter()
            .filter(|(p, _, _)| p.status == PayoutStatus::Paid)
        {
            let amount = p.amount();
            match totals.iter_mut().find(|t| t.currency == amount.currency) {
                Some(t) => t.minor = t.minor.saturating_add(amount.minor),
                None => totals.push(amount),
            }
        }
        totals.iter().map(Money::to_string).collect()
    }
}

async fn load_run(
    state: &State,
    id: i64,
) -> Result<(PayoutRun, Vec<(Payout, String, String)>), AppError> {
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let run = crate::payouts::find_run(conn, program.id, id)?.ok_or(AppError::NotFound)?;
        let payouts = crate::payouts::run_payouts(conn, id)?;
        Ok::<_, AppError>((run, payouts))
    })
    .await
}

async fn run_page_with(
    ctx: PageContext,
    state: &State,
    id: i64,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (run, payouts) = load_run(state, id).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &RunPage {
            ctx,
            run,
            payouts,
            error,
        },
    )
}

async fn run_page(
    Ctx(ctx): Ctx,
    state: State,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    run_page_with(ctx, &state, path.into_inner(), None).await
}

/// Picks up a Stripe batch whose worker stopped (a crash, Stripe unreachable): same payouts, same keys.
async fn resume(
    state: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let payer = state
        .payer
        .clone()
        .ok_or_else(|| AppError::BadRequest("Stripe is not configured.".into()))?;
    actix_web::rt::spawn(async move {
        if let Err(e) = payer.process_run(id).await {
            tracing::error!(run_id = id, "payout batch stopped: {e:#}");
        }
    });
    Ok(redirect(&format!("/admin/payouts/runs/{id}")))
}

#[derive(Deserialize)]
struct SettleForm {
    action: String,
    #[serde(default)]
    reference: String,
}

/// The manual batch was paid (with the bank's or PayPal's reference), or is cancelled.
async fn settle(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    web::Form(form): web::Form<SettleForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let paid = form.action == "paid";
    let reference = form.reference.trim().to_string();
    if paid && reference.is_empty() {
        return run_page_with(
            ctx,
            &state,
            id,
            Some("Give the payment reference of the bank or PayPal batch, so each statement can quote it.".into()),
        )
        .await;
    }
    let (actor, base_url) = (user.actor(), state.settings.base_url.clone());
    let result = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let notify = |conn: &mut crate::platform::db::DbConn, payout: &_| {
            crate::payouts::notices::payout_statement(conn, &base_url, payout)
        };
        Ok::<_, AppError>(crate::payouts::settle_manual_run(
            conn, program.id, id, &reference, paid, &actor, &notify,
        ))
    })
    .await?;
    match result {
        Ok(count) => {
            session.success(if paid {
                format!("{count} payouts marked paid; statements are on their way.")
            } else {
                format!("Batch cancelled; {count} balances are back.")
            });
            Ok(redirect(&format!("/admin/payouts/runs/{id}")))
        }
        Err(PayoutError::Refused(message)) => run_page_with(ctx, &state, id, Some(message)).await,
        Err(other) => Err(other.into()),
    }
}

/// The manual batch as a file: PayPal Payouts (no header: email, amount, currency, id, note) or a generic bank
/// list with the reference to quote.
async fn batch_file(
    state: State,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, format) = path.into_inner();
    let (_, payouts) = load_run(&state, id).await?;
    let pending = payouts
        .iter()
        .filter(|(p, _, _)| p.status == PayoutStatus::Pending);
    let mut out = String::new();
    match format.as_str() {
        "paypal" => {
            for (p, _, email) in pending {
                out.push_str(&format!(
                    "{},{},{},concord-payout-{},{}\r\n",
                    csv_field(email),
                    p.amount().amount_text().replace(',', ""),
                    p.currency,
                    p.id,
                    csv_field(&format!("Partner payout #{}", p.id))
                ));
            }
        }
        "bank" => {
            out.push_str("payee,email,amount,currency,reference\r\n");
            for (p, name, email) in pending {
                out.push_str(&format!(
                    "{},{},{},{},Concord payout {}\r\n",
                    csv_field(name),
                    csv_field(email),
                    p.amount().amount_text().replace(',', ""),
                    p.currency,
                    p.id
                ));
            }
        }
        _ => return Err(AppError::NotFound),
    }
    Ok(crate::platform::http::csv_response(
        &format!("payouts-{id}-{format}.csv"),
        out,
    ))
}
