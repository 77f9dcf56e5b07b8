//! `/admin/deals/settings` (admins): the approval SLA, protection, auto-approval, certification and visibility
//! settings, the open stages with their probabilities, the product list, and the custom fields of the
//! registration form. `/admin/deals/direct-accounts` (staff): the vendor's own customers, added one by one or
//! imported from CSV, that registrations are checked against.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::deals::config::{CustomField, DirectAccount};
use crate::deals::rules::{
    parse_direct_accounts, parse_stages, CustomFieldType, DealSettings, DealSettingsInput,
    NewDirectAccount,
};
use crate::deals::DealError;
use crate::domain::money::Money;
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::web::admin::require_admin;
use crate::web::guard::CurrentUser;
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/deals/settings", web::get().to(show))
        .route("/deals/settings", web::post().to(save_settings))
        .route("/deals/settings/stages", web::post().to(save_stages))
        .route("/deals/settings/products", web::post().to(save_products))
        .route("/deals/settings/fields", web::post().to(add_field))
        .route(
            "/deals/settings/fields/{id}/remove",
            web::post().to(remove_field),
        )
        .route("/deals/direct-accounts", web::get().to(accounts))
        .route("/deals/direct-accounts", web::post().to(add_account))
        .route(
            "/deals/direct-accounts/import",
            web::post().to(import_accounts),
        )
        .route(
            "/deals/direct-accounts/{id}/remove",
            web::post().to(remove_account),
        );
}

#[derive(Deserialize, Default)]
struct SettingsForm {
    #[serde(default)]
    sla_hours: String,
    #[serde(default)]
    protection_days: String,
    #[serde(default)]
    auto_approve_below: String,
    #[serde(default)]
    requires_certification: Option<String>,
    #[serde(default)]
    reps_see_org: Option<String>,
}

#[derive(Deserialize, Default)]
struct FieldForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    field_type: String,
    #[serde(default)]
    options: String,
    #[serde(default)]
    required: Option<String>,
}

#[derive(Deserialize, Default)]
struct ListForm {
    #[serde(default)]
    text: String,
}

#[derive(Template)]
#[template(path = "admin/deal_settings.html")]
struct SettingsPage {
    ctx: PageContext,
    currency: String,
    form: SettingsForm,
    errors: FieldErrors,
    stages_text: String,
    stages_error: Option<String>,
    products_text: String,
    fields: Vec<CustomField>,
    field_form: FieldForm,
    field_errors: FieldErrors,
}

impl SettingsPage {
    fn field_types(&self) -> &'static [CustomFieldType] {
        CustomFieldType::ALL
    }
}

/// The page as stored, for `overrides` to replace the part a refused form was about.
async fn settings_page(
    ctx: PageContext,
    state: &State,
    overrides: impl FnOnce(&mut SettingsPage),
) -> Result<SettingsPage, AppError> {
    let (program, stages, products, fields) = db(&state.pool, |conn| {
        let program = crate::programs::current(conn)?;
        let stages = crate::deals::config::stages(conn, program.id)?;
        let products = crate::deals::config::products(conn, program.id)?;
        let fields = crate::deals::config::custom_fields(conn, program.id)?;
        Ok::<_, diesel::result::Error>((program, stages, products, fields))
    })
    .await?;
    let mut page = SettingsPage {
        ctx,
        currency: program.currency.clone(),
        form: SettingsForm {
            sla_hours: program.deal_sla_hours.to_string(),
            protection_days: program.deal_protection_days.to_string(),
            auto_approve_below: program
                .deal_auto_approve_below_minor
                .map(|m| Money::new(m, program.currency()).amount_text())
                .unwrap_or_default(),
            requires_certification: program.deal_requires_certification.then(|| "on".into()),
            reps_see_org: program.deal_reps_see_org.then(|| "on".into()),
        },
        errors: FieldErrors::default(),
        stages_text: stages
            .iter()
            .map(|s| format!("{} | {}", s.name, s.probability_percent))
            .collect::<Vec<_>>()
            .join("\n"),
        stages_error: None,
        products_text: products.join("\n"),
        fields,
        field_form: FieldForm::default(),
        field_errors: FieldErrors::default(),
    };
    overrides(&mut page);
    Ok(page)
}

