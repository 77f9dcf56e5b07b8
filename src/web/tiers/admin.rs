//! `/admin/tiers`: the program's ordered tiers and their benefits. Staff may look; admins change them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::money::{percent_text, Currency, Money};
use crate::platform::http::{
    db, page, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::tiers::rules::{TierDefinition, TierInput};
use crate::tiers::store::Tier;
use crate::tiers::TierWriteError;
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tiers", web::get().to(list))
        .route("/tiers", web::post().to(create))
        .route("/tiers/{id}/edit", web::get().to(edit))
        .route("/tiers/{id}", web::post().to(update))
        .route("/tiers/{id}/delete", web::post().to(delete));
}

#[derive(Deserialize, Default, Clone)]
struct TierForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    rank: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    margin_percent: String,
    #[serde(default)]
    commission_override_percent: String,
    #[serde(default)]
    mdf_allowance: String,
    #[serde(default)]
    min_won_revenue: String,
    #[serde(default)]
    min_certified_reps: String,
    #[serde(default)]
    min_won_deals: String,
    #[serde(default)]
    min_sales_revenue: String,
}

impl TierForm {
    fn from_tier(tier: &Tier, currency: Currency) -> Self {
        Self {
            name: tier.name.clone(),
            rank: tier.rank.to_string(),
            description: tier.description.clone(),
            margin_percent: percent_text(tier.margin_bps)
                .trim_end_matches('%')
                .to_string(),
            commission_override_percent: tier
                .commission_override_bps
                .map(|b| percent_text(b).trim_end_matches('%').to_string())
                .unwrap_or_default(),
            mdf_allowance: Money::new(tier.mdf_allowance_minor, currency)
                .amount_text()
                .replace(',', ""),
            min_won_revenue: Money::new(tier.min_won_revenue_minor, currency)
                .amount_text()
                .replace(',', ""),
            min_certified_reps: tier.min_certified_reps.to_string(),
            min_won_deals: tier.min_won_deals.to_string(),
            min_sales_revenue: Money::new(tier.min_sales_revenue_minor, currency)
                .amount_text()
                .replace(',', ""),
        }
    }

    fn parse(&self, currency: Currency) -> Result<TierDefinition, FieldErrors> {
        TierDefinition::parse(
            &TierInput {
                name: &self.name,
                rank: &self.rank,
                description: &self.description,
                margin_percent: &self.margin_percent,
                commission_override_percent: &self.commission_override_percent,
                mdf_allowance: &self.mdf_allowance,
                min_won_revenue: &self.min_won_revenue,
                min_certified_reps: &self.min_certified_reps,
                min_won_deals: &self.min_won_deals,
                min_sales_revenue: &self.min_sales_revenue,
            },
            currency,
        )
        .map_err(FieldErrors::from_pairs)
    }
}

/// A write refusal goes next to the field it is about.
fn field_error(error: TierWriteError) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::default();
    match error {
        TierWriteError::NameTaken => errors.add("name", error.to_string()),
        TierWriteError::RankTaken => errors.add("rank", error.to_string()),
        TierWriteError::InUse(_) => errors.add("delete", error.to_string()),
        TierWriteError::Database(e) => return Err(e.into()),
    }
    Ok(errors)
}

#[derive(Template)]
#[template(path = "admin/tiers.html")]
struct TiersPage {
    ctx: PageContext,
    tiers: Vec<(Tier, String)>,
    currency: String,
    can_edit: bool,
    form: TierForm,
    errors: FieldErrors,
}

async fn tiers_page(
    ctx: PageContext,
    state: &State,
    user: &CurrentUser,
    form: TierForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (program, tiers) = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        let tiers = crate::tiers::store::list(conn, program.id)?;
        Ok::<_, diesel::result::Error>((program, tiers))
    })
    .await?;
    let currency = program.currency();
    let tiers = tiers.into_iter().map(|t| {
        let benefits = t.benefits(currency);
        (t, benefits)
    });
    render(
        status,
        &TiersPage {
            ctx,
            tiers: tiers.collect(),
            currency: currency.to_string(),
            can_edit: require_admin(user).is_ok(),
            form,
            errors,
        },
    )
}

async fn list(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    tiers_page(
        ctx,
        &state,
        &user,
        TierForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn create(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<TierForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = form.into_inner();
    let currency = db(&state.pool, crate::programs::current).await?.currency();
    let definition = match form.parse(currency) {
        Ok(definition) => definition,
        Err(errors) => {
            return tiers_page(
                ctx,
                &state,
                &user,
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let actor = user.actor();
    let created = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, AppError>(crate::tiers::create(conn, program.id, &definition, &actor))
    })
    .await?;
    match created {
        Ok(_) => {
            session.success(format!("Tier '{}' created.", form.name.trim()));
            Ok(redirect("/admin/tiers"))
        }
        Err(e) => {
            tiers_page(
                ctx,
                &state,
                &user,
                form,
                field_error(e)?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/tier_edit.html")]
struct EditPage {
    ctx: PageContext,
    tier_id: i64,
    currency: String,
    form: TierForm,
    errors: FieldErrors,
}

async fn edit(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let tier_id = path.into_inner();
    let (program, tier) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let tier = crate::tiers::store::find(conn, program.id, tier_id)?;
        Ok::<_, diesel::result::Error>((program, tier))
    })
    .await?;
    let tier = tier.ok_or(AppError::NotFound)?;
    let form = TierForm::from_tier(&tier, program.currency());
    page(&EditPage {
        ctx,
        tier_id,
        currency: program.currency,
        form,
        errors: FieldErrors::default(),
    })
}

async fn update(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
    form: web::Form<TierForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let tier_id = path.into_inner();
    let form = form.into_inner();
    let program = db(&state.pool, crate::programs::current).await?;
    let refuse = |ctx, form, errors| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EditPage {
                ctx,
                tier_id,
                currency: program.currency.clone(),
                form,
                errors,
            },
        )
    };
    let definition = match form.parse(program.currency()) {
        Ok(definition) => definition,
        Err(errors) => return refuse(ctx, form, errors),
    };
    let actor = user.actor();
    let program_id = program.id;
    let updated = db(&state.pool, move |conn| {
        Ok::<_, AppError>(crate::tiers::update(
            conn,
            program_id,
            tier_id,
            &definition,
            &actor,
        ))
    })
    .await?;
    match updated {
        Ok(true) => {
            session.success(format!("Tier '{}' saved.", form.name.trim()));
            Ok(redirect("/admin/tiers"))
        }
        Ok(false) => Err(AppError::NotFound),
        Err(e) => {
            let errors = field_error(e)?;
            refuse(ctx, form, errors)
        }
    }
}

async fn delete(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let tier_id = path.into_inner();
    let actor = user.actor();
    let deleted = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, AppError>(crate::tiers::delete(
            conn,
            program.id,
            tier_id,
            program.currency(),
            &actor,
        ))
    })
    .await?;
    match deleted {
        Ok(true) => session.success("Tier deleted."),
        Ok(false) => return Err(AppError::NotFound),
        Err(TierWriteError::Database(e)) => return Err(e.into()),
        Err(refusal) => session.error(refusal.to_string()),
    }
    Ok(redirect("/admin/tiers"))
}
