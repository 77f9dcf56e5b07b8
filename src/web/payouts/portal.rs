//! `/portal/payouts`: how the org is paid (its Stripe Connect account: connect, finish onboarding, its state in
//! plain words), its payouts with their statements and CSV.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::accounts::role::Role;
use crate::ledger::store::{Balance, LedgerEntry};
use crate::payouts::{Payout, PayoutAccount};
use crate::platform::http::{db, page, redirect, AppError, PageContext, TypedSession};
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn portal_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/payouts", web::get().to(home))
        .route("/payouts/connect", web::post().to(connect))
        .route("/payouts/onboarding", web::get().to(onboarding))
        .route("/payouts/return", web::get().to(returned))
        .route("/payouts/{id}.csv", web::get().to(statement_csv))
        .route("/payouts/{id}", web::get().to(statement));
}

#[derive(Template)]
#[template(path = "portal/payouts.html")]
struct PayoutsPage {
    ctx: PageContext,
    stripe_configured: bool,
    account: Option<PayoutAccount>,
    may_connect: bool,
    balances: Vec<Balance>,
    payouts: Vec<Payout>,
    minimum: String,
}

impl PayoutsPage {
    fn account_text(&self) -> String {
        match &self.account {
            Some(account) => account.status().describe(),
            None => "Not connected.".into(),
        }
    }

    fn money(&self, minor: &i64, currency: &str) -> String {
        crate::domain::money::Currency::parse(currency)
            .map(|c| crate::domain::money::Money::new(*minor, c).to_string())
            .unwrap_or_default()
    }
}

async fn home(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let org_id = user.partner_org_id()?;
    let (account, balances, payouts, program) = db(&state.pool, move |conn| {
        Ok::<_, diesel::result::Error>((
            crate::payouts::account_of(conn, org_id)?,
            crate::ledger::store::balances(conn, org_id)?,
            crate::payouts::org_payouts(conn, org_id)?,
            crate::programs::current(conn)?,
        ))
    })
    .await?;
    let minimum =
        crate::domain::money::Money::new(program.payout_minimum_minor, program.currency())
            .to_string();
    page(&PayoutsPage {
        ctx,
        stripe_configured: state.payer.is_some(),
        account,
        may_connect: user.role() == Role::PartnerAdmin,
        balances,
        payouts,
        minimum,
    })
}

fn payer(state: &State) -> Result<&crate::payouts::Payer, AppError> {
    state.payer.as_ref().ok_or_else(|| {
        AppError::BadRequest(
            "Stripe payouts are not configured for this program; you are paid by bank transfer or PayPal.".into(),
        )
    })
}

fn stripe_failure(e: crate::payouts::stripe::CallError) -> AppError {
    AppError::Unavailable(format!("{e} Try again in a moment."))
}

/// Creates the org's Express account (once) and sends the partner admin to Stripe's onboarding.
async fn connect(state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    if user.role() != Role::PartnerAdmin {
        return Err(AppError::Forbidden(
            "Only your organisation's partner admin can connect payouts.".into(),
        ));
    }
    let payer = payer(&state)?;
    let org_id = user.partner_org_id()?;
    let (account, country) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let org =
            crate::partners::store::find(conn, program.id, org_id)?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>((crate::payouts::account_of(conn, org_id)?, org.org.country))
    })
    .await?;
    let account_id = match account {
        Some(account) => account.stripe_account_id,
        None => {
            let id = payer
                .stripe()
                .create_account(org_id, &user.0.email, &country)
                .await
                .map_err(stripe_failure)?;
            let saved = id.clone();
            db(&state.pool, move |conn| {
                crate::payouts::save_account(conn, org_id, &saved)
            })
            .await?;
            // Two clicks at once keep the first account; follow the one that was kept.
            db(&state.pool, move |conn| {
                crate::payouts::account_of(conn, org_id)
            })
            .await?
            .map(|a| a.stripe_account_id)
            .unwrap_or(id)
        }
    };
    onboarding_redirect(&state, payer, &account_id).await
}

