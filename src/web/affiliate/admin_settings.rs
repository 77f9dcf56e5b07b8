//! `/admin/settings`: the affiliate program's tracking, terms and fraud settings. Admins only.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::programs::affiliate_settings::{
    AffiliateSettings, AffiliateSettingsInput, AttributionModel,
};
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings", web::post().to(save));
}

#[derive(Deserialize, Default)]
struct SettingsForm {
    #[serde(default)]
    cookie_window_days: String,
    #[serde(default)]
    attribution_model: String,
    #[serde(default)]
    terms_text: String,
    #[serde(default)]
    auto_approve_affiliates: Option<String>,
    #[serde(default)]
    default_landing_url: String,
    #[serde(default)]
    allowed_domains: String,
    #[serde(default)]
    min_seconds_to_convert: String,
    #[serde(default)]
    max_conversions_per_ip_hour: String,
    #[serde(default)]
    max_links_per_partner: String,
    #[serde(default)]
    blocked_ips: String,
    #[serde(default)]
    hold_days: String,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    ctx: PageContext,
    form: SettingsForm,
    terms_version: i64,
    errors: FieldErrors,
}

impl SettingsPage {
    fn models(&self) -> &'static [AttributionModel] {
        AttributionModel::ALL
    }
}

async fn show(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let program = db(&state.pool, crate::programs::current).await?;
    let form = SettingsForm {
        cookie_window_days: program.cookie_window_days.to_string(),
        attribution_model: program.attribution_model.clone(),
        terms_text: program.terms_text.clone(),
        auto_approve_affiliates: program.auto_approve_affiliates.then(|| "on".to_string()),
        default_landing_url: program.default_landing_url.clone(),
        allowed_domains: program.allowed_domains.clone(),
        min_seconds_to_convert: program.min_seconds_to_convert.to_string(),
        max_conversions_per_ip_hour: program.max_conversions_per_ip_hour.to_string(),
        max_links_per_partner: program.max_links_per_partner.to_string(),
        blocked_ips: program.blocked_ips.clone(),
        hold_days: program.hold_days.to_string(),
    };
    render(
        StatusCode::OK,
        &SettingsPage {
            ctx,
            form,
            terms_version: program.terms_version,
            errors: FieldErrors::default(),
        },
    )
}

async fn save(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = form.into_inner();
    let parsed = AffiliateSettings::parse(&AffiliateSettingsInput {
        cookie_window_days: &form.cookie_window_days,
        attribution_model: &form.attribution_model,
        terms_text: &form.terms_text,
        auto_approve_affiliates: form.auto_approve_affiliates.is_some(),
        default_landing_url: &form.default_landing_url,
        allowed_domains: &form.allowed_domains,
        min_seconds_to_convert: &form.min_seconds_to_convert,
        max_conversions_per_ip_hour: &form.max_conversions_per_ip_hour,
        max_links_per_partner: &form.max_links_per_partner,
        blocked_ips: &form.blocked_ips,
        hold_days: &form.hold_days,
    });
    let settings = match parsed {
        Ok(settings) => settings,
        Err(errors) => {
            let program = db(&state.pool, crate::programs::current).await?;
            let page = SettingsPage {
                ctx,
                form,
                terms_version: program.terms_version,
                errors: FieldErrors::from_pairs(errors),
            };
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let actor = user.actor();
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::affiliate::update_settings(conn, program.id, &settings, &actor)
    })
    .await?;
    state.tracking.invalidate_settings();
    session.success("Settings saved.");
    Ok(redirect("/admin/settings"))
}
