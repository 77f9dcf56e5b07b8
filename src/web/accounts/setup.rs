//! First run: the one-time page where the first admin is created and the program named. The server logs its link
//! at start while no admin exists; once an admin exists the page is gone (404).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::accounts::login;
use crate::accounts::role::Role;
use crate::accounts::setup::{self, FirstAdmin, SetupError};
use crate::accounts::store::users::NewUser;
use crate::domain::email::EmailAddress;
use crate::domain::money::Currency;
use crate::platform::auth::password;
use crate::platform::auth::token::hash_token;
use crate::platform::http::{
    db, redirect, render, AppError, FieldErrors, PageContext, TypedSession,
};
use crate::web::{Ctx, State};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/setup", web::get().to(setup_form))
        .route("/setup", web::post().to(setup_submit));
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    ctx: PageContext,
    form: SetupForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    program_name: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn ensure_open(state: &State, token: &str) -> Result<(), AppError> {
    let token_hash = hash_token(token);
    if db(&state.pool, move |conn| setup::is_open(conn, &token_hash)).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

async fn setup_form(
    Ctx(ctx): Ctx,
    state: State,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let token = query.into_inner().token.unwrap_or_default();
    ensure_open(&state, &token).await?;
    let form = SetupForm {
        token,
        program_name: ctx.program_name.clone(),
        currency: "USD".into(),
        ..Default::default()
    };
    crate::platform::http::page(&SetupPage {
        ctx,
        form,
        errors: FieldErrors::default(),
    })
}

async fn setup_submit(
    Ctx(ctx): Ctx,
    state: State,
    session: TypedSession,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, AppError> {
    let mut form = form.into_inner();
    ensure_open(&state, &form.token).await?;

    let mut errors = FieldErrors::default();
    let program_name = form.program_name.trim().to_string();
    if program_name.is_empty() {
        errors.add("program_name", "Name your partner program.");
    }
    let currency = Currency::parse(&form.currency)
        .map_err(|e| errors.add("currency", e))
        .ok();
    let email = EmailAddress::parse(&form.email)
        .map_err(|e| errors.add("email", e))
        .ok();
    errors.check_new_password(&form.password, &form.password_confirm);
    let (Some(currency), Some(email), true) = (currency, email, errors.is_empty()) else {
        form.password.clear();
        form.password_confirm.clear();
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SetupPage { ctx, form, errors },
        );
    };

    let token_hash = hash_token(&form.token);
    let (name, secret) = (form.name.trim().to_string(), form.password.clone());
    // Argon2 takes tens of milliseconds of CPU: done off the executor and before a database connection is
    // taken, so signups and resets do not hold connections others wait for.
    let password_hash = crate::platform::db::run_blocking(move || password::hash(&secret)).await?;
    let created = db(&state.pool, move |conn| {
        let first = FirstAdmin {
            program_name: &program_name,
            currency,
            admin: NewUser {
                email: email.as_str(),
                display_name: &name,
                password_hash: &password_hash,
                role: Role::Admin,
                partner_org_id: None,
            },
        };
        match setup::complete(conn, &token_hash, &first) {
            Ok(user_id) => login::start_session(conn, user_id)
                .map(Some)
                .map_err(AppError::from),
            Err(SetupError::Closed) => Ok(None),
            Err(SetupError::Database(e)) => Err(AppError::from(e)),
        }
    })
    .await?;
    let Some(session_token) = created else {
        return Err(AppError::NotFound);
    };
    session.begin(&session_token);
    session.success("Welcome to Concord. Your admin account is ready.");
    Ok(redirect("/admin"))
}