async fn onboarding_redirect(
    state: &State,
    payer: &crate::payouts::Payer,
    account_id: &str,
) -> Result<HttpResponse, AppError> {
    let base = &state.settings.base_url;
    let url = payer
        .stripe()
        .onboarding_link(
            account_id,
            &format!("{base}/portal/payouts/onboarding"),
            &format!("{base}/portal/payouts/return"),
        )
        .await
        .map_err(stripe_failure)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .finish())
}

/// Stripe sends the partner here when an onboarding link expired: a fresh link.
async fn onboarding(state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let payer = payer(&state)?;
    let org_id = user.partner_org_id()?;
    let account = db(&state.pool, move |conn| {
        crate::payouts::account_of(conn, org_id)
    })
    .await?
    .ok_or_else(|| AppError::BadRequest("Connect payouts first.".into()))?;
    onboarding_redirect(&state, payer, &account.stripe_account_id).await
}

/// Back from Stripe: reads the account's state and shows it.
async fn returned(
    state: State,
    user: CurrentUser,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let payer = payer(&state)?;
    let org_id = user.partner_org_id()?;
    let account = db(&state.pool, move |conn| {
        crate::payouts::account_of(conn, org_id)
    })
    .await?
    .ok_or_else(|| AppError::BadRequest("Connect payouts first.".into()))?;
    let account_state = payer
        .stripe()
        .account_state(&account.stripe_account_id)
        .await
        .map_err(stripe_failure)?;
    let id = account.stripe_account_id.clone();
    let saved = account_state.clone();
    db(&state.pool, move |conn| {
        crate::payouts::update_account_state(conn, &id, &saved)
    })
    .await?;
    let status = crate::payouts::rules::AccountStatus {
        payouts_enabled: account_state.payouts_enabled,
        requirements: account_state.currently_due,
    };
    session.success(status.describe());
    Ok(redirect("/portal/payouts"))
}

#[derive(Template)]
#[template(path = "portal/payout.html")]
struct StatementPage {
    ctx: PageContext,
    payout: Payout,
    entries: Vec<LedgerEntry>,
}

impl StatementPage {
    fn netted(&self) -> String {
        crate::domain::money::Money::new(
            crate::domain::money::sum_minor(
                self.entries
                    .iter()
                    .filter(|e| e.amount_minor < 0)
                    .map(|e| e.amount_minor),
            ),
            self.payout.amount().currency,
        )
        .to_string()
    }
}

async fn load_statement(
    state: &State,
    user: &CurrentUser,
    id: i64,
) -> Result<(Payout, Vec<LedgerEntry>), AppError> {
    let org_id = user.partner_org_id()?;
    db(&state.pool, move |conn| {
        let payout = crate::payouts::find_for_org(conn, org_id, id)?.ok_or(AppError::NotFound)?;
        let entries = crate::payouts::settled_entries(conn, payout.id)?;
        Ok::<_, AppError>((payout, entries))
    })
    .await
}

async fn statement(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (payout, entries) = load_statement(&state, &user, path.into_inner()).await?;
    page(&StatementPage {
        ctx,
        payout,
        entries,
    })
}

async fn statement_csv(
    state: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (payout, entries) = load_statement(&state, &user, path.into_inner()).await?;
    let mut out = String::from("date,kind,amount,currency,status,explanation\r\n");
    for e in &entries {
        out.push_str(&format!(
            "{},{},{},{},{},{}\r\n",
            e.created_at.format("%Y-%m-%d"),
            e.kind,
            e.money().amount_text().replace(',', ""),
            e.currency,
            e.status,
            crate::platform::http::csv_field(&e.explanation)
        ));
    }
    Ok(crate::platform::http::csv_response(
        &format!("payout-{}.csv", payout.id),
        out,
    ))
}
