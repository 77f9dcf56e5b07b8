//! `/admin/rules`: the ordered commission rules. Staff may look; admins change them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::commissions::rules::{RateType, Recurrence, Rule, RuleInput};
use crate::commissions::store::RuleRow;
use crate::domain::conversion::ConversionKind;
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::tiers::store::Tier;
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/rules", web::get().to(list))
        .route("/rules", web::post().to(create))
        .route("/rules/{id}/up", web::post().to(move_up));
}

#[derive(Deserialize, Default)]
struct RuleForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    applies_to: String,
    #[serde(default)]
    rate_type: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    product_filter: String,
    #[serde(default)]
    tier_id: String,
    #[serde(default)]
    volume_threshold: String,
    #[serde(default)]
    volume_rate: String,
    #[serde(default)]
    recurrence: String,
    #[serde(default)]
    recurring_months: String,
}

/// A stored rule with what the page shows of it.
struct RuleLine {
    row: RuleRow,
    summary: String,
    tier_name: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/rules.html")]
struct RulesPage {
    ctx: PageContext,
    rules: Vec<RuleLine>,
    tiers: Vec<Tier>,
    currency: String,
    can_edit: bool,
    form: RuleForm,
    errors: FieldErrors,
}

impl RulesPage {
    fn kinds(&self) -> &'static [ConversionKind] {
        ConversionKind::ALL
    }
    fn rate_types(&self) -> &'static [RateType] {
        RateType::ALL
    }
    fn recurrences(&self) -> &'static [Recurrence] {
        Recurrence::ALL
    }
}

async fn rules_page(
    ctx: PageContext,
    state: &State,
    user: &CurrentUser,
    form: RuleForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (program, rows, tiers) = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        let rows = crate::commissions::store::list(conn, program.id)?;
        let tiers = crate::tiers::store::list(conn, program.id)?;
        Ok::<_, diesel::result::Error>((program, rows, tiers))
    })
    .await?;
    let currency = program.currency();
    let rules = rows
        .into_iter()
        .map(|row| {
            let rule = row.rule();
            let tier_name = row
                .tier_id
                .and_then(|id| tiers.iter().find(|t| t.id == id).map(|t| t.name.clone()));
            RuleLine {
                summary: rule.summary(currency),
                tier_name,
                row,
            }
        })
        .collect();
    let can_edit = require_admin(user).is_ok();
    render(
        status,
        &RulesPage {
            ctx,
            rules,
            tiers,
            currency: currency.to_string(),
            can_edit,
            form,
            errors,
        },
    )
}

async fn list(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let form = RuleForm {
        applies_to: "sale".into(),
        rate_type: "percent".into(),
        recurrence: "lifetime".into(),
        ..Default::default()
    };
    rules_page(
        ctx,
        &state,
        &user,
        form,
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
    form: web::Form<RuleForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = form.into_inner();
    let program = db(&state.pool, crate::programs::current).await?;
    let tier_id = form.tier_id.trim().parse::<i64>().ok();
    let parsed = Rule::parse(
        &RuleInput {
            name: &form.name,
            applies_to: &form.applies_to,
            rate_type: &form.rate_type,
            rate: &form.rate,
            product_filter: &form.product_filter,
            tier_id,
            volume_threshold: &form.volume_threshold,
            volume_rate: &form.volume_rate,
            recurrence: &form.recurrence,
            recurring_months: &form.recurring_months,
        },
        program.currency(),
    );
    let rule = match parsed {
        Ok(rule) => rule,
        Err(errors) => {
            return rules_page(
                ctx,
                &state,
                &user,
                form,
                FieldErrors::from_pairs(errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let actor = user.actor();
    let name = rule.name.clone();
    db(&state.pool, move |conn| {
        crate::commissions::create(conn, program.id, &rule, &actor)
    })
    .await?;
    session.success(format!("Rule '{name}' added at the end of the list."));
    Ok(redirect("/admin/rules"))
}

async fn move_up(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let rule_id = path.into_inner();
    let actor = user.actor();
    let moved = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::commissions::move_up(conn, program.id, rule_id, &actor)
    })
    .await?;
    if moved {
        session.success("Rule moved up.");
    } else {
        session.error("That rule is first already.");
    }
    Ok(redirect("/admin/rules"))
}