async fn show(Ctx(ctx): Ctx, state: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    render(StatusCode::OK, &settings_page(ctx, &state, |_| {}).await?)
}

async fn save_settings(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = form.into_inner();
    let program = db(&state.pool, crate::programs::current).await?;
    let parsed = DealSettings::parse(
        &DealSettingsInput {
            sla_hours: &form.sla_hours,
            protection_days: &form.protection_days,
            auto_approve_below: &form.auto_approve_below,
            requires_certification: form.requires_certification.is_some(),
            reps_see_org: form.reps_see_org.is_some(),
        },
        program.currency(),
    );
    let settings = match parsed {
        Ok(settings) => settings,
        Err(errors) => {
            let page = settings_page(ctx, &state, |page| {
                page.form = form;
                page.errors = FieldErrors::from_pairs(errors);
            })
            .await?;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let actor = user.actor();
    db(&state.pool, move |conn| {
        crate::deals::config::save_settings(conn, program.id, &settings, &actor)
    })
    .await?;
    session.success("Deal registration settings saved.");
    Ok(redirect("/admin/deals/settings"))
}

async fn save_stages(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<ListForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let text = form.into_inner().text;
    let refused = |message: String, text: String| async {
        let page = settings_page(ctx, &state, move |page| {
            page.stages_text = text;
            page.stages_error = Some(message);
        })
        .await?;
        render(StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    let stages = match parse_stages(&text) {
        Ok(stages) => stages,
        Err(message) => return refused(message, text).await,
    };
    let actor = user.actor();
    let saved = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, AppError>(crate::deals::config::save_stages(
            conn, program.id, &stages, &actor,
        ))
    })
    .await?;
    match saved {
        Ok(()) => {
            session.success("Stages saved.");
            Ok(redirect("/admin/deals/settings"))
        }
        Err(DealError::Refused(message)) => refused(message, text).await,
        Err(other) => Err(other.into()),
    }
}

async fn save_products(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<ListForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut names: Vec<String> = Vec::new();
    for line in form.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let name: String = line.chars().take(120).collect();
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            names.push(name);
        }
    }
    let actor = user.actor();
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::deals::config::save_products(conn, program.id, &names, &actor)
    })
    .await?;
    session.success("Products saved.");
    Ok(redirect("/admin/deals/settings"))
}

async fn add_field(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<FieldForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let label = form.label.trim().to_string();
    if label.is_empty() || label.chars().count() > 80 {
        errors.add("label", "Give the field a label of at most 80 characters.");
    }
    let field_type = form
        .field_type
        .parse::<CustomFieldType>()
        .map_err(|_| errors.add("field_type", "Choose the kind of field."))
        .ok();
    let options: Vec<String> = form
        .options
        .lines()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    if field_type == Some(CustomFieldType::Select) && options.len() < 2 {
        errors.add(
            "options",
            "A choice field needs at least two options, one per line.",
        );
    }
    let Some(field_type) = field_type.filter(|_| errors.is_empty()) else {
        let page = settings_page(ctx, &state, |page| {
            page.field_form = form;
            page.field_errors = errors;
        })
        .await?;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let (actor, required) = (user.actor(), form.required.is_some());
    db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        let options = if field_type == CustomFieldType::Select {
            options
        } else {
            Vec::new()
        };
        crate::deals::config::add_custom_field(
            conn, program.id, &label, field_type, &options, required, &actor,
        )
    })
    .await?;
    session.success("Field added to the registration form.");
    Ok(redirect("/admin/deals/settings"))
}

async fn remove_field(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let (id, actor) = (path.into_inner(), user.actor());
    let removed = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::deals::config::remove_custom_field(conn, program.id, id, &actor)
    })
    .await?;
    if !removed {
        return Err(AppError::NotFound);
    }
    session.success("Field removed from the form; deals keep the values they hold.");
    Ok(redirect("/admin/deals/settings"))
}

#[derive(Deserialize, Default)]
struct AccountQuery {
    #[serde(default)]
    q: String,
}

#[derive(Deserialize, Default)]
struct AccountForm {
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    owner: String,
}

#[derive(Template)]
#[template(path = "admin/direct_accounts.html")]
struct AccountsPage {
    ctx: PageContext,
    q: String,
    accounts: Vec<DirectAccount>,
    total: i64,
    form: AccountForm,
    form_error: Option<String>,
    import_errors: Vec<String>,
    import_text: String,
}

async fn accounts_page(
    ctx: PageContext,
    state: &State,
    q: String,
    overrides: impl FnOnce(&mut AccountsPage),
) -> Result<AccountsPage, AppError> {
    let search = q.clone();
    let (accounts, total) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        Ok::<_, diesel::result::Error>((
            crate::deals::config::direct_accounts(conn, program.id, &search)?,
            crate::deals::config::count_direct_accounts(conn, program.id)?,
        ))
    })
    .await?;
    let mut page = AccountsPage {
        ctx,
        q,
        accounts,
        total,
        form: AccountForm::default(),
        form_error: None,
        import_errors: Vec::new(),
        import_text: String::new(),
    };
    overrides(&mut page);
    Ok(page)
}

async fn accounts(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<AccountQuery>,
) -> Result<HttpResponse, AppError> {
    let page = accounts_page(ctx, &state, query.into_inner().q, |_| {}).await?;
    render(StatusCode::OK, &page)
}

async fn store_accounts(
    state: &State,
    user: &CurrentUser,
    session: &TypedSession,
    accounts: Vec<NewDirectAccount>,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor();
    let (added, skipped) = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::deals::config::add_direct_accounts(conn, program.id, &accounts, &actor)
    })
    .await?;
    session.success(match skipped {
        0 => format!(
            "{added} direct account{} added.",
            if added == 1 { "" } else { "s" }
        ),
        _ => format!("{added} added; {skipped} were listed already."),
    });
    Ok(redirect("/admin/deals/direct-accounts"))
}

async fn add_account(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    match NewDirectAccount::parse(&form.company_name, &form.website, &form.owner) {
        Ok(account) => store_accounts(&state, &user, &session, vec![account]).await,
        Err(message) => {
            let page = accounts_page(ctx, &state, String::new(), |page| {
                page.form = form;
                page.form_error = Some(message.into());
            })
            .await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

const MAX_IMPORT: usize = 2 * 1024 * 1024;

/// Imports a CSV file (or pasted CSV text). Nothing is imported until every record is right; the errors name the
/// records, and pasted text stays in the box.
async fn import_accounts(
    Ctx(ctx): Ctx,
    state: State,
    user: CurrentUser,
    session: TypedSession,
    mut multipart: Multipart,
) -> Result<HttpResponse, AppError> {
    let mut text = String::new();
    let mut pasted = String::new();
    let mut too_large = false;
    while let Some(field) = multipart.next().await {
        let mut field = field
            .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
        let name = field.name().unwrap_or("").to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk
                .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
            if bytes.len() + chunk.len() > MAX_IMPORT {
                too_large = true;
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "file" => text.push_str(&String::from_utf8_lossy(&bytes)),
            "text" => pasted = String::from_utf8_lossy(&bytes).into_owned(),
            _ => {}
        }
    }
    if text.trim().is_empty() {
        text = pasted.clone();
    }
    let parsed = if too_large {
        Err(vec![format!(
            "The file is larger than {} MiB; split it.",
            MAX_IMPORT / 1024 / 1024
        )])
    } else {
        parse_direct_accounts(&text)
    };
    match parsed {
        Ok(accounts) => store_accounts(&state, &user, &session, accounts).await,
        Err(errors) => {
            let page = accounts_page(ctx, &state, String::new(), |page| {
                page.import_errors = errors;
                page.import_text = pasted;
            })
            .await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

async fn remove_account(
    state: State,
    user: CurrentUser,
    session: TypedSession,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (path.into_inner(), user.actor());
    let removed = db(&state.pool, move |conn| {
        let program = crate::programs::current(conn)?;
        crate::deals::config::remove_direct_account(conn, program.id, id, &actor)
    })
    .await?;
    if !removed {
        return Err(AppError::NotFound);
    }
    session.success("Direct account removed.");
    Ok(redirect("/admin/deals/direct-accounts"))
}
